import { ArtifactStore, BitlensError, type GraphEvent, type RunProvenance } from '@bitlens/core';
import type { Tf } from '@bitlens/engine';
import type { QuantizerRegistry } from '@bitlens/quantization';
import type { Table } from 'apache-arrow';
import { type CellRow, cellGraph } from './cell.js';
import type { Cell } from './config.js';

/** One cell to run: the cell, the store folder its artifacts go to, and the run it belongs to. */
export interface CellJob {
  readonly cell: Cell;
  /** Folder of the artifact store (workers of one machine, or of a cluster on a shared filesystem, share it). */
  readonly store: string;
  readonly backend: string;
  readonly provenance: RunProvenance;
  /** The sweep's run id (recorded in the cell's own run record). */
  readonly parentRun?: string;
}

/** What running a cell did with the nodes of its graph. */
export interface CellRunStats {
  readonly executed: readonly string[];
  readonly cached: readonly string[];
  readonly resumed: readonly string[];
}

/** A cell's result: its summary row and what ran. */
export interface CellResult {
  readonly row: Table<CellRow>;
  readonly stats: CellRunStats;
}

/**
 * Runs one cell's graph against the store and returns its summary row: every node is cached, so a cell whose nodes are
 * stored reads them back, and an interrupted training continues from its last checkpoint. The cell's run is recorded
 * in the store (`runs/<id>.json`, pipeline `sweep/cell`). The same function runs cells in the local pool's worker
 * threads, in process, and in `bitlens worker` (scale-out): a cell's result never depends on where it ran.
 */
export async function runCell(job: CellJob, tf: Tf, registry: QuantizerRegistry, onEvent: (event: GraphEvent) => void = () => undefined): Promise<CellResult> {
  const store = new ArtifactStore({ root: job.store });
  const log = store.beginRun({ pipeline: 'sweep/cell', config: { cell: job.cell, backend: job.backend, parentRun: job.parentRun ?? null }, ...(job.provenance.configHash === undefined ? {} : { configHash: job.provenance.configHash }) });
  const graph = cellGraph(job.cell, tf, registry);
  const rowNode = `${job.cell.id}/row` as const;
  try {
    const { tables, stats } = await graph.run({ store, log, onEvent, provenance: { ...job.provenance, seed: job.cell.settings.seed, backend: job.backend }, collect: [rowNode] });
    log.finish('ok');
    const row = tables[rowNode]?.[0];
    if (row === undefined || row.numRows !== 1) throw new BitlensError('INTERNAL', { stage: 'pipeline-sweep/run-cell', field: rowNode, expected: 'one summary row', found: String(row?.numRows ?? 0) });
    return { row, stats: { executed: [...stats.executed], cached: [...stats.cached], resumed: [...stats.resumed] } };
  } catch (e) {
    log.finish('failed', e);
    throw e;
  }
}
