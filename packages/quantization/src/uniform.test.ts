import { BitlensError, mulberry32 } from '@bitlens/core';
import { initTfjsBackend, type Tf } from '@bitlens/engine';
import type { Tensor } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  asymmetricGrid, checkRangeEstimator, fakeQuantAsymmetric, fakeQuantAsymmetricHost, sqnrDb, sqnrFromSums, sqnrSums, symmetricQuantizer,
  ternaryAbsmean, updateRange,
} from './index.js';

let tf: Tf;
beforeAll(async () => {
  ({ tf } = await initTfjsBackend('wasm'));
});

function random(n: number, seed: number, scale = 1, shift = 0): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale + shift);
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
};

describe('symmetric per-tensor weight quantizer', () => {
  const q8 = symmetricQuantizer(8);
  it('int8: scale = max|W| / 127, every value within scale / 2, the extreme kept exactly; tf equals the host', () => {
    const w = random(4096, 1, 0.3, 0.05);
    const h = q8.quantizeHost(w);
    const maxAbs = w.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    expect(h.scale).toBeCloseTo(maxAbs / 127, 12);
    expect(maxDiff(w, h.values)).toBeLessThanOrEqual(h.scale / 2 + 1e-8);
    expect(Math.max(...Array.from(h.codes ?? [], Math.abs))).toBe(127);
    expect(q8.name).toBe('int8-symmetric');
    expect(q8.levels.length).toBe(256);
    const t = tf.tidy(() => q8.quantize(tf, tf.tensor1d(w)).dataSync() as Float32Array);
    expect(maxDiff(t, h.values)).toBeLessThan(1e-7);
  });
  it('is idempotent and keeps a ternary tensor exactly', () => {
    const w = random(1000, 2);
    const once = q8.quantizeHost(w).values;
    expect(maxDiff(q8.quantizeHost(once).values, once)).toBe(0);
    const tern = ternaryAbsmean.quantizeHost(w).values;
    expect(maxDiff(q8.quantizeHost(tern).values, tern)).toBe(0);
  });
  it('an all-zero tensor stays zero; bits outside 2..8 are rejected naming weightBits', () => {
    expect(Array.from(q8.quantizeHost(new Float32Array(4)).values)).toEqual([0, 0, 0, 0]);
    expect(() => symmetricQuantizer(9)).toThrow(BitlensError);
    expect(() => symmetricQuantizer(1)).toThrow(/weightBits/);
    expect(symmetricQuantizer(4).quantizeHost(new Float32Array([7, -3.5, 1])).codes).toEqual(new Int8Array([7, -4, 1]));
  });
});

describe('asymmetric static-range activation quantizer', () => {
  it('widens the range to contain 0, and 0 is exactly representable', () => {
    const g = asymmetricGrid([0.5, 3], 8);
    expect(g.lo).toBe(0);
    expect(g.zeroPoint).toBe(0);
    expect(g.scale).toBeCloseTo(3 / 255, 12);
    const h = asymmetricGrid([-1, 3], 8);
    expect(h.zeroPoint).toBe(64); // round(1 / (4 / 255)) = round(63.75)
    expect(fakeQuantAsymmetricHost(new Float32Array([0]), [-1, 3], 8)[0]).toBe(0);
    expect(asymmetricGrid([0, 0], 8).scale).toBe(0);
    expect(() => asymmetricGrid([2, 1], 8)).toThrow(/range/);
    expect(() => asymmetricGrid([0, 1], 17)).toThrow(/activationBits/);
  });
  it('round trip error <= scale / 2 inside the range; values outside are clipped to its ends; tf equals the host', () => {
    const x = random(5000, 3, 4, 0.5); // in [-3.5, 4.5]
    const range: [number, number] = [-2, 3];
    const g = asymmetricGrid(range, 8);
    const h = fakeQuantAsymmetricHost(x, range, 8);
    x.forEach((v, i) => {
      if (v >= g.lo && v <= g.hi) expect(Math.abs(v - (h[i] ?? 0))).toBeLessThanOrEqual(g.scale / 2 + 1e-6);
      else expect(h[i]).toBeCloseTo(v < g.lo ? g.lo : g.hi, 6);
    });
    const t = tf.tidy(() => fakeQuantAsymmetric(tf, tf.tensor1d(x), range, 8).dataSync() as Float32Array);
    // float32 division on the device may round an exact half the other way: at most one step apart, rarely.
    const off = Array.from(t).filter((v, i) => Math.abs(v - (h[i] ?? 0)) > 1e-6);
    expect(off.length).toBeLessThan(5);
    expect(maxDiff(t, h)).toBeLessThanOrEqual(g.scale + 1e-6);
  });
  it('passes the gradient straight through inside the range and blocks it outside', () => {
    const x = tf.tensor1d([-5, -1, 0, 0.7, 2.9, 10]);
    const g = tf.grad((v: Tensor) => tf.sum(tf.mul(fakeQuantAsymmetric(tf, v, [-2, 3], 8), tf.tensor1d([1, 2, 3, 4, 5, 6]))))(x);
    expect(Array.from(g.dataSync())).toEqual([0, 2, 3, 4, 5, 0]);
    tf.dispose([x, g]);
  });
});

describe('range estimators', () => {
  it('running min-max is an exponential moving average from the first batch; minmax keeps the extremes', () => {
    let r: [number, number] | undefined;
    for (const [lo, hi] of [[-1, 2], [-3, 1], [-1, 4]] as const) r = updateRange(r, lo, hi, 'running-minmax', 0.9);
    expect(r?.[0]).toBeCloseTo(0.9 * (0.9 * -1 + 0.1 * -3) + 0.1 * -1, 12);
    expect(r?.[1]).toBeCloseTo(0.9 * (0.9 * 2 + 0.1 * 1) + 0.1 * 4, 12);
    let m: [number, number] | undefined;
    for (const [lo, hi] of [[-1, 2], [-3, 1], [-1, 4]] as const) m = updateRange(m, lo, hi, 'minmax');
    expect(m).toEqual([-3, 4]);
  });
  it('rejects an unknown estimator or a momentum outside [0, 1), naming the field', () => {
    expect(() => checkRangeEstimator('percentile', 0.9, 's')).toThrow(/'estimator'/);
    expect(() => checkRangeEstimator('running-minmax', 1, 's')).toThrow(/'momentum'/);
    expect(() => checkRangeEstimator('minmax', 0, 's')).not.toThrow();
  });
});

describe('SQNR', () => {
  it('is 10 log10(signal / noise) in dB, +Infinity without noise', () => {
    expect(sqnrDb([1, 1], [1, 0])).toBeCloseTo(10 * Math.log10(2), 12);
    expect(sqnrDb([3, 4], [3, 4])).toBe(Number.POSITIVE_INFINITY);
    const s = sqnrSums([1, 2], [1, 1]);
    expect(sqnrFromSums(s.signal, s.noise)).toBeCloseTo(10 * Math.log10(5), 12);
    expect(() => sqnrDb([1, 2], [1])).toThrow(/SHAPE_MISMATCH/);
    // 8-bit weights of a Gaussian-like tensor: about 6 dB per bit minus the crest factor, i.e. 35-45 dB.
    const w = random(10_000, 5);
    const db = sqnrDb(w, symmetricQuantizer(8).quantizeHost(w).values);
    expect(db).toBeGreaterThan(35);
    expect(db).toBeLessThan(55);
  });
});
