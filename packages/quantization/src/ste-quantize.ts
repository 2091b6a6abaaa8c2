import type { Tf } from '@bitlens/engine';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { WeightQuantizer } from './quantizer.js';

/** Options of `steQuantize`. */
export interface SteOptions {
  /**
   * How the gradient reaches the latent weight.
   * - `identity` (default, the textbook STE; docs/science.md#weight-quantizers): dL/dW = dL/dQ exactly.
   * - `centred`: dL/dW = dL/dQ - mean(dL/dQ). This is what Li's code computes: it writes
   *   `ste(W - mean(W))` with the mean *not* detached, so autograd differentiates the centring.
   */
  readonly gradient?: 'identity' | 'centred';
}

/**
 * Straight-through quantization: the value is `quantizer.quantize(w)`, the gradient is passed to `w` unchanged
 * (W_q = W + stopgrad(Q(W) - W)), implemented with `tf.customGrad`. For an identity quantizer (fp32) it returns `w`
 * itself. Works inside `tf.variableGrads` / `optimizer.minimize`; holds no state.
 * @example const wq = steQuantize(tf, registry.get('ternary-absmean'), wIn); const h = tf.matMul(x, wq);
 */
export function steQuantize<T extends Tensor>(tf: Tf, quantizer: WeightQuantizer, w: T, options: SteOptions = {}): T {
  if (quantizer.identity) return w;
  const centred = options.gradient === 'centred';
  const op = tf.customGrad((...inputs) => {
    const x = inputs[0] as T; // customGrad passes our one tensor first (the save function last)
    return {
      value: quantizer.quantize(tf, x) as T,
      gradFunc: (dy: T) => (centred ? tf.sub(dy, tf.mean(dy)) : dy),
    };
  });
  return op(w);
}
