import { BitlensError } from '@bitlens/core';
import { CheckpointSchema, type Checkpoint, checkpointTable, type HostParams, type HostTensor, type ModelConfig } from '@bitlens/model';
import { type Data, Field, Float32, Float64, Int32, List, makeData, Schema, type Table, Utf8 } from 'apache-arrow';
import { columnData, float64Data, nullable, nullData, tableOf, utf8Data } from './internal/arrow.js';

/** Schema metadata key of the training state (JSON {@link TrainingState}) on checkpoint tables. */
export const TRAINING_STATE_KEY = 'bitlens.training_state';

/** Training progress that a resumed run needs besides weights and moments. */
export interface TrainingState {
  /** Optimizer steps done (= the checkpoint's epoch). */
  readonly epoch: number;
  /** First logged epoch with test accuracy >= the grokking threshold, if any yet. */
  readonly grokEpoch: number | null;
  /** First logged epoch with train accuracy >= the grokking threshold, if any yet. */
  readonly trainFitEpoch: number | null;
  /** `tf.getBackend()` of the run that wrote it (resuming on another backend is allowed but not bit-identical). */
  readonly backend: string;
}

const f = <T extends Int32 | Float64 | Utf8 | List<Float32> | List<Int32>>(name: string, type: T, isNullable = false): Field<T> => new Field(name, type, isNullable);
const listF32 = () => new List(new Field('item', new Float32(), false));

/** Columns of a metrics table: one row per logged epoch. */
export type Metrics = { epoch: Int32; train_loss: Float64; test_loss: Float64; train_acc: Float64; test_acc: Float64 };

/**
 * Metrics table schema: `epoch` (optimizer steps done when measured), `train_loss`, `test_loss` (mean cross-entropy on
 * the last position), `train_acc`, `test_acc` (fractions), all non-null.
 */
export const MetricsSchema = new Schema<Metrics>([
  f('epoch', new Int32()),
  f('train_loss', new Float64()),
  f('test_loss', new Float64()),
  f('train_acc', new Float64()),
  f('test_acc', new Float64()),
]);

/** Columns of a training checkpoint: the model's checkpoint columns plus AdamW's moments and the Grokfast EMA. */
export type TrainingCheckpoint = Checkpoint & { adam_m: List<Float32>; adam_v: List<Float32>; grokfast_ema: List<Float32> };

/**
 * Training checkpoint schema: `CheckpointSchema` of @bitlens/model (name, shape, latent, effective, quantizer, epoch)
 * plus `adam_m` and `adam_v` (AdamW first and second moments of that tensor, row-major float32) and `grokfast_ema`
 * (the Grokfast gradient EMA of that tensor; null when Grokfast is off or before the first step). Schema metadata:
 * `bitlens.model_config` (the ModelConfig) and `bitlens.training_state` ({@link TrainingState}: step count, grokking
 * epochs, backend). Together with the run's options this is everything an exact resume needs: the training is full
 * batch (no data-order RNG), and the step count fixes the bias corrections and the warmup.
 * Any stage that takes `CheckpointSchema` accepts these tables (extra columns are allowed on inputs).
 */
export const TrainingCheckpointSchema = new Schema<TrainingCheckpoint>([...CheckpointSchema.fields, f('adam_m', listF32()), f('adam_v', listF32()), f('grokfast_ema', listF32(), true)] as Field[]);

/** What a table of the training stream holds. */
export type TrainingStreamKind = 'metrics' | 'checkpoint';

/** Columns of the training stream: the union of the metrics and checkpoint columns, with a `kind`. */
export type TrainingStream = { kind: Utf8 } & Metrics & TrainingCheckpoint;

/**
 * The training stage's output schema. The stage emits two kinds of tables in one stream (a stage has one output
 * schema): every table has a `kind` column, the same on all its rows.
 * - `kind = 'metrics'`: one row per logged epoch; `epoch` and the four metrics set, the checkpoint columns null.
 * - `kind = 'checkpoint'`: one row per parameter tensor; `epoch` and the checkpoint columns set, the metrics null;
 *   schema metadata carries the model config and the training state.
 * `selectMetrics()` and `selectCheckpoints()` turn the stream into `MetricsSchema` / `TrainingCheckpointSchema` tables.
 */
export const TrainingStreamSchema = new Schema<TrainingStream>([
  f('kind', new Utf8()),
  f('epoch', new Int32()),
  ...(MetricsSchema.fields.slice(1) as Field[]).map(nullable),
  ...(TrainingCheckpointSchema.fields.filter((x) => x.name !== 'epoch') as Field[]).map(nullable),
]);

const METRIC_NAMES = ['train_loss', 'test_loss', 'train_acc', 'test_acc'] as const;
const CHECKPOINT_ONLY = TrainingCheckpointSchema.fields.filter((x) => x.name !== 'epoch');

/** One row of metrics. */
export interface MetricsRow {
  readonly epoch: number;
  readonly train_loss: number;
  readonly test_loss: number;
  readonly train_acc: number;
  readonly test_acc: number;
}

/** A `kind = 'metrics'` stream table from metric rows. */
export function metricsStreamTable(rows: readonly MetricsRow[]): Table<TrainingStream> {
  const n = rows.length;
  const cols: Data[] = [utf8Data(rows.map(() => 'metrics')), int32Data(rows.map((r) => r.epoch))];
  for (const m of METRIC_NAMES) cols.push(float64Data(Float64Array.from(rows, (r) => r[m])));
  for (const fl of CHECKPOINT_ONLY) cols.push(nullData(fl.type, n));
  return tableOf(TrainingStreamSchema, cols, new Map());
}

