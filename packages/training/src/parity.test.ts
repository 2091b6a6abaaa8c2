import { BITLENS_KERNELS, configureEngine, initTfjsBackend, probeTfjsBackend, type Tf } from '@bitlens/engine';
import { effectiveParams, forwardLast, initParams, modelConfig, toTensors, type ModelConfig } from '@bitlens/model';
import { createQuantizerRegistry } from '@bitlens/quantization';
import type { Scalar, Tensor } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { safeCrossEntropy } from './loss.js';

const registry = createQuantizerRegistry();

/** Gradients of one training step's loss w.r.t. every latent parameter, still on the backend (caller disposes). */
function stepGradTensors(tf: Tf, cfg: ModelConfig): Map<string, Tensor> {
  const host = initParams(cfg, 11);
  const P = toTensors(tf, host);
  const names = [...P.keys()];
  const toks: number[][] = [];
  const labels: number[] = [];
  for (let a = 0; a < cfg.p; a += 2) for (let b = 0; b < cfg.p; b += 3) [toks.push([a, b, cfg.p]), labels.push((a + b) % cfg.p)];
  const out = new Map<string, Tensor>();
  tf.tidy(() => {
    const T = tf.tensor2d(toks, [toks.length, 3], 'int32');
    const Y = tf.oneHot(tf.tensor1d(labels, 'int32'), cfg.p).toFloat();
    const f = (...xs: Tensor[]): Scalar => {
      const m = new Map(names.map((n, i) => [n, xs[i] as Tensor]));
      return safeCrossEntropy(tf, forwardLast(tf, cfg, effectiveParams(tf, cfg, m, registry), T), Y) as Scalar;
    };
    const gs = tf.grads(f)(names.map((n) => P.get(n) as Tensor));
    gs.forEach((g, i) => out.set(names[i] ?? '', tf.keep(g)));
  });
  tf.dispose([...P.values()]);
  return out;
}

/** The same, read back to the host (synchronously: cpu and wasm). */
function stepGrads(tf: Tf, cfg: ModelConfig): Map<string, Float32Array> {
  const ts = stepGradTensors(tf, cfg);
  const out = new Map([...ts].map(([n, t]) => [n, Float32Array.from(t.dataSync() as Float32Array)]));
  tf.dispose([...ts.values()]);
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
    // full width: the products are large enough for the GEMM (two threads), not only the fused MLP
    ['li fp32 d_model 128', modelConfig('li', 23)],
  ];
  it.each(cases)('%s: every parameter gradient agrees to float32 tolerance (max error / max |g| < 1e-4)', async (_label, cfg) => {
    const cpu = stepGrads((await initTfjsBackend('cpu')).tf, cfg);
    const { tf, info } = await initTfjsBackend('wasm', { threads: 2 });
    expect(info.config.kernels).toEqual(BITLENS_KERNELS); // what training runs with
    const wasm = stepGrads(tf, cfg);
    await configureEngine(tf);
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

describe("bitlens's kernels against tfjs's own ops on wasm (one training step)", () => {
  it('gather + scatter-add, fused MLP and GEMM give the gradients of one-hot products, tfjs ops and XNNPACK (1e-4)', async () => {
    const cfg = modelConfig('nanda', 23, { quantizer: 'binary-scaled' }); // biases, positional embedding, STE
    const { tf } = await initTfjsBackend('wasm');
    await configureEngine(tf, { kernels: ['explicit-transpose-matmul'] }); // tfjs-wasm's kernels + the transpose fix
    const ref = stepGrads(tf, cfg);
    await configureEngine(tf);
    const ours = stepGrads(tf, cfg);
    const global = Math.max(...[...ref.values()].map((g) => Math.max(...g.map(Math.abs))));
    for (const [n, g] of ours) expect(relErr(g, ref.get(n) ?? new Float32Array(), 1e-3 * global), n).toBeLessThan(1e-4);
  });
});

describe('gradient parity webgpu vs cpu (one training step: gather and its scatter-add, tfjs ops elsewhere)', () => {
  it('every parameter gradient agrees to float32 tolerance (1e-4 of the largest)', async (ctx) => {
    const probe = await probeTfjsBackend('webgpu');
    if (!probe.available) {
      if (process.env['CI'] === 'true') throw new Error(`webgpu is claimed but unavailable in CI: ${probe.reason}`);
      console.warn(`SKIPPED webgpu parity (not CI): ${probe.reason}`);
      ctx.skip();
    }
    const cfg = modelConfig('nanda', 23, { dModel: 32, nHeads: 4, dMlp: 64, quantizer: 'ternary-absmean' });
    const cpu = stepGrads((await initTfjsBackend('cpu')).tf, cfg);
    const { tf } = await initTfjsBackend('webgpu');
    const ts = stepGradTensors(tf, cfg); // webgpu in Node reads back asynchronously only
    const gpu = new Map<string, Float32Array>();
    for (const [n, t] of ts) gpu.set(n, Float32Array.from((await t.data()) as Float32Array));
    tf.dispose([...ts.values()]);
    const global = Math.max(...[...cpu.values()].map((g) => Math.max(...g.map(Math.abs))));
    for (const [n, g] of gpu) expect(relErr(g, cpu.get(n) ?? new Float32Array(), 1e-3 * global), n).toBeLessThan(1e-4);
    await initTfjsBackend('wasm');
  }, 120_000);
});
