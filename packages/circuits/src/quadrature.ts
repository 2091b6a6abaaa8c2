import { BitlensError } from '@bitlens/core';
import { checkModulus, numFrequencies } from './fourier.js';

const STAGE = 'circuits/quadrature';

/**
 * The quadrature sum of Yip et al. (docs/science.md#quadrature-yip): (2 pi / N) sum_i w_i ReLU(cos(x + phi_i)) cos(2 phi_i + y), with
 * w_i = 1 when `weights` is omitted. With N evenly spaced phases it approaches the closed form (2/3) cos(2x - y).
 */
export function quadratureSum(phases: ArrayLike<number>, x: number, y: number, weights?: ArrayLike<number>): number {
  const n = phases.length;
  if (n === 0) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'phases', expected: 'at least one neuron', found: '0' });
  let s = 0;
  for (let i = 0; i < n; i++) {
    const phi = phases[i] ?? 0;
    s += (weights?.[i] ?? 1) * Math.max(0, Math.cos(x + phi)) * Math.cos(2 * phi + y);
  }
  return (2 * Math.PI * s) / n;
}

/** The closed form of the quadrature: integral_{-pi}^{pi} ReLU(cos(x + phi)) cos(2 phi + y) dphi = (2/3) cos(2x - y). */
export function quadratureClosedForm(x: number, y: number): number {
  return (2 / 3) * Math.cos(2 * x - y);
}

/** Evenly spaced phases 2 pi i / N, i = 0..N-1. */
export function evenPhases(n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => (2 * Math.PI * i) / n);
}

/** Max and mean absolute quadrature error over a `grid x grid` lattice of (x, y) in [0, 2 pi)^2. */
export function quadratureError(phases: ArrayLike<number>, options: { readonly weights?: ArrayLike<number>; readonly grid?: number } = {}): { readonly max: number; readonly mean: number } {
  const g = options.grid ?? 32;
  let max = 0;
  let sum = 0;
  for (let i = 0; i < g; i++) {
    for (let j = 0; j < g; j++) {
      const x = (2 * Math.PI * i) / g;
      const y = (2 * Math.PI * j) / g;
      const e = Math.abs(quadratureSum(phases, x, y, options.weights) - quadratureClosedForm(x, y));
      max = Math.max(max, e);
      sum += e;
    }
  }
  return { max, mean: sum / (g * g) };
}

/** One neuron's single-frequency wave fit. */
export interface NeuronWave {
  readonly neuron: number;
  /** Frequency k (1..K) of the fit. */
  readonly freq: number;
  /** Input side: pre-activation ≈ A_a cos(w_k a + phi_a) + A_b cos(w_k b + phi_b) + const. */
  readonly ampA: number;
  readonly phaseA: number;
  readonly ampB: number;
  readonly phaseB: number;
  /** Output side: W_L[c, n] ≈ B cos(w_k c + psi). */
  readonly ampOut: number;
  readonly phaseOut: number;
  /** Fraction of the centred input-side variance the two waves explain (a pure product term lowers it). */
  readonly fitInput: number;
}

function waveOf(values: (x: number) => number, p: number, k: number): { amp: number; phase: number } {
  // v(x) ≈ A cos(w k x + phase) = A cos(phase) cos(wkx) - A sin(phase) sin(wkx)
  const w = (2 * Math.PI) / p;
  let c = 0;
  let s = 0;
  for (let x = 0; x < p; x++) {
    const t = w * ((k * x) % p);
    c += values(x) * Math.cos(t);
    s += values(x) * Math.sin(t);
  }
  c *= 2 / p;
  s *= 2 / p;
  return { amp: Math.hypot(c, s), phase: Math.atan2(-s, c) };
}

/**
 * Fits (amplitude, phase, frequency) per neuron (docs/science.md#quadrature-yip). `pre` is the neuron pre-activation at the final
 * position over the p^2 grid (`[p^2, n]`, row a * p + b); `wl` is W_L (`[p, n]`, row = output class); `freqs[n]` the
 * neuron's frequency (e.g. its FVE argmax). The input waves are the marginal means over b and over a.
 */
