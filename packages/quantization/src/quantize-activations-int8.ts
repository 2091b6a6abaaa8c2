import type { Tf } from '@bitlens/engine';
import { ACTIVATION_EPS } from '@bitlens/kernels';
import type { Tensor } from '@tensorflow/tfjs-core';

// The floor on max|x_token| and the host formula (`activationInt8Host`) live in @bitlens/kernels; the conformance
// suite checks the tf forward below against that formula on every tfjs engine.
export { ACTIVATION_EPS };

/** Options of `quantizeActivationsInt8`. */
export interface ActivationQuantOptions {
  /** Pass the gradient straight through (default true). With false, the result has tfjs's own gradient of round (0). */
  readonly ste?: boolean;
}

function fakeQuant(tf: Tf, x: Tensor): Tensor {
  return tf.tidy(() => {
    const maxAbs = tf.maximum(tf.max(tf.abs(x), -1, true), ACTIVATION_EPS);
    const scale = tf.div(127, maxAbs);
    const q = tf.clipByValue(tf.round(tf.mul(x, scale)), -128, 127);
    return tf.div(q, scale);
  });
}

/**
 * int8 per-token absmax activation quantization (BitNet b1.58), returned dequantized ("fake quantization"):
 * per token (the last axis), scale = 127 / max|x_token| (max floored at 1e-5), q = clamp(round(x * scale), -128, 127),
 * result = q / scale. Each element is within max|x_token| / 254 of its input. The gradient is straight-through
 * (identity) unless `ste: false`. Stateless.
 * @example const h = tf.matMul(quantizeActivationsInt8(tf, x), wq);
 */
export function quantizeActivationsInt8<T extends Tensor>(tf: Tf, x: T, options: ActivationQuantOptions = {}): T {
  if (options.ste === false) return fakeQuant(tf, x) as T;
  const op = tf.customGrad((...inputs) => ({
    value: fakeQuant(tf, inputs[0] as T) as T,
    gradFunc: (dy: T) => dy,
  }));
  return op(x);
}

/**
 * The int8 codes and per-token scales of `quantizeActivationsInt8` (for integer kernels): codes int32 in
 * [-128, 127] with the input's shape, scale float32 [..., 1] with value = codes / scale.
 */
export function activationInt8Codes(tf: Tf, x: Tensor): { readonly codes: Tensor; readonly scale: Tensor } {
  return tf.tidy(() => {
    const maxAbs = tf.maximum(tf.max(tf.abs(x), -1, true), ACTIVATION_EPS);
    const scale = tf.div(127, maxAbs);
    return { codes: tf.cast(tf.clipByValue(tf.round(tf.mul(x, scale)), -128, 127), 'int32'), scale };
  });
}
