import type { Tf } from '@bitlens/engine';
import { BitlensError } from '@bitlens/core';
import { discreteLogs } from './discrete-log.js';
import { checkModulus, fourierBasis, numFrequencies } from './fourier.js';
import type { TaskBasis } from './task-basis.js';

const STAGE = 'circuits/neurons';

/** Per-neuron frequency structure of activations over the p^2 input grid (docs/science.md#neuron-frequencies-and-clusters). */
export interface NeuronFrequencies {
  readonly p: number;
  readonly nNeurons: number;
  /** FVE per neuron and frequency, row-major `[nNeurons, K]` (entry k-1 is frequency k). NaN for dead neurons. */
  readonly fve: Float64Array;
  /** Centred variance (sum of squares over inputs) per neuron. */
  readonly energy: Float64Array;
  /** argmax_k FVE per neuron (0 for dead neurons). */
  readonly freq: Int32Array;
  /** max_k FVE per neuron (0 for dead neurons). */
  readonly maxFve: Float64Array;
  /** 1 when the neuron varies over the inputs (energy > 1e-12 x the largest energy). */
  readonly alive: Uint8Array;
}

/**
 * FVE of every neuron by every frequency: centre each neuron's activations over the p^2 inputs (row a * p + b),
 * take the 2D Fourier transform A_hat = F A F^T, and FVE_n(k) = ||A_hat on {const, cos k, sin k}^2||^2 / ||A_hat||^2.
 * The transforms run as two tfjs matrix products over all neurons at once (float32; energies summed in float32).
 * `acts` is row-major `[p^2, nNeurons]`. For other tasks' coordinates see {@link neuronFrequencyFveIn}.
 */
export function neuronFrequencyFve(tf: Tf, acts: Float32Array, p: number, nNeurons: number): NeuronFrequencies {
  checkModulus(p, STAGE);
  if (acts.length !== p * p * nNeurons) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'activations', expected: `${p * p} x ${nNeurons} values`, found: String(acts.length) });
  }
  const K = numFrequencies(p);
  const blocks = Array.from({ length: K }, (_, i) => [0, 2 * i + 1, 2 * i + 2]);
  return fveFromBlocks(tf, acts, p, nNeurons, Float32Array.from(fourierBasis(p).data), blocks, p);
}

/**
 * {@link neuronFrequencyFve} in a task's own coordinates: the grid is re-indexed by (u, v) with s = u + v, i.e.
 * u = α a, v = β b (mod p) for a linear task and u = α log a, v = β log b (mod p − 1, the pairs with a, b ≠ 0 only)
 * for a multiplicative one, and the 2D transform runs over Z_m (m = p or p − 1; for even m the last frequency m/2
 * has a cosine row only). FVE_n(k) is then the share of neuron n's variance at frequency k of the label's
 * combination. For add (α = β = 1) this is exactly {@link neuronFrequencyFve}. Throws `INVALID_OPTION` when α or β
 * is not invertible mod m (the re-indexing would not be a bijection).
 */
export function neuronFrequencyFveIn(tf: Tf, acts: Float32Array, basis: TaskBasis, nNeurons: number): NeuronFrequencies {
  const { p, n: m, kind, alpha, beta } = basis;
  if (acts.length !== p * p * nNeurons) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'activations', expected: `${p * p} x ${nNeurons} values`, found: String(acts.length) });
  }
  if (kind === 'linear' && alpha === 1 && beta === 1) return neuronFrequencyFve(tf, acts, p, nNeurons);
  const inv = (x: number): number => {
    const r = ((x % m) + m) % m;
    for (let y = 1; y < m; y++) if ((r * y) % m === 1) return y;
    throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'structure', expected: `coefficients invertible mod ${m}`, found: `${alpha}, ${beta}` });
  };
  const [ia, ib] = [inv(alpha), inv(beta)];
  const exp = kind === 'multiplicative' ? discreteLogs(p).exp : undefined;
  const tokenOf = (i: number): number => (exp === undefined ? i : (exp[i] ?? 0));
  const X = new Float32Array(m * m * nNeurons);
  for (let u = 0; u < m; u++) {
    for (let v = 0; v < m; v++) {
      const r = tokenOf((u * ia) % m) * p + tokenOf((v * ib) % m);
      X.set(acts.subarray(r * nNeurons, (r + 1) * nNeurons), (u * m + v) * nNeurons);
    }
  }
  const K = Math.floor(m / 2);
  const blocks = Array.from({ length: K }, (_, i) => (2 * (i + 1) === m ? [0, m - 1] : [0, 2 * i + 1, 2 * i + 2]));
  return fveFromBlocks(tf, X, m, nNeurons, cyclicBasis(m), blocks, p);
}

