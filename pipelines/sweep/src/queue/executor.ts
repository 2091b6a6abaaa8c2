import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { BitlensError, type ErrorCode } from '@bitlens/core';
import { type Job, Queue, QueueEvents } from 'bullmq';
import type { Table } from 'apache-arrow';
import type { Redis } from 'ioredis';
import { Observable, type Subscriber } from 'rxjs';
import type { CellResultRow } from '../cell.js';
import type { Cell } from '../config.js';
import type { CellExecutor, ExecutorContext } from '../executor.js';
import { type WorkerOrigin, cellKey, withWorkerOrigin } from '../graph.js';
import type { CellRunStats } from '../run-cell.js';
import { checkQueueUrl, closeConnection, connectWithin, redactUrl, redisConnection } from './connection.js';
import { QUEUE_PREFIX, cellJobData, codeOfMessage, parseCellJobProgress, parseCellJobResult, queueName } from './protocol.js';

/** Options of {@link queueExecutor}. */
export interface QueueExecutorOptions extends ExecutorContext {
  /** The queue: `redis://HOST:PORT[/DB]`. */
  readonly queue: string;
  /** Progress of the whole sweep: called on every change of a cell's state or worker. */
  readonly onStatus?: (status: QueueStatus) => void;
  /** Lines for the user (lost jobs enqueued again, Redis outages). */
  readonly log?: (line: string) => void;
  /** Runs of a cell before it is failed, for failures that may pass on a retry (BullMQ `attempts`). Default 3. */
  readonly attempts?: number;
  /** How often every unfinished cell's job is checked in Redis (events can be missed while it is down), ms. Default 2 000. */
  readonly reconcileMs?: number;
  /** Bounded wait for Redis at start, ms. Default 15 000. */
  readonly connectTimeoutMs?: number;
  /** How long Redis may stay unreachable before the sweep fails (QUEUE_UNAVAILABLE), ms. Default 600 000. */
  readonly outageLimitMs?: number;
}

/** Where the cells of a queued sweep are. */
export interface QueueStatus {
  readonly cells: number;
  readonly waiting: number;
  readonly running: number;
  readonly done: number;
  readonly failed: number;
  /** Every worker seen by this sweep, with the cells it runs now and how many it finished. */
  readonly workers: readonly { readonly id: string; readonly running: readonly string[]; readonly done: number }[];
}

/** When a queued cell's job went through the queue (epoch ms; `cellMs`: its graph's own time on the worker). */
export interface CellTiming {
  /** Whether this executor enqueued the job (a job found finished from an earlier submission has old times). */
  readonly enqueuedHere: boolean;
  readonly enqueuedAt: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  /** When the row reached this executor. */
  readonly receivedAt: number;
  readonly cellMs: number;
  /** The worker that computed it (`host:pid`). */
  readonly worker: string;
}

/** A {@link CellExecutor} on a queue, with what it saw of it. */
export interface QueueExecutor extends CellExecutor {
  /** Per cell id, the job's times through the queue (cells computed by a worker for this executor). */
  readonly timings: ReadonlyMap<string, CellTiming>;
  status(): QueueStatus;
}

type EntryState = 'submitting' | 'waiting' | 'running' | 'done' | 'failed' | 'left';

interface Entry {
  readonly cell: Cell;
  readonly key: string;
  readonly subscriber: Subscriber<Table<CellResultRow>>;
  state: EntryState;
  worker: string | undefined;
  enqueuedHere: boolean;
  /** Why the cell failed: an error code and a message that does not repeat the cell's id. */
  failure: { readonly code: ErrorCode; readonly reason: string } | undefined;
  reported: boolean;
}

/** How many failed cells the sweep's error lists one by one (the rest are counted). */
const LISTED_FAILURES = 5;

const PENDING: ReadonlySet<EntryState> = new Set(['submitting', 'waiting', 'running']);
const DAY_S = 86_400;

/** What the submitting side knows of its cells' jobs; every change of a job in Redis goes through `check`. */
class QueuedCells {
  readonly entries = new Map<string, Entry>();
  readonly stats = new Map<string, CellRunStats>();
  readonly timings = new Map<string, CellTiming>();
  private readonly doneBy = new Map<string, number>();
  private readonly submitter: WorkerOrigin;
  private reconciling = false;

  constructor(
    private readonly o: QueueExecutorOptions,
    private readonly queue: Queue,
    private readonly log: (line: string) => void,
  ) {
    this.submitter = { host: hostname(), store: resolve(o.store) };
  }

