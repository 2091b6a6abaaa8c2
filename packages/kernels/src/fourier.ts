import { BitlensError } from '@bitlens/core';

/**
 * The orthonormal real Fourier basis over Z_p (docs/science.md#fourier-basis), p x p row-major, rows
 * [const, cos 1, sin 1, …, cos K, sin K] with K = (p - 1) / 2. Computed in float64.
 * @example fourierBasis(5)[0] === 1 / Math.sqrt(5)
 */
export function fourierBasis(p: number): Float64Array {
  if (!Number.isInteger(p) || p < 3 || p % 2 === 0) {
    throw new BitlensError('INVALID_OPTION', { stage: 'kernels/fourier', field: 'p', expected: 'an odd integer >= 3', found: String(p) });
  }
  const f = new Float64Array(p * p);
  const c0 = 1 / Math.sqrt(p), ck = Math.sqrt(2 / p);
  for (let x = 0; x < p; x++) f[x] = c0;
  for (let k = 1; k <= (p - 1) / 2; k++) {
    for (let x = 0; x < p; x++) {
      // reduce k*x mod p first so the angle stays small and float64 keeps full precision
      const w = (2 * Math.PI * ((k * x) % p)) / p;
      f[(2 * k - 1) * p + x] = Math.cos(w) * ck;
      f[2 * k * p + x] = Math.sin(w) * ck;
    }
  }
  return f;
}
