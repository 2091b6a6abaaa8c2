import { fourierBasis } from '@bitlens/circuits';
import { mulberry32 } from '@bitlens/core';
import type { AnalysisReportData, FrequencyEvolution, ModelViews, PrecisionReport, ReportData } from '../src/index.js';
import { clockPlane, embedFourier, fourier2dNorm } from '../src/internal/view-math.js';

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** A planted embedding [p + 1, d]: dims 2i, 2i+1 carry cos/sin of key i, the rest small noise. */
export function plantedEmbedding(p: number, d: number, keys: readonly number[], seed: number): Float32Array {
  const rand = mulberry32(seed);
  const wE = Float32Array.from({ length: (p + 1) * d }, () => 0.02 * (rand() - 0.5));
  for (let a = 0; a < p; a++) {
    keys.forEach((k, i) => {
      wE[a * d + 2 * i] = Math.cos((2 * Math.PI * k * a) / p);
      wE[a * d + 2 * i + 1] = Math.sin((2 * Math.PI * k * a) / p);
    });
  }
  return wE;
}

/** A neuron of frequency k: ReLU(cos(w_k a + phase) + cos(w_k b + phase)) over the grid (entry a * p + b). */
export function plantedNeuron(p: number, k: number, phase: number): Float32Array {
  const w = (2 * Math.PI * k) / p;
  return Float32Array.from({ length: p * p }, (_, r) => Math.max(0, Math.cos(w * Math.floor(r / p) + phase) + Math.cos(w * (r % p) + phase)));
}

/** The pictures of a model with planted key frequencies (computed with the same maths as the `modelViews` stage). */
export function syntheticViews(p: number, keys: readonly number[], seed: number): ModelViews {
  const d = 16;
  const basis = fourierBasis(p);
  const wE = plantedEmbedding(p, d, keys, seed);
  const fourier = embedFourier(wE, basis, d);
  const neurons = keys.flatMap((k, i) => [0, 1, 2].map((j) => ({ freq: k, neuron: 10 * i + j, fve: 0.95 - 0.05 * j, values: plantedNeuron(p, k, j) })));
  const acts = new Float32Array(p * p * neurons.length);
  neurons.forEach((n, c) => n.values.forEach((v, r) => (acts[r * neurons.length + c] = v)));
  const logits = new Float32Array(p * p * p);
  for (let r = 0; r < p * p; r++) for (let c = 0; c < p; c++) logits[r * p + c] = keys.reduce((s, k) => s + Math.cos((2 * Math.PI * k * (Math.floor(r / p) + (r % p) - c)) / p), 0);
  const heads = 4;
  const rand = mulberry32(seed + 100);
  const toFirst = Array.from({ length: heads }, (_, h) => Float32Array.from({ length: p * p }, () => 0.2 + 0.1 * h + 0.05 * rand()));
  return {
    p,
    neurons,
    fourierEmbed: { rows: p, cols: d, data: fourier },
    fourierNeurons: { rows: p, cols: p, data: fourier2dNorm(acts, basis, neurons.length) },
    fourierLogits: { rows: p, cols: p, data: fourier2dNorm(logits, basis, p) },
    attention: { positions: ['a', 'b', '='], mean: toFirst.map((_, h) => [0.2 + 0.1 * h, 0.7 - 0.1 * h, 0.1]), toFirst },
    clock: keys.map((k) => ({ freq: k, ...clockPlane(wE, fourier, p, d, k) })),
  };
}

/** Embedding norms over checkpoints: the planted keys grow from noise, the others decay. */
function syntheticEvolution(p: number, keys: readonly number[], epochs: readonly number[], grok: number): FrequencyEvolution {
  const K = (p - 1) / 2;
  const keySet = new Set(keys);
  const norms = epochs.map((e) => Array.from({ length: K }, (_, i) => (keySet.has(i + 1) ? 1 + 8 * sigmoid((e - grok) / 80) : 2 * Math.exp(-e / 400) + 0.1)));
  return { epoch: [...epochs], norms, keys: epochs.map((e) => (e < grok - 200 ? [] : [...keys])) };
}

