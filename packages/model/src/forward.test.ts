import { initTfjsBackend, type Tf } from '@bitlens/engine';
import type { Tensor } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelConfig, type ModelConfig } from './config.js';
import { forwardFull, forwardLast } from './forward.js';
import { initParams, paramCount, paramSpecs } from './params.js';
import { toTensors } from './tensors.js';

let tf: Tf;
beforeAll(async () => {
  ({ tf } = await initTfjsBackend('wasm'));
});

function tokens(tfx: Tf, p: number, n: number, seed: number): Tensor {
  const rows: number[][] = [];
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const a = s % p;
    s = (s * 1103515245 + 12345) % 2147483648;
    rows.push([a, s % p, p]);
  }
  return tfx.tensor2d(rows, [n, 3], 'int32');
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
}

describe('config and parameters', () => {
  it('li at p = 113 has 225,792 parameters (Li 2024)', () => {
    expect(paramCount(modelConfig('li', 113))).toBe(225_792);
  });
  it('nanda has positional embedding and biases, li has the final norm gain', () => {
    const n = paramSpecs(modelConfig('nanda', 113)).map((s) => s.name);
    const l = paramSpecs(modelConfig('li', 113)).map((s) => s.name);
    expect(n).toContain('pos_embed.W_pos');
    expect(n).toContain('blocks.0.attn.b_Q');
    expect(n).not.toContain('ln_final.w');
    expect(l).toContain('ln_final.w');
    expect(l).not.toContain('pos_embed.W_pos');
    expect(l.some((x) => x.includes('.b_'))).toBe(false);
  });
  it('marks only block layers as quantized', () => {
    const specs = paramSpecs(modelConfig('li', 59, { quantizer: 'ternary-centred' }));
    expect(specs.filter((s) => s.quantized).map((s) => s.name)).toEqual(['blocks.0.attn.W_Q', 'blocks.0.attn.W_K', 'blocks.0.attn.W_V', 'blocks.0.attn.W_O', 'blocks.0.mlp.W_in', 'blocks.0.mlp.W_out']);
  });
  it('init is seeded: same seed same values, other seed other values; std matches 1/sqrt(d_model)', () => {
    const c = modelConfig('nanda', 23);
    const a = initParams(c, 1).get('blocks.0.mlp.W_in')?.data ?? new Float32Array();
    const b = initParams(c, 1).get('blocks.0.mlp.W_in')?.data ?? new Float32Array();
    const d = initParams(c, 2).get('blocks.0.mlp.W_in')?.data ?? new Float32Array();
    expect(maxAbsDiff(a, b)).toBe(0);
    expect(maxAbsDiff(a, d)).toBeGreaterThan(0.01);
    const std = Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
    expect(std).toBeCloseTo(1 / Math.sqrt(128), 2);
    expect(initParams(c, 1).get('blocks.0.mlp.b_in')?.data.every((x) => x === 0)).toBe(true);
  });
  it('rejects an invalid config with INVALID_CONFIG naming the field', () => {
    expect(() => modelConfig('li', 113, { dHead: 30 })).toThrow(/dHead/);
    expect(() => modelConfig('li', 113, { alpha: 2 })).toThrow(/INVALID_CONFIG.*alpha/);
  });
});

const variants: [string, ModelConfig][] = [
  ['li', modelConfig('li', 23, { dModel: 32, nHeads: 4, dMlp: 64 })],
  ['nanda', modelConfig('nanda', 23, { dModel: 32, nHeads: 4, dMlp: 64 })],
  ['nanda + alpha 0.3 + clipped', modelConfig('nanda', 23, { dModel: 32, nHeads: 4, dMlp: 64, alpha: 0.3, attention: { kind: 'clipped', zeta: 1.1, gamma: -0.05 } })],
  ['nanda + alpha 0.3 + gated', modelConfig('nanda', 23, { dModel: 32, nHeads: 4, dMlp: 64, alpha: 0.3, attention: 'gated' })],
  ['li + int8 activations (quantized layers listed, fp32 weights)', modelConfig('li', 23, { dModel: 32, nHeads: 4, dMlp: 64, activationQuant: 'int8' })],
  ['nanda, 2 layers (per-layer path)', modelConfig('nanda', 23, { dModel: 32, nHeads: 4, dMlp: 64, nLayers: 2 })],
];

