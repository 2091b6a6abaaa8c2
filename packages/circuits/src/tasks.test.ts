import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '@bitlens/core';
import { type Tf, initTfjsBackend } from '@bitlens/engine';
import { importTransformerLens, initParams, modelConfig, weightsTable } from '@bitlens/model';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '@bitlens/core/testing';
import { attentionAsymmetry, logitAsymmetry } from './asymmetry.js';
import { distanceIrrelevance, distanceIrrelevanceIn } from './clock-pizza.js';
import { discreteLogs, primitiveRoot } from './discrete-log.js';
import { sumDirections } from './fourier.js';
import { keyFrequenciesFromNorms } from './key-frequencies.js';
import { frequencyLosses } from './loss.js';
import { gridLogits, gridOutputs, loadModel } from './model.js';
import { DEFAULT_SPARSITY, cyclicSpectrum, embeddingSpectrum, fourierSparsity, logEmbeddingSpectrum } from './spectra.js';
import { neuronFrequencyFve, neuronFrequencyFveIn } from './neurons.js';
import { type TaskBasis, basisDirections, basisFrequencies, combinationKeys, isPlainBasis, taskBasis } from './task-basis.js';
import { inputGrid } from './task.js';

function basisOf(task: string, p: number): TaskBasis {
  const b = taskBasis(task, p);
  if (b === undefined) throw new Error(`${task} has no basis`);
  return b;
}

/**
 * Planted logits whose correct-class structure is exactly a function of the basis' s: on the basis rows,
 * L[r, c] = scale * sum_k cos(2 pi k (s_r - sigma(c)) / n) with sigma(c) the s that gives label c (c for a linear task,
 * log_g c for a multiplicative one; class 0, never a label there, sits at -100). Off the basis (a or b = 0 for mul) the label gets `scale`.
 */
function plantedLogits(task: string, p: number, keys: readonly number[], scale: number): { logits: Float64Array; labels: Int32Array; valid: Uint8Array } {
  const basis = basisOf(task, p);
  const { labels, valid } = inputGrid(p, task);
  const logits = new Float64Array(p * p * p);
  for (let r = 0; r < p * p; r++) if (valid[r] === 1) logits[r * p + (labels[r] ?? 0)] = scale;
  const logs = basis.kind === 'multiplicative' ? discreteLogs(p).log : undefined;
  basis.rows.forEach((r, i) => {
    for (let c = 0; c < p; c++) {
      const sigma = logs === undefined ? c : (logs[c] ?? -1);
      let v = 0;
      for (const k of keys) v += Math.cos((2 * Math.PI * k * ((basis.s[i] ?? 0) - sigma)) / basis.n);
      logits[r * p + c] = sigma < 0 ? -100 : scale * v;
    }
  });
  return { logits, labels, valid };
}

describe('discrete logarithms', () => {
  it.each([3, 5, 7, 11, 13, 31, 59, 97, 113])('g^i (i = 0..p-2) runs through 1..p-1 exactly once mod %i, and log inverts it', (p) => {
    const { g, exp, log } = discreteLogs(p);
    expect(g).toBe(primitiveRoot(p));
    expect([...exp].sort((x, y) => x - y)).toEqual(Array.from({ length: p - 1 }, (_, i) => i + 1));
    for (let i = 0; i < p - 1; i++) expect(log[exp[i] ?? 0]).toBe(i);
    expect(log[0]).toBe(-1);
    // A primitive root has order p - 1: no smaller power is 1.
    expect(exp.indexOf(1, 1)).toBe(-1);
  });

  it('knows the smallest primitive roots and rejects a g that is not one', () => {
    expect([7, 11, 13, 31, 59, 113].map(primitiveRoot)).toEqual([3, 2, 2, 3, 2, 3]);
    expect(Array.from(discreteLogs(7).exp)).toEqual([1, 3, 2, 6, 4, 5]);
    const e = errorOf(() => discreteLogs(7, 2)); // 2^3 = 1 mod 7
    expect([e.code, e.site.field]).toEqual(['INVALID_OPTION', 'g']);
    expect(errorOf(() => primitiveRoot(9)).site.field).toBe('p');
  });
});

