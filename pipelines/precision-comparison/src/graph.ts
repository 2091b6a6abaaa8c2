import type { Tf } from '@bitlens/engine';
import { activations, clockPizza, compareMechanisms, fourierNorms, frequencyLossesStage, gridFromDataset, keyFrequencies, mechanismSummary, neuronFrequencies } from '@bitlens/circuits';
import { PipelineGraph, type RunOptions, type RunStats } from '@bitlens/core';
import { datasetStage } from '@bitlens/data';
import { progressMeasures } from '@bitlens/metrics';
import { modelConfig } from '@bitlens/model';
import { finalCheckpoint, selectCheckpoints, selectMetrics, type TrainExecutor, trainStage } from '@bitlens/training';
import type { Table } from 'apache-arrow';
import type { Observable } from 'rxjs';
import type { ResolvedComparison } from './config.js';
import { collectMechanisms } from './internal/stages.js';

/** Grokking threshold on test accuracy (SCIENCE §10). */
export const GROK_THRESHOLD = 0.99;

/** Analysis thresholds (the same defaults as `bitlens run analyze`). */
export const ANALYSIS = { neuronThreshold: 0.85, neuronMinCount: 5, maxKeys: 15, sparsity: 0.1 } as const;

/** The node names of one run (`<run>-<what>`). */
export const RUN_NODES = ['train', 'metrics', 'checkpoints', 'progress', 'final', 'activations', 'norms', 'neurons', 'keys', 'losses', 'clock-pizza', 'mechanism'] as const;

/** A built comparison graph. The graph is wired in a loop over the runs, so its node names are plain strings. */
export interface ComparisonGraph {
  /** Node names in topological order. */
  readonly names: readonly string[];
  /** The stage name (`spec.name`) of every node. */
  readonly stages: Readonly<Record<string, string>>;
  /** The cache key of every node. */
  keys(): Readonly<Record<string, string>>;
  /** Output streams of one run of the graph (see `PipelineGraph.run`). */
  run(options: RunOptions): { readonly streams: Readonly<Record<string, Observable<Table>>>; readonly stats: RunStats };
}

// The typed builder checks each wiring against node output types; building the three identical per-run chains in a
// loop needs string node names, so the loop uses this untyped view of the same object (same methods at run time).
interface LooseBuilder extends Omit<ComparisonGraph, 'stages'> {
  source(name: string, stage: unknown): LooseBuilder;
  then(name: string, stage: unknown, from: string): LooseBuilder;
  join(name: string, stage: unknown, from: Readonly<Record<string, string>>): LooseBuilder;
}

/**
 * The precision-comparison DAG:
 * `dataset → grid`, and per run r in fp32, ternary, binary:
 * `dataset → r-train → r-metrics`, `r-train → r-checkpoints → r-progress (with grid)`,
 * `r-checkpoints → r-final → r-activations, r-norms`, `r-activations → r-neurons`, `{r-final, r-neurons} → r-keys`,
 * `{r-keys, r-activations, grid} → r-losses`, `{r-final, r-activations} → r-clock-pizza`,
 * `{r-norms, r-neurons, r-keys, r-losses, r-clock-pizza} → r-mechanism`; then
 * `{fp32-mechanism, ternary-mechanism, binary-mechanism} → mechanisms → comparison`.
 * Every node is cached in the store by the graph: changing one run's quantizer changes the keys of that run's nodes,
 * `mechanisms` and `comparison` only. `training` is where the three trainings run (the pipeline passes worker threads).
 */
export function comparisonGraph(r: ResolvedComparison, tf: Tf, training: TrainExecutor): ComparisonGraph {
  const stages: Record<string, string> = {};
  const named = <T extends { readonly spec: { readonly name: string } }>(node: string, stage: T): T => {
    stages[node] = stage.spec.name;
    return stage;
  };
  let g = (PipelineGraph.create() as unknown as LooseBuilder)
    .source('dataset', named('dataset', datasetStage({ task: r.task, p: r.p, trainFraction: r.trainFraction, seed: r.dataSeed })))
    .then('grid', named('grid', gridFromDataset()), 'dataset');
  for (const run of r.runs) {
    const n = (what: (typeof RUN_NODES)[number]): string => `${run.name}-${what}`;
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
    g = g
      .then(n('train'), named(n('train'), train), 'dataset')
      .then(n('metrics'), named(n('metrics'), selectMetrics()), n('train'))
      .then(n('checkpoints'), named(n('checkpoints'), selectCheckpoints()), n('train'))
      .join(n('progress'), named(n('progress'), progressMeasures(tf, { sparsity: { kind: 'relative', fraction: ANALYSIS.sparsity } })), { checkpoints: n('checkpoints'), dataset: 'grid' })
      .then(n('final'), named(n('final'), finalCheckpoint()), n('checkpoints'))
      .then(n('activations'), named(n('activations'), activations(tf, { hooks: '^(blocks\\.0\\.mlp\\.hook_(pre|post)|logits)$', position: 'last' })), n('final'))
      .then(n('norms'), named(n('norms'), fourierNorms()), n('final'))
      .then(n('neurons'), named(n('neurons'), neuronFrequencies(tf, { threshold: ANALYSIS.neuronThreshold, minCount: ANALYSIS.neuronMinCount })), n('activations'))
      .join(n('keys'), named(n('keys'), keyFrequencies({ rule: { kind: 'gap', maxKeys: ANALYSIS.maxKeys } })), { weights: n('final'), neurons: n('neurons') })
      .join(n('losses'), named(n('losses'), frequencyLossesStage({ keys: 'embed' })), { keys: n('keys'), activations: n('activations'), dataset: 'grid' })
      .join(n('clock-pizza'), named(n('clock-pizza'), clockPizza(tf, { task: r.task })), { weights: n('final'), activations: n('activations') })
      .join(n('mechanism'), named(n('mechanism'), mechanismSummary({ model: run.name, sparsity: { kind: 'relative', fraction: ANALYSIS.sparsity } })), {
        norms: n('norms'),
        neurons: n('neurons'),
        keys: n('keys'),
        losses: n('losses'),
        clockPizza: n('clock-pizza'),
      });
  }
  const built = g.join('mechanisms', named('mechanisms', collectMechanisms()), { fp32: 'fp32-mechanism', ternary: 'ternary-mechanism', binary: 'binary-mechanism' }).then('comparison', named('comparison', compareMechanisms()), 'mechanisms');
  return { names: built.names, stages, keys: () => built.keys(), run: (options) => built.run(options) };
}
