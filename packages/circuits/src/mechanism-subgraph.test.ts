import { PipelineGraph, defineSource } from '@bitlens/core';
import { DATASET_METADATA_KEY, datasetStage } from '@bitlens/data';
import { type Tf, initTfjsBackend } from '@bitlens/engine';
import { WeightsSchema, initParams, modelConfig, weightsTable } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { lastValueFrom, of, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '@bitlens/core/testing';
import {
  DEFAULT_ANALYSIS,
  LOSS_BASIS_KEY,
  NEURON_BASIS_KEY,
  NEURON_PLAIN_KEY,
  frequencyLossesStage,
  gridDataset,
  gridFromDataset,
  mechanismChecks,
  mechanismNumbers,
  mechanismSubgraph,
  sameAlgorithmVerdict,
} from './index.js';
import { booleans, listRow, numbers, strings } from './internal/arrow.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await initTfjsBackend('wasm')).tf;
});

const P = 7;

/** The mechanism subgraph of a tiny random model on the training dataset of `task` (as the sweep wires it). */
async function analyse(task: string, seed = 3) {
  const cfg = modelConfig('nanda', P, { dModel: 8, nHeads: 2, dMlp: 16 });
  const w = weightsTable(cfg, initParams(cfg, seed));
  const settings = { ...DEFAULT_ANALYSIS, neuronThreshold: 0.3, neuronMinCount: 1, maxKeys: 2 };
  const g = PipelineGraph.create()
    .source('weights', defineSource({ name: 'test/weights', version: '1', options: { seed }, output: WeightsSchema, create: () => of(w) }))
    .source('dataset', datasetStage({ task, p: P, trainFraction: 0.5, seed: 1 }))
    .then('grid', gridFromDataset(), 'dataset')
    .use('m', mechanismSubgraph(tf, { model: `${task}-${seed}`, task, settings }), { weights: 'weights', grid: 'grid' });
  const { tables } = await g.run({ collect: ['m/mechanism', 'm/losses', 'm/clock-pizza', 'm/keys', 'm/neurons'] });
  const one = (ts: readonly Table[]): Table => {
    const t = ts[0];
    if (t === undefined) throw new Error('no table');
    return t;
  };
  return { mechanism: one(tables['m/mechanism']), losses: one(tables['m/losses']), clockPizza: one(tables['m/clock-pizza']), keys: one(tables['m/keys']), neurons: one(tables['m/neurons']) };
}

const rowsOf = (t: Table): string[] => Array.from({ length: t.numRows }, (_, i) => `${strings(t, 'variant')[i]}/${strings(t, 'subset')[i]}/${numbers(t, 'count')[i]}`);

