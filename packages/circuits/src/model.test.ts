import { mulberry32 } from '@bitlens/core';
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Tf, initTfjsBackend } from '@bitlens/engine';
import { type HostTensor, type ModelConfig, MODEL_CONFIG_KEY, WeightsSchema, importTransformerLens, initParams, modelConfig, paramSpecs, weightsTable } from '@bitlens/model';
import { lastValueFrom, of, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ablate,
  activations,
  crossEntropy,
  directLogitAttribution,
  embeddingSpectrum,
  fitNeuronWaves,
  fourierSparsity,
  fourierSpectrum,
  frequencyLosses,
  gradientSymmetricityOf,
  gridLogits,
  gridOutputs,
  inputGrid,
  loadModel,
  patchActivation,
  runGrid,
} from './index.js';
import { float32ListFlat, int32List, tableOf, utf8 } from './internal/arrow.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await initTfjsBackend('wasm')).tf;
});


/** A weights table built without the model's checks (to plant bad inputs). */
function rawWeights(config: ModelConfig, params: ReadonlyMap<string, HostTensor>) {
  const names = [...params.keys()];
  const data = names.map((n) => params.get(n)?.data ?? new Float32Array(0));
  const flat = new Float32Array(data.reduce((s, d) => s + d.length, 0));
  let o = 0;
  for (const d of data) {
    flat.set(d, o);
    o += d.length;
  }
  return tableOf(
    WeightsSchema,
    [utf8(names), int32List(names.map((n) => params.get(n)?.shape ?? [])), float32ListFlat(flat, data.map((d) => d.length)), float32ListFlat(flat.slice(), data.map((d) => d.length)), utf8(names.map(() => 'fp32'))],
    new Map([[MODEL_CONFIG_KEY, JSON.stringify(config)]]),
  );
}

const tiny = (over: Parameters<typeof modelConfig>[2] = {}) => modelConfig('nanda', 7, { dModel: 8, nHeads: 2, dMlp: 16, ...over });

/** Integer weights in {-2..2} and attention rate 0 (pattern = masked ones): every float32 value of the forward is exact. */
function exactModel(): { config: ModelConfig; params: Map<string, HostTensor> } {
  const config = modelConfig('nanda', 5, { dModel: 4, nHeads: 2, dMlp: 6, alpha: 0 });
  const rnd = mulberry32(11);
  const params = new Map<string, HostTensor>();
  for (const s of paramSpecs(config)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    params.set(s.name, { shape: [...s.shape], data: Float32Array.from({ length: n }, () => Math.floor(rnd() * 5) - 2) });
  }
  return { config, params };
}

describe('direct logit attribution (docs/science.md#attribution-ablation-patching-acdc)', () => {
  it('components of a no-norm model sum exactly to the logits (1e-9)', () => {
    const { config, params } = exactModel();
    const m = loadModel(weightsTable(config, params));
    const dla = directLogitAttribution(tf, m, undefined, { precision: 'float64' });
    expect(dla.exact).toBe(true);
    expect(dla.components).toEqual(['embed', 'pos_embed', 'head.0', 'head.1', 'attn.b_O', 'mlp', 'mlp.b_out', 'unembed.b_U']);
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < dla.logits.length; i++) {
      const sum = dla.contributions.reduce((s, c) => s + (c[i] ?? 0), 0);
      worst = Math.max(worst, Math.abs(sum - (dla.logits[i] ?? 0)));
      scale = Math.max(scale, Math.abs(dla.logits[i] ?? 0));
    }
    expect(scale).toBeGreaterThan(1);
    expect(worst).toBeLessThan(1e-9);
  });

  it('the float32 path and the li final norm (linearised with the cached scale) also sum to the logits', () => {
    const cfg = modelConfig('li', 7, { dModel: 8, nHeads: 2, dMlp: 16 });
    const m = loadModel(weightsTable(cfg, initParams(cfg, 4)));
    const dla = directLogitAttribution(tf, m);
    expect(dla.exact).toBe(false);
    let worst = 0;
    for (let i = 0; i < dla.logits.length; i++) worst = Math.max(worst, Math.abs(dla.contributions.reduce((s, c) => s + (c[i] ?? 0), 0) - (dla.logits[i] ?? 0)));
    expect(worst).toBeLessThan(1e-4);
  });
});

