import { type FourierBasis, fourierTransform } from '@bitlens/circuits';

/** Channels transformed together in {@link fourier2dNorm} (bounds the scratch memory to 2 p² × this many floats). */
const CHANNEL_BLOCK = 64;

/**
 * The norm over channels of the 2-D Fourier transform of per-input activations, centred per channel:
 * `out[i, j] = sqrt(sum_c (F A_c F^T)[i, j]^2)` with `A_c[a, b]` = channel c at input (a, b) minus its mean over the
 * p² inputs. `acts` is row-major `[p², channels]` (row a * p + b); the result is `[p, p]` (row i: basis component of
 * a, column j: of b; components in the basis order const, cos 1, sin 1, ...). Float64, separable: 2 p³ multiply-adds
 * per channel.
 */
export function fourier2dNorm(acts: ArrayLike<number>, basis: FourierBasis, channels: number): Float64Array {
  const { p, data: F } = basis;
  const out = new Float64Array(p * p);
  const block = Math.min(CHANNEL_BLOCK, Math.max(1, channels));
  const A = new Float64Array(p * p * block);
  const Y = new Float64Array(p * p * block);
  const z = new Float64Array(block);
  for (let c0 = 0; c0 < channels; c0 += block) {
    const w = Math.min(block, channels - c0);
    centredBlock(acts, p * p, channels, c0, w, A);
    // Y[i, b, c] = sum_a F[i, a] A[a, b, c]: rows of A are contiguous (b, c) runs.
    Y.fill(0);
    const run = p * w;
    for (let i = 0; i < p; i++) {
      for (let a = 0; a < p; a++) {
        const f = F[i * p + a] ?? 0;
        const yo = i * run;
        const ao = a * run;
        for (let t = 0; t < run; t++) Y[yo + t] = (Y[yo + t] ?? 0) + f * (A[ao + t] ?? 0);
      }
    }
    // Z[i, j, c] = sum_b F[j, b] Y[i, b, c]; only its square summed over c is kept.
    for (let i = 0; i < p; i++) {
      for (let j = 0; j < p; j++) {
        z.fill(0);
        for (let b = 0; b < p; b++) {
          const f = F[j * p + b] ?? 0;
          const yo = (i * p + b) * w;
          for (let c = 0; c < w; c++) z[c] = (z[c] ?? 0) + f * (Y[yo + c] ?? 0);
        }
        let s = 0;
        for (let c = 0; c < w; c++) s += (z[c] ?? 0) ** 2;
        out[i * p + j] = (out[i * p + j] ?? 0) + s;
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(out[i] ?? 0);
  return out;
}

/** Channels c0..c0+w of a row-major `[n, channels]` matrix, each minus its mean, into `out` as `[n, w]`. */
function centredBlock(acts: ArrayLike<number>, n: number, channels: number, c0: number, w: number, out: Float64Array): void {
  const mean = new Float64Array(w);
  for (let r = 0; r < n; r++) for (let c = 0; c < w; c++) mean[c] = (mean[c] ?? 0) + (acts[r * channels + c0 + c] ?? 0);
  for (let c = 0; c < w; c++) mean[c] = (mean[c] ?? 0) / n;
  for (let r = 0; r < n; r++) for (let c = 0; c < w; c++) out[r * w + c] = (acts[r * channels + c0 + c] ?? 0) - (mean[c] ?? 0);
}

/** The Fourier coefficients of the token embedding: `F W_E[:p]`, `[p, dModel]` (rows in the basis order). */
export function embedFourier(wE: Float32Array, basis: FourierBasis, dModel: number): Float64Array {
  return fourierTransform(basis, wE.subarray(0, basis.p * dModel), dModel);
}

/** The tokens' positions in the plane of one frequency, see {@link clockPlane}. */
export interface PlanePoints {
  readonly x: Float64Array;
  readonly y: Float64Array;
  /** Share of the centred embedding's squared norm that lies in the plane. */
  readonly share: number;
}

/**
 * The embedding of tokens 0..p-1 in the plane of frequency k: the span of the Fourier coefficient vectors
 * c_k = (F W_E)[cos k] and s_k = (F W_E)[sin k] (vectors in R^dModel), with the orthonormal axes e1 = c_k / |c_k| and
 * e2 = s_k minus its e1 part, normalised. Token a sits at ((W_E[a] - mean) . e1, (W_E[a] - mean) . e2). For a model
 * that embeds a as cos(w_k a), sin(w_k a) the points lie on a circle in the order k a mod p (the "clock").
 */
export function clockPlane(wE: Float32Array, fourier: Float64Array, p: number, dModel: number, k: number): PlanePoints {
  const c = fourier.subarray((2 * k - 1) * dModel, 2 * k * dModel);
  const s = fourier.subarray(2 * k * dModel, (2 * k + 1) * dModel);
  const e1 = unit(c);
  const dot = inner(s, e1);
  const e2 = unit(Float64Array.from(s, (v, i) => v - dot * (e1[i] ?? 0)));
  const mean = new Float64Array(dModel);
  for (let a = 0; a < p; a++) for (let j = 0; j < dModel; j++) mean[j] = (mean[j] ?? 0) + (wE[a * dModel + j] ?? 0) / p;
  const x = new Float64Array(p);
  const y = new Float64Array(p);
  let inPlane = 0;
  let total = 0;
  for (let a = 0; a < p; a++) {
    let px = 0;
    let py = 0;
    for (let j = 0; j < dModel; j++) {
      const v = (wE[a * dModel + j] ?? 0) - (mean[j] ?? 0);
      px += v * (e1[j] ?? 0);
      py += v * (e2[j] ?? 0);
      total += v * v;
    }
    x[a] = px;
    y[a] = py;
    inPlane += px * px + py * py;
  }
  return { x, y, share: total > 0 ? inPlane / total : 0 };
}

function inner(u: ArrayLike<number>, v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < u.length; i++) s += (u[i] ?? 0) * (v[i] ?? 0);
  return s;
}

/** u / |u| (zeros when u is zero). */
function unit(u: ArrayLike<number>): Float64Array {
  const n = Math.sqrt(inner(u, u));
  return Float64Array.from({ length: u.length }, (_, i) => (n > 0 ? (u[i] ?? 0) / n : 0));
}

/** Per-neuron frequency structure as the neuron table holds it. */
export interface NeuronFves {
  readonly nNeurons: number;
  /** Frequencies K = (p - 1) / 2. */
  readonly K: number;
  /** Row-major `[nNeurons, K]`, NaN for dead neurons. */
  readonly fve: ArrayLike<number>;
  readonly energy: ArrayLike<number>;
}

/**
 * The `count` neurons that carry most of frequency k: ranked by the variance frequency k explains in them,
 * FVE_n(k) x energy_n (dead neurons never), ties by neuron index. Returns neuron ids and their FVE_n(k).
 */
export function topNeurons(nf: NeuronFves, k: number, count: number): { readonly neuron: number; readonly fve: number }[] {
  const scored: { neuron: number; fve: number; score: number }[] = [];
  for (let n = 0; n < nf.nNeurons; n++) {
    const fve = nf.fve[n * nf.K + k - 1] ?? Number.NaN;
    if (!Number.isFinite(fve)) continue;
    scored.push({ neuron: n, fve, score: fve * (nf.energy[n] ?? 0) });
  }
  scored.sort((u, v) => v.score - u.score || u.neuron - v.neuron);
  return scored.slice(0, count).map(({ neuron, fve }) => ({ neuron, fve }));
}

/**
 * Attention from the last position (`=`) of every input, from `hook_pattern` values `[inputs, heads, q, k]` with
 * q = k = nCtx: per head the mean over inputs of the attention to each position, and per head the attention to
 * position 0 (the token a) of every input.
 */
export function lastPositionAttention(pattern: Float32Array, inputs: number, heads: number, nCtx: number): { readonly mean: number[][]; readonly toFirst: Float32Array[] } {
  const per = heads * nCtx * nCtx;
  const mean = Array.from({ length: heads }, () => new Array<number>(nCtx).fill(0));
  const toFirst = Array.from({ length: heads }, () => new Float32Array(inputs));
  for (let r = 0; r < inputs; r++) {
    for (let h = 0; h < heads; h++) {
      const o = r * per + (h * nCtx + nCtx - 1) * nCtx;
      const row = mean[h] ?? [];
      for (let k = 0; k < nCtx; k++) row[k] = (row[k] ?? 0) + (pattern[o + k] ?? 0) / inputs;
      const t = toFirst[h];
      if (t !== undefined) t[r] = pattern[o] ?? 0;
    }
  }
  return { mean, toFirst };
}
