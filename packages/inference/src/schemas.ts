import { bool, field, float64, int32, numbers, strings, booleans, tableOf, utf8 } from '@bitlens/core';
import { Bool, Float64, Int32, Schema, Utf8 } from 'apache-arrow';
import type { Data, Table } from 'apache-arrow';
import type { ModeParity, PackedParity } from './parity.js';

/** Columns of a packed-parity table: one row per model (see {@link PackedParitySchema}). */
export type PackedParityColumns = {
  model: Utf8; quantizer: Utf8; precision: Utf8; p: Int32; batch: Int32; backend: Utf8; dense_backend: Utf8;
  packed_layers: Int32; packed_weight_bytes: Int32; fp32_weight_bytes: Int32; formula_mismatches: Int32;
  forward_macs: Float64; max_abs_logit: Float64; accuracy_fp: Float64;
  fp32act_max_abs_delta: Float64; fp32act_tolerance: Float64; fp32act_within: Bool; fp32act_accuracy: Float64; fp32act_argmax_agreement: Float64;
  int8_max_abs_delta: Float64; int8_tolerance: Float64; int8_within: Bool; int8_accuracy: Float64; int8_argmax_agreement: Float64;
  tolerance_basis: Utf8;
};

/**
 * Packed-inference parity, one row per model, deterministic (no timings): `model` (label), `quantizer`, `precision`
 * (`ternary` | `binary`), `p`, `batch` (p^2 inputs), `backend` (packed ops) and `dense_backend`; the packed model:
 * `packed_layers`, `packed_weight_bytes` (I2_S) vs `fp32_weight_bytes` of the same layers, `formula_mismatches`
 * (codes that differ from the @bitlens/kernels formula on the latent weights); `forward_macs` (linear-layer MACs of
 * one forward, counted directly), `max_abs_logit` and `accuracy_fp` of the tfjs forward; per activation mode
 * (`fp32act_*`, `int8_*`): max |Δlogit| against the tfjs forward, its tolerance (absolute) and whether it holds,
 * accuracy, argmax agreement with the tfjs forward; `tolerance_basis`: why those tolerances.
 */
export const PackedParitySchema = new Schema<PackedParityColumns>([
  field('model', new Utf8()), field('quantizer', new Utf8()), field('precision', new Utf8()), field('p', new Int32()), field('batch', new Int32()),
  field('backend', new Utf8()), field('dense_backend', new Utf8()),
  field('packed_layers', new Int32()), field('packed_weight_bytes', new Int32()), field('fp32_weight_bytes', new Int32()), field('formula_mismatches', new Int32()),
  field('forward_macs', new Float64()), field('max_abs_logit', new Float64()), field('accuracy_fp', new Float64()),
  field('fp32act_max_abs_delta', new Float64()), field('fp32act_tolerance', new Float64()), field('fp32act_within', new Bool()),
  field('fp32act_accuracy', new Float64()), field('fp32act_argmax_agreement', new Float64()),
  field('int8_max_abs_delta', new Float64()), field('int8_tolerance', new Float64()), field('int8_within', new Bool()),
  field('int8_accuracy', new Float64()), field('int8_argmax_agreement', new Float64()),
  field('tolerance_basis', new Utf8()),
]);

function modeColumns(rows: readonly ModeParity[]): Data[] {
  return [
    float64(rows.map((r) => r.maxAbsDelta)), float64(rows.map((r) => r.tolerance)), bool(rows.map((r) => r.within)),
    float64(rows.map((r) => r.accuracy)), float64(rows.map((r) => r.argmaxAgreement)),
  ];
}

/** A {@link PackedParitySchema} table from parity results (one row each), with `metadata` in its schema. */
export function parityTable(rows: readonly PackedParity[], basis: string, metadata: ReadonlyMap<string, string> = new Map()): Table<PackedParityColumns> {
  const col = <K extends keyof PackedParity>(k: K): PackedParity[K][] => rows.map((r) => r[k]);
  return tableOf(PackedParitySchema, [
    utf8(col('model')), utf8(col('quantizer')), utf8(col('precision')), int32(col('p')), int32(col('batch')), utf8(col('backend')), utf8(col('denseBackend')),
    int32(col('packedLayers')), int32(col('packedWeightBytes')), int32(col('fp32WeightBytes')), int32(col('formulaMismatches')),
    float64(col('forwardMacs')), float64(col('maxAbsLogit')), float64(col('accuracyFp')),
    ...modeColumns(col('fp32')), ...modeColumns(col('int8')),
    utf8(rows.map(() => basis)),
  ], metadata);
}

/** Columns of a packed-speed table: one row per model (see {@link PackedSpeedSchema}). */
export type PackedSpeedColumns = {
  model: Utf8; batch: Int32; rounds: Int32;
  packed_int8_ms: Float64; packed_fp32act_ms: Float64; tfjs_fp32_ms: Float64;
  packed_int8_gmacs: Float64; packed_fp32act_gmacs: Float64; tfjs_fp32_gmacs: Float64; speedup_int8: Float64; speedup_fp32act: Float64;
  timing: Utf8;
};

/**
 * Packed-inference speed, one row per model, measured (not a stage output: it reads the clock): `model`, `batch`,
 * `rounds`; best-of-rounds wall milliseconds of one forward over the batch, output read back, for the packed forward
 * with int8 and with fp32 activations and for the fp32 tfjs forward; their MAC rates (`forward_macs` / best time, in
 * GMAC/s); the speed-ups: median over rounds of tfjs ms / packed ms within a round; `timing`: how it was measured.
 */
export const PackedSpeedSchema = new Schema<PackedSpeedColumns>([
  field('model', new Utf8()), field('batch', new Int32()), field('rounds', new Int32()),
  field('packed_int8_ms', new Float64()), field('packed_fp32act_ms', new Float64()), field('tfjs_fp32_ms', new Float64()),
  field('packed_int8_gmacs', new Float64()), field('packed_fp32act_gmacs', new Float64()), field('tfjs_fp32_gmacs', new Float64()),
  field('speedup_int8', new Float64()), field('speedup_fp32act', new Float64()),
  field('timing', new Utf8()),
]);

/** Columns of the joined packed-inference record: parity and speed of each model. */
export type PackedInferenceColumns = PackedParityColumns & Omit<PackedSpeedColumns, 'model' | 'batch'>;

/** The joined record: every {@link PackedParitySchema} column, then the {@link PackedSpeedSchema} ones except `model` and `batch`. */
export const PackedInferenceSchema = new Schema<PackedInferenceColumns>([
  ...PackedParitySchema.fields, ...PackedSpeedSchema.fields.filter((f) => f.name !== 'model' && f.name !== 'batch'),
]);

/** Reads the rows of a table with Utf8, Bool and numeric columns back as plain objects (for summaries and tests). */
export function tableRows(t: Table): Record<string, string | number | boolean>[] {
  const out: Record<string, string | number | boolean>[] = Array.from({ length: t.numRows }, () => ({}));
  for (const f of t.schema.fields) {
    const values: readonly (string | number | boolean)[] = f.type instanceof Utf8 ? strings(t, f.name) : f.type instanceof Bool ? booleans(t, f.name) : numbers(t, f.name);
    values.forEach((v, i) => { const row = out[i]; if (row !== undefined) row[f.name] = v; });
  }
  return out;
}