describe('ablation (docs/science.md#attribution-ablation-patching-acdc)', () => {
  it('zero-ablating every head of a model whose attention output is unused (W_O = 0) leaves the loss unchanged', () => {
    const cfg = tiny();
    const params = initParams(cfg, 5);
    const wO = params.get('blocks.0.attn.W_O');
    if (wO === undefined) throw new Error('no W_O');
    wO.data.fill(0);
    const m = loadModel(weightsTable(cfg, params));
    const labels = inputGrid(7).labels;
    for (const head of [0, 1]) {
      for (const mode of ['zero', 'mean', 'resample'] as const) {
        const r = ablate(tf, m, labels, { kind: 'head', head }, mode, { seed: 1 });
        expect(r.deltaLoss).toBe(0);
        expect(r.deltaAccuracy).toBe(0);
      }
    }
    // With the attention output in use, ablating a head changes the loss.
    const used = loadModel(weightsTable(cfg, initParams(cfg, 5)));
    expect(Math.abs(ablate(tf, used, labels, { kind: 'head', head: 0 }, 'zero').deltaLoss)).toBeGreaterThan(1e-6);
  });

  it('mean-ablating a neuron that is constant over inputs changes nothing; zero-ablating it does', () => {
    const cfg = tiny();
    const params = initParams(cfg, 6);
    // Neuron 3 reads nothing (W_in column 0) and has bias 1: post = 1 everywhere.
    const wIn = params.get('blocks.0.mlp.W_in');
    const bIn = params.get('blocks.0.mlp.b_in');
    if (wIn === undefined || bIn === undefined) throw new Error('missing');
    for (let j = 0; j < 8; j++) wIn.data[j * 16 + 3] = 0;
    bIn.data[3] = 1;
    const m = loadModel(weightsTable(cfg, params));
    const labels = inputGrid(7).labels;
    expect(Math.abs(ablate(tf, m, labels, { kind: 'neuron', neuron: 3 }, 'mean').deltaLoss)).toBeLessThan(1e-6);
    expect(Math.abs(ablate(tf, m, labels, { kind: 'neuron', neuron: 3 }, 'resample', { seed: 2 }).deltaLoss)).toBeLessThan(1e-6);
    expect(Math.abs(ablate(tf, m, labels, { kind: 'neuron', neuron: 3 }, 'zero').deltaLoss)).toBeGreaterThan(1e-6);
  });

  it('zero-ablating Fourier direction k of the logits gives the excluded loss of {k}', () => {
    const cfg = tiny();
    const m = loadModel(weightsTable(cfg, initParams(cfg, 7)));
    const labels = inputGrid(7).labels;
    const logits = gridOutputs(tf, m).logits;
    const excluded = frequencyLosses(logits, labels, 7, [2]).excluded.loss;
    const r = ablate(tf, m, labels, { kind: 'fourier', hook: 'logits', k: 2 }, 'zero');
    expect(r.loss).toBeCloseTo(excluded, 4);
    expect(ablate(tf, m, labels, { kind: 'fourier', hook: 'logits', k: 2 }, 'mean').loss).toBeCloseTo(excluded, 4);
  });
});

describe('activation patching (docs/science.md#attribution-ablation-patching-acdc)', () => {
  it('patching the whole residual stream restores the clean logit difference fully; a dead path restores nothing', () => {
    const cfg = tiny();
    const params = initParams(cfg, 8);
    const m = loadModel(weightsTable(cfg, params));
    const label = (a: number, b: number): number => (a + b) % 7;
    const pairs = [{ clean: [1, 2] as const, corrupt: [4, 2] as const }, { clean: [3, 5] as const, corrupt: [0, 5] as const }];
    for (const r of patchActivation(tf, m, pairs, 'blocks.0.hook_resid_post', label)) expect(r.restored).toBeCloseTo(1, 5);
    // Head 1 writes nothing (its W_O rows are zero): patching its z restores nothing, while head 0 carries the difference.
    params.get('blocks.0.attn.W_O')?.data.fill(0, 4 * 8, 8 * 8);
    const dead = loadModel(weightsTable(cfg, params));
    for (const r of patchActivation(tf, dead, pairs, 'blocks.0.attn.hook_z', label, { kind: 'head', head: 1 })) {
      expect(Math.abs(r.cleanDiff - r.corruptDiff)).toBeGreaterThan(1e-4);
      expect(Math.abs(r.restored)).toBeLessThan(1e-4);
    }
    for (const r of patchActivation(tf, dead, pairs, 'blocks.0.attn.hook_z', label, { kind: 'head', head: 0 })) expect(r.restored).toBeCloseTo(1, 4);
  });
});

