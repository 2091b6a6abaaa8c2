import { createEngineWorkers, type Tf } from '@bitlens/engine';
import { DEFAULT_ANALYSIS, GridSchema, compareMechanisms, gridFromDataset, mechanismSubgraph } from '@bitlens/circuits';
import { PipelineGraph, defineSubgraph } from '@bitlens/core';
import { DatasetSchema, datasetStage } from '@bitlens/data';
import { progressMeasures } from '@bitlens/metrics';
import { modelConfig } from '@bitlens/model';
import { REPORT_HOOKS, embedSpectra, modelViews } from '@bitlens/report';
import { finalCheckpoint, selectCheckpoints, selectMetrics, type TrainExecutor, trainStage, workerExecutor } from '@bitlens/training';
import type { PrecisionRun, ResolvedComparison } from './config.js';
import { collectMechanisms } from './internal/stages.js';

/** Grokking threshold on test accuracy: the first logged epoch with test accuracy >= this (docs/science.md#grokking-detection). */
export const GROK_THRESHOLD = 0.99;

/**
 * Where the pipeline trains the runs: all at once, each in a worker thread with its own engine on `r.backend` (runs,
 * not kernels, take the cores). Workers start only when a training stage runs, so building, planning or keying the
 * graph with it starts none.
 */
export function comparisonTraining(r: ResolvedComparison): TrainExecutor {
  return workerExecutor({ workers: createEngineWorkers({ backend: r.backend, workers: r.runs.length }) });
}

/**
 * One run of the comparison as a subgraph (inputs `dataset`, `grid`): `train` (where `training` runs it) → `metrics`,
 * `checkpoints` → `progress` (progress measures per checkpoint, over the grid), `spectra` (embedding Fourier norms per
 * checkpoint, for the report) and `final` → the mechanism analysis of @bitlens/circuits (`activations`, also capturing
 * the attention pattern for the report; `norms`, `neurons`, `keys`, `losses`, `clock-pizza`, `mechanism`) → `views`
 * (the report's pictures of the final model).
 */
export function runSubgraph(r: ResolvedComparison, run: PrecisionRun, tf: Tf, training: TrainExecutor) {
  const train = trainStage(
    {
      model: modelConfig(r.model, r.p, { quantizer: run.quantizer }),
      seed: r.seed,
      schedule: { epochs: r.epochs, logEvery: r.logEvery, checkpointEvery: r.checkpointEvery, stopAfterGrok: r.afterGrok, grokThreshold: GROK_THRESHOLD },
      optimizer: { lr: r.lr, weightDecay: r.weightDecay },
      grokfast: r.grokfast,
    },
    training,
  );
  return defineSubgraph({ dataset: DatasetSchema, grid: GridSchema }, (g) =>
    g
      .then('train', train, 'dataset')
      .then('metrics', selectMetrics(), 'train')
      .then('checkpoints', selectCheckpoints(), 'train')
      .join('progress', progressMeasures(tf, { sparsity: DEFAULT_ANALYSIS.sparsity }), { checkpoints: 'checkpoints', dataset: 'grid' })
      .then('spectra', embedSpectra(), 'checkpoints')
      .then('final', finalCheckpoint(), 'checkpoints')
      .use('', mechanismSubgraph(tf, { model: run.name, task: r.task, extraHooks: REPORT_HOOKS }), { weights: 'final', grid: 'grid' })
      .join('views', modelViews(tf), { weights: 'final', activations: 'activations', neurons: 'neurons', keys: 'keys' }),
  );
}

/**
 * The precision-comparison DAG: `dataset → grid`; one {@link runSubgraph} per run (`fp32/…`, `ternary/…`,
 * `binary/…`), all reading the same dataset and grid; then `{fp32, ternary, binary}/mechanism → mechanisms →
 * comparison`. Every node is cached in the store: changing one run's quantizer changes the keys of that run's
 * nodes, `mechanisms` and `comparison` only. `training` is where the three trainings run (the pipeline passes an
 * executor on engine worker threads).
 */
export function comparisonGraph(r: ResolvedComparison, tf: Tf, training: TrainExecutor) {
  return PipelineGraph.create()
    .source('dataset', datasetStage({ task: r.task, p: r.p, trainFraction: r.trainFraction, seed: r.dataSeed }))
    .then('grid', gridFromDataset(), 'dataset')
    .each(r.runs, (run) => ({ prefix: run.name, subgraph: runSubgraph(r, run, tf, training), inputs: { dataset: 'dataset', grid: 'grid' } }))
    .join('mechanisms', collectMechanisms(), { fp32: 'fp32/mechanism', ternary: 'ternary/mechanism', binary: 'binary/mechanism' })
    .then('comparison', compareMechanisms(), 'mechanisms');
}

/** A built comparison graph. */
export type ComparisonGraph = ReturnType<typeof comparisonGraph>;
