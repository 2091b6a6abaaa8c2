import { BitlensError } from '@bitlens/core';

/**
 * Gini coefficient of a non-negative vector (docs/science.md#fourier-spectra-and-gini): G = sum_i (2i - n - 1) x_(i) / (n sum_i x_i) over the
 * ascending sort. 0 for a constant vector, (n-1)/n for a one-hot vector; scale invariant. An all-zero vector gives 0.
 */
export function gini(x: ArrayLike<number>): number {
  const n = x.length;
  if (n === 0) throw new BitlensError('INVALID_OPTION', { stage: 'circuits/gini', field: 'x', expected: 'a non-empty vector', found: 'length 0' });
  const sorted = Float64Array.from(x).sort();
  if ((sorted[0] ?? 0) < 0) {
    throw new BitlensError('INVALID_OPTION', { stage: 'circuits/gini', field: 'x', expected: 'non-negative values', found: String(sorted[0]) });
  }
  let num = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = sorted[i] ?? 0;
    num += (2 * (i + 1) - n - 1) * v;
    sum += v;
  }
  return sum === 0 ? 0 : num / (n * sum);
}
