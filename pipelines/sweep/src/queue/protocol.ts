import { BitlensError, type ErrorCode, type GraphEvent, type RunProvenance, assertSchema } from '@bitlens/core';
import { type Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { z } from 'zod';
import { type CellResultRow, CellResultSchema } from '../cell.js';
import { type Cell, type CellSettings, type SettingName, SweepConfig, resolveSweep } from '../config.js';
import type { WorkerOrigin } from '../graph.js';
import type { CellRunStats } from '../run-cell.js';

// What travels through the queue: a job's data (the cell and the run it belongs to), its progress reports and its
// return value (the cell's summary row as Arrow IPC bytes, base64 in JSON, and where the cell's artifacts are). Both
// sides check what they read: the queue is shared, and a job may come from another version of bitlens.

/** Prefix of every Redis key bitlens's queues use (BullMQ's default is `bull`). */
export const QUEUE_PREFIX = 'bitlens';

/** The queue of the cells of one tfjs backend: a worker serves the backend it runs, and a cell's key includes it. */
export function queueName(backend: string): string {
  return `cells-${backend}`;
}

/** A worker process: its host, its store (absolute), its pid; `id` is `host:pid`. */
export interface WorkerIdentity extends WorkerOrigin {
  readonly pid: number;
  readonly id: string;
}

/** A cell job's data. */
export interface CellJobData {
  readonly format: typeof JOB_FORMAT;
  /** The cell node's cache key in the submitter's sweep graph (also the job id). */
  readonly key: string;
  readonly cell: Cell;
  readonly backend: string;
  readonly provenance: RunProvenance;
  readonly parentRun?: string;
  /** Whether the cell computes its joined record (part of the cell node's key). */
  readonly record: boolean;
  /** Who submitted it (shown by workers). */
  readonly submitter: WorkerOrigin;
}

/** A finished cell job's return value. */
export interface CellJobResult {
  readonly format: typeof RESULT_FORMAT;
  /** The cell's summary row: Arrow IPC stream bytes, base64. */
  readonly row: string;
  readonly stats: CellRunStats;
  readonly worker: WorkerIdentity;
  /** Milliseconds the cell's own graph took on the worker (the rest of the job's time is the queue's). */
  readonly cellMs: number;
}

/** A progress report of a running cell job: who runs it, and (when any) one event of the cell's graph. */
export interface CellJobProgress {
  readonly worker: WorkerIdentity;
  readonly event?: GraphEvent;
}

const JOB_FORMAT = 'bitlens-cell-job/1';
const RESULT_FORMAT = 'bitlens-cell-result/1';
const KEY = z.string().regex(/^[0-9a-f]{64}$/, 'a 64-digit hex cache key');

const origin = z.strictObject({ host: z.string().min(1), store: z.string().min(1) });
const identity = origin.extend({ pid: z.number().int().positive(), id: z.string().min(1) });
const stats = z.strictObject({ executed: z.array(z.string()), cached: z.array(z.string()), resumed: z.array(z.string()) });
const axisValue = z.union([z.string(), z.number()]);

// Settings are only checked for shape here: the worker validates their values with the sweep's own config checks.
const jobSchema = z.strictObject({
  format: z.literal(JOB_FORMAT),
  key: KEY,
  cell: z.strictObject({
    id: z.string().min(1),
    index: z.number().int().min(0),
    settings: z.record(z.string(), axisValue),
    axes: z.record(z.string(), axisValue),
    sibling: z.string().optional(),
  }),
  backend: z.string().min(1),
  provenance: z.strictObject({ configHash: z.string().optional(), seed: axisValue.optional(), backend: z.string().optional(), packageVersion: z.string().optional(), gitRevision: z.string().optional() }),
  parentRun: z.string().optional(),
  record: z.boolean(),
  submitter: origin,
});

const resultSchema = z.strictObject({ format: z.literal(RESULT_FORMAT), row: z.string().min(1), stats, worker: identity, cellMs: z.number().min(0) });
const node = { node: z.string(), stage: z.string() };
const eventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('stage-start'), ...node, key: z.string() }),
  z.object({ type: z.literal('stage-cached'), ...node, key: z.string() }),
  z.object({ type: z.literal('stage-resumed'), ...node, key: z.string(), kept: z.number() }),
  z.object({ type: z.literal('stage-progress'), ...node, progress: z.object({ done: z.number(), total: z.number(), label: z.string().optional() }) }),
  z.object({ type: z.literal('stage-done'), ...node, key: z.string(), tables: z.number(), rows: z.number(), executed: z.boolean() }),
  z.object({ type: z.literal('artifact-corrupt'), node: z.string(), key: z.string(), reason: z.string() }),
]);
const progressSchema = z.object({ worker: identity, event: eventSchema.optional() });

function invalid(stage: string, field: string, expected: string, e: z.ZodError): BitlensError {
  const issue = e.issues[0];
  return new BitlensError('INVALID_DATA', { stage, field: issue === undefined ? field : [field, ...issue.path.map(String)].join('.'), expected, found: issue?.message ?? 'something else' });
}

/** The data of a cell's job. */
export function cellJobData(key: string, cell: Cell, backend: string, provenance: RunProvenance, parentRun: string | undefined, submitter: WorkerOrigin, record = false): CellJobData {
  return { format: JOB_FORMAT, key, cell, backend, provenance, ...(parentRun === undefined ? {} : { parentRun }), record, submitter };
}

