import type { Tf } from '@bitlens/engine';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';

/**
 * Grokfast-EMA (Lee et al. 2024, "Grokfast: accelerated grokking by amplifying slow gradients"): a low-pass filter of
 * each parameter's gradient, added back amplified before the optimizer step. With h the EMA of the gradients,
 * h_t = alpha h_{t-1} + (1 - alpha) g_t (h_1 = g_1, as in the authors' code) and the step uses g_t + lambda h_t.
 */
export interface GrokfastOptions {
  /** EMA momentum, in [0, 1) (authors' default 0.98). */
  readonly alpha: number;
  /** Amplification of the slow component, >= 0 (authors' default 2). */
  readonly lambda: number;
}

/** The authors' defaults: alpha 0.98, lambda 2. */
export const GROKFAST_DEFAULTS: GrokfastOptions = { alpha: 0.98, lambda: 2 };

/** Grokfast's EMA per parameter (empty before the first step). */
export type GrokfastState = Map<string, Variable>;

/**
 * Filters `grads` in place of the optimizer's input: updates the EMA in `state` (creating it from the first
 * gradients) and returns g + lambda h per parameter (new tensors, kept: the caller disposes them).
 */
export function grokfastFilter(tf: Tf, o: GrokfastOptions, grads: ReadonlyMap<string, Tensor>, state: GrokfastState): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [n, g] of grads) {
    tf.tidy(() => {
      const h = state.get(n);
      const next = h === undefined ? g : tf.add(tf.mul(h, o.alpha), tf.mul(g, 1 - o.alpha));
      if (h === undefined) state.set(n, tf.variable(tf.clone(g), false));
      else h.assign(next);
      out.set(n, tf.keep(tf.add(g, tf.mul(next, o.lambda))));
    });
  }
  return out;
}
