import { initTfjsBackend, type Tf } from '@bitlens/engine';
import { createQuantizerRegistry, fakeQuantAsymmetricHost } from '@bitlens/quantization';
import type { Tensor } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelConfig, ptqRangeNames, PTQ_LAYERS, quantizesActivations, validateConfig, type ModelConfig, type Ptq, type PtqLayer } from './config.js';
import { forwardFull, forwardLast } from './forward.js';
import { initParams } from './params.js';
import { effectiveHostParams, toTensors } from './tensors.js';
import { readWeightsTable, weightsTable } from './weights.js';

let tf: Tf;
beforeAll(async () => {
  ({ tf } = await initTfjsBackend('wasm'));
});

const OVER = { dModel: 32, nHeads: 4, dMlp: 64 };

/** A PTQ config over every layer of `base` with one range for all linear inputs. */
function withPtq(base: ModelConfig, range: readonly [number, number], bits = 8, layers: readonly PtqLayer[] = PTQ_LAYERS): ModelConfig {
  const inputRanges = Object.fromEntries(ptqRangeNames(base, layers).map((n) => [n, range]));
  return validateConfig({ ...base, ptq: { weightBits: 8, activationBits: bits, layers, inputRanges } });
}

/** Matches a BitlensError with code INVALID_CONFIG naming `field`. */
const invalid = (field: string): unknown => expect.objectContaining({ code: 'INVALID_CONFIG', site: expect.objectContaining({ field }) });

describe('post-training quantization in the config', () => {
  const base = modelConfig('li', 23, OVER);
  const ok = withPtq(base, [-2, 3]);
  const ptq = ok.ptq as Ptq;
  it('needs a range for every quantized linear input (not the embedding), and validates bits and layers', () => {
    expect(Object.keys(ptq.inputRanges)).toEqual(['blocks.0.attn.W_Q', 'blocks.0.attn.W_K', 'blocks.0.attn.W_V', 'blocks.0.attn.W_O', 'blocks.0.mlp.W_in', 'blocks.0.mlp.W_out', 'unembed.W_U']);
    expect(quantizesActivations(ok)).toBe(true);
    expect(quantizesActivations(base)).toBe(false);
    const { 'blocks.0.mlp.W_in': _gone, ...missing } = ptq.inputRanges;
    expect(() => validateConfig({ ...base, ptq: { ...ptq, inputRanges: missing } })).toThrow(invalid('ptq.inputRanges.blocks.0.mlp.W_in'));
    expect(() => validateConfig({ ...base, ptq: { ...ptq, inputRanges: { ...ptq.inputRanges, 'embed.W_E': [0, 1] } } })).toThrow(invalid('ptq.inputRanges.embed.W_E'));
    expect(() => validateConfig({ ...base, ptq: { ...ptq, inputRanges: { ...ptq.inputRanges, 'unembed.W_U': [1, 2] } } })).toThrow(invalid('ptq.inputRanges.unembed.W_U'));
    expect(() => validateConfig({ ...base, ptq: { ...ptq, weightBits: 9 } })).toThrow(invalid('ptq.weightBits'));
    expect(() => validateConfig({ ...base, ptq: { ...ptq, activationBits: 1 } })).toThrow(invalid('ptq.activationBits'));
    expect(() => validateConfig({ ...base, ptq: { ...ptq, layers: ['mlp.W_up' as PtqLayer] } })).toThrow(invalid('ptq.layers'));
    expect(() => validateConfig({ ...base, activationQuant: 'int8', ptq })).toThrow(invalid('activationQuant'));
  });

  it('the weights table marks PTQ tensors in its quantizer column; effective weights compose the training quantizer with int8', () => {
    const registry = createQuantizerRegistry();
    const tern = withPtq(modelConfig('li', 23, { ...OVER, quantizer: 'ternary-absmean' }), [-2, 3]);
    const latent = initParams(tern, 3);
    const eff = effectiveHostParams(tern, latent, registry);
    const ternOnly = effectiveHostParams({ ...tern, ptq: undefined } as ModelConfig, latent, registry);
    // A ternary tensor is on an 8-bit symmetric grid already: int8 keeps it exactly.
    expect(eff.get('blocks.0.mlp.W_in')?.data).toEqual(ternOnly.get('blocks.0.mlp.W_in')?.data);
    // The FP embedding is rounded to 255 levels: error at most half a step, and not zero.
    const e = latent.get('embed.W_E')?.data ?? new Float32Array();
    const q = eff.get('embed.W_E')?.data ?? new Float32Array();
    const step = e.reduce((m, x) => Math.max(m, Math.abs(x)), 0) / 127;
    const err = e.reduce((m, x, i) => Math.max(m, Math.abs(x - (q[i] ?? 0))), 0);
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThanOrEqual(step / 2 + 1e-7);
    const back = readWeightsTable(weightsTable(tern, latent, eff));
    expect(back.quantizer.get('blocks.0.attn.W_Q')).toBe('ternary-absmean+int8-symmetric');
    expect(back.quantizer.get('embed.W_E')).toBe('int8-symmetric');
    expect(back.config.ptq).toEqual(tern.ptq);
  });
});