export function fitNeuronWaves(pre: ArrayLike<number>, wl: ArrayLike<number>, p: number, nNeurons: number, freqs: ArrayLike<number>): NeuronWave[] {
  checkModulus(p, STAGE);
  if (pre.length !== p * p * nNeurons) throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'pre', expected: `${p * p} x ${nNeurons}`, found: String(pre.length) });
  if (wl.length !== p * nNeurons) throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'W_L', expected: `${p} x ${nNeurons}`, found: String(wl.length) });
  const K = numFrequencies(p);
  const out: NeuronWave[] = [];
  const ma = new Float64Array(p);
  const mb = new Float64Array(p);
  for (let n = 0; n < nNeurons; n++) {
    const k = freqs[n] ?? 0;
    if (!(k >= 1 && k <= K)) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'freqs', expected: `frequencies in 1..${K}`, found: String(k) });
    ma.fill(0);
    mb.fill(0);
    let mean = 0;
    for (let a = 0; a < p; a++) {
      for (let b = 0; b < p; b++) {
        const v = pre[(a * p + b) * nNeurons + n] ?? 0;
        ma[a] = (ma[a] ?? 0) + v / p;
        mb[b] = (mb[b] ?? 0) + v / p;
        mean += v / (p * p);
      }
    }
    const wa = waveOf((x) => (ma[x] ?? 0) - mean, p, k);
    const wb = waveOf((x) => (mb[x] ?? 0) - mean, p, k);
    const wo = waveOf((x) => wl[x * nNeurons + n] ?? 0, p, k);
    let total = 0;
    let resid = 0;
    const w = (2 * Math.PI) / p;
    for (let a = 0; a < p; a++) {
      for (let b = 0; b < p; b++) {
        const v = (pre[(a * p + b) * nNeurons + n] ?? 0) - mean;
        const fit = wa.amp * Math.cos(w * ((k * a) % p) + wa.phase) + wb.amp * Math.cos(w * ((k * b) % p) + wb.phase);
        total += v * v;
        resid += (v - fit) ** 2;
      }
    }
    out.push({ neuron: n, freq: k, ampA: wa.amp, phaseA: wa.phase, ampB: wb.amp, phaseB: wb.phase, ampOut: wo.amp, phaseOut: wo.phase, fitInput: total === 0 ? 0 : 1 - resid / total });
  }
  return out;
}

/** Quadrature error of one frequency cluster: the neurons' input phases and amplitudes as the quadrature nodes. */
export interface ClusterQuadrature {
  readonly freq: number;
  readonly neurons: number;
  readonly maxError: number;
  readonly meanError: number;
}

/**
 * For each frequency cluster, evaluates the quadrature sum with the fitted input phases (weights = ampA * ampOut,
 * normalised to mean 1) against the closed form (2/3) cos(2x - y), and reports the max / mean absolute error over a
 * grid. Small errors mean the neurons tile the circle like an integration rule (Yip et al.).
 */
export function clusterQuadrature(waves: readonly NeuronWave[], grid = 32): ClusterQuadrature[] {
  const byFreq = new Map<number, NeuronWave[]>();
  for (const wv of waves) byFreq.set(wv.freq, [...(byFreq.get(wv.freq) ?? []), wv]);
  return [...byFreq.entries()]
    .sort((x, y) => x[0] - y[0])
    .map(([freq, ws]) => {
      const raw = ws.map((wv) => wv.ampA * wv.ampOut);
      const m = raw.reduce((s, v) => s + v, 0) / raw.length;
      const weights = raw.map((v) => (m === 0 ? 1 : v / m));
      const e = quadratureError(ws.map((wv) => wv.phaseA), { weights, grid });
      return { freq, neurons: ws.length, maxError: e.max, meanError: e.mean };
    });
}