function int32Data(values: readonly number[]): Data {
  return makeData({ type: new Int32(), length: values.length, nullCount: 0, data: Int32Array.from(values) });
}

/**
 * A `kind = 'checkpoint'` stream table: latent and effective weights, AdamW moments, epoch, config and state metadata.
 */
export function checkpointStreamTable(
  config: ModelConfig,
  state: TrainingState,
  latent: HostParams,
  effective: HostParams,
  adamM: HostParams,
  adamV: HostParams,
  grokfastEma?: HostParams,
): Table<TrainingStream> {
  const ck = checkpointTable(config, state.epoch, latent, effective);
  const names = [...latent.keys()];
  const moments = (m: HostParams): Float32Array[] =>
    names.map((n) => {
      const t = m.get(n);
      if (t === undefined) throw new BitlensError('NOT_FOUND', { stage: 'training/checkpoint', field: n, expected: 'an AdamW moment', found: 'nothing' });
      return t.data;
    });
  const mCol = listColumn(moments(adamM));
  const vCol = listColumn(moments(adamV));
  const n = names.length;
  const cols: Data[] = [utf8Data(names.map(() => 'checkpoint')), columnData(ck, 'epoch')];
  for (let i = 0; i < METRIC_NAMES.length; i++) cols.push(nullData(new Float64(), n));
  for (const c of ['name', 'shape', 'latent', 'effective', 'quantizer'] as const) cols.push(columnData(ck, c));
  cols.push(mCol, vCol, grokfastEma === undefined ? nullData(listF32(), n) : listColumn(moments(grokfastEma)));
  const meta = new Map(ck.schema.metadata);
  meta.set(TRAINING_STATE_KEY, JSON.stringify(state));
  return tableOf(TrainingStreamSchema, cols, meta);
}

function listColumn(rows: readonly Float32Array[]): Data {
  const off = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => (off[i + 1] = (off[i] ?? 0) + r.length));
  const values = new Float32Array(off[rows.length] ?? 0);
  rows.forEach((r, i) => values.set(r, off[i] ?? 0));
  const child = makeData({ type: new Float32(), length: values.length, nullCount: 0, data: values });
  return makeData({ type: listF32(), length: rows.length, nullCount: 0, valueOffsets: off, child });
}

/** The kind of a training-stream table (from its first row; throws SCHEMA_MISMATCH on an empty or unknown kind). */
export function streamKind(table: Table): TrainingStreamKind {
  const k = table.getChild('kind')?.get(0) as string | null | undefined;
  if (k !== 'metrics' && k !== 'checkpoint') {
    throw new BitlensError('SCHEMA_MISMATCH', { stage: 'training/stream', field: 'kind', expected: "'metrics' or 'checkpoint'", found: JSON.stringify(k ?? null) });
  }
  return k;
}

/** A metrics-kind stream table as a `MetricsSchema` table (same data, non-null schema). */
export function toMetricsTable(table: Table): Table<Metrics> {
  return tableOf(MetricsSchema, MetricsSchema.fields.map((x) => columnData(table, x.name)), new Map());
}

/** A checkpoint-kind stream table as a `TrainingCheckpointSchema` table (same data and metadata). */
export function toCheckpointTable(table: Table): Table<TrainingCheckpoint> {
  return tableOf(TrainingCheckpointSchema, TrainingCheckpointSchema.fields.map((x) => columnData(table, x.name)), table.schema.metadata);
}

/** What {@link readTrainingCheckpoint} reads. */
export interface ReadTrainingCheckpoint {
  readonly state: TrainingState;
  readonly adamM: Map<string, HostTensor>;
  readonly adamV: Map<string, HostTensor>;
  /** The Grokfast EMA, when the checkpoint has one. */
  readonly grokfastEma?: Map<string, HostTensor>;
}

/** Reads the AdamW moments, the Grokfast EMA and the training state of a training checkpoint (or checkpoint-kind stream) table. */
export function readTrainingCheckpoint(table: Table): ReadTrainingCheckpoint {
  const json = table.schema.metadata.get(TRAINING_STATE_KEY);
  if (json === undefined) {
    throw new BitlensError('SCHEMA_MISMATCH', { stage: 'training/resume', field: TRAINING_STATE_KEY, expected: 'a training checkpoint (state in schema metadata)', found: 'no training state' });
  }
  const state = JSON.parse(json) as TrainingState;
  const adamM = new Map<string, HostTensor>();
  const adamV = new Map<string, HostTensor>();
  const ema = new Map<string, HostTensor>();
  const names = table.getChild('name');
  const shapes = table.getChild('shape');
  for (let i = 0; i < table.numRows; i++) {
    const name = String(names?.get(i));
    const shape = [...((shapes?.get(i) as { toArray(): Int32Array } | null)?.toArray() ?? [])];
    for (const [col, m] of [['adam_m', adamM], ['adam_v', adamV]] as const) {
      const v = table.getChild(col)?.get(i) as { toArray(): Float32Array } | null | undefined;
      if (v === null || v === undefined) {
        throw new BitlensError('SCHEMA_MISMATCH', { stage: 'training/resume', field: `${name}.${col}`, expected: 'AdamW moments', found: 'null' });
      }
      m.set(name, { shape, data: v.toArray().slice() });
    }
    const e = table.getChild('grokfast_ema')?.get(i) as { toArray(): Float32Array } | null | undefined;
    if (e !== null && e !== undefined) ema.set(name, { shape, data: e.toArray().slice() });
  }
  return { state, adamM, adamV, ...(ema.size === 0 ? {} : { grokfastEma: ema }) };
}