describe('forward with static activation ranges', () => {
  const base = modelConfig('li', 23, OVER);
  const tokens = (): Tensor => tf.tensor2d(Array.from({ length: 30 }, (_, i) => [(3 * i) % 23, (5 * i + 1) % 23, 23]).flat(), [30, 3], 'int32');
  const logits = (c: ModelConfig, P: ReadonlyMap<string, Tensor>): Float32Array => tf.tidy(() => forwardFull(tf, c, P, tokens()).logits.dataSync() as Float32Array);

  it('quantizes each linear input on its static grid: 16 bits is close to full precision, 3 bits is not', () => {
    const P = toTensors(tf, initParams(base, 4));
    const fp = logits(base, P);
    const diff = (a: Float32Array, b: Float32Array): number => a.reduce((m, x, i) => Math.max(m, Math.abs(x - (b[i] ?? 0))), 0);
    const d16 = diff(logits(withPtq(base, [-4, 4], 16), P), fp);
    const d3 = diff(logits(withPtq(base, [-4, 4], 3), P), fp);
    expect(d16).toBeLessThan(5e-3);
    expect(d3).toBeGreaterThan(30 * d16);
    tf.dispose([...P.values()]);
  });

  it('the W_in input is exactly the asymmetric fake quantization of resid_mid on its range', () => {
    const cfg = withPtq(base, [-1.5, 2.5], 4, ['mlp.W_in']);
    const P = toTensors(tf, initParams(base, 4));
    const [mid, pre] = tf.tidy(() => {
      const { cache } = forwardFull(tf, cfg, P, tokens(), { capture: (h) => h === 'blocks.0.hook_resid_mid' || h === 'blocks.0.mlp.hook_pre' });
      return [cache.get('blocks.0.hook_resid_mid')?.dataSync() as Float32Array, cache.get('blocks.0.mlp.hook_pre')?.dataSync() as Float32Array];
    });
    const xq = fakeQuantAsymmetricHost(mid, [-1.5, 2.5], 4);
    const expected = tf.tidy(() => tf.matMul(tf.tensor2d(xq, [90, 32]), P.get('blocks.0.mlp.W_in') as Tensor).dataSync() as Float32Array);
    expect(pre.reduce((m, x, i) => Math.max(m, Math.abs(x - (expected[i] ?? 0))), 0)).toBeLessThan(1e-5);
    tf.dispose([...P.values()]);
  });

  it('forwardLast equals the last position of forwardFull under PTQ (general path)', () => {
    const cfg = withPtq(modelConfig('nanda', 23, OVER), [-1, 1], 8);
    const P = toTensors(tf, initParams(cfg, 2));
    const [full, last] = tf.tidy(() => {
      const t = tokens();
      const f = forwardFull(tf, cfg, P, t).logits;
      return [tf.reshape(tf.slice(f, [0, 2, 0], [30, 1, 23]), [30, 23]).dataSync() as Float32Array, forwardLast(tf, cfg, P, t).dataSync() as Float32Array];
    });
    expect(full.reduce((m, x, i) => Math.max(m, Math.abs(x - (last[i] ?? 0))), 0)).toBeLessThan(1e-5);
    tf.dispose([...P.values()]);
  });
});
