import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { ArtifactStore, BitlensError, type GraphEvent } from '@bitlens/core';
import { type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { type CellThreads, cellThreads } from '../executor.js';
import { cellKey } from '../graph.js';
import type { CellJob, CellResult } from '../run-cell.js';
import { checkQueueUrl, closeConnection, connectWithin, redactUrl, redisConnection } from './connection.js';
import { type CellJobData, type CellJobProgress, type CellJobResult, QUEUE_PREFIX, type WorkerIdentity, cellJobResult, isDeterministicFailure, parseCellJobData, queueName } from './protocol.js';

/** Options of `bitlens worker`. */
export interface QueueWorkerOptions {
  /** The queue: `redis://HOST:PORT[/DB]`. */
  readonly queue: string;
  /** Folder of this worker's artifact store (a shared filesystem's folder when workers share one). */
  readonly store: string;
  /** Cells run at once, one worker thread (one core) each. Default 1. */
  readonly concurrency?: number;
  /** The tfjs backend of the cells this worker takes (the queue of that backend). Default `wasm`. */
  readonly backend?: string;
  /** Where the worker's lines go (default: nowhere). */
  readonly log?: (line: string) => void;
  /**
   * How long a job stays this worker's without a renewal of its lock, in ms (BullMQ's `lockDuration`; renewed every
   * half of it while the cell runs, from the event loop, which the cell's thread leaves free). After a worker dies its
   * cells go back to the queue within about this plus `stalledIntervalMs`. Default 30 000.
   */
  readonly lockDurationMs?: number;
  /** How often this worker looks for cells of dead workers, in ms (BullMQ's `stalledInterval`). Default 30 000. */
  readonly stalledIntervalMs?: number;
  /** How many times a cell may lose its worker before it is failed (a cell that kills every worker). Default 2. */
  readonly maxStalledCount?: number;
  /** Bounded wait for Redis at start-up, in ms. Default 15 000. */
  readonly connectTimeoutMs?: number;
}

/** A running `bitlens worker`. */
export interface QueueWorker {
  readonly identity: WorkerIdentity;
  /**
   * Stops the worker. By default it takes no new cell, finishes the running ones and closes. With `handBack`, the
   * running cells are stopped now and put back on the queue at once (their trainings' checkpoints stay in the store,
   * released to whoever takes the cell next), then it closes. Idempotent; a hand-back may follow a finishing stop.
   */
  stop(options?: { readonly handBack?: boolean }): Promise<void>;
  /** Resolves once the worker has closed. */
  readonly closed: Promise<void>;
  /** Cells this worker has finished (computed or read from its store). */
  readonly finished: () => number;
}

/** A failure of a cell as BullMQ should see it: unrecoverable when it would fail the same way anywhere. */
function forQueue(e: unknown): Error {
  const message = e instanceof Error ? e.message : String(e);
  const code = e instanceof BitlensError ? e.code : 'INTERNAL';
  return isDeterministicFailure(code) ? new UnrecoverableError(message) : new Error(message);
}

/** Forwards a cell's graph events as job progress: every state change, and progress at most once a second per node. */
function progressForwarder(job: Job, worker: WorkerIdentity): (event: GraphEvent) => void {
  const last = new Map<string, number>();
  const send = (p: CellJobProgress): void => {
    job.updateProgress({ ...p }).catch(() => undefined); // progress is best effort: a lost report changes nothing
  };
  send({ worker });
  return (event) => {
    if (event.type === 'stage-progress') {
      const now = Date.now();
      const done = event.progress.done >= event.progress.total;
      if (!done && now - (last.get(event.node) ?? 0) < 1_000) return;
      last.set(event.node, now);
    }
    send({ worker, event });
  };
}

/** Checks a job before any work: its data, then that this worker computes the same cache key for the cell. */
function checkedJob(job: Job, backend: string): CellJobData {
  let data: CellJobData;
  try {
    data = parseCellJobData(job.data);
  } catch (e) {
    throw forQueue(e);
  }
  const stage = 'pipeline-sweep/queue-worker';
  if (data.backend !== backend) throw new UnrecoverableError(new BitlensError('INVALID_DATA', { stage, field: 'backend', expected: backend, found: data.backend }, `job ${job.id ?? '?'} is on the queue of another backend`).message);
  const own = cellKey(data.cell, data.backend, data.record);
  if (own !== data.key || job.id !== data.key) {
    throw new UnrecoverableError(
      new BitlensError('INVALID_DATA', { stage, field: `cell ${data.cell.id}: key`, expected: data.key, found: own }, 'this worker computes another cache key for the cell: it runs other code than the submitter (another bitlens version or a changed checkout); run the same build on every machine').message,
    );
  }
  return data;
}

/** What the processor of a worker's jobs works with. */
interface ProcessorContext {
  readonly identity: WorkerIdentity;
  readonly backend: string;
  readonly threads: CellThreads;
  /** Cells running now, by job id. */
  readonly running: Map<string, string>;
  readonly log: (line: string) => void;
  /** Set once the worker hands its cells back: resolves when their threads are stopped and their locks released. */
  handingBack: Promise<void> | undefined;
  finished: number;
}

/** A worker's job processor: one cell on a thread, its events as job progress, its row (or failure) for the queue. */
function cellProcessor(ctx: ProcessorContext): (job: Job, token?: string) => Promise<CellJobResult> {
  const { identity, log } = ctx;
  return async (job, token) => {
    const data = checkedJob(job, ctx.backend);
    const cellJob: CellJob = { cell: data.cell, store: identity.store, backend: ctx.backend, provenance: data.provenance, record: data.record, ...(data.parentRun === undefined ? {} : { parentRun: data.parentRun }) };
    const id = job.id ?? data.key;
    ctx.running.set(id, data.cell.id);
    log(`worker ${identity.id}: cell ${data.cell.id} started (job ${id.slice(0, 12)}, from ${data.submitter.host})`);
    const t0 = performance.now();
    try {
      const result = await new Promise<CellResult>((res, rej) => {
        ctx.threads.run(cellJob, progressForwarder(job, identity)).subscribe({ next: res, error: rej });
      });
      const cellMs = performance.now() - t0;
      ctx.finished += 1;
      const how = result.stats.resumed.length > 0 ? 'resumed from a checkpoint' : result.stats.executed.some((n) => n.endsWith('/train')) ? 'trained' : 'read from the store';
      log(`worker ${identity.id}: cell ${data.cell.id} done in ${(cellMs / 1000).toFixed(1)} s (${how})`);
      return cellJobResult(result.row, result.stats, identity, cellMs);
    } catch (e) {
      if (ctx.handingBack === undefined) {
        log(`worker ${identity.id}: cell ${data.cell.id} failed: ${e instanceof Error ? e.message : String(e)}`);
        throw forQueue(e);
      }
      await ctx.handingBack;
      await job.moveToWait(token);
      log(`worker ${identity.id}: cell ${data.cell.id} handed back to the queue`);
      throw new WaitingError();
    } finally {
      ctx.running.delete(id);
    }
  };
}

/**
 * Starts a worker of the sweep's queue: it takes cells of its backend's queue from Redis (BullMQ) and runs each with
 * `runCell` on a worker thread against its own store — the same stages, cache keys and store layout as a local sweep —
 * and returns the cell's row with where its artifacts are. The event loop stays free while cells train, so BullMQ keeps
 * renewing the jobs' locks; a worker that dies loses its cells to the others (BullMQ's stalled-job recovery), and with
 * a shared store they continue from the last checkpoint. A cell that fails for a deterministic reason (bad settings,
 * other code) is failed at once; other failures are retried by the queue (the submitter sets the attempts).
 */
export async function startQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const url = checkQueueUrl(options.queue, 'queue');
  const backend = options.backend ?? 'wasm';
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new BitlensError('INVALID_OPTION', { stage: 'bitlens worker', field: 'concurrency', expected: 'a positive integer', found: String(concurrency) });
  const log = options.log ?? ((): void => undefined);
  const store = new ArtifactStore({ root: resolve(options.store) });
  store.check();
  const identity: WorkerIdentity = { host: hostname(), store: store.root, pid: process.pid, id: `${hostname()}:${process.pid}` };
  const connection = redisConnection(url, { onDown: (why) => log(`worker ${identity.id}: Redis at ${redactUrl(url)} unreachable (${why}); reconnecting`), onUp: () => log(`worker ${identity.id}: reconnected to Redis`) });
  try {
    await connectWithin(connection, url, options.connectTimeoutMs);
  } catch (e) {
    await closeConnection(connection);
    throw e;
  }
  const ctx: ProcessorContext = { identity, backend, threads: cellThreads(concurrency, backend), running: new Map(), log, handingBack: undefined, finished: 0 };
  const worker = new Worker<unknown, CellJobResult>(queueName(backend), cellProcessor(ctx), {
    connection,
    prefix: QUEUE_PREFIX,
    name: identity.id,
    concurrency,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 2,
    autorun: false,
  });
  let lastError = '';
  worker.on('error', (e: Error) => {
    if (e.message !== lastError) log(`worker ${identity.id}: queue error: ${e.message}`);
    lastError = e.message;
  });
  let closing: Promise<void> | undefined;
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((r) => {
    markClosed = r;
  });
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await worker.close();
      await ctx.threads.close();
      await closeConnection(connection);
      log(`worker ${identity.id}: closed after ${ctx.finished} cell(s)`);
      markClosed();
    })());
  const stop = async (o: { readonly handBack?: boolean } = {}): Promise<void> => {
    if (o.handBack === true && ctx.handingBack === undefined) {
      // Stop the threads first, then free their trainings' partial writes, and only then requeue the cells, so the
      // next worker on a shared store continues from the checkpoint instead of starting over beside a stale lock.
      ctx.handingBack = ctx.threads.close().then(() => void store.releaseOwnLocks());
      log(`worker ${identity.id}: handing back ${ctx.running.size} running cell(s)`);
    } else if (closing === undefined) {
      log(`worker ${identity.id}: finishing ${ctx.running.size} running cell(s), taking no new ones (stop again to hand them back now)`);
    }
    await close();
  };
  void worker.run().catch((e: unknown) => log(`worker ${identity.id}: stopped: ${e instanceof Error ? e.message : String(e)}`));
  log(`worker ${identity.id}: serving queue ${queueName(backend)} at ${redactUrl(url)} (store ${store.root}, ${concurrency} thread(s))`);
  return { identity, finished: () => ctx.finished, stop, closed };
}

/**
 * `bitlens worker`: serves the queue until SIGTERM or SIGINT. The first signal lets the running cells finish (no new
 * ones are taken); a second one hands them back to the queue at once. Resolves when the worker has closed.
 */
export async function serveQueue(options: QueueWorkerOptions): Promise<void> {
  const w = await startQueueWorker(options);
  let signals = 0;
  const onSignal = (): void => {
    signals += 1;
    void w.stop({ handBack: signals > 1 });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await w.closed;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