describe('gradient symmetricity (docs/science.md#clock-vs-pizza)', () => {
  it('is 1 for a symmetric f(E_a + E_b) and well below 1 for E_a . M E_b', () => {
    const d = 6;
    const classes = 5;
    const rnd = mulberry32(9);
    const B = 40;
    const ea = tf.tensor2d(Float32Array.from({ length: B * d }, () => rnd() - 0.5), [B, d]);
    const eb = tf.tensor2d(Float32Array.from({ length: B * d }, () => rnd() - 0.5), [B, d]);
    const W = tf.tensor2d(Float32Array.from({ length: d * classes }, () => rnd() - 0.5), [d, classes]);
    const M = tf.tensor3d(Float32Array.from({ length: classes * d * d }, () => rnd() - 0.5), [classes, d, d]);
    const cls = Int32Array.from({ length: B }, (_, i) => i % classes);
    const sym = gradientSymmetricityOf(tf, (x, y) => tf.tanh(tf.matMul(tf.add(x, y), W)), ea, eb, cls);
    const Ms = tf.unstack(M);
    const bil = gradientSymmetricityOf(tf, (x, y) => tf.stack(Ms.map((Mc) => tf.sum(tf.mul(tf.matMul(x, Mc), y), 1)), 1), ea, eb, cls);
    expect(sym).toBeCloseTo(1, 6);
    expect(bil).toBeLessThan(0.5);
  });

  it('attention with alpha = 0 is the all-ones matrix for any Q, K (li, bidirectional)', () => {
    const cfg = modelConfig('li', 7, { dModel: 8, nHeads: 2, dMlp: 16, alpha: 0 });
    const m = loadModel(weightsTable(cfg, initParams(cfg, 3)));
    for (const b of runGrid(tf, m, { capture: (h) => h.endsWith('hook_pattern'), batchSize: 49 })) {
      const pat = b.acts.get('blocks.0.attn.hook_pattern');
      expect(pat?.data.every((v) => v === 1)).toBe(true);
    }
  });
});

describe('clipped softmax and gated attention (docs/science.md#quantizable-attention-and-outlier-metrics)', () => {
  const patterns = (cfg: ModelConfig, seed: number): Float32Array => {
    const m = loadModel(weightsTable(cfg, initParams(cfg, seed)));
    for (const b of runGrid(tf, m, { capture: (h) => h.endsWith('hook_pattern'), batchSize: 49 })) return b.acts.get('blocks.0.attn.hook_pattern')?.data ?? new Float32Array(0);
    return new Float32Array(0);
  };
  it('zeta = 1, gamma = 0 equals softmax; gamma = -0.1 zeroes entries below 0.1/1.1 and stays in [0, 1]', () => {
    const over = { dModel: 8, nHeads: 2, dMlp: 16 };
    const soft = patterns(modelConfig('li', 7, over), 3);
    const same = patterns(modelConfig('li', 7, { ...over, attention: { kind: 'clipped', zeta: 1, gamma: 0 } }), 3);
    expect(Math.max(...same.map((v, i) => Math.abs(v - (soft[i] ?? 0))))).toBeLessThan(1e-7);
    // Scale W_Q so that some softmax entries fall below 0.1/1.1.
    const cfg = modelConfig('li', 7, { ...over, attention: { kind: 'clipped', zeta: 1, gamma: -0.1 } });
    const params = initParams(cfg, 3);
    params.get('blocks.0.attn.W_Q')?.data.forEach((v, i, a) => (a[i] = v * 20));
    const base = initParams(modelConfig('li', 7, over), 3);
    base.get('blocks.0.attn.W_Q')?.data.forEach((v, i, a) => (a[i] = v * 20));
    const clipped: Float32Array = runGrid(tf, loadModel(weightsTable(cfg, params)), { capture: (h) => h.endsWith('hook_pattern'), batchSize: 49 }).next().value?.acts.get('blocks.0.attn.hook_pattern')?.data ?? new Float32Array(0);
    const plain: Float32Array = runGrid(tf, loadModel(weightsTable(modelConfig('li', 7, over), base)), { capture: (h) => h.endsWith('hook_pattern'), batchSize: 49 }).next().value?.acts.get('blocks.0.attn.hook_pattern')?.data ?? new Float32Array(0);
    let small = 0;
    plain.forEach((s, i) => {
      if (s < 0.1 / 1.1) {
        small++;
        expect(clipped[i]).toBe(0);
      }
    });
    expect(small).toBeGreaterThan(0);
    expect(clipped.every((v) => v >= 0 && v <= 1)).toBe(true);
  });
  it('a gate with bias logit(0.25) and zero weights multiplies each head output by exactly 0.25', () => {
    const over = { dModel: 8, nHeads: 2, dMlp: 16 };
    const gated = modelConfig('li', 7, { ...over, attention: { kind: 'gated', piInit: 0.25 } });
    const params = initParams(gated, 3);
    params.get('blocks.0.attn.gate.W')?.data.fill(0);
    const plainParams = new Map([...params].filter(([n]) => !n.includes('gate')));
    const z = (cfg: ModelConfig, p: Map<string, HostTensor>): ReadonlyMap<string, HostTensor> | undefined => runGrid(tf, loadModel(weightsTable(cfg, p)), { capture: (h) => h.endsWith('hook_z') || h.endsWith('hook_gate'), batchSize: 49 }).next().value?.acts;
    const g = z(gated, params);
    const pl = z(modelConfig('li', 7, over), plainParams);
    const gate: Float32Array = g?.get('blocks.0.attn.hook_gate')?.data ?? new Float32Array(0);
    expect(gate.length).toBeGreaterThan(0);
    expect(gate.every((v) => Math.abs(v - 0.25) < 1e-7)).toBe(true);
    const zg: Float32Array = g?.get('blocks.0.attn.hook_z')?.data ?? new Float32Array(0);
    const zp = pl?.get('blocks.0.attn.hook_z')?.data ?? new Float32Array(0);
    expect(zg.length).toBeGreaterThan(0);
    zg.forEach((v, i) => expect(Math.abs(v - 0.25 * (zp[i] ?? 0))).toBeLessThan(1e-6));
  });
});

