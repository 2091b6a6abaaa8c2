import { BitlensError } from '@bitlens/core';
import { generatePairs, labelOf } from '@bitlens/data';
import type { Tf } from '@bitlens/engine';
import { i2sBytes } from '@bitlens/kernels';
import type { BackendName, KernelRegistry } from '@bitlens/kernels';
import { forwardLast, toTensors } from '@bitlens/model';
import type { ModelConfig, Weights } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { packedForwardLast } from './forward.js';
import type { ActivationMode } from './forward.js';
import { packModel } from './pack.js';
import type { PackedModel, PackedPrecision } from './pack.js';

const STAGE = 'inference/parity';

/**
 * Parity tolerances, relative to the largest |logit| of the tfjs forward, and why (one home for both numbers).
 * - fp32 activations: the packed forward computes the same function as the tfjs forward; only the float32
 *   summation order of each dot product differs (XNNPACK vs the packed kernels), an error of a few k * 2^-24 relative
 *   per product of length k <= 512 through the 4 dependent products (measured: <= 1e-6 relative on random and trained
 *   models). 1e-4 leaves a factor 100 and still catches a single wrong code (one flipped code of a 128-long row moves
 *   that output by ~1/128 of its size).
 * - int8 activations (W1.58A8): each quantized input is off by up to max|x_row| / 254, so the packed forward computes
 *   a slightly different function; the logit error is quantization noise through 3 dependent quantized stages
 *   (measured 0.2-2% of the largest logit on random and trained models). 5% is the bound asserted; accuracy and argmax
 *   agreement are the numbers that matter for it and are reported beside it.
 */
export const PARITY_TOLERANCE = { fp32: 1e-4, int8: 0.05 } as const satisfies Record<ActivationMode, number>;

/** The sentence the parity row carries about its tolerances. */
export const TOLERANCE_BASIS =
  'relative to max|logit| of the tfjs forward: fp32 activations 1e-4 (same function, float32 summation order only; measured <= 1e-6); ' +
  'int8 activations 5e-2 (W1.58A8 per-token absmax quantization noise, <= max|x|/254 per input, through 3 quantized stages; measured 0.2-2%)';

/** Where and how {@link packedParity} runs. */
export interface PackedParityOptions {
  /** The pipeline's tfjs engine, for the reference forward (the trained model's forward on its effective weights). */
  readonly tf: Tf;
  readonly registry: KernelRegistry;
  /** Backend of the packed ops, e.g. `wasm-packed` or `tfjs-webgpu`. */
  readonly backend: BackendName;
  /** Backend of the full-precision `MatMul`s (the unembedding), e.g. `tfjs-wasm`. */
  readonly denseBackend: BackendName;
  /** Require this kernel family (`binary` rejects a ternary checkpoint). Default: the checkpoint's own. */
  readonly precision?: PackedPrecision;
  /** Task whose labels score accuracy (default `add`, as @bitlens/data names it). */
  readonly task?: string;
  /** The model's name in the row (default: its quantizer). */
  readonly label?: string;
}

/** Logit agreement of one packed forward with the tfjs forward. */
export interface ModeParity {
  readonly maxAbsDelta: number;
  readonly tolerance: number;
  readonly within: boolean;
  readonly accuracy: number;
  /** Fraction of inputs whose argmax equals the tfjs forward's. */
  readonly argmaxAgreement: number;
}

/** Everything {@link packedParity} measures that does not depend on time: one row of {@link PackedParitySchema}. */
export interface PackedParity {
  readonly model: string;
  readonly quantizer: string;
  readonly precision: PackedPrecision;
  readonly p: number;
  readonly batch: number;
  readonly backend: string;
  readonly denseBackend: string;
  readonly packedLayers: number;
  readonly packedWeightBytes: number;
  readonly fp32WeightBytes: number;
  readonly formulaMismatches: number;
  /** Multiply-accumulates of the forward's linear layers counted directly (the basis of both MAC rates). */
  readonly forwardMacs: number;
  readonly maxAbsLogit: number;
  readonly accuracyFp: number;
  readonly fp32: ModeParity;
  readonly int8: ModeParity;
}

/**
 * Checks, before any work, that the registry has every op a packed forward calls: `TernaryMatMul` and
 * `TernaryMatMulA8` on `backend`, `MatMul` on `denseBackend`. BACKEND_UNAVAILABLE for an unregistered backend,
 * KERNEL_NOT_FOUND for a missing op (never a fallback to another backend).
 */
export function checkBackends(o: { readonly registry: KernelRegistry; readonly backend: BackendName; readonly denseBackend: BackendName }): void {
  const ops = [['TernaryMatMul', o.backend], ['TernaryMatMulA8', o.backend], ['MatMul', o.denseBackend]] as const;
  for (const [op, on] of ops) {
    if (!o.registry.backends.some((b) => b.name === on)) {
      throw new BitlensError('BACKEND_UNAVAILABLE', { stage: STAGE, field: on === o.backend ? 'backend' : 'denseBackend', expected: `one of the registry's backends (${o.registry.backends.map((b) => b.name).join(', ')})`, found: on });
    }
    if (!o.registry.has(op, on)) throw new BitlensError('KERNEL_NOT_FOUND', { stage: STAGE, field: op, expected: `a kernel for '${op}' on '${on}'`, found: 'none' });
  }
}

