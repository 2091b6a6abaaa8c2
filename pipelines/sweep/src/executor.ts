import { BitlensError, type ErrorCode, type GraphEvent, type RunProvenance, assertSchema, startWorker } from '@bitlens/core';
import { type Tf, threadsPerEngine } from '@bitlens/engine';
import type { QuantizerRegistry } from '@bitlens/quantization';
import { type Table, tableFromIPC } from 'apache-arrow';
import type { Worker } from 'node:worker_threads';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Observable, type Subscriber, map } from 'rxjs';
import { type CellResultRow, CellResultSchema } from './cell.js';
import type { Cell } from './config.js';
import { type WorkerOrigin, withWorkerOrigin } from './graph.js';
import type { CellWorkerData, FromCellWorker, ToCellWorker } from './internal/protocol.js';
import type { CellKernels } from './record.js';
import { type CellJob, type CellResult, type CellRunStats, runCell } from './run-cell.js';

/**
 * Where the cells of a sweep run: a pool of worker threads on this machine, this process, or a queue of many machines.
 * The sweep's graph does not care: each cell node asks its executor for the cell's summary row.
 */
export interface CellExecutor {
  /** The cell's summary row (one table); cold: the cell is scheduled on subscribe. */
  run(cell: Cell): Observable<Table<CellResultRow>>;
  /** What ran inside each executed cell (its graph's node statuses), by cell id. */
  readonly stats: ReadonlyMap<string, CellRunStats>;
  /** Stops the executor's workers (idempotent). */
  close(): Promise<void>;
}

/** What every executor needs to build a cell's job. */
export interface ExecutorContext {
  /** Folder of the artifact store the cells write to. */
  readonly store: string;
  readonly backend: string;
  readonly provenance: RunProvenance;
  readonly parentRun?: string;
  /** Compute every cell's joined record. */
  readonly record?: boolean;
  /** Events of the cells' graphs (node names are `<cell id>/<node>`). */
  readonly onEvent?: (event: GraphEvent) => void;
}

/** Where the cells of an executor on this machine keep their artifacts: this host, the store's absolute path. */
function thisProcess(store: string): WorkerOrigin {
  return { host: hostname(), store: resolve(store) };
}

function jobOf(cell: Cell, ctx: ExecutorContext): CellJob {
  return { cell, store: ctx.store, backend: ctx.backend, provenance: ctx.provenance, record: ctx.record === true, ...(ctx.parentRun === undefined ? {} : { parentRun: ctx.parentRun }) };
}

/** The error a cell failed with, as a BitlensError of the same code (a worker thread sends it as data). */
function cellError(cell: string | undefined, message: string, code: string | undefined): BitlensError {
  return new BitlensError((code ?? 'INTERNAL') as ErrorCode, { stage: `pipeline sweep: cell ${cell ?? '(worker start-up)'}` }, message);
}

/** Runs cells one at a time in this process, on the given engine (tests; a machine with one core). */
export function inProcessExecutor(ctx: ExecutorContext & { readonly tf: Tf; readonly registry: QuantizerRegistry; readonly kernels?: CellKernels }): CellExecutor {
  const stats = new Map<string, CellRunStats>();
  const origin = thisProcess(ctx.store);
  let queue: Promise<unknown> = Promise.resolve();
  return {
    stats,
    run: (cell) =>
      new Observable<Table<CellResultRow>>((subscriber) => {
        queue = queue.then(async () => {
          try {
            const result = await runCell(jobOf(cell, ctx), ctx.tf, ctx.registry, ctx.onEvent, ctx.kernels);
            stats.set(cell.id, result.stats);
            subscriber.next(withWorkerOrigin(result.row, origin));
            subscriber.complete();
          } catch (e) {
            subscriber.error(e);
          }
        });
      }),
    close: () => Promise.resolve(),
  };
}

interface Pending {
  readonly job: CellJob;
  readonly onEvent: ((event: GraphEvent) => void) | undefined;
  readonly subscriber: Subscriber<CellResult>;
}

interface Slot {
  readonly worker: Worker;
  current: Pending | undefined;
}

/**
 * Worker threads that run cell jobs, each with its own tfjs engine on `backend`, one job at a time each; jobs wait in
 * order for a free thread. The engine of the local pool and of `bitlens worker`. @internal
 */
export interface CellThreads {
  /** Runs the job on a free thread (cold: queued on subscribe). Unsubscribing before its result stops the thread. */
  run(job: CellJob, onEvent?: (event: GraphEvent) => void): Observable<CellResult>;
  /** Stops every thread (idempotent). */
  close(): Promise<void>;
}

