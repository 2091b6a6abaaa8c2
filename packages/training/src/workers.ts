import { BitlensError } from '@bitlens/core';
import { type Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Observable } from 'rxjs';
import type { TrainingStream } from './schemas.js';
import type { TrainOptions } from './train.js';

/** One independent training run for {@link trainInWorkers}. */
export interface WorkerRun {
  readonly options: TrainOptions;
  /** The dataset (`DatasetSchema` of @bitlens/data). */
  readonly dataset: Table;
  /** A training checkpoint to resume from (see `TrainContext.resumeFrom`). */
  readonly resumeFrom?: Table;
}

/** How {@link trainInWorkers} runs. */
export interface WorkerPoolOptions {
  /** tfjs backend each worker starts (default 'wasm'). */
  readonly backend?: string;
  /** Runs at a time (default: the number of CPUs). */
  readonly concurrency?: number;
}

/** Message from a training worker. @internal */
export type WorkerMessage =
  | { readonly type: 'table'; readonly bytes: Uint8Array }
  | { readonly type: 'done' }
  | { readonly type: 'error'; readonly message: string; readonly code?: string };

/** What a training worker receives. @internal */
export interface WorkerInput {
  readonly backend: string;
  readonly options: TrainOptions;
  readonly dataset: Uint8Array;
  readonly resumeFrom?: Uint8Array;
}

function spawnWorker(input: WorkerInput): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./internal/train-worker.js', import.meta.url), { workerData: input });
  // Running from the TypeScript sources (tests, tsx): Node 20 does not apply `--import tsx` from a worker's execArgv,
  // so a small bootstrap registers tsx's loader inside the worker and then imports the .ts worker.
  const entry = new URL('./internal/train-worker.ts', import.meta.url).href;
  const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData: input });
}

/**
 * Trains independent runs (e.g. fp32, ternary and binary of one seed) in parallel worker threads, each worker with
 * its own tfjs engine (tfjs-wasm is single-threaded in Node, so this is how several cores are used). Returns one
 * training stream per run, in input order; each is cold (the worker starts on subscribe, at most `concurrency` at a
 * time across the returned streams, and is terminated on unsubscribe). Tables cross the thread boundary as Arrow
 * IPC. Workers use the built-in quantizers of @bitlens/quantization (plug-in quantizers cannot be sent to a thread).
 * The result of a run equals the in-process `trainRun` on the same backend.
 * @example const [fp, tern] = trainInWorkers([{ options: a, dataset }, { options: b, dataset }]); await lastValueFrom(merge(fp, tern).pipe(toArray()));
 */
export function trainInWorkers(runs: readonly WorkerRun[], pool: WorkerPoolOptions = {}): Observable<Table<TrainingStream>>[] {
  const backend = pool.backend ?? 'wasm';
  const limit = pool.concurrency ?? availableParallelism();
  if (!Number.isInteger(limit) || limit < 1) {
    throw new BitlensError('INVALID_OPTION', { stage: 'training/workers', field: 'concurrency', expected: 'a positive integer', found: String(limit) });
  }
  let active = 0;
  const waiting: (() => void)[] = [];
  const acquire = (start: () => void): (() => void) => {
    let released = false;
    let started = false;
    const go = (): void => {
      active++;
      started = true;
      start();
    };
    if (active < limit) go();
    else waiting.push(go);
    return () => {
      if (released) return;
      released = true;
      if (!started) {
        const i = waiting.indexOf(go);
        if (i >= 0) waiting.splice(i, 1);
        return;
      }
      active--;
      waiting.shift()?.();
    };
  };
  return runs.map(
    (run) =>
      new Observable<Table<TrainingStream>>((subscriber) => {
        let worker: Worker | undefined;
        const release = acquire(() => {
          const input: WorkerInput = {
            backend,
            options: run.options,
            dataset: tableToIPC(run.dataset),
            ...(run.resumeFrom === undefined ? {} : { resumeFrom: tableToIPC(run.resumeFrom) }),
          };
          worker = spawnWorker(input);
          worker.on('message', (m: WorkerMessage) => {
            if (m.type === 'table') subscriber.next(tableFromIPC(m.bytes) as unknown as Table<TrainingStream>);
            else if (m.type === 'done') {
              release();
              subscriber.complete();
            } else {
              release();
              subscriber.error(new BitlensError('INTERNAL', { stage: 'training/workers', field: 'worker', found: m.code ?? 'error' }, m.message));
            }
          });
          worker.on('error', (e) => {
            release();
            subscriber.error(new BitlensError('INTERNAL', { stage: 'training/workers', field: 'worker' }, e.message, { cause: e }));
          });
        });
        return () => {
          release();
          void worker?.terminate();
        };
      }),
  );
}