/** All p^2 inputs of a task as [a, b, =] token rows (a-major) and their labels. */
export function gridTokens(config: ModelConfig, task = 'add'): { readonly tokens: Int32Array; readonly labels: Int32Array } {
  const { a, b } = generatePairs(task, config.p);
  const tokens = new Int32Array(a.length * config.nCtx), labels = new Int32Array(a.length);
  if (config.nCtx !== 3) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'nCtx', expected: '3 ([a, b, =])', found: String(config.nCtx) });
  for (let r = 0; r < a.length; r++) {
    tokens[3 * r] = a[r] ?? 0; tokens[3 * r + 1] = b[r] ?? 0; tokens[3 * r + 2] = config.p;
    labels[r] = labelOf(task, a[r] ?? 0, b[r] ?? 0, config.p);
  }
  return { tokens, labels };
}

/** Multiply-accumulates of the last-position forward's linear layers per input, counted directly (no token table). */
export function forwardMacs(c: ModelConfig, batch: number): number {
  const hd = c.nHeads * c.dHead, perLayer = (rows: number, q: number): number => 2 * rows * c.dModel * hd + q * (2 * c.dModel * hd + 2 * c.dModel * c.dMlp);
  let macs = 0;
  for (let l = 0; l < c.nLayers; l++) macs += l === c.nLayers - 1 ? perLayer(c.nCtx, 1) : perLayer(c.nCtx, c.nCtx);
  return batch * (macs + c.dModel * c.dVocabOut);
}

/** The tfjs forward of the trained model (effective weights, as training computed it), read back. */
export async function tfjsLogits(tf: Tf, model: PackedModel, tokens: Int32Array): Promise<Float32Array> {
  const batch = tokens.length / model.config.nCtx;
  const params = toTensors(tf, model.effective), t = tf.tensor2d(tokens, [batch, model.config.nCtx], 'int32');
  try {
    const logits = tf.tidy(() => forwardLast(tf, model.config, params, t));
    const data = await logits.data();
    logits.dispose();
    return Float32Array.from(data as Float32Array);
  } finally {
    tf.dispose([...params.values(), t]);
  }
}

function argmaxRows(logits: Float32Array, rows: number, n: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < n; j++) if ((logits[r * n + j] ?? -Infinity) > (logits[r * n + best] ?? -Infinity)) best = j;
    out[r] = best;
  }
  return out;
}

function compare(ref: Float32Array, refArgmax: Int32Array, got: Float32Array, labels: Int32Array, n: number, tolerance: number): ModeParity {
  let maxAbsDelta = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs((got[i] ?? NaN) - (ref[i] ?? NaN));
    if (!(d <= maxAbsDelta)) maxAbsDelta = Number.isNaN(d) ? Infinity : d; // a NaN logit is an infinite error
  }
  const am = argmaxRows(got, labels.length, n);
  let correct = 0, agree = 0;
  for (let r = 0; r < labels.length; r++) {
    if (am[r] === labels[r]) correct++;
    if (am[r] === refArgmax[r]) agree++;
  }
  return { maxAbsDelta, tolerance, within: maxAbsDelta <= tolerance, accuracy: correct / labels.length, argmaxAgreement: agree / labels.length };
}

/**
 * Packs a trained checkpoint and runs it over all p^2 inputs on the packed kernels twice (fp32 and int8 activations),
 * against the tfjs forward of the same checkpoint: logit deltas with their tolerances ({@link PARITY_TOLERANCE}),
 * accuracies and argmax agreement, plus the packed model's size. Deterministic (no clock). With a `tfjs-*` packed
 * backend the kernel registry switches tfjs's engine; the engine `tf` was on is made active again before returning.
 * @example const parity = await packedParity(finalCheckpoint, { tf, registry, backend: 'wasm-packed', denseBackend: 'tfjs-wasm' });
 */
export async function packedParity(weights: Table<Weights>, options: PackedParityOptions): Promise<PackedParity> {
  checkBackends(options);
  const model = packModel(weights, options.precision === undefined ? {} : { precision: options.precision });
  const c = model.config, { tokens, labels } = gridTokens(c, options.task), batch = labels.length, n = c.dVocabOut;
  const engine = options.tf.getBackend();
  const ref = await tfjsLogits(options.tf, model, tokens);
  const run = async (activations: ActivationMode): Promise<Float32Array> =>
    (await packedForwardLast(model, tokens, { registry: options.registry, backend: options.backend, denseBackend: options.denseBackend, activations })).logits;
  let p32: Float32Array, p8: Float32Array;
  try {
    p32 = await run('fp32');
    p8 = await run('int8');
  } finally {
    if (options.tf.getBackend() !== engine) await options.tf.setBackend(engine);
  }
  let maxAbsLogit = 0;
  for (const v of ref) maxAbsLogit = Math.max(maxAbsLogit, Math.abs(v));
  const refArgmax = argmaxRows(ref, batch, n);
  let correct = 0;
  for (let r = 0; r < batch; r++) if (refArgmax[r] === labels[r]) correct++;
  const linears = [...model.linears.values()];
  return {
    model: options.label ?? model.quantizer, quantizer: model.quantizer, precision: model.precision, p: c.p, batch,
    backend: options.backend, denseBackend: options.denseBackend, packedLayers: linears.length,
    packedWeightBytes: linears.reduce((s, l) => s + l.outDim * i2sBytes(l.inDim), 0),
    fp32WeightBytes: linears.reduce((s, l) => s + 4 * l.outDim * l.inDim, 0),
    formulaMismatches: linears.reduce((s, l) => s + l.formulaMismatches, 0),
    forwardMacs: forwardMacs(c, batch), maxAbsLogit, accuracyFp: correct / batch,
    fp32: compare(ref, refArgmax, p32, labels, n, PARITY_TOLERANCE.fp32 * maxAbsLogit),
    int8: compare(ref, refArgmax, p8, labels, n, PARITY_TOLERANCE.int8 * maxAbsLogit),
  };
}
