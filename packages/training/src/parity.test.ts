import { initTfjsBackend, type Tf } from '@bitlens/engine';
import { effectiveParams, forwardLast, initParams, modelConfig, toTensors, type ModelConfig } from '@bitlens/model';
import { createQuantizerRegistry } from '@bitlens/quantization';
import type { Scalar, Tensor } from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { safeCrossEntropy } from './loss.js';

const registry = createQuantizerRegistry();

/** Gradients of one training step's loss w.r.t. every latent parameter, read back to the host. */
function stepGrads(tf: Tf, cfg: ModelConfig): Map<string, Float32Array> {
  const host = initParams(cfg, 11);
  const P = toTensors(tf, host);
  const names = [...P.keys()];
  const toks: number[][] = [];
  const labels: number[] = [];
  for (let a = 0; a < cfg.p; a += 2) for (let b = 0; b < cfg.p; b += 3) [toks.push([a, b, cfg.p]), labels.push((a + b) % cfg.p)];
  const out = new Map<string, Float32Array>();
  tf.tidy(() => {
    const T = tf.tensor2d(toks, [toks.length, 3], 'int32');
    const Y = tf.oneHot(tf.tensor1d(labels, 'int32'), cfg.p).toFloat();
    const f = (...xs: Tensor[]): Scalar => {
      const m = new Map(names.map((n, i) => [n, xs[i] as Tensor]));
      return safeCrossEntropy(tf, forwardLast(tf, cfg, effectiveParams(tf, cfg, m, registry), T), Y) as Scalar;
    };
    const gs = tf.grads(f)(names.map((n) => P.get(n) as Tensor));
    gs.forEach((g, i) => out.set(names[i] ?? '', Float32Array.from(g.dataSync() as Float32Array)));
  });
  tf.dispose([...P.values()]);
  return out;
}

function relErr(a: Float32Array, b: Float32Array, floor = 1e-30): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
    den = Math.max(den, Math.abs(b[i] ?? 0));
  }
  return num / Math.max(den, floor);
}

describe('gradient parity wasm vs cpu (one training step)', () => {
  const cases: [string, ModelConfig][] = [
    ['nanda fp32', modelConfig('nanda', 23, { dModel: 32, nHeads: 4, dMlp: 64 })],
    ['li ternary-centred', modelConfig('li', 23, { dModel: 32, nHeads: 4, dMlp: 64, quantizer: 'ternary-centred' })],
  ];
  it.each(cases)('%s: every parameter gradient agrees to float32 tolerance (max error / max |g| < 1e-4)', async (_label, cfg) => {
    const cpu = stepGrads((await initTfjsBackend('cpu')).tf, cfg);
    const { tf, info } = await initTfjsBackend('wasm');
    expect(info.config.kernels).toBe('bitlens'); // what training runs with
    const wasm = stepGrads(tf, cfg);
    expect([...wasm.keys()]).toEqual([...cpu.keys()]);
    // b_K's gradient is exactly zero in exact arithmetic (softmax is shift-invariant), so errors are judged relative
    // to the tensor's own scale, floored at 1e-3 of the largest gradient of the step.
    const global = Math.max(...[...cpu.values()].map((g) => Math.max(...g.map(Math.abs))));
    for (const [n, g] of wasm) {
      const e = relErr(g, cpu.get(n) ?? new Float32Array(), 1e-3 * global);
      expect(e, n).toBeLessThan(1e-4);
    }
    // Something is learned from every tensor (a zero gradient everywhere would pass the comparison trivially).
    expect(Math.max(...(wasm.get('blocks.0.mlp.W_in') ?? []).map(Math.abs))).toBeGreaterThan(1e-6);
  });
});
