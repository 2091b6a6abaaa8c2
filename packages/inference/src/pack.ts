import { BitlensError } from '@bitlens/core';
import { HOST_QUANTIZERS, isHostQuantizerName, packI2S, tensor } from '@bitlens/kernels';
import type { HostQuantizerName, HostTensor } from '@bitlens/kernels';
import { QUANTIZABLE_LAYERS, isQuantized, readWeightsTable } from '@bitlens/model';
import type { HostTensor as ModelTensor, ModelConfig, Weights } from '@bitlens/model';
import { linearMatrix } from './internal/layout.js';
import type { Table } from 'apache-arrow';

const STAGE = 'inference/pack';

/** Which packed kernel family a model runs on: ternary codes {-1, 0, +1} or binary codes {-1, +1}. */
export type PackedPrecision = 'ternary' | 'binary';

/**
 * One quantized linear layer y = x W (x [rows, inDim]) packed for `TernaryMatMul`: W's codes transposed to
 * [outDim, inDim] (one row per output unit) and packed as I2_S, with the per-tensor scale. Binary codes (±1) are a
 * subset of ternary ones, so binary layers use the same I2_S layout and kernel.
 */
export interface PackedLinear {
  /** TransformerLens name of the weight, e.g. `blocks.0.attn.W_Q`. */
  readonly name: string;
  readonly inDim: number;
  readonly outDim: number;
  /** Codes [outDim, inDim], row-major. */
  readonly codes: Int8Array;
  /** `packI2S(codes)`: uint8 [outDim, i2sBytes(inDim)]. */
  readonly packed: HostTensor<'uint8'>;
  /** The float32 scale: effective weight = scale * code. */
  readonly scale: number;
  /** How many codes differ from the @bitlens/kernels formula applied to the latent weights (see {@link packModel}). */
  readonly formulaMismatches: number;
}

/** A trained checkpoint ready for packed inference: its quantized layers packed, everything else full precision. */
export interface PackedModel {
  readonly config: ModelConfig;
  readonly precision: PackedPrecision;
  readonly quantizer: HostQuantizerName;
  /** The packed layers by TransformerLens name (W_Q, W_K, W_V, W_O, W_in, W_out of each block that the config quantizes). */
  readonly linears: ReadonlyMap<string, PackedLinear>;
  /** The effective weights (full precision for non-quantized tensors), by TransformerLens name. */
  readonly effective: ReadonlyMap<string, ModelTensor>;
}

/** Options of {@link packModel}. */
export interface PackOptions {
  /** Require this kernel family: `binary` rejects a ternary checkpoint (its codes include 0). Default: the quantizer's own. */
  readonly precision?: PackedPrecision;
}

function fail(field: string, expected: string, found: string, code: 'INVALID_OPTION' | 'INVALID_DATA' = 'INVALID_OPTION'): never {
  throw new BitlensError(code, { stage: STAGE, field, expected, found });
}

/** The kernel family of a quantizer name, or undefined when it has no integer codes (fp32, plug-ins). */
function precisionOf(q: string): PackedPrecision | undefined {
  if (!isHostQuantizerName(q)) return undefined;
  return q.startsWith('ternary') ? 'ternary' : 'binary';
}

/**
 * Checks, before any work, that a checkpoint can be packed: a built-in ternary or binary quantizer (fp32 and
 * plug-in quantizers have no packed layout), at least one quantized layer, and, when `precision` is given, that
 * family. Returns the quantizer and its family. Throws INVALID_OPTION naming the field.
 */