  status(): QueueStatus {
    const all = [...this.entries.values()].filter((e) => e.state !== 'left');
    const count = (s: EntryState): number => all.filter((e) => e.state === s).length;
    const running = all.filter((e) => e.state === 'running');
    const ids = new Set([...this.doneBy.keys(), ...running.flatMap((e) => (e.worker === undefined ? [] : [e.worker]))]);
    const workers = [...ids].sort().map((id) => ({ id, running: running.filter((e) => e.worker === id).map((e) => e.cell.id), done: this.doneBy.get(id) ?? 0 }));
    return { cells: all.length, waiting: count('waiting') + count('submitting'), running: count('running'), done: count('done'), failed: count('failed'), workers };
  }

  private changed(): void {
    this.o.onStatus?.(this.status());
  }

  /** A new cell: submitted at once (or found already queued, finished or failed by an earlier submission). */
  add(cell: Cell, subscriber: Subscriber<Table<CellResultRow>>): Entry {
    const key = cellKey(cell, this.o.backend, this.o.record === true);
    const entry: Entry = { cell, key, subscriber, state: 'submitting', worker: undefined, enqueuedHere: false, failure: undefined, reported: false };
    this.entries.set(key, entry);
    this.changed();
    this.checkSafely(entry, true);
    return entry;
  }

  /** The pending entry of a job, if it is one of ours. */
  pending(jobId: string): Entry | undefined {
    const e = this.entries.get(jobId);
    return e !== undefined && PENDING.has(e.state) ? e : undefined;
  }

  /** A progress report of a job: who runs it now, and an event of the cell's graph for the progress view. */
  progress(entry: Entry, worker: string): void {
    if (entry.state === 'running' && entry.worker === worker) return;
    entry.state = 'running';
    entry.worker = worker;
    this.changed();
  }

  /** Errors every failed cell once no cell is pending any more: the message names every failed cell. */
  private settleFailures(): void {
    const all = [...this.entries.values()];
    if (all.some((e) => PENDING.has(e.state))) return;
    const failed = all.filter((e) => e.state === 'failed' && !e.reported);
    const first = failed[0]?.failure;
    if (first === undefined) return;
    const total = all.filter((e) => e.state !== 'left').length;
    const listed = failed.slice(0, LISTED_FAILURES).map((e) => `${e.cell.id}: ${e.failure?.reason ?? '?'}`);
    if (failed.length > LISTED_FAILURES) listed.push(`and ${failed.length - LISTED_FAILURES} more`);
    const others = failed.length < total ? ' (the others completed)' : '';
    const err = new BitlensError(first.code, { stage: 'pipeline sweep (queue)', field: 'cells' }, `${failed.length} of ${total} cell(s) failed${others} — ${listed.join('; ')}`);
    for (const e of failed) {
      e.reported = true;
      e.subscriber.error(err);
    }
  }

