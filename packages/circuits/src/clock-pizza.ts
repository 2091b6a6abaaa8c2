import { BitlensError } from '@bitlens/core';
import { checkModulus, fourierBasis, fourierTransform, rowNorms, frequencyNorms } from './fourier.js';
import { topEigenvectors } from './internal/eigen.js';

const STAGE = 'circuits/clock-pizza';

/**
 * Distance irrelevance (Zhong et al., docs/science.md#clock-vs-pizza): with T[s, d] the correct-class logit of the input with
 * a + b = s and a - b = d (mod p), q = mean_d std_s(T[s, d]) / std(T) (population std). Clock ~ 1, pizza small.
 * `correct[r]` is the correct-class logit of grid row r = a * p + b.
 */
export function distanceIrrelevance(correct: ArrayLike<number>, p: number): number {
  checkModulus(p, STAGE);
  if (correct.length !== p * p) throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'correct', expected: `${p * p} values`, found: String(correct.length) });
  // T[s][d]
  const T = new Float64Array(p * p);
  for (let a = 0; a < p; a++) {
    for (let b = 0; b < p; b++) {
      const s = (a + b) % p;
      const d = (((a - b) % p) + p) % p;
      T[s * p + d] = correct[a * p + b] ?? 0;
    }
  }
  const std = (get: (i: number) => number, n: number): number => {
    let m = 0;
    for (let i = 0; i < n; i++) m += get(i);
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (get(i) - m) ** 2;
    return Math.sqrt(v / n);
  };
  const total = std((i) => T[i] ?? 0, p * p);
  let acc = 0;
  for (let d = 0; d < p; d++) acc += std((s) => T[s * p + d] ?? 0, p);
  return total === 0 ? 1 : acc / p / total;
}

/** Correct-class logits of grid logits `[p^2, classes]` given labels. */
export function correctLogits(logits: ArrayLike<number>, labels: ArrayLike<number>, classes: number): Float64Array {
  const out = new Float64Array(labels.length);
  for (let r = 0; r < labels.length; r++) out[r] = logits[r * classes + (labels[r] ?? 0)] ?? 0;
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