/** A grokking-shaped run: train fits at `fit`, test jumps at `grok`; key frequencies planted. */
function precision(name: string, quantizer: string, p: number, fit: number, grok: number | null, keys: number[], seed: number): PrecisionReport {
  const rand = mulberry32(seed);
  const epoch = Array.from({ length: 121 }, (_, i) => i * 10);
  const g = grok ?? 1e9;
  const trainAcc = epoch.map((e) => Math.min(1, sigmoid((e - fit / 2) / 40)));
  const testAcc = epoch.map((e) => Math.min(1, 0.02 + 0.98 * sigmoid((e - (g - 60)) / 25)));
  const trainLoss = epoch.map((e) => Math.log(p) * Math.exp(-e / (fit / 4)) + 1e-7 + 1e-4 * rand());
  const testLoss = epoch.map((e) => Math.log(p) * (1.3 - 1.299 * sigmoid((e - g) / 40)) + 1e-3 * rand());
  const ck = epoch.filter((e) => e % 100 === 0);
  const K = (p - 1) / 2;
  const keySet = new Set(keys);
  return {
    name,
    quantizer,
    training: { epoch, trainLoss, testLoss, trainAcc, testAcc },
    grokEpoch: grok,
    trainFitEpoch: epoch.find((_, i) => (trainAcc[i] ?? 0) >= 0.99) ?? null,
    finalEpoch: epoch[epoch.length - 1] ?? 0,
    progress: {
      epoch: ck,
      restrictedLoss: ck.map((e) => Math.log(p) * (1 - sigmoid((e - g + 200) / 80)) + 1e-3),
      excludedLoss: ck.map((e) => 0.5 + 4 * sigmoid((e - fit) / 100)),
      giniEmbed: ck.map((e) => 0.2 + 0.6 * sigmoid((e - g) / 60)),
      giniNeuronLogit: ck.map((e) => 0.25 + 0.55 * sigmoid((e - g) / 60)),
      weightNorm: ck.map((e) => 2000 * Math.exp(-e / 900) + 300),
    },
    embedFourierNorms: Array.from({ length: K }, (_, i) => ({ freq: i + 1, norm: keySet.has(i + 1) ? 8 + rand() : 0.3 * rand() })),
    neuronFrequencies: keys.map((k, i) => ({ freq: k, neurons: 60 + 20 * i })),
    unclusteredNeurons: 37,
    keyFrequencies: { embed: keys, neurons: keys.slice(0, -1) },
    views: syntheticViews(p, keys, seed),
    evolution: syntheticEvolution(p, keys, ck, grok ?? 1200),
    mechanism: {
      fullLoss: 0.003,
      accuracy: 1,
      restrictedLoss: 0.002,
      excludedLoss: 5.1,
      varianceExplainedByKeys: 0.86,
      shareClustered: 0.8,
      ffs: keys.length / K,
      fcr: 0.93,
      giniEmbed: 0.81,
      giniNeuronLogit: 0.77,
      gradientSymmetricity: 0.55,
      distanceIrrelevance: 0.9,
      circularity: 0.97,
    },
  };
}

/** A deterministic three-precision report (the binary run never groks, to exercise that path). */
export function syntheticReportData(): ReportData {
  const p = 59;
  return {
    title: 'bitlens precision comparison <synthetic>',
    p,
    task: 'add',
    trainFraction: 0.6,
    modelPreset: 'li',
    epochCap: 1200,
    grokThreshold: 0.99,
    precisions: [precision('fp32', 'fp32', p, 200, 610, [4, 17, 23], 1), precision('ternary', 'ternary-absmean', p, 260, 850, [9, 17, 28, 11], 2), precision('binary', 'binary-scaled', p, 400, null, [5, 21], 3)],
    comparisons: [
      { modelA: 'fp32', modelB: 'ternary', verdict: 'same', reason: 'both pass all mechanism checks', jaccard: 0.2, a: { checks: 'sparse=pass', explained: 0.86, restrictedRatio: 0.7, ffs: 0.1, fcr: 0.9, gradientSymmetricity: 0.55, distanceIrrelevance: 0.9 }, b: { checks: 'sparse=pass', explained: 0.85, restrictedRatio: 0.8, ffs: 0.1, fcr: 0.9, gradientSymmetricity: 0.57, distanceIrrelevance: 0.91 } },
      { modelA: 'fp32', modelB: 'binary', verdict: 'inconclusive', reason: 'failed checks: binary: explained', jaccard: 0, a: { checks: 'sparse=pass', explained: 0.86, restrictedRatio: 0.7, ffs: 0.1, fcr: 0.9, gradientSymmetricity: 0.55, distanceIrrelevance: 0.9 }, b: { checks: 'explained=FAIL', explained: 0.3, restrictedRatio: 1.4, ffs: 0.1, fcr: 0.9, gradientSymmetricity: 0.65, distanceIrrelevance: 0.6 } },
      { modelA: 'ternary', modelB: 'binary', verdict: 'different', reason: 'signatures differ <&>', jaccard: 0, a: { checks: 'sparse=pass', explained: 0.85, restrictedRatio: 0.8, ffs: 0.1, fcr: 0.9, gradientSymmetricity: 0.57, distanceIrrelevance: 0.91 }, b: { checks: 'sparse=pass', explained: 0.8, restrictedRatio: 0.9, ffs: 0.1, fcr: 0.9, gradientSymmetricity: 0.97, distanceIrrelevance: 0.41 } },
    ],
    verdictRule: 'same when both pass every mechanism check and |Δ| of both signatures <= 0.2',
    provenance: {
      pipeline: 'precision-comparison',
      config: { preset: 'small', p, seed: 0 },
      configHash: 'c0ffee',
      backend: 'wasm',
      seed: 0,
      bitlensVersion: '0.1.0',
      gitRevision: 'abc123',
      generatedAt: '2026-01-01T00:00:00.000Z',
      wallSeconds: 123.4,
      stages: [{ node: 'dataset', stage: 'data/dataset', key: '0123456789abcdef0123', cached: true }],
    },
  };
}

/** A single-model analysis report (the fp32 model of {@link syntheticReportData}). */
export function syntheticAnalysisData(): AnalysisReportData {
  const d = syntheticReportData();
  const m = d.precisions[0];
  if (m === undefined) throw new Error('fixture');
  const { quantizer: _q, training: _t, grokEpoch: _g, trainFitEpoch: _f, finalEpoch: _e, progress: _p, evolution: _v, ...model } = m;
  return {
    title: 'bitlens analysis: model.safetensors <synthetic>',
    subtitle: `p = ${d.p}, task add, preset li`,
    p: d.p,
    model: { ...model, name: 'model.safetensors' },
    numbers: [
      { label: 'accuracy (test)', value: '1.000' },
      { label: 'loss (train)', value: '9.2e-9' },
    ],
    provenance: { pipeline: 'analyze', config: { weights: 'model.safetensors' }, configHash: 'c0ffee', backend: 'wasm', seed: 0 },
  };
}
