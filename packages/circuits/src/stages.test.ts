import { type Tf, initTfjsBackend } from '@bitlens/engine';
import { PipelineGraph, defineSource } from '@bitlens/core';
import { WeightsSchema, initParams, modelConfig, weightsTable } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { type Observable, lastValueFrom, of, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type MechanismNumbers,
  ablations,
  activations,
  asymmetry,
  attribution,
  clockPizza,
  compareMechanisms,
  directLogitAttribution,
  inputGrid,
  loadModel,
  formatComparison,
  fourierNorms,
  frequencyLossesStage,
  gridDataset,
  keyFrequencies,
  mechanismSummary,
  neuronFrequencies,
  patching,
  quadrature,
  sameAlgorithmVerdict,
} from './index.js';
import { modularDataset } from '@bitlens/data';

let tf: Tf;
beforeAll(async () => {
  tf = (await initTfjsBackend('wasm')).tf;
});

const all = <T extends Table>(s: Observable<T>): Promise<T[]> => lastValueFrom(s.pipe(toArray()));

function graph(seed: number, name: string) {
  const cfg = modelConfig('nanda', 7, { dModel: 8, nHeads: 2, dMlp: 16 });
  const w = weightsTable(cfg, initParams(cfg, seed));
  return PipelineGraph.create()
    .source('weights', defineSource({ name: 'test/weights', version: '1', options: { seed }, output: WeightsSchema, create: () => of(w) }))
    .source('dataset', gridDataset({ p: 7, split: { fraction: 0.5, seed: 1, shuffle: 'mulberry32' } }))
    .then('activations', activations(tf, { hooks: '^(blocks\\.0\\.mlp\\.hook_(pre|post)|blocks\\.0\\.attn\\.hook_pattern|logits)$', batchSize: 20 }), 'weights')
    .then('norms', fourierNorms(), 'weights')
    .then('neurons', neuronFrequencies(tf, { threshold: 0.3, minCount: 1 }), 'activations')
    .join('keys', keyFrequencies({ rule: { kind: 'gap', maxKeys: 2 } }), { weights: 'weights', neurons: 'neurons' })
    .join('losses', frequencyLossesStage(), { keys: 'keys', activations: 'activations', dataset: 'dataset' })
    .join('clockPizza', clockPizza(tf, { samples: 10 }), { weights: 'weights', activations: 'activations' })
    .join('quadrature', quadrature({ grid: 8 }), { weights: 'weights', activations: 'activations', neurons: 'neurons' })
    .then('asymmetry', asymmetry(), 'activations')
    .join('mechanism', mechanismSummary({ model: name }), { norms: 'norms', neurons: 'neurons', keys: 'keys', losses: 'losses', clockPizza: 'clockPizza', asymmetry: 'asymmetry' });
}