/** The orthonormal real Fourier basis of Z_m as an `[m, m]` row-major matrix: const, cos 1, sin 1, ..., (cos m/2 for even m). */
function cyclicBasis(m: number): Float32Array {
  const F = new Float32Array(m * m);
  const w = (2 * Math.PI) / m;
  for (let x = 0; x < m; x++) {
    F[x] = 1 / Math.sqrt(m);
    for (let k = 1; 2 * k <= m; k++) {
      if (2 * k === m) {
        F[(m - 1) * m + x] = Math.cos(w * ((k * x) % m)) / Math.sqrt(m);
        continue;
      }
      F[(2 * k - 1) * m + x] = Math.cos(w * ((k * x) % m)) * Math.sqrt(2 / m);
      F[2 * k * m + x] = Math.sin(w * ((k * x) % m)) * Math.sqrt(2 / m);
    }
  }
  return F;
}

/** FVE per neuron and frequency block of a centred `[m, m, neurons]` grid under the `[m, m]` basis F. */
function fveFromBlocks(tf: Tf, acts: Float32Array, m: number, nNeurons: number, F: Float32Array, blocks: readonly (readonly number[])[], p: number): NeuronFrequencies {
  const K = blocks.length;
  const member = new Float32Array(K * m);
  blocks.forEach((rows, k) => {
    for (const r of rows) member[k * m + r] = 1;
  });
  // Big operands on the left, the small m x m basis on the right (XNNPACK repacks the right operand per call).
  const [blockT, energyT] = tf.tidy(() => {
    const X0 = tf.tensor3d(acts, [m, m, nNeurons]); // [a, b, n]
    const X = tf.sub(X0, tf.mean(X0, [0, 1], true));
    const Ft = tf.tensor2d(F, [m, m]).transpose(); // [x, k]
    const Y = tf.matMul(tf.reshape(tf.transpose(X, [1, 2, 0]), [m * nNeurons, m]), Ft); // [b, n, k1]
    const Z = tf.matMul(tf.reshape(tf.transpose(tf.reshape(Y, [m, nNeurons, m]), [1, 2, 0]), [nNeurons * m, m]), Ft); // [n, k1, k2]
    const S = tf.square(Z);
    const Mt = tf.tensor2d(member, [K, m]).transpose(); // [m, K]
    const T = tf.reshape(tf.matMul(S, Mt), [nNeurons, m, K]); // [n, k1, k]: k2 summed over block k
    const block = tf.sum(tf.mul(T, tf.reshape(Mt, [1, m, K])), 1); // [n, K]
    const energy = tf.sum(tf.reshape(S, [nNeurons, m * m]), 1); // [n]
    return [block, energy];
  });
  const block = blockT.dataSync();
  const energyF = energyT.dataSync();
  tf.dispose([blockT, energyT]);
  const energy = Float64Array.from(energyF);
  let maxEnergy = 0;
  for (const e of energy) maxEnergy = Math.max(maxEnergy, e);
  const fve = new Float64Array(nNeurons * K);
  const freq = new Int32Array(nNeurons);
  const maxFve = new Float64Array(nNeurons);
  const alive = new Uint8Array(nNeurons);
  for (let n = 0; n < nNeurons; n++) {
    const e = energy[n] ?? 0;
    const isAlive = e > 1e-12 * maxEnergy && e > 0;
    alive[n] = isAlive ? 1 : 0;
    let best = 0;
    let bestK = 0;
    for (let k = 1; k <= K; k++) {
      const v = isAlive ? (block[n * K + k - 1] ?? 0) / e : Number.NaN;
      fve[n * K + k - 1] = v;
      if (isAlive && v > best) {
        best = v;
        bestK = k;
      }
    }
    freq[n] = bestK;
    maxFve[n] = best;
  }
  return { p, nNeurons, fve, energy, freq, maxFve, alive };
}