describe.each(variants)('forward (%s)', (_label, cfg) => {
  it('forwardLast equals the last position of forwardFull to 1e-5 (non-zero biases)', () => {
    const host = initParams(cfg, 7);
    for (const [n, t] of host) if (/\.b_/.test(n)) host.set(n, { shape: t.shape, data: t.data.map((_, i) => 0.1 * Math.sin(3 * i + n.length)) });
    const P = toTensors(tf, host);
    const [full, last] = tf.tidy(() => {
      const t = tokens(tf, cfg.p, 50, 3);
      const f = forwardFull(tf, cfg, P, t).logits;
      expect(f.shape).toEqual([50, 3, cfg.p]);
      return [tf.reshape(tf.slice(f, [0, 2, 0], [50, 1, cfg.p]), [50, cfg.p]), forwardLast(tf, cfg, P, t)];
    });
    expect(last.shape).toEqual([50, cfg.p]);
    expect(maxAbsDiff(full.dataSync() as Float32Array, last.dataSync() as Float32Array)).toBeLessThan(1e-5);
    tf.dispose([full, last, ...P.values()]);
  });

  it('forwardLast has the gradients of forwardFull at the last position (every parameter, 1e-4 relative)', () => {
    const host = initParams(cfg, 11);
    for (const [n, t] of host) if (/\.b_/.test(n)) host.set(n, { shape: t.shape, data: t.data.map((_, i) => 0.1 * Math.cos(5 * i + n.length)) });
    const P = toTensors(tf, host);
    const names = [...P.keys()];
    const t = tokens(tf, cfg.p, 40, 5);
    const w = tf.randomNormal([40, cfg.p], 0, 1, 'float32', 3);
    const grads = (fast: boolean): Tensor[] =>
      tf.grads((...xs: Tensor[]) => {
        const Q = new Map(names.map((n, i) => [n, xs[i] as Tensor]));
        const out = fast ? forwardLast(tf, cfg, Q, t) : tf.reshape(tf.slice(forwardFull(tf, cfg, Q, t).logits, [0, 2, 0], [40, 1, cfg.p]), [40, cfg.p]);
        return tf.sum(tf.mul(out, w));
      })(names.map((n) => P.get(n) as Tensor));
    const [gFull, gLast] = [grads(false), grads(true)];
    const maxAbs = (x: Float32Array): number => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    // A gradient that is zero in exact arithmetic (b_K: softmax ignores a shift shared by all keys) is compared
    // against 1% of the largest gradient of the model instead of its own rounding noise.
    const largest = Math.max(...gFull.map((g) => maxAbs(g.dataSync() as Float32Array)));
    expect(largest).toBeGreaterThan(0);
    names.forEach((n, i) => {
      const a = (gFull[i] as Tensor).dataSync() as Float32Array;
      const b = (gLast[i] as Tensor).dataSync() as Float32Array;
      expect(maxAbsDiff(a, b) / Math.max(maxAbs(a), 0.01 * largest), n).toBeLessThan(1e-4);
    });
    tf.dispose([...gFull, ...gLast, t, w, ...P.values()]);
  });
});

describe('hooks', () => {
  const cfg = modelConfig('nanda', 23, { dModel: 32, nHeads: 4, dMlp: 64 });
  it('captures TransformerLens hooks with their shapes; causal pattern is lower triangular', () => {
    const P = toTensors(tf, initParams(cfg, 1));
    const shapes = new Map<string, number[]>();
    let pattern: Float32Array = new Float32Array();
    tf.tidy(() => {
      const { cache } = forwardFull(tf, cfg, P, tokens(tf, 23, 5, 1), { capture: () => true });
      for (const [k, v] of cache) shapes.set(k, v.shape);
      pattern = cache.get('blocks.0.attn.hook_pattern')?.dataSync() as Float32Array;
    });
    expect(shapes.get('blocks.0.attn.hook_q')).toEqual([5, 3, 4, 8]);
    expect(shapes.get('blocks.0.attn.hook_pattern')).toEqual([5, 4, 3, 3]);
    expect(shapes.get('blocks.0.mlp.hook_post')).toEqual([5, 3, 64]);
    expect(shapes.get('hook_pos_embed')).toEqual([5, 3, 32]);
    expect(shapes.get('logits')).toEqual([5, 3, 23]);
    expect(pattern[1]).toBe(0); // q_pos 0 cannot see k_pos 1
    expect(pattern[0]).toBeCloseTo(1, 6);
    tf.dispose([...P.values()]);
  });
  it('intervene replaces an activation (zero-ablating the MLP output changes the logits to the no-MLP path)', () => {
    const P = toTensors(tf, initParams(cfg, 1));
    const diff = tf.tidy(() => {
      const t = tokens(tf, 23, 8, 2);
      const a = forwardFull(tf, cfg, P, t).logits;
      const b = forwardFull(tf, cfg, P, t, { intervene: (h, x) => (h === 'blocks.0.hook_mlp_out' ? tf.zerosLike(x) : x) });
      const { cache } = forwardFull(tf, cfg, P, t, { capture: (h) => h === 'blocks.0.hook_resid_mid' });
      const mid = cache.get('blocks.0.hook_resid_mid') as Tensor;
      const direct = tf.reshape(tf.matMul(tf.reshape(mid, [24, 32]), P.get('unembed.W_U') as Tensor), [8, 3, 23]);
      return [tf.max(tf.abs(tf.sub(a, b.logits))).dataSync()[0] ?? 0, tf.max(tf.abs(tf.sub(direct, b.logits))).dataSync()[0] ?? 1];
    });
    expect(diff[0]).toBeGreaterThan(1e-3);
    expect(diff[1]).toBeLessThan(1e-5);
    tf.dispose([...P.values()]);
  });
  it('alpha = 0 gives the all-ones attention matrix (Zhong) on a bidirectional model', () => {
    const c0 = modelConfig('li', 23, { dModel: 32, nHeads: 4, dMlp: 64, alpha: 0 });
    const P = toTensors(tf, initParams(c0, 3));
    const pat = tf.tidy(() => forwardFull(tf, c0, P, tokens(tf, 23, 4, 5), { capture: (h) => h.endsWith('hook_pattern') }).cache.get('blocks.0.attn.hook_pattern')?.dataSync() as Float32Array);
    expect(pat.every((x) => x === 1)).toBe(true);
    tf.dispose([...P.values()]);
  });
  it('gate with zero weights and bias logit(0.25) scales z by exactly 0.25', () => {
    const cg = modelConfig('li', 23, { dModel: 32, nHeads: 4, dMlp: 64, attention: 'gated' });
    const host = initParams(cg, 3);
    host.set('blocks.0.attn.gate.W', { shape: [4, 8], data: new Float32Array(32) });
    const P = toTensors(tf, host);
    const g = tf.tidy(() => forwardFull(tf, cg, P, tokens(tf, 23, 4, 5), { capture: (h) => h.endsWith('hook_gate') }).cache.get('blocks.0.attn.hook_gate')?.dataSync() as Float32Array);
    expect(Math.max(...g.map((x) => Math.abs(x - 0.25)))).toBeLessThan(1e-7);
    tf.dispose([...P.values()]);
  });
});
