import { BitlensError } from '@bitlens/core';

/** BitNet b1.58's epsilon in W / (gamma + eps). */
export const ABSMEAN_EPS = 1e-5;
/** Li's floor on the ternary scale: s = max(mean|W'|, 1e-5). */
export const CENTRED_MIN_SCALE = 1e-5;

/** Integer codes of a per-tensor quantization and its scale: Q(w)[i] = scale * codes[i]. `scale` is a float32 value. */
export interface HostCodes {
  readonly codes: Int8Array;
  readonly scale: number;
}

/** Names of the weight quantizers whose codes and scale are defined here (the non-autodiff formulas). */
export type HostQuantizerName = 'ternary-absmean' | 'ternary-centred' | 'binary-scaled' | 'binary-sign';

const f32 = Math.fround;

/**
 * Round half to even, as torch.round and tf.round do (so ties such as ±0.5 quantize to 0).
 * @example [0.5, 1.5, 2.5].map(roundHalfEven) // [0, 2, 2]
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// The arithmetic contract of every formula below (one definition, so every caller rounds the same way):
// - a statistic (mean, mean |.|) is accumulated in float64 in index order and rounded once to float32: the
//   correctly rounded float32 value, which an fp32 backend's reduction reaches up to its summation order;
// - every elementwise step is done in float32, exactly as an fp32 backend evaluates it: fround(w - mean),
//   fround(w / fround(gamma + eps)), then round half to even and clip.
// So the codes equal those of the tf forward (the STE's value) except where a backend's float32 reduction lands on a
// different ulp and an element sits on a rounding boundary. The float64 division used before (quantization's host
// path) could disagree with an fp32 backend there; fp32 elementwise division cannot.

function mean32(w: Float32Array): number {
  let s = 0;
  for (const x of w) s += x;
  return w.length === 0 ? 0 : f32(s / w.length);
}

function meanAbs32(w: Float32Array, centre = 0): number {
  let s = 0;
  for (const x of w) s += Math.abs(f32(x - centre));
  return w.length === 0 ? 0 : f32(s / w.length);
}

function ternaryCodes(w: Float32Array, centre: number, divisor: number): Int8Array {
  const codes = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) codes[i] = Math.max(-1, Math.min(1, roundHalfEven(f32(f32((w[i] ?? 0) - centre) / divisor))));
  return codes;
}

function signCodes(w: Float32Array, centre: number): Int8Array {
  const codes = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) codes[i] = f32((w[i] ?? 0) - centre) > 0 ? 1 : -1;
  return codes;
}

/**
 * `ternary-absmean`, BitNet b1.58 (Ma et al. 2024): gamma = mean|W|, codes = RoundClip(W / (gamma + eps), -1, 1)
 * (round half to even), scale gamma. No centring.
 * @example ternaryAbsmeanHost(new Float32Array([0.5, -0.05, 1.2, -0.9])) // codes [1, 0, 1, -1], scale 0.6625
 */
export function ternaryAbsmeanHost(w: Float32Array, eps = ABSMEAN_EPS): HostCodes {
  if (!(eps >= 0)) throw new BitlensError('INVALID_OPTION', { stage: 'kernels/quantizers', field: 'eps', expected: 'eps >= 0', found: String(eps) });
  const gamma = meanAbs32(w);
  return { codes: ternaryCodes(w, 0, f32(gamma + eps)), scale: gamma };
}

/**
 * `ternary-centred`, Li 2024's ternary mode: W' = W - mean(W), s = max(mean|W'|, 1e-5),
 * codes = clip(round(W' / s), -1, 1), scale s (the mean is not added back).
 */
export function ternaryCentredHost(w: Float32Array, minScale = CENTRED_MIN_SCALE): HostCodes {
  const m = mean32(w), s = Math.max(meanAbs32(w, m), f32(minScale));
  return { codes: ternaryCodes(w, m, s), scale: s };
}

/**
 * `binary-scaled`, BitNet (Wang et al. 2023): codes = Sign(W - mean W) with Sign(x) = +1 if x > 0 else -1 (so
 * Sign(0) = -1 and codes always fit one bit), scale mean|W| of W itself.
 */
export function binaryScaledHost(w: Float32Array): HostCodes {
  return { codes: signCodes(w, mean32(w)), scale: meanAbs32(w) };
}

/** `binary-sign`, Li 2024's binary mode: codes = Sign(W - mean W) (Sign(0) = -1), scale 1. */
export function binarySignHost(w: Float32Array): HostCodes {
  return { codes: signCodes(w, mean32(w)), scale: 1 };
}

/** Sign(w) (+1 if w > 0 else -1) without centring, scale mean|W|: the `QuantizeBinary` op with `center: false`. */
export function binaryUncentredHost(w: Float32Array): HostCodes {
  return { codes: signCodes(w, 0), scale: meanAbs32(w) };
}

/** The host formulas by quantizer name (the one home of these formulas: @bitlens/quantization calls them). */
export const HOST_QUANTIZERS: { readonly [Q in HostQuantizerName]: (w: Float32Array) => HostCodes } = {
  'ternary-absmean': (w) => ternaryAbsmeanHost(w),
  'ternary-centred': (w) => ternaryCentredHost(w),
  'binary-scaled': binaryScaledHost,
  'binary-sign': binarySignHost,
};

/** Whether `name` is one of {@link HOST_QUANTIZERS}. */
export function isHostQuantizerName(name: string): name is HostQuantizerName {
  return Object.hasOwn(HOST_QUANTIZERS, name);
}

/** Floor on max|x_row| in the int8 activation quantizer, so that an all-zero row does not divide by zero (BitNet's eps). */
export const ACTIVATION_EPS = 1e-5;

/** Per-row int8 codes of an activation matrix and each row's scale s (value = code / s). */
export interface HostActivationCodes {
  readonly codes: Int8Array;
  /** Per row: s = 127 / max(max|x_row|, 1e-5), a float32 value. */
  readonly scales: Float32Array;
}

/**
 * int8 per-token absmax activation quantization, BitNet b1.58 (the non-autodiff formula of @bitlens/quantization's
 * `quantizeActivationsInt8`): per row of x [rows, k], s = 127 / max(max|x_row|, 1e-5), codes = clamp(round(x * s),
 * -128, 127), in float32 with round half to even; value = code / s.
 * @example activationInt8Host(new Float32Array([0.5, -1, 0.25, 0]), 1, 4).codes // [64, -127, 32, 0]
 */
export function activationInt8Host(x: Float32Array, rows: number, k: number): HostActivationCodes {
  const codes = new Int8Array(rows * k), scales = new Float32Array(rows), floor = f32(ACTIVATION_EPS);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let p = 0; p < k; p++) m = Math.max(m, Math.abs(x[r * k + p] ?? 0));
    const s = f32(127 / Math.max(m, floor));
    for (let p = 0; p < k; p++) codes[r * k + p] = Math.max(-128, Math.min(127, roundHalfEven(f32((x[r * k + p] ?? 0) * s))));
    scales[r] = s;
  }
  return { codes, scales };
}

/** Q(w) = scale * codes as float32 values (each one float32 product, as an fp32 backend computes it). */
export function dequantizeHost(q: HostCodes): Float32Array {
  const out = new Float32Array(q.codes.length);
  for (let i = 0; i < out.length; i++) out[i] = (q.codes[i] ?? 0) * q.scale;
  return out;
}
