import type { GraphEvent } from '@bitlens/core';
import type { CellJob, CellRunStats } from '../run-cell.js';

/** What the sweep's pool sends a cell worker thread. @internal */
export type ToCellWorker = { readonly type: 'run'; readonly job: CellJob } | { readonly type: 'stop' };

/** What a cell worker thread sends back. @internal */
export type FromCellWorker =
  | { readonly type: 'event'; readonly cell: string; readonly event: GraphEvent }
  | { readonly type: 'row'; readonly cell: string; readonly bytes: Uint8Array; readonly stats: CellRunStats }
  | { readonly type: 'error'; readonly cell: string | undefined; readonly message: string; readonly code?: string; readonly site?: unknown };

/** What a cell worker thread starts with. @internal */
export interface CellWorkerData {
  readonly backend: string;
  /** Threads the thread's engine may use for one product (the pool's threads together take the cores once). */
  readonly engineThreads: number;
}
