import { defineStage, type Stage, type StageResumption } from '@bitlens/core';
import { DatasetSchema, type Dataset } from '@bitlens/data';
import type { Table } from 'apache-arrow';
import { concatMap, filter, map, toArray } from 'rxjs';
import {
  MetricsSchema, streamKind, toCheckpointTable, toMetricsTable, TrainingCheckpointSchema, TrainingStreamSchema,
  type Metrics, type TrainingCheckpoint, type TrainingStream,
} from './schemas.js';
import { resolveTrainOptions, TRAIN_STAGE_VERSION, trainDataFromTables, trainRun, type TrainContext, type TrainOptions } from './train.js';

/**
 * The training stage: takes the dataset table(s) (`DatasetSchema` of @bitlens/data: a, b, label, split; all emitted
 * tables are collected first) and emits the training stream (`TrainingStreamSchema`): metrics tables and checkpoint
 * tables, told apart by `kind`. Split it with `selectMetrics()` / `selectCheckpoints()`.
 *
 * Options (the cache key) are the resolved {@link TrainOptions} plus the tfjs backend name (results are deterministic
 * per backend, not across backends). `ctx.resumeFrom` is not part of the key: resuming gives the same result. Holds no
 * state across subscriptions; the sink that stores checkpoints is what makes a rerun resumable (pass the latest stored
 * checkpoint table as `resumeFrom`; the stream then continues after it).
 * @example of(datasetTable).pipe(trainStage({ model: modelConfig('li', 59), seed: 0, epochs: 3000 }, { tf, registry }), selectMetrics())
 */
export function trainStage(options: TrainOptions, ctx: TrainContext): Stage<Dataset, TrainingStream> {
  const resolved = resolveTrainOptions(options);
  return defineStage<Dataset, TrainingStream>({
    name: 'training/train',
    version: TRAIN_STAGE_VERSION,
    options: { ...resolved, backend: ctx.tf.getBackend() },
    input: DatasetSchema,
    output: TrainingStreamSchema,
    apply: (source) =>
      source.pipe(
        toArray(),
        concatMap((tables) => trainRun(ctx, options, trainDataFromTables(tables, resolved.model.p))),
      ),
    progress: (t) => ({ done: Number(t.getChild('epoch')?.get(0) ?? 0), total: resolved.epochs, label: streamKind(t) }),
    resume: (previous) => resumeAfterLastCheckpoint(previous, (checkpoint) => trainStage(options, { ...ctx, resumeFrom: checkpoint })),
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
