import type { Tf } from '@bitlens/engine';
import type { Tensor } from '@tensorflow/tfjs-core';
import { mean, meanAbs, roundHalfEven, signNegZero } from './internal/math.js';
import type { HostQuantized, QuantizedCodes, WeightQuantizer } from './quantizer.js';

/** BitNet b1.58's epsilon in W / (gamma + eps). */
export const ABSMEAN_EPS = 1e-5;
/** Li's floor on the ternary scale: s = max(mean|W'|, 1e-5). */
export const CENTRED_MIN_SCALE = 1e-5;

/** Sign(x) = +1 if x > 0 else -1, as float32 (tf). */
function signNegZeroTf(tf: Tf, x: Tensor): Tensor {
  return tf.sub(tf.mul(tf.cast(tf.greater(x, 0), 'float32'), 2), 1);
}

function host(codes: Int8Array, scale: number): HostQuantized {
  const values = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) values[i] = (codes[i] ?? 0) * scale;
  return { values, codes, scale };
}

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
  quantizeHost(w) {
    const gamma = meanAbs(w);
    const codes = Int8Array.from(w, (x) => Math.max(-1, Math.min(1, roundHalfEven(x / (gamma + ABSMEAN_EPS)))));
    return host(codes, gamma);
  },
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
  quantizeHost(w) {
    const m = mean(w);
    const s = Math.max(meanAbs(w, m), CENTRED_MIN_SCALE);
    const codes = Int8Array.from(w, (x) => Math.max(-1, Math.min(1, roundHalfEven((x - m) / s))));
    return host(codes, s);
  },
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
  quantizeHost(w) {
    const m = mean(w);
    return host(Int8Array.from(w, (x) => signNegZero(x - m)), meanAbs(w));
  },
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
  quantizeHost(w) {
    const m = mean(w);
    return host(Int8Array.from(w, (x) => signNegZero(x - m)), 1);
  },
};

/** `fp32` — the identity: full-precision weights (no codes). */
export const fp32: WeightQuantizer = {
  name: 'fp32',
  description: 'full precision (identity)',
  levels: [],
  identity: true,
  quantize: (tf, w) => tf.clone(w),
  quantizeHost: (w) => ({ values: new Float32Array(w), scale: 1 }),
};

/** The built-in quantizers, in a stable order. */
export const BUILTIN_QUANTIZERS: readonly WeightQuantizer[] = [fp32, ternaryAbsmean, ternaryCentred, binaryScaled, binarySign];
