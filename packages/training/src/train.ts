import type { Table } from 'apache-arrow';
import { Observable } from 'rxjs';
import type { TrainData } from './data.js';
import { cleanedUp, type ResolvedTrainOptions, type TrainOptions } from './options.js';
import { createTrainingRun, type TrainingRun, type TrainingRunContext } from './run.js';
import { metricsStreamTable, type TrainingStream } from './schemas.js';

/**
 * Trains one model full-batch with AdamW following its schedule and emits the training stream (see
 * `TrainingStreamSchema`): a metrics table per logged epoch and a checkpoint table every `checkpointEvery` epochs and
 * at the end. Cold: training starts on subscribe and stops (freeing its tensors) on unsubscribe. Deterministic for a
 * seed on a given backend. With `resumeFrom` (a checkpoint of this same run) it continues after that epoch and emits
 * only what follows it.
 *
 * Each epoch is one {@link TrainingRun} step. At a logged epoch e the metrics are those of the weights after e steps
 * (train loss/accuracy from the same forward that gives that step's gradient); the early stop is checked there.
 * @example trainRun({ tf, registry }, { model, seed: 0, schedule: { epochs: 3000 } }, data).subscribe(sink)
 */
export function trainRun(ctx: TrainingRunContext, options: TrainOptions | ResolvedTrainOptions, data: TrainData, resumeFrom?: Table): Observable<Table<TrainingStream>> {
  return new Observable<Table<TrainingStream>>((subscriber) => {
    let stopped = false;
    (async () => {
      const run = createTrainingRun(ctx, options, data, resumeFrom);
      try {
        await follow(run, (t) => subscriber.next(t), () => stopped);
      } finally {
        run.dispose();
      }
    })().then(
      () => subscriber.complete(),
      (e: unknown) => subscriber.error(e),
    );
    return () => {
      stopped = true;
    };
  });
}

/** Drives `run` through its schedule, emitting metrics and checkpoint tables, until the cap, the early stop or `stopped()`. */
async function follow(run: TrainingRun, emit: (t: Table<TrainingStream>) => void, stopped: () => boolean): Promise<void> {
  const s = run.options.schedule;
  let lastMetrics = -1;
  let lastCheckpoint = -1;
  while (run.epoch < s.epochs && !stopped()) {
    const epoch = run.epoch;
    const pending = run.gradients(epoch % s.logEvery === 0);
    const m = pending.metrics;
    if (m !== undefined) {
      lastMetrics = epoch;
      emit(metricsStreamTable([m]));
      if (cleanedUp(epoch, run.grokEpoch, s.stopAfterGrok, m.test_acc, s.grokThreshold)) {
        pending.discard();
        break;
      }
    }
    pending.apply();
    if (s.checkpointEvery > 0 && run.epoch % s.checkpointEvery === 0) {
      lastCheckpoint = run.epoch;
      emit(run.checkpoint());
    }
    // Let subscribers (sinks, progress, a worker's message port) run between epochs.
    if (run.epoch % 10 === 0) await new Promise<void>((r) => setImmediate(r));
  }
  if (stopped()) return;
  if (lastMetrics !== run.epoch) emit(metricsStreamTable([run.metrics()]));
  if (lastCheckpoint !== run.epoch) emit(run.checkpoint());
}
