import { type Dataset as GridDataset, DatasetSchema as GridDatasetSchema, type Mechanism, MechanismSchema } from '@bitlens/circuits';
import { BitlensError, type JoinStage, type Stage, defineJoin, defineStage } from '@bitlens/core';
import { type Dataset, DatasetSchema } from '@bitlens/data';
import { type Checkpoint, CheckpointSchema } from '@bitlens/model';
import { type TrainOptions, type TrainingStream, TrainingStreamSchema, resolveTrainOptions, streamKind, trainInWorkers } from '@bitlens/training';
import { Bool, Table, makeVector, vectorFromArray } from 'apache-arrow';
import { concatMap, filter, forkJoin, from, last, map, toArray } from 'rxjs';

const PKG = 'pipeline-precision-comparison';

/**
 * Training in a worker thread: collects the dataset tables and trains one run in its own worker (its own tfjs engine),
 * so the three precisions train on separate cores. Same options (the cache key) and the same output as the in-process
 * `trainStage` of @bitlens/training on the same backend; the worker uses the built-in quantizers.
 */
export function trainInWorkerStage(options: TrainOptions, backend: string): Stage<Dataset, TrainingStream> {
  const resolved = resolveTrainOptions(options);
  return defineStage<Dataset, TrainingStream>({
    name: `${PKG}/train-worker`,
    version: '1',
    options: { ...resolved, backend },
    input: DatasetSchema,
    output: TrainingStreamSchema,
    apply: (source) =>
      source.pipe(
        toArray(),
        concatMap((tables) => {
          const [first, ...rest] = tables;
          if (first === undefined) throw new BitlensError('INVALID_CONFIG', { stage: `${PKG}/train-worker`, field: 'dataset', expected: 'one dataset table', found: 'none' });
          const dataset = rest.length === 0 ? first : first.concat(...rest);
          const [run] = trainInWorkers([{ options, dataset }], { backend, concurrency: 1 });
          if (run === undefined) throw new BitlensError('INTERNAL', { stage: `${PKG}/train-worker`, field: 'run' }, 'no worker stream');
          return run;
        }),
      ),
    progress: (t) => ({ done: Number(t.getChild('epoch')?.get(0) ?? 0), total: resolved.epochs, label: `epochs (${streamKind(t)})` }),
  });
}

/**
 * The training dataset (`DatasetSchema` of @bitlens/data, split as a string) as the analyses' grid dataset (`train`
 * as a boolean), row for row. The analysis thus uses exactly the split the runs trained on. Stateless.
 */
export function gridFromDataset(): Stage<Dataset, GridDataset> {
  return defineStage<Dataset, GridDataset>({
    name: `${PKG}/grid-from-dataset`,
    version: '1',
    options: {},
    input: DatasetSchema,
    output: GridDatasetSchema,
    apply: map((t) => {
      const split = t.getChild('split');
      const train = Array.from({ length: t.numRows }, (_, i) => split?.get(i) === 'train');
      const col = (n: 'a' | 'b' | 'label'): Int32Array => (t.getChild(n)?.toArray() as Int32Array).slice();
      return new Table({ a: makeVector(col('a')), b: makeVector(col('b')), label: makeVector(col('label')), train: vectorFromArray(train, new Bool()) }) as unknown as Table<GridDataset>;
    }),
  });
}

/**
 * The last checkpoint of a checkpoint stream (the highest epoch), as a `CheckpointSchema` table: what the analyses of
 * the final model read. A reduction over the whole stream; the model config metadata is kept.
 */
export function finalCheckpoint(): Stage<Checkpoint, Checkpoint> {
  const name = `${PKG}/final-checkpoint`;
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

/**
 * The mechanism rows of the three runs in one stream, always in run order fp32, ternary, binary (input of
 * `compareMechanisms`). All three inputs are subscribed at once (their analyses run side by side); the output waits
 * for all of them so that its order, and so the comparison artifact, does not depend on which finished first.
 */
export function collectMechanisms(): JoinStage<{ fp32: Mechanism; ternary: Mechanism; binary: Mechanism }, Mechanism> {
  return defineJoin({
    name: `${PKG}/collect-mechanisms`,
    version: '1',
    options: {},
    inputs: { fp32: MechanismSchema, ternary: MechanismSchema, binary: MechanismSchema },
    output: MechanismSchema,
    apply: ({ fp32, ternary, binary }) => forkJoin([fp32.pipe(toArray()), ternary.pipe(toArray()), binary.pipe(toArray())]).pipe(concatMap((parts) => from(parts.flat()))),
  });
}