describe('analysis stages wired as a graph (tiny random model, p = 7)', () => {
  it('every stage emits its declared schema with consistent numbers', async () => {
    // One graph run per output read: a run's node streams are not re-subscribable after completion (see report).
    const streams = new Proxy({} as ReturnType<ReturnType<typeof graph>['streams']>['streams'], { get: (_t, k: string) => (graph(3, 'a').streams().streams as Record<string, Observable<Table>>)[k] });
    const [norms] = await all(streams.norms);
    expect(norms?.numRows).toBe(14); // 7 components of W_E and of W_L
    const [neurons] = await all(streams.neurons);
    expect(neurons?.numRows).toBe(16);
    const [keys] = await all(streams.keys);
    expect(keys?.numRows).toBeGreaterThanOrEqual(3);
    const [losses] = await all(streams.losses);
    const variants = Array.from({ length: losses?.numRows ?? 0 }, (_, i) => `${losses?.getChild('variant')?.get(i)}/${losses?.getChild('subset')?.get(i)}`);
    expect(variants.slice(0, 5)).toEqual(['full/all', 'full/train', 'full/test', 'restricted/all', 'excluded/train']);
    const [cp] = await all(streams.clockPizza);
    expect(Number(cp?.getChild('samples')?.get(0))).toBe(10);
    const [q] = await all(streams.quadrature);
    expect(q?.schema.fields.map((f) => f.name)).toEqual(['freq', 'neurons', 'max_error', 'mean_error', 'mean_fit']);
    const [m] = await all(streams.mechanism);
    expect(String(m?.getChild('model')?.get(0))).toBe('a');
    expect(Number(m?.getChild('full_loss')?.get(0))).toBeCloseTo(Number(losses?.getChild('loss')?.get(0)), 12);
    expect(Number(m?.getChild('accuracy')?.get(0))).toBeLessThan(0.99);
  });

  it('ablation, attribution and patching stages emit one row per item', async () => {
    const cfg = modelConfig('nanda', 7, { dModel: 8, nHeads: 2, dMlp: 16 });
    const w = weightsTable(cfg, initParams(cfg, 4));
    const [ab] = await lastValueFrom(of(w).pipe(ablations(tf, { modes: ['zero', 'mean'] }), toArray()));
    expect(ab?.numRows).toBe(4);
    const acts = await lastValueFrom(of(w).pipe(activations(tf, { hooks: '^(hook_embed|blocks\\.0\\.attn\\.hook_z|blocks\\.0\\.mlp\\.hook_post|logits)$' }), toArray()));
    const [at] = await lastValueFrom(attribution(tf)({ weights: of(w), activations: of(...acts) }).pipe(toArray()));
    const dla = directLogitAttribution(tf, loadModel(w));
    const labels = inputGrid(7).labels;
    const mlpMean = Array.from({ length: 49 }, (_, i) => dla.contributions[5]?.[i * 7 + (labels[i] ?? 0)] ?? 0).reduce((s, v) => s + v, 0) / 49;
    expect(at?.getChild('component')?.get(5)).toBe('mlp');
    expect(Number(at?.getChild('mean_correct')?.get(5))).toBeCloseTo(mlpMean, 5);
    expect(at?.getChild('component')?.get(0)).toBe('embed');
    const [pa] = await lastValueFrom(of(w).pipe(patching(tf, { pairs: [{ clean: [1, 2], corrupt: [3, 2] }], hook: 'blocks.0.hook_resid_post' }), toArray()));
    expect(Number(pa?.getChild('restored')?.get(0))).toBeCloseTo(1, 5);
  });

  it('compares two analysed models pair by pair with a printable verdict', async () => {
    const mechs = [...(await all(graph(3, 'a').streams().streams.mechanism)), ...(await all(graph(5, 'b').streams().streams.mechanism))];
    const [cmp] = await lastValueFrom(of(...mechs).pipe(compareMechanisms(), toArray()));
    expect(cmp?.numRows).toBe(1);
    // Random models are not Fourier-feature models: the verdict must be inconclusive.
    expect(cmp?.getChild('verdict')?.get(0)).toBe('inconclusive');
    expect(String(cmp?.getChild('checks_a')?.get(0))).toContain('accurate=FAIL');
    expect(Number(cmp?.getChild('ffs_a')?.get(0))).toBeCloseTo(Number(mechs[0]?.getChild('ffs')?.get(0)), 12);
    expect(Number(cmp?.getChild('gradient_symmetricity_b')?.get(0))).toBeCloseTo(Number(mechs[1]?.getChild('gradient_symmetricity')?.get(0)), 12);
    const lines = formatComparison(mechs, cmp as Table);
    expect(lines.some((l) => l.startsWith('a vs b: INCONCLUSIVE'))).toBe(true);
    await expect(lastValueFrom(of(mechs[0] as Table).pipe(compareMechanisms()))).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });

  it('rejects a dataset whose p does not match the model (INVALID_CONFIG naming p)', async () => {
    const cfg = modelConfig('nanda', 7, { dModel: 8, nHeads: 2, dMlp: 16 });
    const w = weightsTable(cfg, initParams(cfg, 3));
    const acts = await lastValueFrom(of(w).pipe(activations(tf, { hooks: '^(blocks\\.0\\.mlp\\.hook_post|logits)$' }), toArray()));
    const neurons = await lastValueFrom(of(...acts).pipe(neuronFrequencies(tf), toArray()));
    const keys = await lastValueFrom(keyFrequencies()({ weights: of(w), neurons: of(...neurons) }).pipe(toArray()));
    const run = frequencyLossesStage()({ keys: of(...keys), activations: of(...acts), dataset: gridDataset({ p: 5 })() });
    await expect(lastValueFrom(run)).rejects.toMatchObject({ code: 'INVALID_CONFIG', site: { field: 'p' } });
  });
});

