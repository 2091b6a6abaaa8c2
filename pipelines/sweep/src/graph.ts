import { DEFAULT_ANALYSIS, type MechanismNumbers, jaccard, sameAlgorithmVerdict } from '@bitlens/circuits';
import { BitlensError, type JoinStage, PipelineGraph, type SourceStage, defineJoin, defineSource, defineSubgraph, field, float64OrNull, int32, listRow, nullable, numbers, utf8, utf8OrNull, withMetadata } from '@bitlens/core';
import { Float64, Int32, Schema, Table, type TypeMap, Utf8, makeVector } from 'apache-arrow';
import { forkJoin, map, toArray } from 'rxjs';
import { type CellResultRow, CellResultSchema } from './cell.js';
import type { Cell, ResolvedSweep } from './config.js';
import type { CellExecutor } from './executor.js';

/**
 * The merged table of a sweep: every cell's id and row, its same-algorithm verdict against its fp32 sibling, and where
 * its artifacts are (the host and store folder of the worker that computed it).
 */
export type SweepTable = { cell: Utf8; index: Int32 } & CellResultRow & { reference: Utf8; verdict: Utf8; verdict_reason: Utf8; key_jaccard: Float64; worker_host: Utf8; worker_store: Utf8 };

/**
 * Schema of {@link SweepTable} (`reference`, `verdict`, `verdict_reason`, `key_jaccard`: null for cells without an fp32
 * sibling; `worker_host`, `worker_store`: null for a row stored by a version of bitlens that did not record them).
 */
export const SweepTableSchema = new Schema<SweepTable>([
  field('cell', new Utf8()),
  field('index', new Int32()),
  ...CellResultSchema.fields,
  nullable(field('reference', new Utf8())),
  nullable(field('verdict', new Utf8())),
  nullable(field('verdict_reason', new Utf8())),
  nullable(field('key_jaccard', new Float64())),
  nullable(field('worker_host', new Utf8())),
  nullable(field('worker_store', new Utf8())),
]);

/** Where a cell's artifacts are: the host name and the absolute store folder of the worker that computed the cell. */
export interface WorkerOrigin {
  readonly host: string;
  readonly store: string;
}

/**
 * Schema-metadata keys of a cell row that name its worker. Provenance, not data: they do not enter the row's cache key,
 * so the same cell computed on another machine is the same artifact; the merge turns them into columns.
 */
const ORIGIN_KEYS = { host: 'bitlens.worker_host', store: 'bitlens.worker_store' } as const;

/** The cell row with its worker recorded in its schema metadata (what every executor does with the rows it returns). */
export function withWorkerOrigin(row: Table<CellResultRow>, origin: WorkerOrigin): Table<CellResultRow> {
  return withMetadata(row, new Map([[ORIGIN_KEYS.host, origin.host], [ORIGIN_KEYS.store, origin.store]]));
}

/** The worker recorded in a cell row's schema metadata, or undefined when it carries none. */
export function workerOriginOf(row: Table): WorkerOrigin | undefined {
  const host = row.schema.metadata.get(ORIGIN_KEYS.host);
  const store = row.schema.metadata.get(ORIGIN_KEYS.store);
  return host === undefined || store === undefined ? undefined : { host, store };
}

/**
 * A cell as one node of the sweep's graph: a source whose output is the cell's summary row, computed by the executor
 * (a worker thread of the local pool, this process, or a queue). Its options are the cell's settings and the backend,
 * so a cell already in the store is read back without asking any executor.
 */
export function cellSource(cell: Cell, backend: string, record: boolean, executor: CellExecutor): SourceStage<CellResultRow> {
  return defineSource({
    name: 'pipeline-sweep/cell',
    version: '1',
    options: { settings: { ...cell.settings }, backend, record },
    output: CellResultSchema,
    create: () => executor.run(cell),
  });
}

/**
 * The cache key of a cell's node in the sweep graph (its settings, the backend and the code fingerprint): the id of
 * its job on a queue, so a cell submitted twice is one job.
 */
export function cellKey(cell: Cell, backend: string, record = false): string {
  const none: CellExecutor = { run: () => failMissing('pipeline-sweep/cell', cell.id), stats: new Map(), close: () => Promise.resolve() };
  return PipelineGraph.create().source('cell', cellSource(cell, backend, record, none)).keys().cell;
}

/** The mechanism numbers of a cell row, for the verdict. */
function numbersOfRow(t: Table, i: number, model: string): MechanismNumbers {
  const n = (c: string): number => numbers(t, c)[i] ?? Number.NaN;
  return {
    model,
    p: n('p'),
    embedKeys: listRow(t, 'embed_keys', i),
    varianceExplainedByKeys: n('variance_explained_by_keys'),
    accuracy: n('accuracy'),
    fullLoss: n('full_loss'),
    restrictedLoss: n('restricted_loss'),
    excludedLoss: n('excluded_loss'),
    gradientSymmetricity: n('gradient_symmetricity'),
    distanceIrrelevance: n('distance_irrelevance'),
    ffs: n('ffs'),
    fcr: n('fcr'),
  };
}