describe('task bases: the directions of restricted / excluded loss', () => {
  it("add's directions are exactly sumDirections' u_cos(k), u_sin(k) over all p^2 rows", () => {
    const p = 23;
    const b = basisOf('add', p);
    expect(Array.from(b.rows)).toEqual(Array.from({ length: p * p }, (_, r) => r));
    for (const k of [1, 7, 11]) {
      const mine = basisDirections(b, k);
      const ref = sumDirections(p, k);
      expect(mine.cos).toEqual(ref.cos);
      expect(mine.sin).toEqual(ref.sin);
    }
  });

  it('describes every structured task; none for the polynomials; mul and div live on the (p-1)^2 pairs with a, b != 0', () => {
    const p = 11;
    expect(basisOf('sub', p).description).toBe('s = a-b, d = a+b (mod 11)');
    expect(basisOf('2x_m_3y', p).description).toBe('s = 2a-3b, d = 2a+3b (mod 11)');
    expect(basisOf('mul', p).description).toBe('s = i+j, d = i-j (mod 10; a = 2^i, b = 2^j, a, b != 0)');
    expect(basisOf('div', p).description).toBe('s = i-j, d = i+j (mod 10; a = 2^i, b = 2^j, a, b != 0)');
    for (const t of ['mul', 'div']) expect(basisOf(t, p).rows.length).toBe((p - 1) * (p - 1));
    expect(basisOf('x_x_y', p).rows.length).toBe(p * p);
    for (const t of ['x2_y2', 'x2_xy_y2', 'xy_x_y', 'x2_2xy_y2']) expect(taskBasis(t, p)).toBeUndefined();
    // s is the label's combination: c = s (linear) or c = g^s (multiplicative).
    const mul = basisOf('mul', p);
    const { exp } = discreteLogs(p);
    mul.rows.forEach((r, i) => expect(exp[mul.s[i] ?? 0]).toBe((Math.floor(r / p) * (r % p)) % p));
    const sub = basisOf('sub', p);
    sub.rows.forEach((r, i) => expect(sub.s[i]).toBe((Math.floor(r / p) - (r % p) + p) % p));
  });

  it('directions are orthonormal over the basis rows, the even-n Nyquist frequency included (cosine only)', () => {
    const b = basisOf('mul', 13); // n = 12: frequencies 1..6, k = 6 has no sine
    expect(basisFrequencies(b)).toBe(6);
    expect(basisDirections(b, 6).sin).toBeUndefined();
    const vs = [1, 2, 3, 4, 5, 6].flatMap((k) => {
      const d = basisDirections(b, k);
      return d.sin === undefined ? [d.cos] : [d.cos, d.sin];
    });
    expect(vs.length).toBe(11);
    let worst = 0;
    for (let i = 0; i < vs.length; i++) {
      for (let j = 0; j < vs.length; j++) {
        let dot = 0;
        for (let r = 0; r < (vs[i]?.length ?? 0); r++) dot += (vs[i]?.[r] ?? 0) * (vs[j]?.[r] ?? 0);
        worst = Math.max(worst, Math.abs(dot - (i === j ? 1 : 0)));
      }
    }
    expect(worst).toBeLessThan(1e-12);
    expect(errorOf(() => basisDirections(b, 7)).site.field).toBe('k');
  });

  it('a structure that degenerates mod p is a typed error (2a + 3b at p = 3)', () => {
    expect(errorOf(() => taskBasis('2x_3y', 3)).site.field).toBe('p');
    expect(errorOf(() => taskBasis('nope', 7)).site.field).toBe('task');
  });
});

