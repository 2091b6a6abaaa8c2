import { BitlensError } from '@bitlens/core';
import { checkModulus, fourierBasis, fourierTransform, frequencyNorms, rowNorms } from './fourier.js';
import { gini } from './gini.js';

const STAGE = 'circuits/spectra';

/** Fourier norms of a matrix with a p-sized axis. */
export interface FourierSpectrum {
  /** Norm of each basis row of F M (length p, orthonormal order). */
  readonly rowNorms: Float64Array;
  readonly constNorm: number;
  /** Per frequency k = 1..K: sqrt(n_cos^2 + n_sin^2). */
  readonly freqNorms: Float64Array;
  /** Gini of `rowNorms` (all p Fourier components, docs/science.md#fourier-spectra-and-gini). */
  readonly gini: number;
}

/** Fourier spectrum of a row-major `[p, cols]` matrix along its first axis. */
export function fourierSpectrum(m: Float32Array | Float64Array, p: number, cols: number): FourierSpectrum {
  checkModulus(p, STAGE);
  const basis = fourierBasis(p);
  const coeff = fourierTransform(basis, m, cols);
  const rn = rowNorms(coeff, p, cols);
  const { constNorm, freqNorms } = frequencyNorms(rn, p);
  return { rowNorms: rn, constNorm, freqNorms, gini: gini(rn) };
}

/**
 * Fourier norms of the token embedding (docs/science.md#fourier-spectra-and-gini): `embed` is W_E in TransformerLens orientation
 * `[dVocab, dModel]`; only the first p rows (the number tokens) are transformed.
 */
export function embeddingSpectrum(embed: Float32Array | Float64Array, p: number, dModel: number): FourierSpectrum {
  if (embed.length < p * dModel) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'embed.W_E', expected: `at least ${p} x ${dModel} values`, found: String(embed.length) });
  }
  return fourierSpectrum(embed.subarray(0, p * dModel), p, dModel);
}

/**
 * The neuron-logit map W_L = W_U^T W_out (docs/science.md#fourier-spectra-and-gini), `[dVocabOut, dMlp]` row-major, float64, from
 * TransformerLens-oriented `W_out` `[dMlp, dModel]` and `W_U` `[dModel, dVocabOut]`.
 */
export function neuronLogitMap(wOut: Float32Array, wU: Float32Array, dMlp: number, dModel: number, dOut: number): Float64Array {
  if (wOut.length !== dMlp * dModel) throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'blocks.0.mlp.W_out', expected: `${dMlp} x ${dModel}`, found: String(wOut.length) });
  if (wU.length !== dModel * dOut) throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'unembed.W_U', expected: `${dModel} x ${dOut}`, found: String(wU.length) });
  const out = new Float64Array(dOut * dMlp);
  for (let n = 0; n < dMlp; n++) {
    for (let j = 0; j < dModel; j++) {
      const w = wOut[n * dModel + j] ?? 0;
      if (w === 0) continue;
      for (let c = 0; c < dOut; c++) out[c * dMlp + n] = (out[c * dMlp + n] ?? 0) + w * (wU[j * dOut + c] ?? 0);
    }
  }
  return out;
}

/** How the FFS significance threshold is given: absolute, or relative to the largest max(c_k, s_k). */
export type SparsityThreshold = { readonly kind: 'absolute'; readonly eps: number } | { readonly kind: 'relative'; readonly fraction: number };

/**
 * The default FFS threshold: eps = 0.5 x max_k max(c_k, s_k), i.e. a frequency counts when its stronger component has
 * at least half the amplitude of the strongest component of the embedding (docs/science-furuta.md#ffs-eps). Scale-free;
 * an isotropic random embedding (every frequency within a few percent of the max) reads FFS = 1, a grokked addition
 * model (key frequencies at 0.6–1.0 of the max, the weight-decay leftover below 0.45) reads (number of keys) / K.
 */
export const DEFAULT_SPARSITY: SparsityThreshold = { kind: 'relative', fraction: 0.5 };

/** A short text of the rule, e.g. `relative 0.5 x max` or `absolute 0.25` (recorded beside the eps it gave). */
export function describeSparsity(t: SparsityThreshold): string {
  return t.kind === 'relative' ? `relative ${t.fraction} x max` : `absolute ${t.eps}`;
}

/** Fourier Frequency Sparsity and Coefficient Ratio of an embedding (Furuta et al., docs/science.md#ffs-and-fcr-furuta). */
export interface FourierSparsity {
  /** (1/K) #{k : max(c_k, s_k) > eps}. */
  readonly ffs: number;
  /** Mean over the significant frequencies of min(c_k / s_k, s_k / c_k); 0 when none is significant. */
  readonly fcr: number;
  /** The absolute eps used (recorded with every result). */
  readonly eps: number;
  readonly significant: number[];
  /**
   * Share of the non-constant Fourier energy in the cosine rows, sum c_k^2 / sum (c_k^2 + s_k^2), over all k: which way
   * a low FCR leans (1 = cosines only: an even embedding, E[-a] = E[a]; 0 = sines only: an odd one).
   */
  readonly cosShare: number;
}

/**
 * FFS and FCR from an embedding spectrum (c_k, s_k = norms of the cos_k / sin_k rows of F W_E). Default threshold:
 * {@link DEFAULT_SPARSITY} (relative, 0.5 x the largest max(c_k, s_k)). FCR is averaged over the significant frequencies only, so that an
 * embedding holding only one planted frequency gives FCR = 1 (the published definition over all K is undefined at
 * zero-norm frequencies). These definitions are reconstructed (docs/science.md#ffs-and-fcr-furuta) and not verified against the paper.
 */
