import type { Tf } from '@bitlens/engine';
import type { Tensor } from '@tensorflow/tfjs-core';

/**
 * Mean cross-entropy of logits [B, C] against one-hot labels [B, C], numerically safe in float32 down to ~1e-38 loss.
 *
 * Why not `tf.losses.softmaxCrossEntropy` / `logSoftmax`: with the usual max-subtracted log-sum-exp, once the correct
 * class dominates, log(1 + r) with r = sum of the other classes' exp(z_j - z_c) rounds to log(1) = 0 as soon as
 * r < 6e-8, and the correct class's gradient p_c - 1 = -r rounds to 0 while the others' stay non-zero: loss and
 * gradient stall near 1e-7 (docs/science.md#conventions; Nanda and Li upcast to float64, which tfjs does not have).
 *
 * Here, per row, with d_j = z_j - z_c (so d_c = 0) and m = max(0, max_{j != c} d_j):
 *   loss = m + log1p(expm1(-m) + R),  R = sum_{j != c} exp(d_j - m)
 * which equals log-sum-exp(z) - z_c exactly, and for a confidently correct row (m = 0) is log1p(R), accurate for tiny
 * R (log1p computed with Goldberg's trick: the wasm kernel is not accurate). The gradient is written out (tf.customGrad) instead of autodiff through `max`:
 *   dL/dz_j = exp(d_j - m) / (exp(-m) + R)  for j != c,   dL/dz_c = -sum_{j != c} dL/dz_j,
 * so the correct class's push is the sum of the small terms, never 1 - (something close to 1).
 */
export function safeCrossEntropy(tf: Tf, logits: Tensor, oneHot: Tensor): Tensor {
  const B = logits.shape[0] ?? 1;
  const f = tf.customGrad((...inputs) => {
    const z = inputs[0] as Tensor;
    const y = inputs[1] as Tensor;
    const save = inputs[2] as (ts: Tensor[]) => void;
    const { value, pOther } = tf.tidy(() => {
      const zc = tf.sum(tf.mul(z, y), -1, true);
      // Exclude the correct class by pushing it to -1e30 (exp underflows to exactly 0).
      const dOther = tf.sub(tf.sub(z, zc), tf.mul(y, 1e30));
      const m = tf.maximum(tf.max(dOther, -1, true), 0);
      const e = tf.exp(tf.sub(dOther, m));
      const R = tf.sum(e, -1, true);
      const loss = tf.add(m, log1pAccurate(tf, tf.add(tf.expm1(tf.neg(m)), R)));
      const denom = tf.add(tf.exp(tf.neg(m)), R);
      return { value: tf.mean(loss), pOther: tf.div(e, denom) };
    });
    save([pOther, y]);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [p, yy] = saved as [Tensor, Tensor];
        const g = tf.sub(p, tf.mul(yy, tf.sum(p, -1, true)));
        return [tf.mul(g, tf.div(dy, B)), tf.zerosLike(yy)];
      },
    };
  });
  return f(logits, oneHot);
}

/**
 * log(1 + u) accurate for tiny u. tfjs-wasm's Log1p kernel computes log(1 + u) literally (1e-11 → 0), so use
 * Goldberg's trick: w = 1 + u; log1p(u) = u when w == 1, else log(w) * u / (w - 1). Forward values only.
 */
function log1pAccurate(tf: Tf, u: Tensor): Tensor {
  const w = tf.add(u, 1);
  const d = tf.sub(w, 1);
  return tf.where(tf.equal(d, 0), u, tf.div(tf.mul(tf.log(w), u), d));
}

/** Fraction of rows whose argmax logit is the label (logits [B, C], labels int32 [B]); a scalar tensor. */
export function accuracy(tf: Tf, logits: Tensor, labels: Tensor): Tensor {
  return tf.mean(tf.cast(tf.equal(tf.argMax(logits, -1), labels), 'float32'));
}
