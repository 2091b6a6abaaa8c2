import { BitlensError, type ErrorCode, type ErrorSite } from '@bitlens/core';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Observable } from 'rxjs';
import type { EngineOptions } from './configure.js';
import { isTfjsBackendName, type TfjsBackend, type TfjsBackendName } from './init.js';

const STAGE = 'engine/workers';

/**
 * What a task module exports as `runEngineTask`: the work, given the engine its worker thread started, the task's
 * input (structured-cloned from the caller) and a function that posts a message back. Resolve when done; throw
 * (a `BitlensError` keeps its code and site across the thread boundary) to fail the task.
 */
export type EngineTask<I, M> = (engine: TfjsBackend, input: I, post: (message: M, transfer?: readonly ArrayBuffer[]) => void) => Promise<void>;

/**
 * Threads each of `engines` engines running at once may use for one product so that together they take the cores
 * once: max(1, floor(cores / engines)). What an engine pool gives its tasks; a caller with its own worker threads
 * (one engine each) passes this as `threads` to `initTfjsBackend` / `configureEngine`.
 * @example threadsPerEngine(3, 16) // 5
 */
export function threadsPerEngine(engines: number, cores: number = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, engines)));
}

/** How {@link createEngineWorkers} runs tasks. */
export interface EngineWorkersOptions {
  /** The tfjs backend every worker starts (default 'wasm'). */
  readonly backend?: string;
  /** Tasks that run at a time, each in its own worker thread (default: the number of cores). */
  readonly workers?: number;
  /**
   * How each worker configures its engine (see `configureEngine`). Without `threads`, threads follow the running
   * tasks (see {@link EngineWorkers.threads}); with it, every task gets that many.
   */
  readonly engine?: EngineOptions;
}

/** A pool of worker threads, each starting its own tfjs engine for one task. */
export interface EngineWorkers {
  /** The backend the workers start. */
  readonly backend: TfjsBackendName;
  /** Tasks at a time. */
  readonly size: number;
  /**
   * Threads per task when the pool is full: max(1, floor(cores / size)), unless `engine.threads` fixes them. The
   * running tasks, not the kernels, take the cores: while r tasks run, each worker's engine may use
   * max(1, floor(cores / r)) threads for one product, and the pool tells the workers when r changes (a worker applies
   * it between epochs; results do not depend on it). So two cores and three runs give one thread each, and the last
   * run left, or a run alone, gets both.
   */
  readonly threads: number;
  /**
   * Runs the task module `task` (it exports `runEngineTask`, see {@link EngineTask}) with `input` in a worker thread
   * that first starts and configures its own engine. Cold: the worker starts on subscribe, once fewer than `size`
   * tasks of this pool run; it is terminated on unsubscribe. Emits what the task posts; completes when it resolves.
   * `options.engine` overrides the pool's engine options for this task (e.g. its threads).
   */
  run<M>(task: URL, input: unknown, options?: EngineTaskOptions): Observable<M>;
}

/** Per-task options of {@link EngineWorkers.run}. */
export interface EngineTaskOptions {
  /** Buffers of `input` to transfer instead of copying. */
  readonly transfer?: readonly ArrayBuffer[];
  /** Engine options for this task's worker, over the pool's. */
  readonly engine?: EngineOptions;
}

/** Messages to a worker: its engine's new thread count. @internal */
export interface WorkerThreads {
  readonly type: 'threads';
  readonly threads: number;
}

/** Messages from a worker (the bootstrap's protocol). @internal */
export type WorkerReply =
  | { readonly type: 'message'; readonly message: unknown }
  | { readonly type: 'done' }
  | { readonly type: 'error'; readonly message: string; readonly code?: ErrorCode; readonly site?: ErrorSite };

/** What the bootstrap receives. @internal */
export interface WorkerBoot {
  readonly backend: TfjsBackendName;
  readonly engine: EngineOptions;
  readonly task: string;
  readonly input: unknown;
}

