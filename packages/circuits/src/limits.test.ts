import { type Tf, initTfjsBackend } from '@bitlens/engine';
import { PipelineGraph, defineSource } from '@bitlens/core';
import { datasetStage, isPrime } from '@bitlens/data';
import { WeightsSchema, initParams, modelConfig, weightsTable } from '@bitlens/model';
import { of } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  GRID_MAX_P, MEMORY_BUDGET_BYTES, ONE_MODEL_FOOTPRINT, THREE_MODEL_FOOTPRINT, activations, gridFromDataset, gridModulusSchema, gridPeakBytes,
  maxGridModulus, neuronFrequencies,
} from './index.js';

const nextPrime = (p: number): number => {
  let q = p + 1;
  while (!isPrime(q)) q++;
  return q;
};

describe('GRID_MAX_P: the bound on p, derived from the memory budget', () => {
  it('is the largest prime whose heaviest job fits the budget', () => {
    expect(isPrime(GRID_MAX_P)).toBe(true);
    expect(gridPeakBytes(GRID_MAX_P, THREE_MODEL_FOOTPRINT)).toBeLessThanOrEqual(MEMORY_BUDGET_BYTES);
    expect(gridPeakBytes(nextPrime(GRID_MAX_P), THREE_MODEL_FOOTPRINT)).toBeGreaterThan(MEMORY_BUDGET_BYTES);
    expect(maxGridModulus()).toBe(GRID_MAX_P);
  });
  it('follows the budget and the footprint', () => {
    expect(maxGridModulus(2 * MEMORY_BUDGET_BYTES)).toBeGreaterThan(GRID_MAX_P);
    expect(maxGridModulus(MEMORY_BUDGET_BYTES, ONE_MODEL_FOOTPRINT)).toBeGreaterThan(GRID_MAX_P);
    expect(maxGridModulus(1e6)).toBe(0); // nothing fits a megabyte
  });
  it('the p schema of every pipeline accepts GRID_MAX_P and refuses the next prime, composites and p < 3', () => {
    expect(gridModulusSchema.safeParse(GRID_MAX_P).success).toBe(true);
    const above = gridModulusSchema.safeParse(nextPrime(GRID_MAX_P));
    expect(above.error?.issues[0]?.message).toContain(`<= ${GRID_MAX_P}`);
    expect(gridModulusSchema.safeParse(GRID_MAX_P - 2).success).toBe(isPrime(GRID_MAX_P - 2));
    expect(gridModulusSchema.safeParse(301).success).toBe(false); // 7 x 43
    expect(gridModulusSchema.safeParse(2).success).toBe(false);
  });
});

describe(`the largest accepted p (${GRID_MAX_P}) runs`, () => {
  let tf: Tf;
  beforeAll(async () => {
    tf = (await initTfjsBackend('wasm')).tf;
  });

  it('dataset, grid, activations of all p^2 inputs and the neuron analysis (2-D Fourier of every neuron) at p = GRID_MAX_P', async () => {
    const p = GRID_MAX_P;
    const cfg = modelConfig('li', p);
    const weights = defineSource({ name: 'test/weights', version: '1', options: { p }, output: WeightsSchema, create: () => of(weightsTable(cfg, initParams(cfg, 1))) });
    const graph = PipelineGraph.create()
      .source('dataset', datasetStage({ task: 'add', p, trainFraction: 0.3, seed: 0 }))
      .then('grid', gridFromDataset(), 'dataset')
      .source('weights', weights)
      .then('activations', activations(tf, { hooks: '^(blocks\\.0\\.mlp\\.hook_post|logits)$' }), 'weights')
      .then('neurons', neuronFrequencies(tf, { threshold: 0.85, minCount: 5 }), 'activations');
    const { tables } = await graph.run({ collect: ['grid', 'neurons'] });
    const [grid] = tables.grid;
    const [neurons] = tables.neurons;
    expect(grid?.numRows).toBe(p * p);
    expect(neurons?.numRows).toBe(cfg.dMlp);
    const rss = process.memoryUsage().rss;
    console.log(`p=${p}: resident ${(rss / 2 ** 30).toFixed(2)} GiB after the run (budget ${(MEMORY_BUDGET_BYTES / 2 ** 30).toFixed(0)} GiB)`);
    expect(rss).toBeLessThan(MEMORY_BUDGET_BYTES);
  }, 600_000);
});
