import { mulberry32 } from '@bitlens/core';
import { describe, expect, it } from 'vitest';
import { fourierBasis, sumDirections } from './fourier.js';
import { gini } from './gini.js';
import { keyFrequenciesFromNorms } from './key-frequencies.js';
import { embeddingSpectrum } from './spectra.js';
import { crossEntropy, frequencyLosses } from './loss.js';
import { inputGrid } from './task.js';
import { circularity, correctLogits, distanceIrrelevance } from './clock-pizza.js';
import { evenPhases, quadratureClosedForm, quadratureSum } from './quadrature.js';


describe('Fourier basis (docs/science.md#fourier-basis)', () => {
  it.each([5, 59, 97, 113])('is orthonormal for p = %i (F F^T = I to 1e-12) with const row 1/sqrt(p)', (p) => {
    const { data, rows } = fourierBasis(p);
    expect(rows).toBe(p);
    let worst = 0;
    for (let i = 0; i < p; i++) {
      for (let j = 0; j < p; j++) {
        let s = 0;
        for (let x = 0; x < p; x++) s += (data[i * p + x] ?? 0) * (data[j * p + x] ?? 0);
        worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
    expect(worst).toBeLessThan(1e-12);
    for (let x = 0; x < p; x++) expect(Math.abs((data[x] ?? 0) - 1 / Math.sqrt(p))).toBeLessThan(1e-15);
  });

  it('orders rows [const, cos 1, sin 1, ...]', () => {
    const b = fourierBasis(7);
    expect([...b.freqOfRow]).toEqual([0, 1, 1, 2, 2, 3, 3]);
    expect(b.kindOfRow.slice(0, 3)).toEqual(['const', 'cos', 'sin']);
    expect(b.data[7 + 0]).toBeCloseTo(Math.sqrt(2 / 7), 14);
  });

  it("offers Li's notebook layout (p + 2 rows, sin before cos)", () => {
    const b = fourierBasis(113, 'li');
    expect(b.rows).toBe(115);
    expect(b.kindOfRow[1]).toBe('sin');
  });

  it('u_cos(k), u_sin(k) equal the product-formula directions and normalised cos/sin(w_k (a+b)) (1e-12)', () => {
    const p = 113;
    const k = 14;
    const F = fourierBasis(p).data;
    const { cos, sin } = sumDirections(p, k);
    let worst = 0;
    let norm = 0;
    for (let a = 0; a < p; a++) {
      for (let b = 0; b < p; b++) {
        const ca = F[(2 * k - 1) * p + a] ?? 0;
        const sa = F[2 * k * p + a] ?? 0;
        const cb = F[(2 * k - 1) * p + b] ?? 0;
        const sb = F[2 * k * p + b] ?? 0;
        worst = Math.max(worst, Math.abs((ca * cb - sa * sb) / Math.SQRT2 - (cos[a * p + b] ?? 0)));
        worst = Math.max(worst, Math.abs((sa * cb + ca * sb) / Math.SQRT2 - (sin[a * p + b] ?? 0)));
        worst = Math.max(worst, Math.abs((Math.cos((2 * Math.PI * k * (a + b)) / p) * Math.SQRT2) / p - (cos[a * p + b] ?? 0)));
        norm += (cos[a * p + b] ?? 0) ** 2;
      }
    }
    expect(worst).toBeLessThan(1e-12);
    expect(norm).toBeCloseTo(1, 12);
  });
});

describe('gini (docs/science.md#fourier-spectra-and-gini)', () => {
  it('is 0.75 for one-hot of 4, 0 for constant, scale invariant', () => {
    expect(gini([0, 0, 0, 1])).toBeCloseTo(0.75, 15);
    expect(gini([1, 1, 1, 1])).toBe(0);
    const x = [0.3, 1.2, 5, 0.01, 2];
    expect(gini(x.map((v) => v * 1000))).toBeCloseTo(gini(x), 12);
    expect(gini(x)).toBeGreaterThan(0);
  });
});

function plantedEmbedding(p: number, d: number, keys: number[], seed: number, amps: number[] = keys.map(() => 1)): Float32Array {
  const rnd = mulberry32(seed);
  const e = new Float32Array((p + 1) * d);
  for (let t = 0; t <= p; t++) for (let j = 0; j < d; j++) e[t * d + j] = (rnd() - 0.5) * 2e-6;
  keys.forEach((k, i) => {
    for (let a = 0; a < p; a++) {
      e[a * d + 2 * i] = (e[a * d + 2 * i] ?? 0) + (amps[i] ?? 1) * Math.cos((2 * Math.PI * k * a) / p);
      e[a * d + 2 * i + 1] = (e[a * d + 2 * i + 1] ?? 0) + (amps[i] ?? 1) * Math.sin((2 * Math.PI * k * a) / p);
    }
  });
  return e;
}

describe('key frequencies from embedding norms (docs/science.md#key-frequencies)', () => {
  it('finds exactly one planted frequency', () => {
    const spec = embeddingSpectrum(plantedEmbedding(113, 16, [14], 1), 113, 16);
    expect(keyFrequenciesFromNorms(spec.freqNorms).keys).toEqual([14]);
  });
  it('finds both of two planted frequencies', () => {
    const spec = embeddingSpectrum(plantedEmbedding(113, 16, [14, 41], 2), 113, 16);
    expect(keyFrequenciesFromNorms(spec.freqNorms).keys).toEqual([14, 41]);
    expect(keyFrequenciesFromNorms(spec.freqNorms, { kind: 'relative', fraction: 0.5 }).keys).toEqual([14, 41]);
  });
});

describe('restricted and excluded loss (docs/science.md#restricted-and-excluded-loss)', () => {
  const p = 113;
  const keys = [14, 35, 41, 42, 52];
  const logits = new Float64Array(p * p * p);
  for (let a = 0; a < p; a++)
    for (let b = 0; b < p; b++)
      for (let c = 0; c < p; c++) {
        let s = 0;
        for (const k of keys) s += Math.cos((2 * Math.PI * k * (a + b - c)) / p);
        logits[(a * p + b) * p + c] = s;
      }
  const { labels } = inputGrid(p, 'add');

  it('projection is lossless on a planted clock logit table; excluded loss is log p; accuracy 100%', () => {
    const r = frequencyLosses(logits, labels, p, keys);
    expect(r.full.accuracy).toBe(1);
    expect(Math.abs(r.restricted.loss - r.full.loss)).toBeLessThan(1e-9);
    expect(Math.abs(r.excluded.loss - Math.log(p))).toBeLessThan(1e-6);
    expect(r.perKey.map((x) => x.k)).toEqual(keys);
    // Removing one key leaves the other four: loss stays below log p but above the full loss.
    for (const pk of r.perKey) expect(pk.excluded.loss).toBeGreaterThan(r.full.loss);
  });

  it('computes CE in float64 (no saturation at 1e-7)', () => {
    const l = new Float64Array([40, 0, 0]);
    const r = crossEntropy(l, [0], 3);
    expect(r.loss).toBeGreaterThan(0);
    expect(r.loss).toBeCloseTo(2 * Math.exp(-40), 25);
  });
});

describe('clock vs pizza (docs/science.md#clock-vs-pizza)', () => {
  const p = 59;
  const { labels } = inputGrid(p, 'add');
  it('distance irrelevance: ~1 for a clock table, < 0.2 for a pizza table', () => {
    const rnd = mulberry32(3);
    const clock = new Float64Array(p * p).map(() => 5 + (rnd() - 0.5) * 1e-6);
    const pizza = new Float64Array(p * p);
    for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) pizza[a * p + b] = Math.abs(Math.cos((2 * Math.PI * 7 * (a - b)) / p / 2));
    expect(distanceIrrelevance(clock, p)).toBeGreaterThan(0.95);
    expect(distanceIrrelevance(pizza, p)).toBeLessThan(0.2);
    const grid = new Float64Array(p * p * p);
    for (let r = 0; r < p * p; r++) grid[r * p + (labels[r] ?? 0)] = pizza[r] ?? 0;
    expect(correctLogits(grid, labels, p)).toEqual(pizza);
  });
  it('circularity is ~1 for a single-frequency circle embedding and lower for noise', () => {
    const circle = plantedEmbedding(p, 8, [5, 11], 4, [2, 1]);
    expect(circularity(circle, p, 8, 4)).toBeGreaterThan(0.99);
    const rnd = mulberry32(5);
    const noise = new Float32Array((p + 1) * 8).map(() => rnd() - 0.5);
    expect(circularity(noise, p, 8, 4)).toBeLessThan(0.5);
  });
});

describe('quadrature (docs/science.md#quadrature-yip)', () => {
  it('matches the closed form: N=16 within 2e-3, N=256 within 1e-4 (x=0.7, y=1.9)', () => {
    const exact = quadratureClosedForm(0.7, 1.9);
    expect(exact).toBeCloseTo(0.58506, 5);
    const q16 = quadratureSum(evenPhases(16), 0.7, 1.9);
    const q256 = quadratureSum(evenPhases(256), 0.7, 1.9);
    expect(Math.abs(q16 - exact)).toBeLessThan(2e-3);
    expect(Math.abs(q256 - exact)).toBeLessThan(1e-4);
    expect(q16).toBeCloseTo(0.58662, 4);
    expect(q256).toBeCloseTo(0.58501, 4);
  });
  it('error decreases on average as N doubles', () => {
    const rnd = mulberry32(6);
    const pts = Array.from({ length: 50 }, () => [rnd() * 6.28, rnd() * 6.28] as const);
    const err = (n: number): number => pts.reduce((s, [x, y]) => s + Math.abs(quadratureSum(evenPhases(n), x, y) - quadratureClosedForm(x, y)), 0) / pts.length;
    const errs = [8, 16, 32, 64, 128, 256].map(err);
    for (let i = 1; i < errs.length; i++) expect(errs[i]).toBeLessThan(errs[i - 1] ?? 0);
  });
});
