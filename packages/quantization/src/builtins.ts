import type { Tf } from '@bitlens/engine';
import { ABSMEAN_EPS, CENTRED_MIN_SCALE, HOST_QUANTIZERS, dequantizeHost, type HostCodes, type HostQuantizerName } from '@bitlens/kernels';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { HostQuantized, QuantizedCodes, WeightQuantizer } from './quantizer.js';

// The non-autodiff formulas (codes and scale on host arrays) have one home, @bitlens/kernels; `quantizeHost` below
// calls them, and the conformance suite checks each tf forward here against them on every tfjs backend.
export { ABSMEAN_EPS, CENTRED_MIN_SCALE };

/** Sign(x) = +1 if x > 0 else -1, as float32 (tf). */
function signNegZeroTf(tf: Tf, x: Tensor): Tensor {
  return tf.sub(tf.mul(tf.cast(tf.greater(x, 0), 'float32'), 2), 1);
}

function host(q: HostCodes): HostQuantized {
  return { values: dequantizeHost(q), codes: q.codes, scale: q.scale };
}

/** `quantizeHost` of a built-in: the @bitlens/kernels formula of that name. */
const hostOf = (name: HostQuantizerName) => (w: Float32Array): HostQuantized => host(HOST_QUANTIZERS[name](w));

function ternaryAbsmeanCodes(tf: Tf, w: Tensor): QuantizedCodes {
  return tf.tidy(() => {
    const gamma = tf.mean(tf.abs(w));
    const codes = tf.cast(tf.clipByValue(tf.round(tf.div(w, tf.add(gamma, ABSMEAN_EPS))), -1, 1), 'int32');
    return { codes, scale: gamma };
  });
}

/**
 * `ternary-absmean` — BitNet b1.58 (Ma et al. 2024): gamma = mean|W|, codes = RoundClip(W / (gamma + eps), -1, 1)
 * with eps = 1e-5 and round half to even, Q(W) = gamma * codes. No centring.
 */
export const ternaryAbsmean: WeightQuantizer = {
  name: 'ternary-absmean',
  description: 'BitNet b1.58: gamma = mean|W|; gamma * RoundClip(W / (gamma + 1e-5), -1, 1)',
  levels: [-1, 0, 1],
  identity: false,
  quantize: (tf, w) =>
    tf.tidy(() => {
      const { codes, scale } = ternaryAbsmeanCodes(tf, w);
      return tf.mul(tf.cast(codes, 'float32'), scale);
    }),
  codes: ternaryAbsmeanCodes,
  quantizeHost: hostOf('ternary-absmean'),
};

function ternaryCentredCodes(tf: Tf, w: Tensor): QuantizedCodes {
  return tf.tidy(() => {
    const centred = tf.sub(w, tf.mean(w));
    const s = tf.maximum(tf.mean(tf.abs(centred)), CENTRED_MIN_SCALE);
    const codes = tf.cast(tf.clipByValue(tf.round(tf.div(centred, s)), -1, 1), 'int32');
    return { codes, scale: s };
  });
}

/**
 * `ternary-centred` — Li 2024's ternary mode: W' = W - mean(W), s = max(mean|W'|, 1e-5),
 * Q(W) = s * clip(round(W' / s), -1, 1) (values in {-s, 0, s}; the mean is not added back).
 */
export const ternaryCentred: WeightQuantizer = {
  name: 'ternary-centred',
  description: "Li 2024: W' = W - mean W; s = max(mean|W'|, 1e-5); s * clip(round(W'/s), -1, 1)",
  levels: [-1, 0, 1],
  identity: false,
  quantize: (tf, w) =>
    tf.tidy(() => {
      const { codes, scale } = ternaryCentredCodes(tf, w);
      return tf.mul(tf.cast(codes, 'float32'), scale);
    }),
  codes: ternaryCentredCodes,
  quantizeHost: hostOf('ternary-centred'),
};

function binaryScaledCodes(tf: Tf, w: Tensor): QuantizedCodes {
  return tf.tidy(() => ({ codes: tf.cast(signNegZeroTf(tf, tf.sub(w, tf.mean(w))), 'int32'), scale: tf.mean(tf.abs(w)) }));
}

/**
 * `binary-scaled` — BitNet (Wang et al. 2023): alpha = mean(W), beta = mean|W| (= ||W||_1 / (n m), of W itself),
 * Q(W) = beta * Sign(W - alpha) with Sign(x) = +1 if x > 0 else -1 (so Sign(0) = -1: codes are always +-1).
 */
export const binaryScaled: WeightQuantizer = {
  name: 'binary-scaled',
  description: 'BitNet: mean|W| * Sign(W - mean W), Sign(x) = +1 if x > 0 else -1',
  levels: [-1, 1],
  identity: false,
  quantize: (tf, w) =>
    tf.tidy(() => {
      const { codes, scale } = binaryScaledCodes(tf, w);
      return tf.mul(tf.cast(codes, 'float32'), scale);
    }),
  codes: binaryScaledCodes,
  quantizeHost: hostOf('binary-scaled'),
};

function binarySignCodes(tf: Tf, w: Tensor): QuantizedCodes {
  return tf.tidy(() => ({ codes: tf.cast(signNegZeroTf(tf, tf.sub(w, tf.mean(w))), 'int32'), scale: tf.scalar(1) }));
}

/**
 * `binary-sign` — Li 2024's binary mode: Q(W) = Sign(W - mean W) in {-1, +1}, no scale. Sign(x) = +1 if x > 0 else -1.
 * Li's code uses `torch.sign`, which gives 0 where W equals its mean exactly (a measure-zero event for trained float
 * weights); bitlens maps that case to -1 so that codes always fit one bit.
 */
export const binarySign: WeightQuantizer = {
  name: 'binary-sign',
  description: 'Li 2024: Sign(W - mean W), no scale; Sign(x) = +1 if x > 0 else -1',
  levels: [-1, 1],
  identity: false,
  quantize: (tf, w) => tf.tidy(() => signNegZeroTf(tf, tf.sub(w, tf.mean(w)))),
  codes: binarySignCodes,
  quantizeHost: hostOf('binary-sign'),
};

/**
 * The one name of "not quantized": the registry's identity quantizer. Every package says full precision with this
 * constant (model configs, training, the sweep's quantizer axis, reports), never with `undefined`, `null` or `'none'`.
 */
export const FULL_PRECISION = 'fp32';

/** True for the name of full precision ({@link FULL_PRECISION}). */
export const isFullPrecision = (quantizer: string): boolean => quantizer === FULL_PRECISION;

/** `fp32` — the identity: full-precision weights (no codes). */
export const fp32: WeightQuantizer = {
  name: FULL_PRECISION,
  description: 'full precision (identity)',
  levels: [],
  identity: true,
  quantize: (tf, w) => tf.clone(w),
  quantizeHost: (w) => ({ values: new Float32Array(w), scale: 1 }),
};

/** The built-in quantizers, in a stable order. */
export const BUILTIN_QUANTIZERS: readonly WeightQuantizer[] = [fp32, ternaryAbsmean, ternaryCentred, binaryScaled, binarySign];