describe('restricted / excluded loss in the right directions (planted tables)', () => {
  it.each([
    ['sub', 31, [3, 11]],
    ['2x_m_3y', 31, [4, 9, 13]],
    ['x_x_y', 23, [2, 5]],
  ] as const)('%s: restricted = full and excluded = log p in its directions; the add directions get it wrong', (task, p, keys) => {
    const { logits, labels } = plantedLogits(task, p, keys, 4);
    const right = frequencyLosses(logits, labels, p, keys, { basis: basisOf(task, p) });
    expect(right.full.accuracy).toBe(1);
    expect(Math.abs(right.restricted.loss - right.full.loss)).toBeLessThan(1e-9);
    expect(Math.abs(right.excluded.loss - Math.log(p))).toBeLessThan(1e-6);
    // Projected onto cos/sin(w_k (a + b)) these logits lose everything: restricted loss is chance, excluded = full.
    const wrong = frequencyLosses(logits, labels, p, keys);
    expect(wrong.restricted.loss).toBeGreaterThan(right.full.loss + 2);
    expect(Math.abs(wrong.excluded.loss - right.full.loss)).toBeLessThan(1e-6);
  });

  it.each([
    ['mul', 31, [2, 7]],
    ['div', 23, [3, 5, 11]], // 11 = n / 2: the Nyquist frequency of Z_22
  ] as const)('%s: the discrete-log basis over (p-1)^2 rows; add directions get it wrong', (task, p, keys) => {
    const { logits, labels, valid } = plantedLogits(task, p, keys, 4);
    const basis = basisOf(task, p);
    const right = frequencyLosses(logits, labels, p, keys, { basis, restrictedOn: valid });
    expect(right.restricted.count).toBe((p - 1) * (p - 1));
    expect(right.full.accuracy).toBe(1);
    expect(Math.abs(right.restricted.loss - right.full.loss)).toBeLessThan(1e-9);
    // Class 0 is never a label here (its column is constant): the excluded logits are uniform over the other p - 1.
    expect(Math.abs(right.excluded.loss - Math.log(p - 1))).toBeLessThan(1e-6);
    const addBasis = basisOf('add', p);
    const wrongKeys = keys.filter((k) => k <= basisFrequencies(addBasis));
    const wrong = frequencyLosses(logits, labels, p, wrongKeys, { basis: addBasis, restrictedOn: valid, excludedOn: valid });
    expect(wrong.restricted.loss).toBeGreaterThan(right.restricted.loss + 1);
    expect(wrong.excluded.loss).toBeLessThan(right.excluded.loss - 1);
  });

  it('rows outside the domain are never scored: a -1 label on a selected row is a typed error', () => {
    const p = 7;
    const { labels, valid, nValid } = inputGrid(p, 'div');
    expect(nValid).toBe(p * (p - 1));
    expect(labels[3 * p]).toBe(-1); // b = 0
    expect(valid[3 * p]).toBe(0);
    const logits = new Float64Array(p * p * p);
    expect(errorOf(() => frequencyLosses(logits, labels, p, [1], { basis: basisOf('add', p) })).code).toBe('INVALID_DATA');
  });
});

describe('distance irrelevance in the task basis', () => {
  const p = 31;
  it('sub: a clock table reads ~1, a pizza table (correct logit depends on a + b) small; the add grouping misreads it', () => {
    const rnd = mulberry32(7);
    const clock = new Float64Array(p * p).map(() => 5 + (rnd() - 0.5) * 1e-6);
    const pizza = new Float64Array(p * p);
    for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) pizza[a * p + b] = Math.abs(Math.cos((Math.PI * 5 * ((a + b) % p)) / p));
    const sub = basisOf('sub', p);
    expect(distanceIrrelevanceIn(clock, sub)).toBeGreaterThan(0.95);
    expect(distanceIrrelevanceIn(pizza, sub)).toBeLessThan(0.2);
    expect(distanceIrrelevance(pizza, p)).toBeGreaterThan(0.9); // grouped by a - b, the a + b dependence looks clock-like
  });

  it('mul: the same in discrete-log coordinates (distance = log a - log b)', () => {
    const { log } = discreteLogs(p);
    const pizza = new Float64Array(p * p);
    for (let a = 1; a < p; a++) for (let b = 1; b < p; b++) pizza[a * p + b] = Math.abs(Math.cos((Math.PI * 4 * ((((log[a] ?? 0) - (log[b] ?? 0)) % 30) + 30)) / 30));
    expect(distanceIrrelevanceIn(pizza, basisOf('mul', p))).toBeLessThan(0.2);
    expect(distanceIrrelevanceIn(new Float64Array(p * p).fill(2), basisOf('mul', p))).toBe(1);
  });
});