describe('Furuta FFS / FCR (docs/science.md#ffs-and-fcr-furuta)', () => {
  const p = 11;
  const K = 5;
  it('one planted k with equal cos and sin: FFS = 1/K, FCR = 1', () => {
    const e = new Float32Array(p * 2);
    for (let a = 0; a < p; a++) {
      e[a * 2] = Math.cos((2 * Math.PI * 3 * a) / p);
      e[a * 2 + 1] = Math.sin((2 * Math.PI * 3 * a) / p);
    }
    const s = fourierSparsity(embeddingSpectrum(e, p, 2));
    expect(s.ffs).toBeCloseTo(1 / K, 12);
    expect(s.fcr).toBeCloseTo(1, 6);
    expect(s.significant).toEqual([3]);
    expect(s.cosShare).toBeCloseTo(0.5, 6);
  });
  it('cos only at every k: FFS = 1, FCR = 0', () => {
    const e = new Float32Array(p * K);
    for (let a = 0; a < p; a++) for (let k = 1; k <= K; k++) e[a * K + k - 1] = Math.cos((2 * Math.PI * k * a) / p);
    const s = fourierSparsity(fourierSpectrum(e, p, K), { kind: 'absolute', eps: 0.1 });
    expect(s.ffs).toBe(1);
    expect(s.fcr).toBeLessThan(1e-6);
    expect(s.eps).toBe(0.1);
    expect(s.cosShare).toBeCloseTo(1, 9);
  });
});

describe('quadrature fit per neuron (docs/science.md#quadrature-yip)', () => {
  it('recovers amplitude and phase of planted input and output waves', () => {
    const p = 13;
    const k = 4;
    const w = (2 * Math.PI * k) / p;
    const pre = new Float32Array(p * p);
    const wl = new Float32Array(p);
    for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) pre[a * p + b] = 1.5 * Math.cos(w * a + 0.4) + 1.5 * Math.cos(w * b + 0.4) + 0.2;
    for (let c = 0; c < p; c++) wl[c] = 0.7 * Math.cos(w * c - 1.1);
    const [fit] = fitNeuronWaves(pre, wl, p, 1, [k]);
    expect(fit?.ampA).toBeCloseTo(1.5, 5);
    expect(fit?.phaseA).toBeCloseTo(0.4, 5);
    expect(fit?.phaseB).toBeCloseTo(0.4, 5);
    expect(fit?.ampOut).toBeCloseTo(0.7, 5);
    expect(fit?.phaseOut).toBeCloseTo(-1.1, 5);
    expect(fit?.fitInput).toBeCloseTo(1, 6);
  });
});