/**
 * Starts (lazily) up to `threads` cell worker threads, each engine with max(1, floor(cores / threads)) threads for one
 * product (so that the threads together take the cores once; results do not depend on it). A thread whose job is
 * abandoned is terminated: its training keeps its partial checkpoints in the store, and the next run of the cell
 * continues from them. @internal
 */
export function cellThreads(threads: number, backend: string): CellThreads {
  if (!Number.isInteger(threads) || threads < 1) throw new BitlensError('INVALID_CONFIG', { stage: 'pipeline sweep', field: 'workers', expected: 'a positive integer', found: String(threads) });
  const engineThreads = threadsPerEngine(threads);
  const waiting: Pending[] = [];
  const slots: Slot[] = [];
  let closed = false;

  const finish = (slot: Slot): void => {
    slot.current = undefined;
    dispatch();
  };
  const onMessage = (slot: Slot, m: FromCellWorker): void => {
    const cur = slot.current;
    if (m.type === 'event') cur?.onEvent?.(m.event);
    else if (m.type === 'row' && cur !== undefined) {
      finish(slot);
      cur.subscriber.next({ row: assertSchema(CellResultSchema, tableFromIPC(m.bytes), { stage: 'pipeline-sweep/local-pool', side: 'output', exact: true }), stats: m.stats });
      cur.subscriber.complete();
    } else if (m.type === 'error') {
      const err = cellError(m.cell ?? cur?.job.cell.id, m.message, m.code);
      if (cur === undefined) return;
      finish(slot);
      cur.subscriber.error(err);
    }
  };
  const spawn = (): Slot => {
    const data: CellWorkerData = { backend, engineThreads };
    const worker = startWorker(new URL('./internal/cell-worker.js', import.meta.url), data);
    const slot: Slot = { worker, current: undefined };
    worker.on('message', (m: FromCellWorker) => onMessage(slot, m));
    const lost = (why: string): void => {
      const i = slots.indexOf(slot);
      if (i >= 0) slots.splice(i, 1);
      const cur = slot.current;
      slot.current = undefined;
      cur?.subscriber.error(cellError(cur.job.cell.id, why, 'INTERNAL'));
      if (!closed) dispatch();
    };
    worker.on('error', (e) => lost(e.message));
    worker.on('exit', (code) => lost(`the worker thread exited (code ${code})`));
    slots.push(slot);
    return slot;
  };
  const dispatch = (): void => {
    while (!closed && waiting.length > 0) {
      const slot = slots.find((s) => s.current === undefined) ?? (slots.length < threads ? spawn() : undefined);
      if (slot === undefined) return;
      const next = waiting.shift();
      if (next === undefined) return;
      slot.current = next;
      const msg: ToCellWorker = { type: 'run', job: next.job };
      slot.worker.postMessage(msg);
    }
  };
  return {
    run: (job, onEvent) =>
      new Observable<CellResult>((subscriber) => {
        if (closed) {
          subscriber.error(cellError(job.cell.id, 'the worker threads were stopped', 'INTERNAL'));
          return;
        }
        const pending: Pending = { job, onEvent, subscriber };
        waiting.push(pending);
        dispatch();
        return () => {
          const i = waiting.indexOf(pending);
          if (i >= 0) waiting.splice(i, 1);
          const slot = slots.find((s) => s.current === pending);
          if (slot !== undefined) void slot.worker.terminate(); // left before its row came: stop the thread
        };
      }),
    close: async () => {
      closed = true;
      await Promise.all(slots.splice(0).map((s) => s.worker.terminate()));
    },
  };
}

/**
 * A pool of `workers` worker threads, each with its own tfjs engine, running one cell at a time each; cells wait in
 * order for a free thread. Cells, not kernels, take the cores: one thread per core (the default) gives each engine
 * one thread for its products, fewer workers give each max(1, floor(cores / workers)) (`threadsPerEngine` of
 * @bitlens/engine), so workers x threads never exceeds the cores. A cell whose subscriber leaves early has its thread stopped (its training keeps its partial checkpoints in the store).
 */
export function localPool(ctx: ExecutorContext & { readonly workers: number }): CellExecutor {
  const threads = cellThreads(ctx.workers, ctx.backend);
  const stats = new Map<string, CellRunStats>();
  const origin = thisProcess(ctx.store);
  return {
    stats,
    run: (cell) =>
      threads.run(jobOf(cell, ctx), ctx.onEvent).pipe(
        map((result) => {
          stats.set(cell.id, result.stats);
          return withWorkerOrigin(result.row, origin);
        }),
      ),
    close: () => threads.close(),
  };
}