export function checkPackable(config: ModelConfig, options: PackOptions = {}): { readonly quantizer: HostQuantizerName; readonly precision: PackedPrecision } {
  const own = precisionOf(config.quantizer);
  const want = options.precision;
  if (want !== undefined && want !== 'ternary' && want !== 'binary') fail('precision', "'ternary' or 'binary'", JSON.stringify(want));
  if (own === undefined || !isHostQuantizerName(config.quantizer)) {
    fail('quantizer', `a checkpoint quantized by one of ${Object.keys(HOST_QUANTIZERS).join(', ')} (packed kernels need integer codes)`,
      `${JSON.stringify(config.quantizer)}${want === undefined ? '' : ` for the ${want} kernels`}`);
  }
  if (config.quantizedLayers.length === 0) fail('quantizedLayers', 'at least one quantized layer', '[]');
  if (want === 'binary' && own === 'ternary') fail('quantizer', 'binary codes {-1, +1} for the binary kernels', `${config.quantizer} (ternary codes include 0)`);
  return { quantizer: config.quantizer, precision: want ?? own };
}

/** Codes and scale of an effective tensor whose values are {-s, 0, s} (or {-s, s}); INVALID_DATA otherwise. */
function codesOfEffective(name: string, eff: Float32Array, precision: PackedPrecision): { readonly codes: Int8Array; readonly scale: number } {
  let s = 0;
  for (const v of eff) s = Math.max(s, Math.abs(v));
  const codes = new Int8Array(eff.length);
  for (let i = 0; i < eff.length; i++) {
    const v = eff[i] ?? 0, c = v === s ? 1 : v === -s ? -1 : v === 0 ? 0 : NaN;
    if (Number.isNaN(c) || (precision === 'binary' && c === 0) || s === 0) {
      fail(`${name}.effective`, `per-tensor ${precision} values ${precision === 'binary' ? '{-s, +s}' : '{-s, 0, +s}'} with s > 0`, `${v} at flat index ${i} (s = ${s})`, 'INVALID_DATA');
    }
    codes[i] = c;
  }
  return { codes, scale: s };
}

function packLinear(config: ModelConfig, quantizer: HostQuantizerName, precision: PackedPrecision, name: string, latent: ModelTensor, eff: ModelTensor): PackedLinear {
  const { codes: flat, scale } = codesOfEffective(name, eff.data, precision);
  const formula = HOST_QUANTIZERS[quantizer](latent.data).codes;
  let formulaMismatches = 0;
  for (let i = 0; i < flat.length; i++) if (flat[i] !== formula[i]) formulaMismatches++;
  const m = linearMatrix(config, name, { shape: eff.shape, data: Float32Array.from(flat) });
  const codes = Int8Array.from(m.transposed); // [outDim, inDim]: one row per output unit
  return { name, inDim: m.inDim, outDim: m.outDim, codes, packed: packI2S(tensor('int8', [m.outDim, m.inDim], codes)), scale, formulaMismatches };
}

/**
 * Packs a trained checkpoint (any table with the weights columns and the model config in its metadata, e.g. a
 * training checkpoint) for packed inference. The codes and scale of each quantized layer are read from its
 * `effective` column, so the packed model multiplies by exactly what the trained model's forward did; the
 * @bitlens/kernels formula of the config's quantizer, applied to `latent`, is counted against them
 * (`formulaMismatches`: 0 unless a weight sits on a rounding boundary that the training backend's float32 reductions
 * put on the other side). Checks packability first ({@link checkPackable}); INVALID_DATA when an effective tensor is
 * not per-tensor ternary / binary.
 * @example const model = packModel(finalCheckpointTable, { precision: 'ternary' });
 */
export function packModel(weights: Table<Weights>, options: PackOptions = {}): PackedModel {
  const read = readWeightsTable(weights);
  const { quantizer, precision } = checkPackable(read.config, options);
  const linears = new Map<string, PackedLinear>();
  for (const [name, eff] of read.effective) {
    if (!isQuantized(read.config, name)) continue;
    const layer = name.replace(/^blocks\.\d+\./, '');
    if (!(QUANTIZABLE_LAYERS as readonly string[]).includes(layer)) continue;
    const latent = read.latent.get(name) ?? eff;
    linears.set(name, packLinear(read.config, quantizer, precision, name, latent, eff));
  }
  return { config: read.config, precision, quantizer, linears, effective: read.effective };
}
