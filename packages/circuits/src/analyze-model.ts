import type { Tf } from '@bitlens/engine';
import { BitlensError } from '@bitlens/core';
import { correctLogits, circularity, distanceIrrelevance } from './clock-pizza.js';
import { gradientSymmetricity } from './attribution.js';
import { DEFAULT_KEY_RULE, type KeyFrequencies, type KeyFrequencyRule, keyFrequenciesFromNorms } from './key-frequencies.js';
import { type FrequencyLosses, type LossAccuracy, crossEntropy, frequencyLosses } from './loss.js';
import { type LoadedModel, gridOutputs, tensorOf } from './model.js';
import { type NeuronClusters, type NeuronFrequencies, clusterNeurons, neuronFrequencyFve, varianceExplainedBy } from './neurons.js';
import { type ClusterQuadrature, clusterQuadrature, fitNeuronWaves } from './quadrature.js';
import { type FourierSparsity, type FourierSpectrum, type SparsityThreshold, embeddingSpectrum, fourierSparsity, fourierSpectrum, neuronLogitMap } from './spectra.js';
import { type Task, inputGrid } from './task.js';

const STAGE = 'circuits/analyze-model';

/** Thresholds and choices of a full analysis (all recorded with the results). */
export interface AnalysisOptions {
  readonly task?: Task;
  /** Rule for key frequencies by embedding norm (default: largest gap among the top 15). */
  readonly keyRule?: KeyFrequencyRule;
  /** Max-FVE threshold for a neuron to count as clustered (default 0.85). */
  readonly neuronThreshold?: number;
  /** Clustered neurons a frequency needs to be key by neurons (default 5). */
  readonly neuronMinCount?: number;
  /** Which key set restricted/excluded losses use (default 'embed'), or an explicit list. */
  readonly lossKeys?: 'embed' | 'neurons' | readonly number[];
  /** Train mask over the p^2 grid rows (a-major). With it, excluded loss is on train rows and train/test are reported. */
  readonly train?: ArrayLike<boolean | number>;
  readonly sparsity?: SparsityThreshold;
  /** Include gradient symmetricity (needs gradients through the model; default true). */
  readonly gradientSymmetricity?: boolean;
  readonly batchSize?: number;
}

/** Everything the mechanism analyses compute for one model. */
export interface ModelAnalysis {
  readonly p: number;
  readonly preset: string;
  readonly column: string;
  readonly task: Task;
  readonly embed: FourierSpectrum;
  readonly embedKeys: KeyFrequencies;
  readonly neurons: NeuronFrequencies;
  readonly clusters: NeuronClusters;
  /** Fraction of total MLP variance in the 3x3 blocks of the neuron key frequencies. */
  readonly varianceExplainedByKeys: number;
  readonly neuronLogitMap: FourierSpectrum;
  readonly sparsity: FourierSparsity;
  readonly lossKeys: number[];
  readonly all: LossAccuracy;
  readonly train?: LossAccuracy;
  readonly test?: LossAccuracy;
  readonly frequency: FrequencyLosses;
  readonly clockPizza: { readonly distanceIrrelevance: number; readonly circularity: number; readonly gradientSymmetricity: number | undefined };
  readonly quadrature: ClusterQuadrature[];
  /** Last-position logits over all p^2 inputs, `[p^2, dVocabOut]`. */
  readonly logits: Float32Array;
}

/**
 * Runs every weight- and activation-based analysis of one model over all p^2 inputs: embedding spectrum and key
 * frequencies, neuron FVE clusters, W_L spectrum, FFS/FCR, loss/accuracy, restricted/excluded loss (all keys and one
 * at a time), clock/pizza metrics and the quadrature fit. One forward pass over the grid (batched).
 */
export function analyzeModel(tf: Tf, model: LoadedModel, options: AnalysisOptions = {}): ModelAnalysis {
  const c = model.config;
  const p = c.p;
  if (c.dVocabOut !== p) throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: 'dVocabOut', expected: `p = ${p}`, found: String(c.dVocabOut) });
  const task = options.task ?? 'add';
  const grid = inputGrid(p, task);
  const train = options.train;
  if (train !== undefined && train.length !== p * p) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'train', expected: `a mask over ${p * p} inputs`, found: String(train.length) });
  }
  const embed = embeddingSpectrum(tensorOf(model, 'embed.W_E').data, p, c.dModel);
  const embedKeys = keyFrequenciesFromNorms(embed.freqNorms, options.keyRule ?? DEFAULT_KEY_RULE);
  const wlData = neuronLogitMap(tensorOf(model, 'blocks.0.mlp.W_out').data, tensorOf(model, 'unembed.W_U').data, c.dMlp, c.dModel, c.dVocabOut);
  const wl = fourierSpectrum(wlData, p, c.dMlp);

  const out = gridOutputs(tf, model, { capture: (h) => h === 'blocks.0.mlp.hook_post' || h === 'blocks.0.mlp.hook_pre', ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }) });
  const post = out.acts.get('blocks.0.mlp.hook_post');
  const pre = out.acts.get('blocks.0.mlp.hook_pre');
  if (post === undefined || pre === undefined) throw new BitlensError('INTERNAL', { stage: STAGE }, 'MLP activations were not captured');
  const neurons = neuronFrequencyFve(tf, post.data, p, c.dMlp);
  const clusters = clusterNeurons(neurons, options.neuronThreshold ?? 0.85, options.neuronMinCount ?? 5);
  const lossKeys = options.lossKeys === 'neurons' ? clusters.keys : options.lossKeys === 'embed' || options.lossKeys === undefined ? embedKeys.keys : [...options.lossKeys];
  const testMask = train === undefined ? undefined : Array.from(train, (x) => !x);
  const all = crossEntropy(out.logits, grid.labels, p);
  const frequency = frequencyLosses(out.logits, grid.labels, p, lossKeys, train === undefined ? {} : { excludedOn: train });
  const correct = correctLogits(out.logits, grid.labels, p);
  const symmetric = options.gradientSymmetricity === false ? undefined : gradientSymmetricity(tf, model);
  const aliveFreqs = Int32Array.from(neurons.freq, (k) => (k === 0 ? 1 : k));
  const waves = fitNeuronWaves(pre.data, Float32Array.from(wlData), p, c.dMlp, aliveFreqs).filter((w) => neurons.alive[w.neuron] === 1 && (neurons.maxFve[w.neuron] ?? 0) >= clusters.threshold);
  return {
    p,
    preset: c.preset,
    column: model.column,
    task,
    embed,
    embedKeys,
    neurons,
    clusters,
    varianceExplainedByKeys: varianceExplainedBy(neurons, clusters.keys),
    neuronLogitMap: wl,
    sparsity: fourierSparsity(embed, options.sparsity),
    lossKeys,
    all,
    ...(train === undefined ? {} : { train: crossEntropy(out.logits, grid.labels, p, train), test: crossEntropy(out.logits, grid.labels, p, testMask) }),
    frequency,
    clockPizza: { distanceIrrelevance: distanceIrrelevance(correct, p), circularity: circularity(tensorOf(model, 'embed.W_E').data, p, c.dModel), gradientSymmetricity: symmetric },
    quadrature: clusterQuadrature(waves),
    logits: out.logits,
  };
}
