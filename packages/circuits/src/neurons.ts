import type { Tf } from '@bitlens/engine';
import { BitlensError } from '@bitlens/core';
import { checkModulus, fourierBasis, numFrequencies } from './fourier.js';

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
 * `acts` is row-major `[p^2, nNeurons]`.
 */
export function neuronFrequencyFve(tf: Tf, acts: Float32Array, p: number, nNeurons: number): NeuronFrequencies {
  checkModulus(p, STAGE);
  if (acts.length !== p * p * nNeurons) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'activations', expected: `${p * p} x ${nNeurons} values`, found: String(acts.length) });
  }
  const K = numFrequencies(p);
  const member = new Float32Array(K * p);
  for (let k = 1; k <= K; k++) {
    member[(k - 1) * p] = 1;
    member[(k - 1) * p + 2 * k - 1] = 1;
    member[(k - 1) * p + 2 * k] = 1;
  }
  // Big operands on the left, the small p x p basis on the right (XNNPACK repacks the right operand per call).
  const [blockT, energyT] = tf.tidy(() => {
    const X0 = tf.tensor3d(acts, [p, p, nNeurons]); // [a, b, n]
    const X = tf.sub(X0, tf.mean(X0, [0, 1], true));
    const Ft = tf.tensor2d(Float32Array.from(fourierBasis(p).data), [p, p]).transpose(); // [x, k]
    const Y = tf.matMul(tf.reshape(tf.transpose(X, [1, 2, 0]), [p * nNeurons, p]), Ft); // [b, n, k1]
    const Z = tf.matMul(tf.reshape(tf.transpose(tf.reshape(Y, [p, nNeurons, p]), [1, 2, 0]), [nNeurons * p, p]), Ft); // [n, k1, k2]
    const S = tf.square(Z);
    const Mt = tf.tensor2d(member, [K, p]).transpose(); // [p, K]
    const T = tf.reshape(tf.matMul(S, Mt), [nNeurons, p, K]); // [n, k1, k]: k2 summed over block k
    const block = tf.sum(tf.mul(T, tf.reshape(Mt, [1, p, K])), 1); // [n, K]
    const energy = tf.sum(tf.reshape(S, [nNeurons, p * p]), 1); // [n]
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