/** Summary of neuron clustering by frequency. */
export interface NeuronClusters {
  readonly threshold: number;
  readonly minCount: number;
  readonly nAlive: number;
  /** Alive neurons whose max FVE >= threshold. */
  readonly nClustered: number;
  /** nClustered / nAlive. */
  readonly shareClustered: number;
  /** Argmax-frequency counts over alive neurons, and over clustered neurons. */
  readonly countsAlive: ReadonlyMap<number, number>;
  readonly countsClustered: ReadonlyMap<number, number>;
  /** Key frequencies by neurons: argmax frequencies with at least `minCount` clustered neurons (ascending). */
  readonly keys: number[];
  /** sum_n energy_n FVE_n(argmax) / sum_n energy_n over alive neurons. */
  readonly varianceExplainedByBest: number;
}

/**
 * Clusters neurons by their argmax frequency. Rule for key frequencies by neurons: a frequency is key when at least
 * `minCount` (default 5) neurons have it as argmax with max FVE >= `threshold` (default 0.85).
 */
export function clusterNeurons(nf: NeuronFrequencies, threshold = 0.85, minCount = 5): NeuronClusters {
  if (!(threshold >= 0 && threshold <= 1)) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'threshold', expected: 'a number in [0, 1]', found: String(threshold) });
  const countsAlive = new Map<number, number>();
  const countsClustered = new Map<number, number>();
  let nAlive = 0;
  let nClustered = 0;
  let explained = 0;
  let total = 0;
  for (let n = 0; n < nf.nNeurons; n++) {
    if (nf.alive[n] !== 1) continue;
    nAlive++;
    const k = nf.freq[n] ?? 0;
    countsAlive.set(k, (countsAlive.get(k) ?? 0) + 1);
    const e = nf.energy[n] ?? 0;
    explained += e * (nf.maxFve[n] ?? 0);
    total += e;
    if ((nf.maxFve[n] ?? 0) >= threshold) {
      nClustered++;
      countsClustered.set(k, (countsClustered.get(k) ?? 0) + 1);
    }
  }
  const keys = [...countsClustered.entries()].filter(([, c]) => c >= minCount).map(([k]) => k).sort((x, y) => x - y);
  return {
    threshold,
    minCount,
    nAlive,
    nClustered,
    shareClustered: nAlive === 0 ? 0 : nClustered / nAlive,
    countsAlive: sortMap(countsAlive),
    countsClustered: sortMap(countsClustered),
    keys,
    varianceExplainedByBest: total === 0 ? 0 : explained / total,
  };
}

/**
 * Fraction of the total (centred) variance of all alive neurons that lies in the 3x3 blocks of the given
 * frequencies: sum_n energy_n sum_{k in keys} FVE_n(k) / sum_n energy_n.
 */
export function varianceExplainedBy(nf: NeuronFrequencies, keys: readonly number[]): number {
  const K = numFrequencies(nf.p);
  let explained = 0;
  let total = 0;
  for (let n = 0; n < nf.nNeurons; n++) {
    if (nf.alive[n] !== 1) continue;
    const e = nf.energy[n] ?? 0;
    total += e;
    for (const k of keys) explained += e * (nf.fve[n * K + k - 1] ?? 0);
  }
  return total === 0 ? 0 : explained / total;
}

function sortMap(m: Map<number, number>): Map<number, number> {
  return new Map([...m.entries()].sort((x, y) => x[0] - y[0]));
}
