import type { Tf } from '@bitlens/engine';
import { BitlensError } from '@bitlens/core';
import { attentionAsymmetry, logitAsymmetry } from './asymmetry.js';
import { correctLogits, circularity, distanceIrrelevanceIn } from './clock-pizza.js';
import { discreteLogs } from './discrete-log.js';
import { gradientSymmetricity } from './attribution.js';
import { DEFAULT_KEY_RULE, type KeyFrequencies, type KeyFrequencyRule, keyFrequenciesFromNorms } from './key-frequencies.js';
import { type FrequencyLosses, type LossAccuracy, crossEntropy, frequencyLosses } from './loss.js';
import { type LoadedModel, gridOutputs, tensorOf } from './model.js';
import { type NeuronClusters, type NeuronFrequencies, clusterNeurons, neuronFrequencyFve, neuronFrequencyFveIn, varianceExplainedBy } from './neurons.js';
import { type ClusterQuadrature, clusterQuadrature, fitNeuronWaves } from './quadrature.js';
import { type FourierSparsity, type FourierSpectrum, type SparsityThreshold, embeddingSpectrum, fourierSparsity, fourierSpectrum, logEmbeddingSpectrum, neuronLogitMap } from './spectra.js';
import { PATTERN_HOOK } from './stages/asymmetry.js';
import { type TaskBasis, combinationKeys, isPlainBasis, taskBasis } from './task-basis.js';
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
  /**
   * Which key set restricted/excluded losses use (default: the embedding keys in the task's basis, `embed` for linear
   * tasks and `embed-log` for multiplicative ones), or an explicit list (frequencies of the task's basis).
   */
  readonly lossKeys?: 'embed' | 'embed-log' | 'neurons' | readonly number[];
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
  /** Key frequencies of the embedding in discrete-log coordinates (over Z_{p-1}; the basis of mul and div). */
  readonly embedLogKeys: KeyFrequencies;
  /** The task's basis (directions of restricted/excluded loss and distance irrelevance); undefined for the polynomials. */
  readonly basis: TaskBasis | undefined;
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
  /** Restricted / excluded loss in the task's basis; undefined for a task without structure (not applicable). */
  readonly frequency: FrequencyLosses | undefined;
  /** Distance irrelevance is NaN for a task without structure. */
  readonly clockPizza: { readonly distanceIrrelevance: number; readonly circularity: number; readonly gradientSymmetricity: number | undefined };
  readonly asymmetry: { readonly logit: number; readonly attention: number };
  readonly quadrature: ClusterQuadrature[];
  /** Last-position logits over all p^2 inputs, `[p^2, dVocabOut]`. */
  readonly logits: Float32Array;
}

/** Which key frequencies the losses use (see {@link AnalysisOptions.lossKeys}). */
function pickLossKeys(option: AnalysisOptions['lossKeys'], basis: TaskBasis | undefined, keys: { embed: number[]; log: number[]; neurons: number[] }): number[] {
  const inBasis = (k: number[]): number[] => (basis === undefined ? k : combinationKeys(basis, k));
  if (option === undefined) return inBasis(basis?.kind === 'multiplicative' ? keys.log : keys.embed);
  if (option === 'embed') return inBasis(keys.embed);
  if (option === 'embed-log') return inBasis(keys.log);
  if (option === 'neurons') return keys.neurons;
  return [...option];
}

/**
 * Runs every weight- and activation-based analysis of one model over all p^2 inputs: embedding spectrum and key
 * frequencies (also in discrete-log coordinates), neuron FVE clusters, W_L spectrum, FFS/FCR, loss/accuracy over the
 * task's valid pairs, restricted/excluded loss in the task's basis (all keys and one at a time; not for the
 * polynomials), clock/pizza metrics, operand asymmetry and the quadrature fit. One forward pass over the grid (batched).
 */
