import { BitlensError } from '@bitlens/core';

const STAGE = 'circuits/fourier';

/** Row layout of a real Fourier basis over Z_p. */
export type FourierLayout = 'orthonormal' | 'li';

/** A real Fourier basis over Z_p: `rows` x `p` row-major, float64. */
export interface FourierBasis {
  readonly p: number;
  readonly rows: number;
  /** Row-major `[rows, p]`. */
  readonly data: Float64Array;
  /** Frequency of each row (0 for the constant row). */
  readonly freqOfRow: Int32Array;
  /** `'const' | 'cos' | 'sin'` of each row. */
  readonly kindOfRow: readonly ('const' | 'cos' | 'sin')[];
  readonly layout: FourierLayout;
}

/** Checks that `p` is an odd integer >= 3 (every analysis assumes an odd modulus). */
export function checkModulus(p: number, stage: string = STAGE): void {
  if (!Number.isInteger(p) || p < 3 || p % 2 === 0) {
    throw new BitlensError('INVALID_OPTION', { stage, field: 'p', expected: 'an odd integer >= 3 (a prime modulus)', found: String(p) });
  }
}

/** Number of real frequencies K = (p - 1) / 2. */
export function numFrequencies(p: number): number {
  return (p - 1) / 2;
}

function normalisedRow(p: number, f: (x: number) => number, out: Float64Array, offset: number): void {
  let norm = 0;
  for (let x = 0; x < p; x++) {
    const v = f(x);
    out[offset + x] = v;
    norm += v * v;
  }
  const s = 1 / Math.sqrt(norm);
  for (let x = 0; x < p; x++) out[offset + x] = (out[offset + x] ?? 0) * s;
}

/**
 * Builds the real Fourier basis over Z_p (docs/science.md#fourier-basis).
 * `orthonormal` (default): p rows `[const, cos 1, sin 1, ..., cos K, sin K]`, K = (p-1)/2; F F^T = I.
 * `li`: Li 2024's notebook layout `[const, sin k, cos k for k = 1..floor(p/2)+1]` (p + 2 rows for odd p, each row
 * normalised; rows for k = K+1 duplicate k = K up to sign, so it is not orthogonal). For reproducing Li's plots only.
 * Angles are reduced mod p before cos/sin so that rows are exact to ~1e-16.
 */
export function fourierBasis(p: number, layout: FourierLayout = 'orthonormal'): FourierBasis {
  checkModulus(p);
  const K = numFrequencies(p);
  const kmax = layout === 'li' ? Math.floor(p / 2) + 1 : K;
  const rows = 1 + 2 * kmax;
  const data = new Float64Array(rows * p);
  const freqOfRow = new Int32Array(rows);
  const kindOfRow: ('const' | 'cos' | 'sin')[] = ['const'];
  normalisedRow(p, () => 1, data, 0);
  for (let k = 1; k <= kmax; k++) {
    const w = (2 * Math.PI) / p;
    const cos = (x: number): number => Math.cos(w * ((k * x) % p));
    const sin = (x: number): number => Math.sin(w * ((k * x) % p));
    const [first, second] = layout === 'li' ? [sin, cos] : [cos, sin];
    normalisedRow(p, first, data, (2 * k - 1) * p);
    normalisedRow(p, second, data, 2 * k * p);
    freqOfRow[2 * k - 1] = k;
    freqOfRow[2 * k] = k;
    kindOfRow.push(layout === 'li' ? 'sin' : 'cos', layout === 'li' ? 'cos' : 'sin');
  }
  return { p, rows, data, freqOfRow, kindOfRow, layout };
}

/**
 * Applies the basis along the first axis of a row-major matrix `m` of shape `[p, cols]`: returns `F m`, `[rows, cols]`.
 * Plain float64 (used for weight matrices, which are small).
 */
export function fourierTransform(basis: FourierBasis, m: Float64Array | Float32Array, cols: number): Float64Array {
  const { p, rows, data } = basis;
  if (m.length !== p * cols) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'matrix', expected: `${p} x ${cols} values`, found: String(m.length) });
  }
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let x = 0; x < p; x++) {
      const f = data[i * p + x] ?? 0;
      if (f === 0) continue;
      const r = x * cols;
      for (let c = 0; c < cols; c++) out[o + c] = (out[o + c] ?? 0) + f * (m[r + c] ?? 0);
    }
  }
  return out;
}

/** Euclidean norm of each row of a row-major `[rows, cols]` matrix. */
export function rowNorms(m: Float64Array | Float32Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let c = 0; c < cols; c++) {
      const v = m[i * cols + c] ?? 0;
      s += v * v;
    }
    out[i] = Math.sqrt(s);
  }
  return out;
}

/**
 * Per-frequency norms from per-row norms of an orthonormal-basis transform: entry k-1 is sqrt(n_cos_k^2 + n_sin_k^2),
 * k = 1..K. The constant row is returned separately.
 */
export function frequencyNorms(rowNormsOf: Float64Array, p: number): { readonly constNorm: number; readonly freqNorms: Float64Array } {
  const K = numFrequencies(p);
  const freqNorms = new Float64Array(K);
  for (let k = 1; k <= K; k++) {
    const c = rowNormsOf[2 * k - 1] ?? 0;
    const s = rowNormsOf[2 * k] ?? 0;
    freqNorms[k - 1] = Math.sqrt(c * c + s * s);
  }
  return { constNorm: rowNormsOf[0] ?? 0, freqNorms };
}

/**
 * The unit directions of frequency k for the sum a + b over the p^2 input grid (row index a * p + b), docs/science.md#fourier-basis:
 * u_cos(k) ∝ cos(w_k (a + b)), u_sin(k) ∝ sin(w_k (a + b)), each of unit norm in R^{p^2}.
 */
export function sumDirections(p: number, k: number): { readonly cos: Float64Array; readonly sin: Float64Array } {
  checkModulus(p);
  const K = numFrequencies(p);
  if (!Number.isInteger(k) || k < 1 || k > K) {
    throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'k', expected: `an integer frequency in 1..${K}`, found: String(k) });
  }
  const cos = new Float64Array(p * p);
  const sin = new Float64Array(p * p);
  const w = (2 * Math.PI) / p;
  const s = Math.sqrt(2) / p; // ||cos(w(a+b))||^2 over the grid = p^2 / 2
  for (let a = 0; a < p; a++) {
    for (let b = 0; b < p; b++) {
      const t = w * ((k * (a + b)) % p);
      cos[a * p + b] = Math.cos(t) * s;
      sin[a * p + b] = Math.sin(t) * s;
    }
  }
  return { cos, sin };
}
