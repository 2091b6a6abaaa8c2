import { BitlensError } from '@bitlens/core';
import { checkModulus, fourierBasis, fourierTransform, rowNorms, frequencyNorms } from './fourier.js';
import { topEigenvectors } from './internal/eigen.js';
import { type TaskBasis, taskBasis } from './task-basis.js';

const STAGE = 'circuits/clock-pizza';

/**
 * Distance irrelevance (Zhong et al., docs/science.md#clock-vs-pizza) of `add`: with T[s, d] the correct-class logit of
 * the input with a + b = s and a - b = d (mod p), q = mean_d std_s(T[s, d]) / std(T) (population std). Clock ~ 1,
 * pizza small. `correct[r]` is the correct-class logit of grid row r = a * p + b. For other tasks see
 * {@link distanceIrrelevanceIn}.
 */
export function distanceIrrelevance(correct: ArrayLike<number>, p: number): number {
  checkModulus(p, STAGE);
  const basis = taskBasis('add', p);
  if (basis === undefined) throw new BitlensError('INTERNAL', { stage: STAGE, field: 'basis' }, 'add has no basis');
  return distanceIrrelevanceIn(correct, basis);
}

/**
 * Distance irrelevance in a task's basis: the rows of `basis` grouped by their "other" combination d (sub: d = a + b;
 * αa + βb: d = αa − βb; multiplicative tasks: d = αi − βj in discrete-log coordinates), q = mean over d of the
 * population std of the correct logit within the group, divided by its std over all basis rows. Within a group the
 * label's combination s varies and d is fixed, so q ~ 1 when the correct logit ignores d (clock-like) and is small
 * when it depends on d (pizza-like). For add each group holds one row per s, which is Zhong's T[s, d]. A constant
 * correct logit gives 1. `correct` is indexed by grid row (a * p + b).
 */
export function distanceIrrelevanceIn(correct: ArrayLike<number>, basis: TaskBasis): number {
  const p = basis.p;
  if (correct.length !== p * p) throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'correct', expected: `${p * p} values`, found: String(correct.length) });
  const { n, rows, s, d } = basis;
  // Rows ordered by (s, d): for add this is the row-major order of Zhong's T[s, d], so sums run in the same order.
  const order = Array.from(rows, (_, i) => i).sort((x, y) => (s[x] ?? 0) - (s[y] ?? 0) || (d[x] ?? 0) - (d[y] ?? 0));
  const groups: number[][] = Array.from({ length: n }, () => []);
  for (const i of order) groups[d[i] ?? 0]?.push(correct[rows[i] ?? 0] ?? 0);
  const std = (v: readonly number[]): number => {
    let m = 0;
    for (const x of v) m += x;
    m /= v.length;
    let acc = 0;
    for (const x of v) acc += (x - m) ** 2;
    return Math.sqrt(acc / v.length);
  };
  const total = std(order.map((i) => correct[rows[i] ?? 0] ?? 0));
  let acc = 0;
  let used = 0;
  for (const g of groups) {
    if (g.length === 0) continue;
    acc += std(g);
    used++;
  }
  return total === 0 ? 1 : acc / used / total;
}

/** Correct-class logits of grid logits `[p^2, classes]` given labels; NaN where the label is not a class (-1 outside a task's domain). */
export function correctLogits(logits: ArrayLike<number>, labels: ArrayLike<number>, classes: number): Float64Array {
  const out = new Float64Array(labels.length);
  for (let r = 0; r < labels.length; r++) {
    const l = labels[r] ?? -1;
    out[r] = l >= 0 && l < classes ? (logits[r * classes + l] ?? 0) : Number.NaN;
  }
  return out;
}

/** Mean cosine similarity of paired gradient rows (`ga`, `gb` row-major `[n, d]`). */
export function meanCosine(ga: ArrayLike<number>, gb: ArrayLike<number>, d: number): number {
  const n = ga.length / d;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let j = 0; j < d; j++) {
      const x = ga[i * d + j] ?? 0;
      const y = gb[i * d + j] ?? 0;
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    acc += na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
  }
  return acc / n;
}

/**
 * Circularity (Zhong et al.'s auxiliary metric, our reconstruction): project the centred token embeddings W_E[:p]
 * (`[p, d]`) on their first `components` principal directions; for each projection v (a function of the token),
 * the concentration is max_k (c_k^2 + s_k^2) / ||v||^2 in the orthonormal Fourier basis (in [0, 1]); the result is
 * the mean over components. 1 when every principal component is a single-frequency circle.
 */
export function circularity(embed: ArrayLike<number>, p: number, d: number, components = 4): number {
  checkModulus(p, STAGE);
  if (embed.length < p * d) throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'embed', expected: `at least ${p} x ${d} values`, found: String(embed.length) });
  const X = new Float64Array(p * d);
  for (let j = 0; j < d; j++) {
    let m = 0;
    for (let t = 0; t < p; t++) m += embed[t * d + j] ?? 0;
    m /= p;
    for (let t = 0; t < p; t++) X[t * d + j] = (embed[t * d + j] ?? 0) - m;
  }
  // Gram matrix over tokens (p x p): its eigenvectors are the principal projections v directly.
  const G = new Float64Array(p * p);
  for (let s = 0; s < p; s++) {
    for (let t = s; t < p; t++) {
      let v = 0;
      for (let j = 0; j < d; j++) v += (X[s * d + j] ?? 0) * (X[t * d + j] ?? 0);
      G[s * p + t] = v;
      G[t * p + s] = v;
    }
  }
  const basis = fourierBasis(p);
  const { vectors, values } = topEigenvectors(G, p, Math.min(components, p));
  let acc = 0;
  let used = 0;
  for (let c = 0; c < vectors.length; c++) {
    if ((values[c] ?? 0) <= 1e-12 * (values[0] ?? 1)) continue;
    const v = vectors[c] ?? new Float64Array(p);
    const coeffs = fourierTransform(basis, v, 1);
    const { freqNorms } = frequencyNorms(rowNorms(coeffs, p, 1), p);
    let total = 0;
    for (let i = 0; i < p; i++) total += (v[i] ?? 0) ** 2;
    let best = 0;
    for (const f of freqNorms) best = Math.max(best, (f * f) / total);
    acc += Math.min(1, Math.max(0, best));
    used++;
  }
  return used === 0 ? 0 : acc / used;
}
