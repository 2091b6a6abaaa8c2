import { DEFAULT_ANALYSIS, mechanismNumbers, sameAlgorithmVerdict } from '@bitlens/circuits';
import { assertSchema, field, float64OrNull, nullable, numbers, strings, utf8OrNull } from '@bitlens/core';
import type { BackendName, KernelRegistry } from '@bitlens/kernels';
import { Float64, Schema, Table, Utf8, type Vector, makeVector } from 'apache-arrow';

/**
 * The joined record of a trained model (a sweep cell with `record: true`): outliers of its activations (Bondarenko et
 * al.), what W8A8 post-training quantization does to its accuracy and circuits, and — for a ternary or binary model —
 * its packed inference on the kernels: parity with the tfjs forward, and speed. Every column is null where it was not
 * computed (record off; packed columns of an fp32 model). The speed columns are measurements taken when the cell ran
 * (on that machine, under its load); everything else is deterministic.
 */
export type CellRecord = {
  max_inf_norm: Float64;
  max_inf_norm_hook: Utf8;
  mean_kurtosis: Float64;
  max_kurtosis: Float64;
  w8a8_accuracy_before: Float64;
  w8a8_accuracy_after: Float64;
  w8a8_test_accuracy_after: Float64;
  w8a8_agreement: Float64;
  w8a8_min_output_sqnr_db: Float64;
  w8a8_restricted_loss_before: Float64;
  w8a8_restricted_loss_after: Float64;
  w8a8_key_jaccard: Float64;
  w8a8_verdict: Utf8;
  packed_int8_max_abs_delta: Float64;
  packed_int8_tolerance: Float64;
  packed_int8_accuracy: Float64;
  packed_int8_argmax_agreement: Float64;
  packed_weight_bytes: Float64;
  fp32_weight_bytes: Float64;
  packed_int8_ms: Float64;
  tfjs_fp32_ms: Float64;
  speedup_int8: Float64;
  packed_int8_gmacs: Float64;
  tfjs_fp32_gmacs: Float64;
};

const FLOATS = [
  'max_inf_norm', 'mean_kurtosis', 'max_kurtosis', 'w8a8_accuracy_before', 'w8a8_accuracy_after', 'w8a8_test_accuracy_after', 'w8a8_agreement', 'w8a8_min_output_sqnr_db',
  'w8a8_restricted_loss_before', 'w8a8_restricted_loss_after', 'w8a8_key_jaccard', 'packed_int8_max_abs_delta', 'packed_int8_tolerance', 'packed_int8_accuracy', 'packed_int8_argmax_agreement',
  'packed_weight_bytes', 'fp32_weight_bytes', 'packed_int8_ms', 'tfjs_fp32_ms', 'speedup_int8', 'packed_int8_gmacs', 'tfjs_fp32_gmacs',
] as const;
const STRINGS = ['max_inf_norm_hook', 'w8a8_verdict'] as const;

/** Schema of {@link CellRecord} (all nullable), in column order. */
export const CellRecordSchema = new Schema<CellRecord>(
  ['max_inf_norm', 'max_inf_norm_hook', 'mean_kurtosis', 'max_kurtosis', ...FLOATS.slice(3, 11), 'w8a8_verdict', ...FLOATS.slice(11)].map((n) => nullable(field(n, (STRINGS as readonly string[]).includes(n) ? new Utf8() : new Float64()))),
);

/** Which kernels run a cell's packed inference: a registry holding the packed and the dense backends (the pipeline builds it). */
export interface CellKernels {
  readonly registry: KernelRegistry;
  /** Backend of the packed ops (e.g. `wasm-packed`). */
  readonly backend: BackendName;
  /** Backend of the dense MatMuls (e.g. `tfjs-wasm`). */
  readonly denseBackend: BackendName;
  /** Timed rounds of the speed measurement (default 5). */
  readonly rounds?: number;
}

