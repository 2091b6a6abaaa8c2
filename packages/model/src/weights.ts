import { BitlensError } from '@bitlens/core';
import { type Float32, type Int32, type List, Schema, type Table, Utf8, Int32 as Int32Type } from 'apache-arrow';
import type { ModelConfig } from './config.js';
import { isPtqQuantized, isQuantized, upgradeConfig, validateConfig } from './config.js';
import { field, float32ListData, int32Data, int32ListData, listOfFloat32, listOfInt32, listRow, tableOf, utf8Data } from './internal/arrow.js';
import { checkParams, sizeOf, type HostParams, type HostTensor } from './params.js';
import { FULL_PRECISION, isFullPrecision } from '@bitlens/quantization';

/** Schema metadata key holding the ModelConfig as JSON. */
export const MODEL_CONFIG_KEY = 'bitlens.model_config';

/** Columns of a weights table: one row per parameter tensor. */
export type Weights = {
  name: Utf8;
  shape: List<Int32>;
  latent: List<Float32>;
  effective: List<Float32>;
  quantizer: Utf8;
};
/** Columns of a checkpoint table: the weights columns plus the epoch (optimizer steps done). */
export type Checkpoint = Weights & { epoch: Int32 };

/**
 * Weights table schema: `name` (TransformerLens name), `shape` (List<Int32>), `latent` (List<Float32>, row-major),
 * `effective` (what the forward uses: quantized values for quantized layers, == latent otherwise), `quantizer`
 * ('fp32' for full-precision tensors; a post-training-quantized tensor adds `+int8-symmetric`, or is `int8-symmetric`
 * alone when it was trained in full precision). The ModelConfig travels as JSON in schema metadata `bitlens.model_config`.
 */
export const WeightsSchema = new Schema<Weights>([
  field('name', new Utf8()),
  field('shape', listOfInt32()),
  field('latent', listOfFloat32()),
  field('effective', listOfFloat32()),
  field('quantizer', new Utf8()),
]);

/** Checkpoint table schema: {@link WeightsSchema} plus `epoch: Int32` (same value on every row). */
export const CheckpointSchema = new Schema<Checkpoint>([...WeightsSchema.fields, field('epoch', new Int32Type())]);

const STAGE = 'model/weights';

function columns(config: ModelConfig, latent: HostParams, effective: HostParams | undefined) {
  const c = validateConfig(config);
  checkParams(c, latent, STAGE);
  if (effective !== undefined) checkParams(c, effective, STAGE);
  const names = [...latent.keys()];
  const get = (m: HostParams, n: string): HostTensor => m.get(n) as HostTensor; // checked above
  return {
    n: names.length,
    cols: [
      utf8Data(names),
      int32ListData(names.map((n) => [...get(latent, n).shape])),
      float32ListData(names.map((n) => get(latent, n).data)),
      float32ListData(names.map((n) => get(effective ?? latent, n).data)),
      utf8Data(names.map((n) => tensorQuantizer(c, n))),
    ],
    meta: new Map([[MODEL_CONFIG_KEY, JSON.stringify(c)]]),
  };
}

/** The `quantizer` column of tensor `name`: the training quantizer or 'fp32', then `+int<bits>-symmetric` when PTQ quantizes it. */
function tensorQuantizer(c: ModelConfig, name: string): string {
  const trained = isQuantized(c, name) ? c.quantizer : FULL_PRECISION;
  if (c.ptq === undefined || !isPtqQuantized(c, name)) return trained;
  const ptq = `int${c.ptq.weightBits}-symmetric`;
  return isFullPrecision(trained) ? ptq : `${trained}+${ptq}`;
}

/**
 * Builds a weights table (one row per tensor) with the config in its schema metadata. `effective` defaults to
 * `latent` (correct for full-precision models; quantized models must pass the quantized values).
 */
export function weightsTable(config: ModelConfig, latent: HostParams, effective?: HostParams): Table<Weights> {
  const { cols, meta } = columns(config, latent, effective);
  return tableOf(WeightsSchema, cols, meta);
}

/** Builds a checkpoint table: {@link weightsTable} plus the `epoch` column. */
export function checkpointTable(config: ModelConfig, epoch: number, latent: HostParams, effective?: HostParams): Table<Checkpoint> {
  const { n, cols, meta } = columns(config, latent, effective);
  return tableOf(CheckpointSchema, [...cols, int32Data(new Int32Array(n).fill(epoch))], meta);
}

/** What {@link readWeightsTable} returns. */
export interface ReadWeights {
  readonly config: ModelConfig;
  readonly latent: Map<string, HostTensor>;
  readonly effective: Map<string, HostTensor>;
  /** Quantizer per tensor ('fp32' for full-precision ones). */
  readonly quantizer: Map<string, string>;
  /** The epoch column of a checkpoint table, when present. */
  readonly epoch?: number;
}

/** Parses the ModelConfig JSON in a table's schema metadata; throws SCHEMA_MISMATCH when missing, INVALID_CONFIG when bad. */
export function configFromTable(table: Table): ModelConfig {
  const json = table.schema.metadata.get(MODEL_CONFIG_KEY);
  if (json === undefined) throw new BitlensError('SCHEMA_MISMATCH', { stage: STAGE, field: MODEL_CONFIG_KEY, expected: 'the ModelConfig JSON in schema metadata', found: 'nothing' });
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: MODEL_CONFIG_KEY, expected: 'JSON', found: json.slice(0, 80) }, undefined, { cause: e });
  }
  return validateConfig(upgradeConfig(parsed) as ModelConfig);
}

/**
 * Reads a weights (or checkpoint) table back: config from metadata, latent and effective tensors by name.
 * Checks names and shapes against the config (NOT_FOUND / SHAPE_MISMATCH naming the tensor).
 */
export function readWeightsTable(table: Table): ReadWeights {
  const config = configFromTable(table);
  const latent = new Map<string, HostTensor>();
  const effective = new Map<string, HostTensor>();
  const quantizer = new Map<string, string>();
  const names = table.getChild('name');
  const qs = table.getChild('quantizer');
  if (names === null || qs === null) throw new BitlensError('SCHEMA_MISMATCH', { stage: STAGE, field: names === null ? 'name' : 'quantizer', expected: 'Utf8 column', found: 'nothing' });
  for (let i = 0; i < table.numRows; i++) {
    const name = String(names.get(i));
    const shape = [...((listRow(table, 'shape', i) as Int32Array | undefined) ?? [])];
    for (const col of ['latent', 'effective'] as const) {
      const data = listRow(table, col, i);
      if (!(data instanceof Float32Array) || data.length !== sizeOf(shape)) {
        throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: `${name}.${col}`, expected: `${sizeOf(shape)} float32 values`, found: String(data?.length ?? 'null') });
      }
      (col === 'latent' ? latent : effective).set(name, { shape, data });
    }
    quantizer.set(name, String(qs.get(i)));
  }
  checkParams(config, latent, STAGE);
  const ep = table.getChild('epoch');
  const epoch = ep !== null && table.numRows > 0 ? Number(ep.get(0)) : undefined;
  return epoch === undefined ? { config, latent, effective, quantizer } : { config, latent, effective, quantizer, epoch };
}