  private deliver(entry: Entry, job: Job): void {
    let parsed: ReturnType<typeof parseCellJobResult>;
    try {
      parsed = parseCellJobResult(job.returnvalue, entry.cell.id);
    } catch (e) {
      this.failWith(entry, e instanceof BitlensError ? e.code : 'INVALID_DATA', `its result was refused: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const { result, row } = parsed;
    entry.state = 'done';
    entry.worker = result.worker.id;
    this.doneBy.set(result.worker.id, (this.doneBy.get(result.worker.id) ?? 0) + 1);
    this.stats.set(entry.cell.id, result.stats);
    this.timings.set(entry.cell.id, { enqueuedHere: entry.enqueuedHere, enqueuedAt: job.timestamp, startedAt: job.processedOn ?? Number.NaN, finishedAt: job.finishedOn ?? Number.NaN, receivedAt: Date.now(), cellMs: result.cellMs, worker: result.worker.id });
    this.changed();
    entry.subscriber.next(withWorkerOrigin(row, { host: result.worker.host, store: result.worker.store }));
    entry.subscriber.complete();
    this.settleFailures();
  }

  failWith(entry: Entry, code: ErrorCode, reason: string): void {
    if (!PENDING.has(entry.state)) return;
    entry.state = 'failed';
    entry.failure = { code, reason };
    this.changed();
    this.settleFailures();
  }

  private async enqueue(entry: Entry): Promise<void> {
    const data = cellJobData(entry.key, entry.cell, this.o.backend, this.o.provenance, this.o.parentRun, this.submitter, this.o.record === true);
    const keep = { age: 7 * DAY_S };
    await this.queue.add('cell', data, { jobId: entry.key, attempts: this.o.attempts ?? 3, backoff: { type: 'exponential', delay: 10_000 }, removeOnComplete: keep, removeOnFail: keep });
    entry.enqueuedHere = true;
  }

  /**
   * Brings a cell up to date with its job in Redis (the one path for submission, events and reconciliation). The state
   * is read before the job: a job read first could finish before its state is read, and carry no return value yet.
   */
  async check(entry: Entry, submitting: boolean): Promise<void> {
    if (!PENDING.has(entry.state)) return;
    const state = await this.queue.getJobState(entry.key);
    if (!PENDING.has(entry.state)) return;
    if (state === 'unknown') {
      if (!submitting) this.log(`queue: the job of cell ${entry.cell.id} is gone from Redis (restarted without persistence?); enqueued again`);
      await this.enqueue(entry);
      if (entry.state === 'submitting') entry.state = 'waiting';
      this.changed();
      return;
    }
    const job = await this.queue.getJob(entry.key);
    if (job === undefined || !PENDING.has(entry.state)) return; // removed in between: the next check enqueues it again
    if (state === 'completed') return this.deliver(entry, job);
    if (state === 'failed' && !submitting) {
      const reason = job.failedReason ?? 'no reason recorded';
      return this.failWith(entry, codeOfMessage(reason), `failed on worker ${job.processedBy ?? '?'} after ${job.attemptsMade} attempt(s): ${reason}`);
    }
    if (state === 'failed') {
      this.log(`queue: cell ${entry.cell.id} failed in an earlier submission (${job.failedReason ?? '?'}); retrying it`);
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }).catch(() => undefined); // another submitter retried it first
    }
    const next: EntryState = state === 'active' ? 'running' : 'waiting';
    const worker = next === 'running' ? (entry.worker ?? job.processedBy) : undefined;
    if (next === entry.state && worker === entry.worker) return;
    entry.state = next;
    entry.worker = worker;
    this.changed();
  }

  checkSafely(entry: Entry, submitting = false): void {
    this.check(entry, submitting).catch((e: unknown) => this.failWith(entry, e instanceof BitlensError ? e.code : 'QUEUE_UNAVAILABLE', `the queue failed: ${e instanceof Error ? e.message : String(e)}`));
  }

  /** Checks every unfinished cell's job, one at a time (events may have been missed while Redis was away). */
  async reconcile(): Promise<void> {
    if (this.reconciling) return;
    this.reconciling = true;
    try {
      for (const e of [...this.entries.values()]) if (PENDING.has(e.state)) await this.check(e, false).catch(() => undefined);
    } finally {
      this.reconciling = false;
    }
  }

  /** Fails every unfinished cell (Redis stayed away too long). */
  failAll(code: ErrorCode, reason: string): void {
    for (const e of this.entries.values()) this.failWith(e, code, reason);
  }
}

/** Turns the queue's events into checks of our cells' jobs, and progress reports into graph events. */
function listen(events: QueueEvents, cells: QueuedCells, o: QueueExecutorOptions, log: (line: string) => void): void {
  const check = ({ jobId }: { jobId: string }): void => {
    const e = cells.pending(jobId);
    if (e !== undefined) cells.checkSafely(e);
  };
  events.on('completed', check);
  events.on('failed', check);
  events.on('active', check);
  events.on('stalled', ({ jobId }) => {
    const e = cells.pending(jobId);
    if (e === undefined) return;
    log(`queue: cell ${e.cell.id} lost its worker ${e.worker ?? '?'}; back on the queue for another one`);
    e.worker = undefined;
    cells.checkSafely(e);
  });
  events.on('progress', ({ jobId, data }) => {
    const e = cells.pending(jobId);
    const p = parseCellJobProgress(data);
    if (e === undefined || p === undefined) return;
    cells.progress(e, p.worker.id);
    if (p.event !== undefined) o.onEvent?.(p.event);
  });
  events.on('error', () => undefined); // outages are reported once by the command connection
}

/** Connects both connections (bounded), or closes them and fails. */
async function connectAll(url: string, clients: readonly Redis[], ms: number | undefined): Promise<void> {
  try {
    for (const c of clients) await connectWithin(c, url, ms);
  } catch (e) {
    await Promise.all(clients.map(closeConnection));
    throw e;
  }
}

/**
 * Runs the sweep's cells on `bitlens worker`s through a BullMQ queue on Redis. Each cell is one job whose id is the
 * cell node's cache key, so a cell submitted twice (another submitter, a rerun) is one job, and a job that finished
 * before hands its row back without running again; a job that failed before is retried. A cell already in the
 * submitter's store never gets here (the sweep's graph reads it back first). Rows come back as Arrow IPC bytes with the
 * worker that holds the cell's artifacts, recorded in the row's schema metadata (the merged table's `worker_host`,
 * `worker_store`). A failed cell fails the sweep once every other cell has finished, with every failed cell named.
 * Redis restarts are survived: connections reconnect, and the jobs of unfinished cells are checked every `reconcileMs`
 * and enqueued again if Redis lost them (a server without persistence).
 */
export async function queueExecutor(o: QueueExecutorOptions): Promise<QueueExecutor> {
  const url = checkQueueUrl(o.queue);
  const log = o.log ?? ((): void => undefined);
  const outageLimit = o.outageLimitMs ?? 600_000;
  let downSince: number | undefined;
  let cells: QueuedCells | undefined;
  const qc = redisConnection(url, {
    onDown: (why) => {
      downSince ??= Date.now();
      log(`queue: Redis at ${redactUrl(url)} unreachable (${why}); reconnecting (the sweep waits)`);
    },
    onUp: () => {
      downSince = undefined;
      log('queue: reconnected to Redis; checking every unfinished cell');
      void cells?.reconcile();
    },
  });
  const ec = redisConnection(url);
  await connectAll(url, [qc, ec], o.connectTimeoutMs);
  const name = queueName(o.backend);
  const queue = new Queue(name, { connection: qc, prefix: QUEUE_PREFIX });
  queue.on('error', () => undefined); // outages are reported once by the connection (BullMQ prints unheard errors)
  const events = new QueueEvents(name, { connection: ec, prefix: QUEUE_PREFIX });
  await events.waitUntilReady();
  const queued = new QueuedCells(o, queue, log);
  cells = queued;
  listen(events, queued, o, log);
  const timer = setInterval(() => {
    if (downSince === undefined || Date.now() - downSince <= outageLimit) return void queued.reconcile();
    queued.failAll('QUEUE_UNAVAILABLE', `Redis at ${redactUrl(url)} was unreachable for more than ${Math.round(outageLimit / 1000)} s`);
  }, o.reconcileMs ?? 2_000);
  return {
    stats: queued.stats,
    timings: queued.timings,
    status: () => queued.status(),
    run: (cell) =>
      new Observable<Table<CellResultRow>>((subscriber) => {
        const entry = queued.add(cell, subscriber);
        return () => {
          // Left before its row came (another cell failed the sweep): the job stays queued; its row will be there
          // for the next submission.
          if (PENDING.has(entry.state)) entry.state = 'left';
        };
      }),
    close: async () => {
      clearInterval(timer);
      await events.close().catch(() => undefined);
      await queue.close().catch(() => undefined);
      await Promise.all([closeConnection(qc), closeConnection(ec)]);
    },
  };
}

/** One line of a queued sweep's progress: counts, then each worker with what it runs. */
export function queueStatusLine(s: QueueStatus): string {
  const workers = s.workers.map((w) => `${w.id} ${w.running.length > 0 ? `running ${w.running.join(' + ')}` : 'idle'}, ${w.done} done`);
  return `queue: ${s.cells} cells — ${s.waiting} waiting, ${s.running} running, ${s.done} done, ${s.failed} failed${workers.length > 0 ? `; ${workers.join('; ')}` : ''}`;
}

/**
 * Prints a queued sweep's progress as lines: one whenever it changes, at most one a second (the last change is always
 * printed, so the final state shows).
 */
export function statusPrinter(log: (line: string) => void, minIntervalMs = 1_000): (s: QueueStatus) => void {
  let last = '';
  let lastAt = Date.now(); // the first line after a second: the cells are being submitted one by one until then
  let pending: QueueStatus | undefined;
  let timer: NodeJS.Timeout | undefined;
  const print = (s: QueueStatus): void => {
    const line = queueStatusLine(s);
    if (line === last) return;
    last = line;
    lastAt = Date.now();
    log(line);
  };
  return (s) => {
    const settled = s.waiting + s.running === 0;
    if (settled || Date.now() - lastAt >= minIntervalMs) {
      clearTimeout(timer);
      timer = undefined;
      print(s);
      return;
    }
    pending = s;
    timer ??= setTimeout(() => {
      timer = undefined;
      if (pending !== undefined) print(pending);
    }, minIntervalMs).unref();
  };
}
