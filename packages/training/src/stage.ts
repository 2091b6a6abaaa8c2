import { BitlensError, defineStage, type Stage, type StageResumption } from '@bitlens/core';
import { DatasetSchema, type Dataset } from '@bitlens/data';
import { type Checkpoint, CheckpointSchema } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { concatMap, defer, filter, last, map, toArray } from 'rxjs';
import { trainDataFromTables } from './data.js';
import type { TrainExecutor } from './executor.js';
import { resolveTrainOptions, TRAIN_STAGE_VERSION, type TrainOptions } from './options.js';
import {
  MetricsSchema, streamKind, toCheckpointTable, toMetricsTable, TrainingCheckpointSchema, TrainingStreamSchema,
  type Metrics, type TrainingCheckpoint, type TrainingStream,
} from './schemas.js';

/**
 * The training stage: takes the dataset table(s) (`DatasetSchema` of @bitlens/data: a, b, label, split; all emitted
 * tables are collected first) and emits the training stream (`TrainingStreamSchema`): metrics tables and checkpoint
 * tables, told apart by `kind`. Split it with `selectMetrics()` / `selectCheckpoints()`.
 *
 * Where the run executes is injected: `inProcessExecutor({ tf, registry })` or `workerExecutor({ workers })` (the
 * pipeline starts the engine or creates the worker pool). The cache key is the resolved {@link TrainOptions} plus the
 * executor's tfjs backend (results are deterministic per backend, not across backends), the same for both executors.
 * Options the executor cannot run are rejected here, before any work. Resumable: a graph run interrupted mid-training
 * continues from the last checkpoint it stored (`resume`); by hand, pass that checkpoint as `resumeFrom` (not part of
 * the key: the result is the same) and the stream continues after it.
 * @example of(datasetTable).pipe(trainStage({ model: modelConfig('li', 59), seed: 0, schedule: { epochs: 3000 } }, inProcessExecutor({ tf, registry })), selectMetrics())
 */
export function trainStage(options: TrainOptions, executor: TrainExecutor, resumeFrom?: Table<TrainingStream>): Stage<Dataset, TrainingStream> {
  const resolved = resolveTrainOptions(options);
  executor.check(resolved);
  return defineStage<Dataset, TrainingStream>({
    name: 'training/train',
    version: TRAIN_STAGE_VERSION,
    options: { ...resolved, backend: executor.backend },
    input: DatasetSchema,
    output: TrainingStreamSchema,
    apply: (source) =>
      source.pipe(
        toArray(),
        concatMap((tables) => defer(() => executor.train(resolved, trainDataFromTables(tables, resolved.model.p), resumeFrom))),
      ),
    progress: (t) => ({ done: Number(t.getChild('epoch')?.get(0) ?? 0), total: resolved.schedule.epochs, label: `epochs (${streamKind(t)})` }),
    resume: (previous) => resumeAfterLastCheckpoint(previous, (checkpoint) => trainStage(options, executor, checkpoint)),
  });
}

/**
 * The resumption of an interrupted training stream (`StageSpec.resume`): keep everything up to and including its last
 * checkpoint table and train on from that checkpoint (weights, AdamW moments, step and grokking state), which gives
 * the uninterrupted run's stream on the same backend. Undefined when no checkpoint was emitted yet.
 */
export function resumeAfterLastCheckpoint(
  previous: readonly Table<TrainingStream>[],
  from: (checkpoint: Table<TrainingStream>) => Stage<Dataset, TrainingStream>,
): StageResumption<Dataset, TrainingStream> | undefined {
  let last = -1;
  previous.forEach((t, i) => {
    if (streamKind(t) === 'checkpoint') last = i;
  });
  const checkpoint = previous[last];
  return checkpoint === undefined ? undefined : { keep: last + 1, rest: from(checkpoint) };
}

/** Keeps the metrics tables of a training stream, as `MetricsSchema` tables. Stateless. */
export function selectMetrics(): Stage<TrainingStream, Metrics> {
  return defineStage<TrainingStream, Metrics>({
    name: 'training/select-metrics',
    version: '1',
    options: {},
    input: TrainingStreamSchema,
    output: MetricsSchema,
    apply: (s) => s.pipe(filter((t) => streamKind(t) === 'metrics'), map(toMetricsTable)),
  });
}

/** Keeps the checkpoint tables of a training stream, as `TrainingCheckpointSchema` tables (a superset of CheckpointSchema). Stateless. */
export function selectCheckpoints(): Stage<TrainingStream, TrainingCheckpoint> {
  return defineStage<TrainingStream, TrainingCheckpoint>({
    name: 'training/select-checkpoints',
    version: '1',
    options: {},
    input: TrainingStreamSchema,
    output: TrainingCheckpointSchema,
    apply: (s) => s.pipe(filter((t) => streamKind(t) === 'checkpoint'), map(toCheckpointTable)),
  });
}

/** The checkpoint table with the highest epoch among `tables` (stream or checkpoint tables; others are skipped). */
export function latestCheckpoint(tables: readonly Table[]): Table | undefined {
  let best: Table | undefined;
  let bestEpoch = -1;
  for (const t of tables) {
    if (t.getChild('adam_m') === null || t.numRows === 0) continue;
    if (t.getChild('kind') !== null && streamKind(t) !== 'checkpoint') continue;
    const e = Number(t.getChild('epoch')?.get(0));
    if (e > bestEpoch) [best, bestEpoch] = [t, e];
  }
  return best;
}

/**
 * The last checkpoint of a checkpoint stream (the highest epoch), as a `CheckpointSchema` table: what the analyses of
 * the final model read. A reduction over the whole stream; the model config metadata is kept.
 */
export function finalCheckpoint(): Stage<Checkpoint, Checkpoint> {
  const name = 'training/final-checkpoint';
  return defineStage<Checkpoint, Checkpoint>({
    name,
    version: '1',
    options: {},
    input: CheckpointSchema,
    output: CheckpointSchema,
    apply: (source) =>
      source.pipe(
        filter((t) => t.numRows > 0),
        last(undefined, undefined as Table<Checkpoint> | undefined),
        map((t) => {
          if (t === undefined) throw new BitlensError('NOT_FOUND', { stage: name, field: 'checkpoints', expected: 'at least one checkpoint', found: 'an empty stream' });
          return t.select(CheckpointSchema.names as (keyof Checkpoint & string)[]) as unknown as Table<Checkpoint>;
        }),
      ),
  });
}