describe('operand asymmetry', () => {
  const p = 11;
  it('logit asymmetry: 0 for a symmetric table, 1 for an antisymmetric one, ~0.7 for a table that solves sub', () => {
    const sym = plantedLogits('add', p, [1, 3], 1).logits;
    expect(logitAsymmetry(sym, p, p)).toBeLessThan(1e-12);
    const anti = new Float64Array(p * p * p);
    for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) for (let c = 0; c < p; c++) anti[(a * p + b) * p + c] = (a - b) * Math.cos((2 * Math.PI * c) / p);
    expect(logitAsymmetry(anti, p, p)).toBeCloseTo(1, 12);
    const sub = logitAsymmetry(plantedLogits('sub', p, [1, 2, 3, 4, 5], 1).logits, p, p);
    expect(sub).toBeGreaterThan(0.6);
    expect(sub).toBeLessThan(0.8);
    expect(logitAsymmetry(new Float64Array(p * p * p), p, p)).toBe(0);
  });

  it('attention asymmetry: 0 when attention to a token ignores its position, 1 when it is positional only', () => {
    const heads = 2;
    const pattern = (f: (a: number, b: number) => [number, number, number]): Float64Array => {
      const out = new Float64Array(p * p * heads * 3);
      for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) for (let h = 0; h < heads; h++) out.set(f(a, b), ((a * p + b) * heads + h) * 3);
      return out;
    };
    const byToken = (a: number, b: number): [number, number, number] => {
      const wa = 1 + a;
      const wb = 1 + b;
      return [wa / (wa + wb + 1), wb / (wa + wb + 1), 1 / (wa + wb + 1)];
    };
    expect(attentionAsymmetry(pattern(byToken), p, heads, 3)).toBeLessThan(1e-12);
    expect(attentionAsymmetry(pattern(() => [1, 0, 0]), p, heads, 3)).toBe(1);
    expect(attentionAsymmetry(pattern(() => [0, 0, 1]), p, heads, 3)).toBe(0);
  });

  describe('on models', () => {
    let tf: Tf;
    beforeAll(async () => {
      tf = (await initTfjsBackend('wasm')).tf;
    });
    it('li (no positional embedding, bidirectional) is symmetric by construction; a random nanda model is not', () => {
      const run = (preset: 'li' | 'nanda') => {
        const cfg = modelConfig(preset, p, { dModel: 16, nHeads: 2, dMlp: 32 });
        const m = loadModel(weightsTable(cfg, initParams(cfg, 3)));
        const out = gridOutputs(tf, m, { capture: (h) => h === 'blocks.0.attn.hook_pattern' });
        const pat = out.acts.get('blocks.0.attn.hook_pattern');
        if (pat === undefined) throw new Error('no pattern');
        return { logit: logitAsymmetry(out.logits, p, p), attention: attentionAsymmetry(pat.data, p, 2, 3, { queries: 3 }) };
      };
      const li = run('li');
      expect(li.logit).toBeLessThan(1e-5);
      expect(li.attention).toBeLessThan(1e-5);
      const nanda = run('nanda');
      expect(nanda.logit).toBeGreaterThan(0.01);
      expect(nanda.attention).toBeGreaterThan(0.01);
    });

    const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
    const FIXTURE = resolve(repo, '../shared/fixtures/progress_measures_p113_wd0.1_seed1.safetensors');
    it.skipIf(!existsSync(FIXTURE))("the shipped add model (Nanda, p = 113) has logit asymmetry below 0.02", () => {
      const cfg = modelConfig('nanda', 113);
      const m = loadModel(weightsTable(cfg, importTransformerLens(new Uint8Array(readFileSync(FIXTURE)), cfg)));
      expect(logitAsymmetry(gridLogits(tf, m), 113, 113)).toBeLessThan(0.02);
    });
  });
});

describe("FFS's eps: relative 0.5 of the strongest component separates sparse from dense", () => {
  const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
  const FIXTURE = resolve(repo, '../shared/fixtures/progress_measures_p113_wd0.1_seed1.safetensors');
  it.skipIf(!existsSync(FIXTURE))('the shipped add model: FFS = 5/56, exactly its key frequencies {6, 23, 37, 39, 41}; the old 0.1 read 15/56', () => {
    const we = importTransformerLens(new Uint8Array(readFileSync(FIXTURE)), modelConfig('nanda', 113)).get('embed.W_E')?.data ?? new Float32Array(0);
    const spec = embeddingSpectrum(we, 113, 128);
    const s = fourierSparsity(spec);
    expect(DEFAULT_SPARSITY).toEqual({ kind: 'relative', fraction: 0.5 });
    expect(s.significant).toEqual([6, 23, 37, 39, 41]);
    expect(s.ffs).toBeCloseTo(5 / 56, 12);
    expect(s.fcr).toBeGreaterThan(0.95);
    expect(fourierSparsity(spec, { kind: 'relative', fraction: 0.1 }).significant.length).toBe(15);
  });

  it.each(['nanda', 'li'] as const)('a random-init %s embedding (p = 113) is dense: FFS = 1', (preset) => {
    const cfg = modelConfig(preset, 113);
    for (const seed of [0, 1, 2]) {
      const we = initParams(cfg, seed).get('embed.W_E')?.data ?? new Float32Array(0);
      expect(fourierSparsity(embeddingSpectrum(we, 113, cfg.dModel)).ffs).toBe(1);
    }
  });
});

