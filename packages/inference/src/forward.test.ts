import { initTfjsBackend } from '@bitlens/engine';
import type { Tf } from '@bitlens/engine';
import { createKernelRegistry, reference } from '@bitlens/kernels';
import { createTfjsKernelBackend } from '@bitlens/kernels-tfjs';
import { wasmPacked } from '@bitlens/kernels-wasm';
import type { ModelConfigOverrides, ModelPreset } from '@bitlens/model';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomWeights } from '../test/fixtures.js';
import { gridTokens, packModel, packedForwardLast, tfjsLogits } from './index.js';

const IN_CI = process.env['CI'] === 'true';
const registry = createKernelRegistry([reference, wasmPacked]);
let tf: Tf;
beforeAll(async () => {
  tf = (await initTfjsBackend('wasm')).tf;
});

const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxDelta = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] ?? NaN))), 0);

// every architecture path of the forward: li (final norm, bidirectional), nanda (biases, positional embedding, causal),
// clipped softmax, gated attention, Zhong's alpha, two layers, a model quantizing only its MLP
const VARIANTS: readonly [string, ModelPreset, ModelConfigOverrides][] = [
  ['li ternary-absmean', 'li', { quantizer: 'ternary-absmean' }],
  ['nanda binary-scaled', 'nanda', { quantizer: 'binary-scaled', dModel: 32, nHeads: 4 }],
  ['li clipped softmax, ternary-centred', 'li', { quantizer: 'ternary-centred', dModel: 32, attention: { kind: 'clipped', zeta: 1.1, gamma: -0.05 } }],
  ['nanda gated attention, alpha 0.7, binary-sign', 'nanda', { quantizer: 'binary-sign', dModel: 32, attention: 'gated', alpha: 0.7 }],
  ['nanda two layers', 'nanda', { quantizer: 'ternary-absmean', dModel: 32, nLayers: 2 }],
  ['li MLP-only quantized', 'li', { quantizer: 'ternary-absmean', dModel: 32, quantizedLayers: ['mlp.W_in', 'mlp.W_out'] }],
];

describe.each(VARIANTS)('packed forward of %s (p = 11, all 121 inputs)', (_name, preset, overrides) => {
  const model = packModel(randomWeights(preset, 11, overrides, 5));
  const { tokens } = gridTokens(model.config);
  it('fp32 activations compute the tfjs forward to float32 rounding (1e-4 of the logit range)', async () => {
    const ref = await tfjsLogits(tf, model, tokens);
    const got = await packedForwardLast(model, tokens, { registry, backend: 'wasm-packed', denseBackend: 'reference', activations: 'fp32' });
    expect(got.logits.length).toBe(121 * 11);
    expect(maxDelta(got.logits, ref)).toBeLessThanOrEqual(1e-4 * maxAbs(ref));
    expect(maxDelta(got.logits, ref)).toBeGreaterThan(0); // different summation order: not the same computation
  });
  it('int8 activations: wasm-packed equals the reference backend exactly, and stays within 5% of the tfjs logit range', async () => {
    const ref = await tfjsLogits(tf, model, tokens);
    const opts = { registry, denseBackend: 'reference', activations: 'int8' } as const;
    const [a, b] = [await packedForwardLast(model, tokens, { ...opts, backend: 'wasm-packed' }), await packedForwardLast(model, tokens, { ...opts, backend: 'reference' })];
    expect(Array.from(a.logits)).toEqual(Array.from(b.logits));
    expect(maxDelta(a.logits, ref)).toBeLessThanOrEqual(0.05 * maxAbs(ref));
    expect(maxDelta(a.logits, ref)).toBeGreaterThan(1e-4 * maxAbs(ref)); // int8 activations really are quantized
    expect(a.work.packedMacs).toBeGreaterThan(0);
  });
});

describe('packed forward on WebGPU (tfjs-webgpu WGSL kernels)', () => {
  const webgpu = createTfjsKernelBackend('webgpu');
  it('gives exactly the wasm-packed int8 logits', async (ctx) => {
    if (!(await webgpu.isAvailable())) {
      if (IN_CI) expect.fail(`tfjs-webgpu is claimed but unavailable in CI: ${webgpu.unavailableReason?.() ?? ''}`);
      console.warn(`[inference] skipping the WebGPU packed forward: ${webgpu.unavailableReason?.() ?? 'unavailable'}`);
      ctx.skip();
      return;
    }
    const model = packModel(randomWeights('li', 11, { quantizer: 'ternary-absmean', dModel: 32 }, 9)), { tokens } = gridTokens(model.config);
    const both = createKernelRegistry([reference, wasmPacked, webgpu]);
    const opts = { registry: both, denseBackend: 'reference', activations: 'int8' } as const;
    const a = await packedForwardLast(model, tokens, { ...opts, backend: 'tfjs-webgpu' });
    const b = await packedForwardLast(model, tokens, { ...opts, backend: 'wasm-packed' });
    expect(Array.from(a.logits)).toEqual(Array.from(b.logits));
    await tf.setBackend('wasm');
  });
});

describe('packed forward input checks', () => {
  const model = packModel(randomWeights('li', 11, { quantizer: 'ternary-absmean', dModel: 32 }));
  it('rejects a token matrix of the wrong length, an out-of-range token and an unknown activation mode', async () => {
    const opts = { registry, backend: 'wasm-packed', denseBackend: 'reference' } as const;
    await expect(packedForwardLast(model, new Int32Array(4), opts)).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    await expect(packedForwardLast(model, Int32Array.from([1, 2, 99]), opts)).rejects.toMatchObject({ code: 'INVALID_DATA', site: { field: 'tokens' } });
    await expect(packedForwardLast(model, Int32Array.from([1, 2, 11]), { ...opts, activations: 'int4' as never })).rejects.toMatchObject({ code: 'INVALID_OPTION', site: { field: 'activations' } });
  });
});
