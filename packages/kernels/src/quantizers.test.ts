import { describe, expect, it } from 'vitest';
import {
  activationInt8Host, binaryScaledHost, binarySignHost, binaryUncentredHost, dequantizeHost, HOST_QUANTIZERS, isHostQuantizerName, roundHalfEven,
  ternaryAbsmeanHost, ternaryCentredHost,
} from './quantizers.js';
import { randomTensor } from './tensor.js';

const f32 = (xs: readonly number[]): Float32Array => Float32Array.from(xs);

describe('host quantizer formulas (docs/science.md hand checks)', () => {
  it('b1.58 quantize([0.5, -0.05, 1.2, -0.9]): gamma = 0.6625, codes [1, 0, 1, -1]', () => {
    const q = ternaryAbsmeanHost(f32([0.5, -0.05, 1.2, -0.9]));
    expect(Array.from(q.codes)).toEqual([1, 0, 1, -1]);
    expect(q.scale).toBe(Math.fround(0.6625));
  });
  it('binarize([[0.3, -0.1], [0.2, 0.0]]) uses alpha = 0.1: codes [+1, -1, +1, -1], scale mean|W| (scaled) or 1 (sign)', () => {
    const w = f32([0.3, -0.1, 0.2, 0.0]);
    expect(Array.from(binaryScaledHost(w).codes)).toEqual([1, -1, 1, -1]);
    expect(binaryScaledHost(w).scale).toBe(Math.fround(0.15));
    expect(binarySignHost(w)).toEqual({ codes: Int8Array.from([1, -1, 1, -1]), scale: 1 });
    expect(Array.from(binaryUncentredHost(w).codes)).toEqual([1, -1, 1, -1]); // Sign(0) = -1 without centring too
  });
  it('ternary-centred: W\' / s = ±0.5 rounds to 0 and ±1.5 to ±2, clipped to ±1 (half to even)', () => {
    const q = ternaryCentredHost(f32([-1.5, -0.5, 0.5, 1.5]));
    expect(Array.from(q.codes)).toEqual([-1, 0, 0, 1]);
    expect(q.scale).toBe(1);
  });
  it('ternary-centred values lie in {-s, 0, s} with s = mean|W - mean W| (centring matters on a shifted matrix)', () => {
    const w = Float32Array.from(randomTensor([64], { seed: 3 }).data, (x) => x + 0.4);
    const q = ternaryCentredHost(w);
    expect(new Set(dequantizeHost(q))).toEqual(new Set([-q.scale, 0, q.scale]));
    expect(Array.from(ternaryAbsmeanHost(w).codes)).not.toEqual(Array.from(q.codes));
  });
  it('binary codes are always ±1: Sign(0) = -1 when every weight equals the mean', () => {
    expect(Array.from(binarySignHost(f32([1, 1, 1, 1])).codes)).toEqual([-1, -1, -1, -1]);
  });
  it('rounds half to even', () => {
    expect([0.5, 1.5, -0.5, 2.5, -1.5].map(roundHalfEven)).toEqual([0, 2, -0, 2, -2]);
  });
});

describe('one arithmetic contract: float32 elementwise steps, float64-accumulated statistics rounded once', () => {
  // Found by search: w3 / (gamma + eps) is 0.5 in float32 (tf.round -> 0) but just above 0.5 in float64 (-> 1).
  // The old host path of @bitlens/quantization divided in float64 and gave code 1 here; the old reference kernel
  // divided in float32 and gave 0. tfjs cpu and wasm both give 0 (checked when this test was written).
  const boundary = f32([1.043295979499817, -0.2050718367099762, 1.3639333248138428, 0.37319159507751465]);
  it('divides in float32 as an fp32 backend does (the two old reference paths disagreed on this input)', () => {
    const q = ternaryAbsmeanHost(boundary);
    expect(Array.from(q.codes)).toEqual([1, 0, 1, 0]);
    const gamma = q.scale, float64Code = Math.round((boundary[3] ?? 0) / (gamma + 1e-5));
    expect(float64Code).toBe(1); // the float64 formula would flip this code
  });
  it('binary codes compare w with the float32 mean: an element equal to it gets -1, as in tf', () => {
    const w = f32([0.1, 0.2, 0.7]);
    const m = Math.fround(((w[0] ?? 0) + (w[1] ?? 0) + (w[2] ?? 0)) / 3);
    const withMean = f32([0.1, 0.2, 0.7, m]);
    const mean64 = ((withMean[0] ?? 0) + (withMean[1] ?? 0) + (withMean[2] ?? 0) + m) / 4;
    expect(Math.fround(mean64)).toBe(m); // float32 mean = the element: W - mean = 0 -> Sign = -1
    expect(m - mean64).toBeGreaterThan(0); // the old float64 host path saw W - mean > 0 and gave +1
    expect(binaryScaledHost(withMean).codes[3]).toBe(-1);
  });
  it('scales are float32 values and Q(w) = scale * code exactly', () => {
    const w = randomTensor([300], { seed: 9 }).data;
    for (const [name, fn] of Object.entries(HOST_QUANTIZERS)) {
      const q = fn(w);
      expect(Math.fround(q.scale), name).toBe(q.scale);
      dequantizeHost(q).forEach((v, i) => expect(v).toBe(Math.fround((q.codes[i] ?? 0) * q.scale)));
    }
  });
  it('int8 activations: per-row absmax, 127 / max, round half to even, clamp; an all-zero row stays 0', () => {
    const q = activationInt8Host(f32([0.5, -1, 0.25, 0, 0, 0, 0, 0]), 2, 4);
    expect(Array.from(q.codes)).toEqual([64, -127, 32, 0, 0, 0, 0, 0]);
    expect(Array.from(q.scales)).toEqual([127, Math.fround(127 / Math.fround(1e-5))]);
  });
  it('knows its names', () => {
    expect(Object.keys(HOST_QUANTIZERS)).toEqual(['ternary-absmean', 'ternary-centred', 'binary-scaled', 'binary-sign']);
    expect(isHostQuantizerName('binary-sign')).toBe(true);
    expect(isHostQuantizerName('fp32')).toBe(false);
    expect(() => ternaryAbsmeanHost(f32([1]), -1)).toThrow(/INVALID_OPTION/);
  });
});