describe('embedding spectrum in discrete-log coordinates (key method embed-log)', () => {
  it('an embedding that is a circle in log a has one log key; Z_n spectra of even n are orthonormal', () => {
    const p = 31;
    const { log } = discreteLogs(p);
    const d = 4;
    const e = new Float32Array((p + 1) * d);
    for (let t = 1; t < p; t++) {
      e[t * d] = Math.cos((2 * Math.PI * 7 * (log[t] ?? 0)) / (p - 1));
      e[t * d + 1] = Math.sin((2 * Math.PI * 7 * (log[t] ?? 0)) / (p - 1));
    }
    const spec = logEmbeddingSpectrum(e, discreteLogs(p), d);
    expect(spec.freqNorms.length).toBe(15);
    expect(keyFrequenciesFromNorms(spec.freqNorms).keys).toEqual([7]);
    // The same embedding read in Z_p is spread over many frequencies.
    expect(keyFrequenciesFromNorms(embeddingSpectrum(e, p, d).freqNorms).keys).not.toEqual([7]);
    // Parseval over Z_n for even n (the Nyquist row included).
    const rnd = mulberry32(2);
    const m = Float64Array.from({ length: 12 * 3 }, () => rnd() - 0.5);
    const cs = cyclicSpectrum(m, 12, 3);
    const energy = m.reduce((s, v) => s + v * v, 0);
    expect(cs.rowNorms.reduce((s, v) => s + v * v, 0)).toBeCloseTo(energy, 12);
  });
});

describe("neuron frequencies in the task's coordinates", () => {
  let tf: Tf;
  beforeAll(async () => {
    tf = (await initTfjsBackend('wasm')).tf;
  });
  const relu = (x: number): number => Math.max(0, x);

  it("mul: a neuron ReLU(cos(w k log a) + cos(w k log b)) has argmax frequency k in the discrete-log basis, not in Z_p; add's coordinates are Z_p's", () => {
    const p = 31;
    const { log } = discreteLogs(p);
    const acts = new Float32Array(p * p * 2);
    for (let a = 1; a < p; a++) {
      for (let b = 1; b < p; b++) {
        const r = a * p + b;
        acts[r * 2] = relu(Math.cos((2 * Math.PI * 4 * (log[a] ?? 0)) / 30) + Math.cos((2 * Math.PI * 4 * (log[b] ?? 0)) / 30));
        acts[r * 2 + 1] = relu(Math.cos((2 * Math.PI * 15 * (log[a] ?? 0)) / 30) + Math.cos((2 * Math.PI * 15 * (log[b] ?? 0)) / 30)); // the Nyquist frequency
      }
    }
    const inLog = neuronFrequencyFveIn(tf, acts, basisOf('mul', p), 2);
    expect(Array.from(inLog.freq)).toEqual([4, 15]);
    expect(inLog.maxFve[0]).toBeGreaterThan(0.9);
    expect(inLog.maxFve[1]).toBeGreaterThan(0.9);
    expect(neuronFrequencyFve(tf, acts, p, 2).maxFve[0]).toBeLessThan(0.5);
    const plain = new Float32Array(p * p * 2).map((_, i) => Math.sin(i * 0.37));
    expect(neuronFrequencyFveIn(tf, plain, basisOf('add', p), 2).fve).toEqual(neuronFrequencyFve(tf, plain, p, 2).fve);
  });

  it('2a + 3b: a neuron of frequency k of the combination (2k in a, 3k in b) reads as k; embedding keys {2k, 3k} map to {k}', () => {
    const p = 23;
    const acts = new Float32Array(p * p);
    for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) acts[a * p + b] = relu(Math.cos((2 * Math.PI * 5 * 2 * a) / p) + Math.cos((2 * Math.PI * 5 * 3 * b) / p));
    const b = basisOf('2x_3y', p);
    expect(neuronFrequencyFveIn(tf, acts, b, 1).freq[0]).toBe(5);
    expect(isPlainBasis(b)).toBe(false);
    expect(isPlainBasis(basisOf('sub', p))).toBe(true);
    // fold(2 * 5) = 10, fold(3 * 5) = 15 -> 8 (mod 23)
    expect(combinationKeys(b, [8, 10])).toEqual([5]);
    expect(combinationKeys(basisOf('sub', p), [8, 10])).toEqual([8, 10]);
  });
});
