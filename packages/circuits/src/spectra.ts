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

/** Fourier Frequency Sparsity and Coefficient Ratio of an embedding (Furuta et al., docs/science.md#ffs-and-fcr-furuta). */
export interface FourierSparsity {
  /** (1/K) #{k : max(c_k, s_k) > eps}. */
  readonly ffs: number;
  /** Mean over the significant frequencies of min(c_k / s_k, s_k / c_k); 0 when none is significant. */
  readonly fcr: number;
  /** The absolute eps used (recorded with every result). */
  readonly eps: number;
  readonly significant: number[];
}

/**
 * FFS and FCR from an embedding spectrum (c_k, s_k = norms of the cos_k / sin_k rows of F W_E). Default threshold:
 * relative, 0.1 x the largest max(c_k, s_k). FCR is averaged over the significant frequencies only, so that an
 * embedding holding only one planted frequency gives FCR = 1 (the published definition over all K is undefined at
 * zero-norm frequencies). These definitions are reconstructed (docs/science.md#ffs-and-fcr-furuta) and not verified against the paper.
 */
export function fourierSparsity(spectrum: FourierSpectrum, threshold: SparsityThreshold = { kind: 'relative', fraction: 0.1 }): FourierSparsity {
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
  return { ffs: significant.length / K, fcr: significant.length === 0 ? 0 : ratio / significant.length, eps, significant };
}