/**
 * Merges the cells' rows into one table in cell order, and judges each cell that has an fp32 sibling (the same
 * settings, quantizer fp32) against it with the same-algorithm rule of @bitlens/circuits, and records where each
 * cell's artifacts are (`worker_host`, `worker_store`, from the rows' schema metadata). A reduction: it waits for every
 * cell.
 */
export function mergeCells(cells: readonly Cell[]): JoinStage<Record<string, CellResultRow>, SweepTable> {
  const name = 'pipeline-sweep/merge';
  const ids = cells.map((c) => c.id);
  const inputs: Record<string, Schema<CellResultRow>> = Object.fromEntries(ids.map((id) => [id, CellResultSchema]));
  return defineJoin({
    name,
    version: '2',
    options: { cells: cells.map((c) => ({ id: c.id, sibling: c.sibling ?? null })), rule: { ...DEFAULT_ANALYSIS.verdict } },
    inputs,
    output: SweepTableSchema,
    apply: (ins) =>
      forkJoin(Object.fromEntries(ids.map((id) => [id, (ins[id] ?? failMissing(name, id)).pipe(toArray())]))).pipe(
        map((byId) => {
          const rows = ids.map((id) => {
            const t = byId[id]?.[0];
            if (t === undefined || t.numRows !== 1) throw new BitlensError('INTERNAL', { stage: name, field: id, expected: 'one row', found: String(t?.numRows ?? 0) });
            return t;
          });
          const verdicts = cells.map((c) => {
            const sib = c.sibling === undefined ? -1 : ids.indexOf(c.sibling);
            const own = rows[c.index];
            const ref = rows[sib];
            if (own === undefined || ref === undefined || c.sibling === undefined) return undefined;
            const a = numbersOfRow(own, 0, c.id);
            const b = numbersOfRow(ref, 0, c.sibling);
            return { reference: c.sibling, v: sameAlgorithmVerdict(a, b, DEFAULT_ANALYSIS.verdict), jaccard: jaccard(a.embedKeys, b.embedKeys) };
          });
          const [first, ...rest] = rows;
          if (first === undefined) throw new BitlensError('INVALID_CONFIG', { stage: name, field: 'cells', expected: 'at least one cell', found: 'none' });
          const ids0 = new Table({ cell: makeVector(utf8(ids)), index: makeVector(int32(cells.map((c) => c.index))) });
          const merged = ids0.assign(first.concat(...rest));
          const origins = rows.map(workerOriginOf);
          const extra = new Table({
            reference: makeVector(utf8OrNull(verdicts.map((v) => v?.reference ?? null))),
            verdict: makeVector(utf8OrNull(verdicts.map((v) => v?.v.verdict ?? null))),
            verdict_reason: makeVector(utf8OrNull(verdicts.map((v) => v?.v.reason ?? null))),
            key_jaccard: makeVector(float64OrNull(verdicts.map((v) => v?.jaccard ?? null))),
            worker_host: makeVector(utf8OrNull(origins.map((o) => o?.host ?? null))),
            worker_store: makeVector(utf8OrNull(origins.map((o) => o?.store ?? null))),
          });
          return withSchema(merged.assign(extra));
        }),
      ),
  });
}

function failMissing(stage: string, id: string): never {
  throw new BitlensError('INTERNAL', { stage, field: id, expected: 'an input stream', found: 'none' });
}

/** The merged table typed as the sweep table (its columns are checked against SweepTableSchema at the stage boundary). */
function withSchema<T extends TypeMap>(t: Table<T>): Table<SweepTable>;
function withSchema(t: unknown): unknown {
  return t;
}

/**
 * The sweep's DAG: one node per cell (`<cell id>/cell`, its summary row, computed by the executor) and `table`, the
 * merged table of all of them with the verdicts. Each cell's own graph (dataset → train → analyses → row) runs where
 * the executor runs it, against the same store.
 */
export function sweepGraph(r: ResolvedSweep, executor: CellExecutor) {
  const one = (cell: Cell) => defineSubgraph((g) => g.source('cell', cellSource(cell, r.backend, r.record, executor)));
  return PipelineGraph.create()
    .each(r.cells, (cell) => ({ prefix: cell.id, subgraph: one(cell), inputs: {} }))
    .join('table', mergeCells(r.cells), Object.fromEntries(r.cells.map((c) => [c.id, `${c.id}/cell` as const])));
}