/**
 * Checks a job's data as a worker gets it: its shape (INVALID_DATA naming the field when it is not a bitlens cell job),
 * then the cell's settings with the sweep's own config checks (INVALID_CONFIG naming the setting: a prime p, a split
 * with train and test pairs, a known task and quantizer, ...). Every setting must be given: a worker of another
 * version must not fill a missing one in with its own default, which would silently be another cell.
 */
export function parseCellJobData(data: unknown): CellJobData {
  const stage = 'pipeline-sweep/queue-worker';
  const r = jobSchema.safeParse(data);
  if (!r.success) throw invalid(stage, 'job.data', `a ${JOB_FORMAT} job`, r.error);
  const raw = r.data;
  const checked = SweepConfig.safeParse({ fixed: raw.cell.settings, maxCells: 1 });
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new BitlensError('INVALID_CONFIG', { stage, field: `cell ${raw.cell.id}: settings.${issue?.path.slice(1).join('.') ?? '?'}` }, issue?.message ?? 'invalid settings');
  }
  const settings = resolveSweep(checked.data).cells[0]?.settings;
  if (settings === undefined) throw new BitlensError('INTERNAL', { stage, field: 'cell.settings', expected: 'one resolved cell', found: 'none' });
  const missing = Object.keys(settings).filter((k) => !(k in raw.cell.settings));
  if (missing.length > 0) throw new BitlensError('INVALID_DATA', { stage, field: `cell ${raw.cell.id}: settings`, expected: 'every setting of a cell', found: `no ${missing.join(', ')}` });
  const axes: Partial<Record<SettingName, string | number>> = {};
  for (const [k, v] of Object.entries(raw.cell.axes)) {
    if (!isSetting(k, settings)) throw new BitlensError('INVALID_DATA', { stage, field: `cell ${raw.cell.id}: axes`, expected: 'setting names', found: JSON.stringify(k) });
    axes[k] = v;
  }
  const cell: Cell = { id: raw.cell.id, index: raw.cell.index, settings, axes, ...(raw.cell.sibling === undefined ? {} : { sibling: raw.cell.sibling }) };
  return { format: raw.format, key: raw.key, cell, backend: raw.backend, provenance: raw.provenance, ...(raw.parentRun === undefined ? {} : { parentRun: raw.parentRun }), record: raw.record, submitter: raw.submitter };
}

function isSetting(k: string, settings: CellSettings): k is SettingName {
  return Object.hasOwn(settings, k);
}

/** A finished job's return value: the cell row as IPC bytes, what ran and where. */
export function cellJobResult(row: Table<CellResultRow>, runStats: CellRunStats, worker: WorkerIdentity, cellMs: number): CellJobResult {
  return { format: RESULT_FORMAT, row: Buffer.from(tableToIPC(row, 'stream')).toString('base64'), stats: runStats, worker, cellMs };
}

/** Checks a job's return value as the submitter gets it and decodes its row (checked against the cell row's schema). */
export function parseCellJobResult(value: unknown, cell: string): { readonly result: CellJobResult; readonly row: Table<CellResultRow> } {
  const stage = `pipeline-sweep/queue: cell ${cell}`;
  const parsed = resultSchema.safeParse(typeof value === 'string' ? safeJson(value) : value);
  if (!parsed.success) throw invalid(stage, 'returnvalue', `a ${RESULT_FORMAT} result`, parsed.error);
  const result: CellJobResult = parsed.data;
  let table: Table;
  try {
    table = tableFromIPC(Buffer.from(result.row, 'base64'));
  } catch (e) {
    throw new BitlensError('INVALID_DATA', { stage, field: 'returnvalue.row', expected: 'Arrow IPC bytes (base64)', found: e instanceof Error ? e.message : String(e) });
  }
  return { result, row: assertSchema(CellResultSchema, table, { stage, side: 'output', exact: true }) };
}

/** A progress report as the submitter gets it, or undefined when it is not one of ours. */
export function parseCellJobProgress(value: unknown): CellJobProgress | undefined {
  const r = progressSchema.safeParse(typeof value === 'string' ? safeJson(value) : value);
  if (!r.success) return undefined;
  const { worker, event } = r.data;
  return event === undefined ? { worker } : { worker, event };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Error codes of deterministic failures: the same job fails the same way on every worker (bad settings, a schema or
 * shape that does not fit), so it is failed at once instead of retried. Every other failure (a crashed thread, an
 * unusable store or backend on that worker, a corrupt artifact) may pass elsewhere or later and is retried.
 */
const DETERMINISTIC: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['INVALID_CONFIG', 'INVALID_OPTION', 'INVALID_DATA', 'SCHEMA_MISMATCH', 'SHAPE_MISMATCH', 'GRAPH_INVALID']);

/** Whether a failure with this code is the same wherever and whenever the cell runs (not worth retrying). */
export function isDeterministicFailure(code: string): boolean {
  return DETERMINISTIC.has(code as ErrorCode);
}

const CODE_RE = /^\[([A-Z_]+)\]/;

/** The error code a failure message starts with (`[CODE] …`, how every BitlensError message starts), else INTERNAL. */
export function codeOfMessage(message: string): ErrorCode {
  const code = CODE_RE.exec(message)?.[1];
  const known: readonly string[] = [...DETERMINISTIC, 'KERNEL_NOT_FOUND', 'BACKEND_UNAVAILABLE', 'ARTIFACT_CORRUPT', 'NOT_FOUND', 'STORE_UNAVAILABLE', 'QUEUE_UNAVAILABLE'];
  return code !== undefined && known.includes(code) ? (code as ErrorCode) : 'INTERNAL';
}
