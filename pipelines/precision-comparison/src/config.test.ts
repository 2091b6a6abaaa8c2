import { gridDataset, gridFromDataset } from '@bitlens/circuits';
import { datasetStage } from '@bitlens/data';
import type { Table } from 'apache-arrow';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { PrecisionComparisonConfig, comparisonGraph, resolveComparison } from './index.js';
import { createEngineWorkers, type Tf } from '@bitlens/engine';
import { workerExecutor } from '@bitlens/training';

// Building a graph needs no engine: stages only hold `tf` for when they run, and worker pools start workers on demand.
const noTf = {} as Tf;
const training = workerExecutor({ workers: createEngineWorkers({ backend: 'wasm', workers: 3 }) });

describe('precision-comparison config', () => {
  it('defaults to the small preset with every number explicit', () => {
    const r = resolveComparison(PrecisionComparisonConfig.parse({}));
    expect(r).toMatchObject({ preset: 'small', p: 59, trainFraction: 0.6, epochs: 3000, lr: 3e-3, weightDecay: 1, seed: 0, dataSeed: 0, task: 'add', model: 'li', backend: 'wasm', out: 'bitlens-report.html' });
    expect(r.runs).toEqual([
      { name: 'fp32', quantizer: 'fp32' },
      { name: 'ternary', quantizer: 'ternary-absmean' },
      { name: 'binary', quantizer: 'binary-scaled' },
    ]);
  });

  it('applies the canonical preset and explicit overrides on top of it', () => {
    const r = resolveComparison(PrecisionComparisonConfig.parse({ preset: 'canonical', epochs: 500, quantizers: { ternary: 'ternary-centred' }, model: 'nanda' }));
    expect(r).toMatchObject({ p: 113, trainFraction: 0.3, epochs: 500, lr: 1e-3, model: 'nanda' });
    expect(resolveComparison(PrecisionComparisonConfig.parse({ lr: 2e-3, weightDecay: 0.5 }))).toMatchObject({ p: 59, lr: 2e-3, weightDecay: 0.5 });
    expect(r.runs[1]).toEqual({ name: 'ternary', quantizer: 'ternary-centred' });
    expect(r.runs[2]).toEqual({ name: 'binary', quantizer: 'binary-scaled' });
  });

  it('rejects unknown keys and unknown quantizers', () => {
    expect(PrecisionComparisonConfig.safeParse({ colour: 'red' }).success).toBe(false);
    expect(PrecisionComparisonConfig.safeParse({ quantizers: { ternary: 'binary-sign' } }).success).toBe(false);
    expect(PrecisionComparisonConfig.safeParse({ preset: 'huge' }).success).toBe(false);
  });
});

describe('precision-comparison graph', () => {
  it('changing the ternary quantizer changes the keys of the ternary nodes and the comparison only', () => {
    const a = comparisonGraph(resolveComparison(PrecisionComparisonConfig.parse({})), noTf, training);
    const b = comparisonGraph(resolveComparison(PrecisionComparisonConfig.parse({ quantizers: { ternary: 'ternary-centred' } })), noTf, training);
    const ka = a.keys();
    const kb = b.keys();
    const changed = a.names.filter((n) => ka[n] !== kb[n]);
    expect(changed.length).toBeGreaterThan(5);
    expect(changed.every((n) => n.startsWith('ternary/') || n === 'mechanisms' || n === 'comparison')).toBe(true);
    expect(changed).toContain('ternary/train');
    expect(changed).toContain('comparison');
    expect(a.names.filter((n) => n.startsWith('fp32/') || n.startsWith('binary/')).every((n) => ka[n] === kb[n])).toBe(true);
  });

  it('every node has a stage name and the three runs share the dataset', () => {
    const g = comparisonGraph(resolveComparison(PrecisionComparisonConfig.parse({})), noTf, training);
    expect(g.names).toHaveLength(2 + 3 * 15 + 2); // per run: train, metrics, checkpoints, progress, spectra, final, views + the 8 mechanism nodes
    const stages = Object.fromEntries(g.describe().map((d) => [d.node, d.stage]));
    for (const n of g.names) expect(stages[n]).toMatch(/^[a-z-]+\/[a-z-]+$/);
    expect(stages['fp32/train']).toBe('training/train');
    expect(g.describe().find((d) => d.node === 'ternary/train')?.inputs).toEqual({ in: 'dataset' });
  });

  it('the analyses see exactly the training split (the same train pairs as the circuits grid with the python shuffle)', async () => {
    const [ours] = await lastValueFrom(datasetStage({ task: 'add', p: 59, trainFraction: 0.6, seed: 0 })().pipe(gridFromDataset(), toArray()));
    const [ref] = await lastValueFrom(gridDataset({ p: 59, task: 'add', split: { fraction: 0.6, seed: 0, shuffle: 'python' } })().pipe(toArray()));
    const trainPairs = (t: Table | undefined): number[] => {
      if (t === undefined) return [];
      const [a, b, tr] = ['a', 'b', 'train'].map((c) => t.getChild(c));
      return Array.from({ length: t.numRows }, (_, i) => i)
        .filter((i) => tr?.get(i) === true)
        .map((i) => Number(a?.get(i)) * 59 + Number(b?.get(i)))
        .sort((x, y) => x - y);
    };
    expect(ours?.numRows).toBe(59 * 59);
    expect(trainPairs(ours)).toHaveLength(Math.floor(0.6 * 59 * 59));
    expect(trainPairs(ours)).toEqual(trainPairs(ref));
  });
});