describe('activations with all positions', () => {
  it('feed the same neuron analysis as last-position activations', async () => {
    const cfg = modelConfig('nanda', 7, { dModel: 8, nHeads: 2, dMlp: 16 });
    const w = weightsTable(cfg, initParams(cfg, 3));
    const run = async (position: 'last' | 'all') => {
      const acts = await lastValueFrom(of(w).pipe(activations(tf, { hooks: 'mlp\\.hook_post$', position }), toArray()));
      const [n] = await lastValueFrom(of(...acts).pipe(neuronFrequencies(tf), toArray()));
      return { shape: (acts[0]?.getChild('shape')?.get(0) as { toArray(): Int32Array }).toArray(), maxFve: Array.from({ length: 16 }, (_, i) => Number(n?.getChild('max_fve')?.get(i))) };
    };
    const last = await run('last');
    const all = await run('all');
    expect(Array.from(last.shape)).toEqual([16]);
    expect(Array.from(all.shape)).toEqual([3, 16]);
    all.maxFve.forEach((v, i) => expect(v).toBeCloseTo(last.maxFve[i] ?? 0, 6));
  });
});

describe('same-algorithm verdict rule (docs/science.md#same-algorithm-verdict)', () => {
  const base: MechanismNumbers = { model: 'fp32', p: 59, embedKeys: [5, 17, 23], varianceExplainedByKeys: 0.93, accuracy: 1, fullLoss: 1e-4, restrictedLoss: 5e-5, excludedLoss: 4, gradientSymmetricity: 0.6, distanceIrrelevance: 0.85 };
  it('same mechanism with disjoint key frequencies is "same"', () => {
    expect(sameAlgorithmVerdict(base, { ...base, model: 'ternary', embedKeys: [2, 11, 29, 40] }).verdict).toBe('same');
  });
  it('a pizza-like signature against a clock-like one is "different"', () => {
    expect(sameAlgorithmVerdict(base, { ...base, model: 'pizza', gradientSymmetricity: 0.99, distanceIrrelevance: 0.2 }).verdict).toBe('different');
  });
  it('a model failing a mechanism check makes the pair "inconclusive" and names the check', () => {
    const v = sameAlgorithmVerdict(base, { ...base, model: 'memoriser', excludedLoss: 0.1, restrictedLoss: 3 });
    expect(v.verdict).toBe('inconclusive');
    expect(v.reason).toContain('memoriser: restricted');
    expect(v.reason).toContain('memoriser: excluded');
  });
});

describe('the grid split', () => {
  it("marks exactly the train pairs of @bitlens/data's dataset for the same fraction and seed", async () => {
    const [grid] = await all(gridDataset({ p: 13, task: 'add', split: { fraction: 0.3, seed: 1, shuffle: 'python' } })());
    const data = modularDataset({ task: 'add', p: 13, trainFraction: 0.3, seed: 1 });
    const trainFromData = new Set(Array.from({ length: data.nTrain }, (_, r) => (data.a[r] ?? 0) * 13 + (data.b[r] ?? 0)));
    const trainFromGrid = new Set<number>();
    for (let r = 0; r < 169; r++) if (grid?.getChild('train')?.get(r) === true) trainFromGrid.add(r);
    expect(trainFromGrid.size).toBe(Math.floor(0.3 * 169));
    expect([...trainFromGrid].sort((x, y) => x - y)).toEqual([...trainFromData].sort((x, y) => x - y));
  });
});