export function fourierSparsity(spectrum: FourierSpectrum, threshold: SparsityThreshold = DEFAULT_SPARSITY): FourierSparsity {
  const rn = spectrum.rowNorms;
  const K = (rn.length - 1) / 2;
  let maxCs = 0;
  for (let k = 1; k <= K; k++) maxCs = Math.max(maxCs, rn[2 * k - 1] ?? 0, rn[2 * k] ?? 0);
  const eps = threshold.kind === 'absolute' ? threshold.eps : threshold.fraction * maxCs;
  if (!(eps >= 0)) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'eps', expected: 'a non-negative threshold', found: String(eps) });
  const significant: number[] = [];
  let ratio = 0;
  for (let k = 1; k <= K; k++) {
    const c = rn[2 * k - 1] ?? 0;
    const s = rn[2 * k] ?? 0;
    if (Math.max(c, s) > eps) {
      significant.push(k);
      ratio += c === 0 || s === 0 ? 0 : Math.min(c / s, s / c);
    }
  }
  let c2 = 0;
  let all = 0;
  for (let k = 1; k <= K; k++) {
    c2 += (rn[2 * k - 1] ?? 0) ** 2;
    all += (rn[2 * k - 1] ?? 0) ** 2 + (rn[2 * k] ?? 0) ** 2;
  }
  return { ffs: significant.length / K, fcr: significant.length === 0 ? 0 : ratio / significant.length, eps, significant, cosShare: all === 0 ? Number.NaN : c2 / all };
}

/** Fourier norms over Z_n (any n >= 2) of a matrix whose first axis is indexed by Z_n. */
export interface CyclicSpectrum {
  readonly n: number;
  /** Norm of each orthonormal basis row: [const, cos 1, sin 1, ..., cos K', sin K'] and, for even n, a last cos(n/2) row (length n). */
  readonly rowNorms: Float64Array;
  readonly constNorm: number;
  /** Per frequency k = 1..floor(n/2): sqrt(n_cos^2 + n_sin^2) (the cosine alone at k = n/2 for even n). */
  readonly freqNorms: Float64Array;
}

/**
 * Fourier spectrum of a row-major `[n, cols]` matrix along its first axis, over Z_n for any n >= 2 (even n included:
 * its frequency n/2 is the alternating sign (-1)^x, with no sine). Orthonormal real basis, float64, O(n^2 cols).
 */
export function cyclicSpectrum(m: Float32Array | Float64Array, n: number, cols: number): CyclicSpectrum {
  if (!Number.isInteger(n) || n < 2 || m.length !== n * cols) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'matrix', expected: `an [n, ${cols}] matrix with integer n >= 2`, found: `${m.length} values, n = ${n}` });
  }
  const K = Math.floor(n / 2);
  const rowNorms = new Float64Array(n);
  const freqNorms = new Float64Array(K);
  const w = (2 * Math.PI) / n;
  const acc = new Float64Array(cols);
  const norm = (f: (x: number) => number, scale: number): number => {
    acc.fill(0);
    for (let x = 0; x < n; x++) {
      const v = f(x) * scale;
      for (let c = 0; c < cols; c++) acc[c] = (acc[c] ?? 0) + v * (m[x * cols + c] ?? 0);
    }
    let s = 0;
    for (const a of acc) s += a * a;
    return Math.sqrt(s);
  };
  rowNorms[0] = norm(() => 1, 1 / Math.sqrt(n));
  for (let k = 1; k <= K; k++) {
    const nyquist = 2 * k === n;
    const c = norm((x) => Math.cos(w * ((k * x) % n)), (nyquist ? 1 : Math.SQRT2) / Math.sqrt(n));
    const s = nyquist ? 0 : norm((x) => Math.sin(w * ((k * x) % n)), Math.SQRT2 / Math.sqrt(n));
    rowNorms[2 * k - 1] = c;
    if (!nyquist) rowNorms[2 * k] = s;
    freqNorms[k - 1] = Math.sqrt(c * c + s * s);
  }
  return { n, rowNorms, constNorm: rowNorms[0] ?? 0, freqNorms };
}

/**
 * The token embedding in discrete-log coordinates (the basis in which multiplication mod p is addition): rows
 * 1..p-1 of W_E (`[dVocab, dModel]`), reindexed so that row i is token g^i (g: `logs.g`), then {@link cyclicSpectrum}
 * over Z_{p-1}. A model that multiplies with Fourier features of log a and log b has a sparse spectrum here.
 */
export function logEmbeddingSpectrum(embed: Float32Array | Float64Array, logs: { readonly p: number; readonly exp: Int32Array }, dModel: number): CyclicSpectrum {
  const { p, exp } = logs;
  if (embed.length < p * dModel) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'embed.W_E', expected: `at least ${p} x ${dModel} values`, found: String(embed.length) });
  }
  const n = p - 1;
  const m = new Float64Array(n * dModel);
  for (let i = 0; i < n; i++) {
    const t = exp[i] ?? 1;
    for (let c = 0; c < dModel; c++) m[i * dModel + c] = embed[t * dModel + c] ?? 0;
  }
  return cyclicSpectrum(m, n, dModel);
}