describe('the mechanism subgraph on every kind of task (tiny random model, p = 7)', () => {
  it('div: losses over its p(p-1) pairs, restricted / excluded over the (p-1)^2 pairs of the discrete-log basis with embed-log keys', async () => {
    const r = await analyse('div');
    const rows = rowsOf(r.losses);
    expect(rows.slice(0, 4)).toEqual(['full/all/42', 'full/train/21', 'full/test/21', 'full/nonzero/36']);
    expect(rows[4]).toBe('restricted/nonzero/36');
    expect(rows[5]?.startsWith('excluded/train-nonzero/')).toBe(true);
    const basis = JSON.parse(r.losses.schema.metadata.get(LOSS_BASIS_KEY) ?? '{}') as { applicable: boolean; kind: string; keyMethod: string };
    expect(basis).toMatchObject({ applicable: true, kind: 'multiplicative', keyMethod: 'embed-log' });
    const m = r.mechanism;
    expect(strings(m, 'task')).toEqual(['div']);
    expect(strings(m, 'structure')).toEqual(['multiplicative']);
    expect(strings(m, 'loss_key_method')).toEqual(['embed-log']);
    expect(listRow(m, 'loss_keys', 0)).toEqual(listRow(m, 'embed_log_keys', 0));
    expect(numbers(m, 'loss_rows')).toEqual([36]);
    expect(numbers(m, 'basis_loss')[0]).toBeCloseTo(numbers(r.losses, 'loss')[3] ?? Number.NaN, 12);
    expect(strings(r.clockPizza, 'distance_basis')[0]).toContain('mod 6; a = 3^i');
    expect(Number.isFinite(numbers(m, 'distance_irrelevance')[0])).toBe(true);
    const asym = numbers(m, 'logit_asymmetry')[0] ?? Number.NaN;
    expect(asym).toBeGreaterThan(0);
    expect(asym).toBeLessThan(1);
    expect(strings(m, 'ffs_rule')).toEqual(['relative 0.5 x max']);
    // Three key methods, each over (p - 1) / 2 frequencies; neurons analysed in the discrete-log coordinates.
    expect(strings(r.keys, 'method').filter((x) => x === 'embed-log').length).toBe(3);
    expect(r.neurons.schema.metadata.get(NEURON_BASIS_KEY)).toContain('mod 6');
    expect(r.neurons.schema.metadata.get(NEURON_PLAIN_KEY)).toBe('false');
    expect(listRow(r.neurons, 'fve', 0).length).toBe(3);
  });

  it('a polynomial (x2_y2): no restricted / excluded rows, NaN with losses_applicable false, the verdict says n/a', async () => {
    const r = await analyse('x2_y2');
    expect(rowsOf(r.losses)).toEqual(['full/all/49', 'full/train/24', 'full/test/25']);
    expect(JSON.parse(r.losses.schema.metadata.get(LOSS_BASIS_KEY) ?? '{}')).toMatchObject({ applicable: false, description: 'n/a', keyMethod: 'n/a' });
    const m = r.mechanism;
    expect(booleans(m, 'losses_applicable')).toEqual([false]);
    expect(strings(m, 'loss_basis')).toEqual(['n/a']);
    for (const c of ['restricted_loss', 'excluded_loss', 'basis_loss', 'distance_irrelevance']) expect(numbers(m, c)[0], c).toBeNaN();
    expect(Number.isFinite(numbers(m, 'ffs')[0])).toBe(true);
    expect(strings(r.clockPizza, 'distance_basis')).toEqual(['n/a']);
    const n = mechanismNumbers(m, 0);
    expect(mechanismChecks(n).applicable).toBe(false);
    const v = sameAlgorithmVerdict(n, { ...n, model: 'other' });
    expect(v.verdict).toBe('inconclusive');
    expect(v.reason).toContain('n/a');
  });

  it('sub uses the directions of a - b; the same weights analysed as add give other restricted losses', async () => {
    const sub = await analyse('sub');
    const add = await analyse('add');
    expect(strings(sub.mechanism, 'loss_basis')).toEqual(['s = a-b, d = a+b (mod 7)']);
    expect(strings(add.mechanism, 'loss_basis')).toEqual(['s = a+b, d = a-b (mod 7)']);
    expect(numbers(sub.mechanism, 'loss_rows')).toEqual([49]);
    expect(numbers(sub.mechanism, 'restricted_loss')[0]).not.toBeCloseTo(numbers(add.mechanism, 'restricted_loss')[0] ?? 0, 3);
    // Asymmetry is a property of the model: the same weights give the same number under either task.
    expect(numbers(sub.mechanism, 'attention_asymmetry')[0]).toBeCloseTo(numbers(add.mechanism, 'attention_asymmetry')[0] ?? 0, 12);
  });

  it('fails before any work on a key method of the wrong basis, an unknown task or a grid of another task', async () => {
    const wrongKeys = errorOf(() => mechanismSubgraph(tf, { model: 'm', task: 'mul', settings: { ...DEFAULT_ANALYSIS, lossKeys: 'embed' } }));
    expect([wrongKeys.code, wrongKeys.site.field]).toEqual(['INVALID_OPTION', 'keys']);
    expect(errorOf(() => frequencyLossesStage({ task: 'add', keys: 'embed-log' })).site.field).toBe('keys');
    expect(errorOf(() => mechanismSubgraph(tf, { model: 'm', task: 'pow' })).site.field).toBe('task');
    const cfg = modelConfig('nanda', P, { dModel: 8, nHeads: 2, dMlp: 16 });
    const g = PipelineGraph.create()
      .source('weights', defineSource({ name: 'test/weights', version: '1', options: {}, output: WeightsSchema, create: () => of(weightsTable(cfg, initParams(cfg, 1))) }))
      .source('grid', gridDataset({ p: P, task: 'sub' }))
      .use('m', mechanismSubgraph(tf, { model: 'm', task: 'add' }), { weights: 'weights', grid: 'grid' });
    await expect(g.run({ collect: ['m/losses'] })).rejects.toMatchObject({ code: 'INVALID_CONFIG', site: { field: 'task' } });
  });
});

describe('grid datasets of every task', () => {
  it('gridDataset(div) has the same p(p-1) pairs and split as the training dataset; both name the task in metadata', async () => {
    const [ours] = await lastValueFrom(datasetStage({ task: 'div', p: 11, trainFraction: 0.6, seed: 2 })().pipe(gridFromDataset(), toArray()));
    const [ref] = await lastValueFrom(gridDataset({ p: 11, task: 'div', split: { fraction: 0.6, seed: 2, shuffle: 'python' } })().pipe(toArray()));
    if (ours === undefined || ref === undefined) throw new Error('no table');
    expect(ours.numRows).toBe(110);
    expect(ref.numRows).toBe(110);
    const key = (t: Table): string[] => Array.from({ length: t.numRows }, (_, i) => `${numbers(t, 'a')[i]},${numbers(t, 'b')[i]},${numbers(t, 'label')[i]},${booleans(t, 'train')[i]}`).sort();
    expect(key(ours)).toEqual(key(ref));
    for (const t of [ours, ref]) expect(JSON.parse(t.schema.metadata.get(DATASET_METADATA_KEY) ?? '{}')).toMatchObject({ task: 'div', p: 11 });
  });
});
