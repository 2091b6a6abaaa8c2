import { ArtifactStore, BitlensError, type GraphEvent, type RunOptions, type RunProvenance, assertSchema } from '@bitlens/core';
import type { Tf } from '@bitlens/engine';
import { measurePackedSpeed, packedParity, parityTable, TOLERANCE_BASIS } from '@bitlens/inference';
import { WeightsSchema } from '@bitlens/model';
import type { QuantizerRegistry } from '@bitlens/quantization';
import type { Table } from 'apache-arrow';
import { type CellResultRow, CellResultSchema, cellGraph, recordGraph } from './cell.js';
import { FULL_PRECISION, type Cell } from './config.js';
import { type CellKernels, type RecordTables, emptyRecord, recordTable } from './record.js';

/** One cell to run: the cell, the store folder its artifacts go to, and the run it belongs to. */
export interface CellJob {
  readonly cell: Cell;
  /** Folder of the artifact store (workers of one machine, or of a cluster on a shared filesystem, share it). */
  readonly store: string;
  readonly backend: string;
  readonly provenance: RunProvenance;
  /** The sweep's run id (recorded in the cell's own run record). */
  readonly parentRun?: string;
  /** Compute the cell's joined record (outliers, W8A8, packed inference). */
  readonly record?: boolean;
}

/** What running a cell did with the nodes of its graph. */
export interface CellRunStats {
  readonly executed: readonly string[];
  readonly cached: readonly string[];
  readonly resumed: readonly string[];
}

/** A cell's result: its summary row (with its joined record) and what ran. */
export interface CellResult {
  readonly row: Table<CellResultRow>;
  readonly stats: CellRunStats;
}

/**
 * Runs one cell's graph against the store and returns its summary row: every node is cached, so a cell whose nodes are
 * stored reads them back, and an interrupted training continues from its last checkpoint. The cell's run is recorded
 * in the store (`runs/<id>.json`, pipeline `sweep/cell`). The same function runs cells in the local pool's worker
 * threads, in process, and in `bitlens worker` (scale-out): a cell's result never depends on where it ran.
 */
export async function runCell(job: CellJob, tf: Tf, registry: QuantizerRegistry, onEvent: (event: GraphEvent) => void = () => undefined, kernels?: CellKernels): Promise<CellResult> {
  const store = new ArtifactStore({ root: job.store });
  const log = store.beginRun({ pipeline: 'sweep/cell', config: { cell: job.cell, backend: job.backend, record: job.record === true, parentRun: job.parentRun ?? null }, ...(job.provenance.configHash === undefined ? {} : { configHash: job.provenance.configHash }) });
  const options: RunOptions = { store, log, onEvent, provenance: { ...job.provenance, seed: job.cell.settings.seed, backend: job.backend } };
  try {
    const { row, record, stats } = job.record === true ? await withRecord(job.cell, tf, registry, options, kernels) : await withoutRecord(job.cell, tf, registry, options);
    log.finish('ok');
    if (row === undefined || row.numRows !== 1) throw new BitlensError('INTERNAL', { stage: 'pipeline-sweep/run-cell', field: `${job.cell.id}/row`, expected: 'one summary row', found: String(row?.numRows ?? 0) });
    const full = assertSchema(CellResultSchema, row.assign(record), { stage: 'pipeline-sweep/run-cell', side: 'output', exact: true });
    return { row: full, stats: { executed: [...stats.executed], cached: [...stats.cached], resumed: [...stats.resumed] } };
  } catch (e) {
    log.finish('failed', e);
    throw e;
  }
}

async function withoutRecord(cell: Cell, tf: Tf, registry: QuantizerRegistry, options: RunOptions) {
  const rowNode = `${cell.id}/row` as const;
  const { tables, stats } = await cellGraph(cell, tf, registry).run({ ...options, collect: [rowNode] });
  return { row: tables[rowNode]?.[0], record: emptyRecord(), stats };
}

/**
 * The cell's graph with its record's analyses, then the measurements on the kernels of a ternary or binary model:
 * packed parity with the tfjs forward (deterministic) and speed (a measurement on this machine, now). Both run here,
 * once per execution of the cell, and travel in its stored row.
 */
async function withRecord(cell: Cell, tf: Tf, registry: QuantizerRegistry, options: RunOptions, kernels: CellKernels | undefined) {
  const id = cell.id;
  const nodes = { row: `${id}/row`, final: `${id}/final`, mechanism: `${id}/mechanism`, outliers: `${id}/record/outliers`, report: `${id}/record/w8a8-report`, w8a8: `${id}/record/w8a8/mechanism` } as const;
  const { tables, stats } = await recordGraph(cell, tf, registry).run({ ...options, collect: Object.values(nodes) });
  const one = (n: string): Table | undefined => tables[n as keyof typeof tables]?.[0];
  const t: RecordTables = { outliers: one(nodes.outliers), w8a8Report: one(nodes.report), mechanism: one(nodes.mechanism), w8a8Mechanism: one(nodes.w8a8), ...(await packedMeasurements(cell, tf, one(nodes.final), kernels)) };
  return { row: one(nodes.row), record: recordTable(t), stats };
}

async function packedMeasurements(cell: Cell, tf: Tf, final: Table | undefined, kernels: CellKernels | undefined): Promise<Pick<RecordTables, 'packed' | 'speed'>> {
  if (cell.settings.quantizer === FULL_PRECISION || final === undefined) return {};
  if (kernels === undefined) throw new BitlensError('BACKEND_UNAVAILABLE', { stage: 'pipeline-sweep/run-cell', field: 'kernels', expected: 'a kernel registry with the packed backend (the sweep passes one)', found: 'none' });
  const weights = assertSchema(WeightsSchema, final, { stage: 'pipeline-sweep/run-cell', side: 'input', exact: false });
  const o = { tf, registry: kernels.registry, backend: kernels.backend, denseBackend: kernels.denseBackend, task: cell.settings.task, label: cell.id };
  const parity = await packedParity(weights, o);
  const speed = await measurePackedSpeed(weights, { ...o, rounds: kernels.rounds ?? 5 });
  return { packed: parityTable([parity], TOLERANCE_BASIS), speed };
}