/**
 * A pool of engine worker threads: how work that needs its own tfjs engine (a training run; tfjs-wasm is
 * single-threaded in Node, so this is how several cores are used) runs beside the main thread. Pipelines create it
 * (engine start-up belongs to them and to this package); domain packages receive it and submit task modules. Each
 * task gets a fresh worker (a run's engine state never leaks into the next one; start-up costs about a quarter
 * second).
 * @example const pool = createEngineWorkers({ backend: 'wasm', workers: 2 }); pool.run<Msg>(new URL('./task.js', import.meta.url), input)
 */
export function createEngineWorkers(options: EngineWorkersOptions = {}): EngineWorkers {
  const backend = options.backend ?? 'wasm';
  if (!isTfjsBackendName(backend)) throw new BitlensError('BACKEND_UNAVAILABLE', { stage: STAGE, field: 'backend', expected: 'wasm, cpu, webgpu or tensorflow', found: JSON.stringify(backend) });
  const size = options.workers ?? availableParallelism();
  if (!Number.isInteger(size) || size < 1) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'workers', expected: 'a positive integer', found: String(size) });
  const share = (running: number): number => threadsPerEngine(running);
  const fixed = options.engine?.threads;
  const engine: EngineOptions = options.engine ?? {};
  const slots = semaphore(size);
  const running = new Map<Worker, { readonly fixed: boolean; threads: number }>();
  const rebalance = (): void => {
    const t = share(running.size);
    for (const [w, r] of running) {
      if (r.fixed || r.threads === t) continue;
      r.threads = t;
      w.postMessage({ type: 'threads', threads: t } satisfies WorkerThreads);
    }
  };
  return {
    backend,
    size,
    threads: fixed ?? share(size),
    run: <M>(task: URL, input: unknown, run: EngineTaskOptions = {}) =>
      new Observable<M>((subscriber) => {
        let worker: Worker | undefined;
        let release = (): void => undefined;
        const finish = (): void => {
          release();
          if (worker !== undefined && running.delete(worker)) rebalance();
        };
        release = slots.acquire(() => {
          const own = run.engine?.threads ?? fixed;
          const threads = own ?? share(running.size + 1);
          const w = spawn({ backend, engine: { ...engine, ...(run.engine ?? {}), threads }, task: task.href, input }, run.transfer ?? []);
          worker = w;
          running.set(w, { fixed: own !== undefined, threads });
          rebalance();
          const fail = (e: Error): void => {
            finish();
            subscriber.error(e);
          };
          w.on('message', (m: WorkerReply) => {
            if (m.type === 'message') subscriber.next(m.message as M);
            else if (m.type === 'done') {
              finish();
              subscriber.complete();
            } else fail(fromWorker(m));
          });
          w.on('error', (e) => fail(new BitlensError('INTERNAL', { stage: STAGE, field: task.pathname }, e.message, { cause: e })));
          w.on('exit', (code) => {
            if (code !== 0) fail(new BitlensError('INTERNAL', { stage: STAGE, field: task.pathname, expected: 'the worker to finish its task', found: `exit code ${code}` }));
          });
        });
        return () => {
          finish();
          void worker?.terminate();
        };
      }),
  };
}

function fromWorker(m: Extract<WorkerReply, { type: 'error' }>): BitlensError {
  if (m.code === undefined || m.site === undefined) return new BitlensError('INTERNAL', { stage: STAGE, field: 'task' }, m.message);
  const e = new BitlensError(m.code, m.site);
  e.message = m.message; // the original text, detail included
  return e;
}

function spawn(boot: WorkerBoot, transfer: readonly ArrayBuffer[]): Worker {
  const main = new URL(`./internal/worker-main.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
  const fromSources = main.href.endsWith('.ts') || boot.task.endsWith('.ts');
  if (!fromSources) return new Worker(main, { workerData: boot, transferList: [...transfer] });
  // Running from TypeScript sources (tests, tsx): Node 20 does not apply `--import tsx` inside a worker, so a small
  // bootstrap registers tsx's loader first and then imports the worker entry (which imports the .ts task).
  const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(main.href)}); });`;
  return new Worker(code, { eval: true, workerData: boot, transferList: [...transfer] });
}

/** At most `limit` holders at a time; the others wait in order. `acquire` returns an idempotent release. */
function semaphore(limit: number): { acquire(start: () => void): () => void } {
  let active = 0;
  const waiting: (() => void)[] = [];
  return {
    acquire(start) {
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
    },
  };
}
