import { assertSchema, BitlensError } from '@bitlens/core';
import type { EngineWorkers } from '@bitlens/engine';
import { BUILTIN_QUANTIZERS, createQuantizerRegistry, isFullPrecision, type QuantizerRegistry } from '@bitlens/quantization';
import { type Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { map, type Observable } from 'rxjs';
import type { TrainData } from './data.js';
import type { ResolvedTrainOptions } from './options.js';
import type { TrainingRunContext } from './run.js';
import { TrainingStreamSchema, type TrainingStream } from './schemas.js';
import { trainRun } from './train.js';

const STAGE = 'training/train';

/**
 * Where the training stage's runs execute: in this thread on an engine the pipeline started
 * ({@link inProcessExecutor}), or in worker threads of an engine pool the pipeline created ({@link workerExecutor}).
 * The result of a run is the same either way on the same backend; only `backend` enters the stage's cache key.
 */
export interface TrainExecutor {
  /** The tfjs backend the runs use (results are deterministic per backend, not across backends). */
  readonly backend: string;
  /** Throws (INVALID_OPTION) before any work when this executor cannot run these options. */
  check(options: ResolvedTrainOptions): void;
  /** Trains one run and emits its training stream; cold. `resumeFrom`: a checkpoint of this same run. */
  train(options: ResolvedTrainOptions, data: TrainData, resumeFrom?: Table): Observable<Table<TrainingStream>>;
}

/**
 * Runs training in this thread, on the engine of `ctx` (started by the pipeline through @bitlens/engine), with any
 * quantizer of `ctx.registry`, plug-ins included.
 * @example trainStage(options, inProcessExecutor({ tf, registry: createQuantizerRegistry() }))
 */
export function inProcessExecutor(ctx: TrainingRunContext): TrainExecutor {
  return {
    backend: ctx.tf.getBackend(),
    check: (o) => {
      if (!isFullPrecision(o.model.quantizer)) ctx.registry.get(o.model.quantizer);
    },
    train: (o, data, resumeFrom) => trainRun(ctx, o, data, resumeFrom),
  };
}

/** How {@link workerExecutor} runs. */
export interface WorkerExecutorOptions {
  /** The engine worker pool (`createEngineWorkers` of @bitlens/engine): its size is how many runs train at once. */
  readonly workers: EngineWorkers;
  /**
   * The registry the options' quantizer names are checked against (default: the built-ins). A worker thread builds
   * its own registry of the built-in quantizers; a plug-in quantizer is code and cannot be sent to a thread, so
   * naming one is an INVALID_OPTION error (train it with {@link inProcessExecutor}).
   */
  readonly registry?: QuantizerRegistry;
  /**
   * Threads each run's engine may use for one matrix product. Default: the pool decides from cores and running runs,
   * max(1, floor(cores / running)), updated as runs start and end (see `EngineWorkers.threads`): a full pool's runs
   * take one core each, the last run left (or a run alone) takes them all. A number fixes it for every run. Results
   * do not depend on it, so it is not part of the cache key.
   */
  readonly threadsPerRun?: number;
}

/** The input of the worker task (structured-cloned into the worker). @internal */
export interface TrainTaskInput {
  readonly options: ResolvedTrainOptions;
  readonly data: TrainData;
  readonly resumeFrom?: Uint8Array;
}

const BUILTIN_NAMES = new Set(BUILTIN_QUANTIZERS.map((q) => q.name));

/**
 * Runs each training in a worker thread of `workers`, every worker with its own engine (started and configured by
 * @bitlens/engine in that thread), so that several runs use several cores; tables come back as Arrow IPC. Any model
 * config is passed through as data; quantizers are the built-ins, by name.
 * @example const workers = createEngineWorkers({ backend: 'wasm', workers: 3 }); trainStage(options, workerExecutor({ workers }))
 */
export function workerExecutor(options: WorkerExecutorOptions): TrainExecutor {
  const registry = options.registry ?? createQuantizerRegistry();
  const threads = options.threadsPerRun;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'threadsPerRun', expected: 'a positive integer', found: String(threads) });
  const task = new URL(`./internal/train-task.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
  const check = (o: ResolvedTrainOptions): void => {
    const name = o.model.quantizer;
    registry.get(name); // unknown names: INVALID_OPTION listing the known ones
    if (!BUILTIN_NAMES.has(name)) {
      throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'model.quantizer', expected: `a built-in quantizer (${[...BUILTIN_NAMES].join(', ')}) to train in a worker thread`, found: JSON.stringify(name) },
        'a plug-in quantizer is code and cannot be sent to a worker thread; train it in process (inProcessExecutor)');
    }
  };
  return {
    backend: options.workers.backend,
    check,
    train: (o, data, resumeFrom) => {
      check(o);
      const input: TrainTaskInput = { options: o, data, ...(resumeFrom === undefined ? {} : { resumeFrom: tableToIPC(resumeFrom) }) };
      return options.workers.run<Uint8Array>(task, input, threads === undefined ? {} : { engine: { threads } }).pipe(
        map((bytes) => assertSchema(TrainingStreamSchema, tableFromIPC(bytes), { stage: STAGE, side: 'output', exact: true })),
      );
    },
  };
}
