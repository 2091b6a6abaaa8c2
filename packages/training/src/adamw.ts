import type { Tf } from '@bitlens/engine';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';

/** AdamW hyper-parameters (PyTorch's `torch.optim.AdamW` semantics: decoupled weight decay p *= 1 - lr * wd). */
export interface AdamWOptions {
  readonly lr: number;
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Nanda's linear warmup: the lr of step s (0-based) is lr * min(s / 10, 1) (LambdaLR; so step 0 has lr 0). */
  readonly warmup: boolean;
}

/** Defaults (docs/science.md#training): lr 1e-3, weight decay 1.0, betas (0.9, 0.98), eps 1e-8, no warmup. */
export const ADAMW_DEFAULTS: AdamWOptions = { lr: 1e-3, weightDecay: 1.0, beta1: 0.9, beta2: 0.98, eps: 1e-8, warmup: false };

/** The learning rate applied at 0-based step `step`. */
export function learningRateAt(o: AdamWOptions, step: number): number {
  return o.warmup ? o.lr * Math.min(step / 10, 1) : o.lr;
}

/** AdamW moment estimates, one pair per parameter, and the number of steps taken. */
export interface AdamWState {
  readonly m: Map<string, Variable>;
  readonly v: Map<string, Variable>;
  step: number;
}

/** Zero moments for the given parameters. */
export function adamwState(tf: Tf, params: ReadonlyMap<string, Variable>): AdamWState {
  const m = new Map<string, Variable>();
  const v = new Map<string, Variable>();
  for (const [n, p] of params) {
    // tf.variable shares the initial tensor's data: dispose the temporary (tidy) so only the variable holds it.
    tf.tidy(() => {
      m.set(n, tf.variable(tf.zerosLike(p), false));
      v.set(n, tf.variable(tf.zerosLike(p), false));
    });
  }
  return { m, v, step: 0 };
}

/**
 * One AdamW step in place (PyTorch order): p *= 1 - lr_t * wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 * p -= lr_t / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), t = step + 1. Bias corrections are computed in float64
 * on the host and passed as scalars.
 */
export function adamwStep(tf: Tf, o: AdamWOptions, params: ReadonlyMap<string, Variable>, grads: ReadonlyMap<string, Tensor>, state: AdamWState): void {
  const lr = learningRateAt(o, state.step);
  const t = state.step + 1;
  const bc1 = 1 - o.beta1 ** t;
  const sqrtBc2 = Math.sqrt(1 - o.beta2 ** t);
  tf.tidy(() => {
    for (const [n, p] of params) {
      const g = grads.get(n);
      const m = state.m.get(n);
      const v = state.v.get(n);
      if (g === undefined || m === undefined || v === undefined) continue;
      const m2 = tf.add(tf.mul(m, o.beta1), tf.mul(g, 1 - o.beta1));
      const v2 = tf.add(tf.mul(v, o.beta2), tf.mul(tf.square(g), 1 - o.beta2));
      const decayed = o.weightDecay === 0 || lr === 0 ? p : tf.mul(p, 1 - lr * o.weightDecay);
      const upd = tf.div(m2, tf.add(tf.div(tf.sqrt(v2), sqrtBc2), o.eps));
      p.assign(tf.sub(decayed, tf.mul(upd, lr / bc1)));
      m.assign(m2);
      v.assign(v2);
    }
  });
  state.step = t;
}