export function analyzeModel(tf: Tf, model: LoadedModel, options: AnalysisOptions = {}): ModelAnalysis {
  const c = model.config;
  const p = c.p;
  if (c.dVocabOut !== p) throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: 'dVocabOut', expected: `p = ${p}`, found: String(c.dVocabOut) });
  const task = options.task ?? 'add';
  const grid = inputGrid(p, task);
  const basis = taskBasis(task, p);
  const train = options.train === undefined ? undefined : Array.from(options.train, (x, r) => Boolean(x) && grid.valid[r] === 1);
  if (train !== undefined && train.length !== p * p) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'train', expected: `a mask over ${p * p} inputs`, found: String(train.length) });
  }
  const we = tensorOf(model, 'embed.W_E').data;
  const embed = embeddingSpectrum(we, p, c.dModel);
  const keyRule = options.keyRule ?? DEFAULT_KEY_RULE;
  const embedKeys = keyFrequenciesFromNorms(embed.freqNorms, keyRule);
  const embedLogKeys = keyFrequenciesFromNorms(logEmbeddingSpectrum(we, discreteLogs(p), c.dModel).freqNorms, keyRule);
  const wlData = neuronLogitMap(tensorOf(model, 'blocks.0.mlp.W_out').data, tensorOf(model, 'unembed.W_U').data, c.dMlp, c.dModel, c.dVocabOut);
  const wl = fourierSpectrum(wlData, p, c.dMlp);

  const hooks = new Set(['blocks.0.mlp.hook_post', 'blocks.0.mlp.hook_pre', PATTERN_HOOK]);
  const out = gridOutputs(tf, model, { capture: (h) => hooks.has(h), ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }) });
  const post = out.acts.get('blocks.0.mlp.hook_post');
  const pre = out.acts.get('blocks.0.mlp.hook_pre');
  const pattern = out.acts.get(PATTERN_HOOK);
  if (post === undefined || pre === undefined || pattern === undefined) throw new BitlensError('INTERNAL', { stage: STAGE }, 'MLP activations or the attention pattern were not captured');
  const neurons = basis === undefined ? neuronFrequencyFve(tf, post.data, p, c.dMlp) : neuronFrequencyFveIn(tf, post.data, basis, c.dMlp);
  const clusters = clusterNeurons(neurons, options.neuronThreshold ?? 0.85, options.neuronMinCount ?? 5);
  const lossKeys = pickLossKeys(options.lossKeys, basis, { embed: embedKeys.keys, log: embedLogKeys.keys, neurons: clusters.keys });
  const testMask = train === undefined ? undefined : Array.from(train, (x, r) => !x && grid.valid[r] === 1);
  const all = crossEntropy(out.logits, grid.labels, p, grid.valid);
  const frequency = basis === undefined ? undefined : frequencyLosses(out.logits, grid.labels, p, lossKeys, { basis, restrictedOn: grid.valid, ...(train === undefined ? {} : { excludedOn: train }) });
  const correct = correctLogits(out.logits, grid.labels, p);
  const symmetric = options.gradientSymmetricity === false ? undefined : gradientSymmetricity(tf, model);
  const aliveFreqs = Int32Array.from(neurons.freq, (k) => (k === 0 ? 1 : k));
  // The quadrature waves are fits over Z_p in a and b: none for neurons analysed in re-indexed coordinates.
  const waves = !isPlainBasis(basis) ? [] : fitNeuronWaves(pre.data, Float32Array.from(wlData), p, c.dMlp, aliveFreqs).filter((w) => neurons.alive[w.neuron] === 1 && (neurons.maxFve[w.neuron] ?? 0) >= clusters.threshold);
  const [heads = 0, queries = 0, keys = 0] = pattern.shape.slice(1);
  return {
    p,
    preset: c.preset,
    column: model.column,
    task,
    embed,
    embedKeys,
    embedLogKeys,
    basis,
    neurons,
    clusters,
    varianceExplainedByKeys: varianceExplainedBy(neurons, clusters.keys),
    neuronLogitMap: wl,
    sparsity: fourierSparsity(embed, options.sparsity),
    lossKeys,
    all,
    ...(train === undefined ? {} : { train: crossEntropy(out.logits, grid.labels, p, train), test: crossEntropy(out.logits, grid.labels, p, testMask) }),
    frequency,
    clockPizza: { distanceIrrelevance: basis === undefined ? Number.NaN : distanceIrrelevanceIn(correct, basis), circularity: circularity(we, p, c.dModel), gradientSymmetricity: symmetric },
    asymmetry: { logit: logitAsymmetry(out.logits, p, c.dVocabOut, grid.valid), attention: attentionAsymmetry(pattern.data, p, heads, keys, { queries, valid: grid.valid }) },
    quadrature: clusterQuadrature(waves),
    logits: out.logits,
  };
}