/** What the record is built from: the tables of the cell's record nodes (absent ones give nulls). */
export interface RecordTables {
  readonly outliers?: Table;
  readonly w8a8Report?: Table;
  readonly mechanism?: Table;
  readonly w8a8Mechanism?: Table;
  readonly packed?: Table;
  readonly speed?: Table;
}

const get = (t: Table | undefined, col: string): number | null => {
  const v = t === undefined ? undefined : numbers(t, col)[0];
  return v === undefined || !Number.isFinite(v) ? null : v;
};

/** The one-row record table from the record nodes' tables (see {@link CellRecord}). */
export function recordTable(t: RecordTables): Table<CellRecord> {
  const verdict = t.mechanism !== undefined && t.w8a8Mechanism !== undefined ? sameAlgorithmVerdict(mechanismNumbers(t.mechanism, 0), mechanismNumbers(t.w8a8Mechanism, 0), DEFAULT_ANALYSIS.verdict).verdict : null;
  const value: Record<(typeof FLOATS)[number], number | null> = {
    max_inf_norm: get(t.outliers, 'max_inf_norm'),
    mean_kurtosis: get(t.outliers, 'mean_kurtosis'),
    max_kurtosis: get(t.outliers, 'max_kurtosis'),
    w8a8_accuracy_before: get(t.w8a8Report, 'accuracy_before'),
    w8a8_accuracy_after: get(t.w8a8Report, 'accuracy_after'),
    w8a8_test_accuracy_after: get(t.w8a8Report, 'test_accuracy_after'),
    w8a8_agreement: get(t.w8a8Report, 'prediction_agreement'),
    w8a8_min_output_sqnr_db: get(t.w8a8Report, 'min_output_sqnr_db'),
    w8a8_restricted_loss_before: get(t.w8a8Report, 'restricted_loss_before'),
    w8a8_restricted_loss_after: get(t.w8a8Report, 'restricted_loss_after'),
    w8a8_key_jaccard: get(t.w8a8Report, 'embed_key_jaccard'),
    packed_int8_max_abs_delta: get(t.packed, 'int8_max_abs_delta'),
    packed_int8_tolerance: get(t.packed, 'int8_tolerance'),
    packed_int8_accuracy: get(t.packed, 'int8_accuracy'),
    packed_int8_argmax_agreement: get(t.packed, 'int8_argmax_agreement'),
    packed_weight_bytes: get(t.packed, 'packed_weight_bytes'),
    fp32_weight_bytes: get(t.packed, 'fp32_weight_bytes'),
    packed_int8_ms: get(t.speed, 'packed_int8_ms'),
    tfjs_fp32_ms: get(t.speed, 'tfjs_fp32_ms'),
    speedup_int8: get(t.speed, 'speedup_int8'),
    packed_int8_gmacs: get(t.speed, 'packed_int8_gmacs'),
    tfjs_fp32_gmacs: get(t.speed, 'tfjs_fp32_gmacs'),
  };
  const hook = t.outliers === undefined ? null : (strings(t.outliers, 'max_inf_norm_hook')[0] ?? null);
  const text: Record<(typeof STRINGS)[number], string | null> = { max_inf_norm_hook: hook, w8a8_verdict: verdict };
  const column = (name: string): Vector => {
    if ((STRINGS as readonly string[]).includes(name)) return makeVector(utf8OrNull([text[name as (typeof STRINGS)[number]]]));
    return makeVector(float64OrNull([value[name as (typeof FLOATS)[number]]]));
  };
  const cols = Object.fromEntries(CellRecordSchema.fields.map((f) => [f.name, column(f.name)]));
  return assertSchema(CellRecordSchema, new Table(cols), { stage: 'pipeline-sweep/record', side: 'output', exact: true });
}

/** The record of a cell that computed none (record off): every column null. */
export function emptyRecord(): Table<CellRecord> {
  return recordTable({});
}