describe('bad inputs give typed errors naming the tensor or field', () => {
  const cfg = tiny();
  it('a missing tensor: NOT_FOUND naming it', () => {
    const params = initParams(cfg, 1);
    params.delete('blocks.0.mlp.W_in');
    expect(() => loadModel(rawWeights(cfg, params))).toThrow(expect.objectContaining({ code: 'NOT_FOUND', site: expect.objectContaining({ field: 'blocks.0.mlp.W_in' }) }));
  });
  it('a wrong shape: SHAPE_MISMATCH naming it', () => {
    const params = initParams(cfg, 1);
    params.set('unembed.W_U', { shape: [8, 6], data: new Float32Array(48) });
    expect(() => loadModel(rawWeights(cfg, params))).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH', site: expect.objectContaining({ field: 'unembed.W_U' }) }));
  });
  it('NaN in weights: INVALID_DATA naming the tensor', () => {
    const params = initParams(cfg, 1);
    const e = params.get('embed.W_E');
    if (e !== undefined) e.data[5] = Number.NaN;
    expect(() => loadModel(weightsTable(cfg, params))).toThrow(expect.objectContaining({ code: 'INVALID_DATA', site: expect.objectContaining({ field: 'embed.W_E.effective' }) }));
  });
  it('a table that is not a weights table is rejected at the stage boundary', async () => {
    const bad = tableOf(WeightsSchema.select(['name']), [utf8(['x'])]);
    await expect(lastValueFrom(of(bad).pipe(activations(tf)))).rejects.toMatchObject({ code: 'SCHEMA_MISMATCH' });
  });
});

describe('grid logits', () => {
  it('the last-position fast path equals the full forward on both presets', () => {
    for (const preset of ['nanda', 'li'] as const) {
      const cfg = modelConfig(preset, 7, { dModel: 8, nHeads: 2, dMlp: 16 });
      const m = loadModel(weightsTable(cfg, initParams(cfg, 12)));
      const fast = gridLogits(tf, m, { batchSize: 10 });
      const full = gridOutputs(tf, m).logits;
      expect(fast.length).toBe(49 * 7);
      fast.forEach((v, i) => expect(Math.abs(v - (full[i] ?? 0))).toBeLessThan(1e-5));
    }
  });
});

describe('activations stage', () => {
  it('streams one table per batch with the selected hooks only, in long format', async () => {
    const cfg = tiny();
    const tables = await lastValueFrom(of(weightsTable(cfg, initParams(cfg, 2))).pipe(activations(tf, { hooks: '^blocks\\.0\\.mlp\\.hook_post$|^logits$', batchSize: 16 }), toArray()));
    expect(tables.map((t) => t.numRows)).toEqual([32, 32, 32, 2]); // 49 inputs x 2 hooks, batches of 16
    const hooks = new Set(tables.flatMap((t) => Array.from({ length: t.numRows }, (_, i) => String(t.getChild('hook')?.get(i)))));
    expect([...hooks].sort()).toEqual(['blocks.0.mlp.hook_post', 'logits']);
    const first = tables[0];
    const v = (first?.getChild('values')?.get(1) as { toArray(): Float32Array }).toArray();
    expect(v.length).toBe(7); // logits of input 0 at the last position
    const ref = gridOutputs(tf, loadModel(weightsTable(cfg, initParams(cfg, 2)))).logits.subarray(0, 7);
    v.forEach((x, i) => expect(x).toBeCloseTo(ref[i] ?? 0, 6));
    expect(crossEntropy(ref, [0], 7).count).toBe(1);
  });
});

const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const FIXTURE = resolve(repo, '../shared/fixtures/progress_measures_p113_wd0.1_seed1.safetensors');
describe('embedding Fourier norms on the fixture', () => {
  it.skipIf(!existsSync(FIXTURE))('match the reference analysis (56 frequency norms and the constant norm, 1e-4)', () => {
    const expected = JSON.parse(readFileSync(FIXTURE.replace('.safetensors', '.expected.json'), 'utf8')) as { analysis: { embed_fourier_norms: number[]; embed_const_norm: number } };
    const params = importTransformerLens(new Uint8Array(readFileSync(FIXTURE)), modelConfig('nanda', 113));
    const s = embeddingSpectrum(params.get('embed.W_E')?.data ?? new Float32Array(0), 113, 128);
    expected.analysis.embed_fourier_norms.forEach((v, i) => expect(Math.abs((s.freqNorms[i] ?? 0) - v)).toBeLessThan(1e-4));
    expect(s.constNorm).toBeCloseTo(expected.analysis.embed_const_norm, 4);
  });
});

