import { BitlensError, type Stage, defineStage } from '@bitlens/core';
import { type Dataset, DatasetSchema } from '@bitlens/data';
import { type Checkpoint, CheckpointSchema } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { concatMap, filter, last, map, toArray } from 'rxjs';
import { resumeAfterLastCheckpoint } from './stage.js';
import { resolveTrainOptions, TRAIN_STAGE_VERSION, type TrainOptions } from './train.js';
import { type TrainingStream, TrainingStreamSchema, streamKind } from './schemas.js';
import { trainInWorkers } from './workers.js';

const STAGE = 'training/train-worker';

/**
 * Training in a worker thread: collects the dataset tables and trains one run in its own worker (its own tfjs engine),
 * so the three precisions train on separate cores. Same options (the cache key) and the same output as the in-process
 * `trainStage` of @bitlens/training on the same backend; the worker uses the built-in quantizers. Resumable: a graph
 * run interrupted mid-training continues from the last checkpoint it stored (see `resumeAfterLastCheckpoint`);
 * `resumeFrom` is how that continuation is built.
 */
export function trainInWorkerStage(options: TrainOptions, backend: string, resumeFrom?: Table<TrainingStream>): Stage<Dataset, TrainingStream> {
  const resolved = resolveTrainOptions(options);
  return defineStage<Dataset, TrainingStream>({
    name: STAGE,
    version: TRAIN_STAGE_VERSION,
    options: { ...resolved, backend },
    input: DatasetSchema,
    output: TrainingStreamSchema,
    apply: (source) =>
      source.pipe(
        toArray(),
        concatMap((tables) => {
          const [first, ...rest] = tables;
          if (first === undefined) throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: 'dataset', expected: 'one dataset table', found: 'none' });
          const dataset = rest.length === 0 ? first : first.concat(...rest);
          const [run] = trainInWorkers([{ options, dataset, ...(resumeFrom === undefined ? {} : { resumeFrom }) }], { backend, concurrency: 1 });
          if (run === undefined) throw new BitlensError('INTERNAL', { stage: STAGE, field: 'run' }, 'no worker stream');
          return run;
        }),
      ),
    progress: (t) => ({ done: Number(t.getChild('epoch')?.get(0) ?? 0), total: resolved.epochs, label: `epochs (${streamKind(t)})` }),
    resume: (previous) => resumeAfterLastCheckpoint(previous, (checkpoint) => trainInWorkerStage(options, backend, checkpoint)),
  });
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

