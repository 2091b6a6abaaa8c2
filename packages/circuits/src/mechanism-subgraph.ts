import type { Tf } from '@bitlens/engine';
import { type Subgraph, defineSubgraph } from '@bitlens/core';
import { type HookName, type Weights, WeightsSchema } from '@bitlens/model';
import { activations } from './activations.js';
import { DEFAULT_VERDICT_RULE, type VerdictRule } from './compare.js';
import type { WeightsColumn } from './model.js';
import type { Activations, Asymmetry, ClockPizza, FourierNorms, Grid, KeyFreqs, Losses, Mechanism, NeuronFreqs } from './schemas.js';
import { GridSchema } from './schemas.js';
import { DEFAULT_SPARSITY, type SparsityThreshold } from './spectra.js';
import { PATTERN_HOOK, asymmetry } from './stages/asymmetry.js';
import { clockPizza } from './stages/clock-pizza.js';
import { fourierNorms } from './stages/fourier-norms.js';
import { type LossKeys, frequencyLossesStage, lossKeyMethod } from './stages/frequency-losses.js';
import { keyFrequencies } from './stages/key-frequencies.js';
import { mechanismSummary } from './stages/mechanism-summary.js';
import { neuronFrequencies } from './stages/neuron-frequencies.js';
import { type Task, resolveTask } from './task.js';

/**
 * Every threshold of the mechanism analysis, in one place. `analyze`, `precision-comparison` and `sweep` all read
 * this object (their configs override fields of it); nothing else holds these numbers.
 */
export interface AnalysisSettings {
  /** A neuron is clustered when its largest single-frequency FVE is at least this. */
  readonly neuronThreshold: number;
  /** Clustered neurons a frequency needs to be a key frequency by neurons. */
  readonly neuronMinCount: number;
  /** Embedding key frequencies: the largest gap among the top `maxKeys` frequency norms. */
  readonly maxKeys: number;
  /** FFS significance threshold (Furuta's eps; default relative 0.5 of the max, see docs/science-furuta.md). */
  readonly sparsity: SparsityThreshold;
  /** Key frequencies of restricted / excluded loss (default `auto`: the embedding keys in the task's own basis). */
  readonly lossKeys?: LossKeys;
  /** The same-algorithm rule. */
  readonly verdict: VerdictRule;
}

/** The defaults (see docs/science.md for why each number). */
export const DEFAULT_ANALYSIS: AnalysisSettings = {
  neuronThreshold: 0.85,
  neuronMinCount: 5,
  maxKeys: 15,
  sparsity: DEFAULT_SPARSITY,
  lossKeys: 'auto',
  verdict: DEFAULT_VERDICT_RULE,
};

/** Options of {@link mechanismSubgraph}. */
export interface MechanismSubgraphOptions {
  /** Name of the model in its mechanism row (e.g. `fp32`, a sweep cell id, a file name). */
  readonly model: string;
  /**
   * The task the model computes (any task of @bitlens/data): labels, the directions of restricted / excluded loss and
   * distance irrelevance, the domain of losses and asymmetry. Must agree with the grid's task when it names one.
   */
  readonly task: Task;
  readonly settings?: AnalysisSettings;
  /** Which weights the analyses read (default `effective`: what the forward pass multiplies with). */
  readonly column?: WeightsColumn;
  /** Hooks to capture besides the ones the chain needs (e.g. `hook_embed` for attribution), as TransformerLens names. */
  readonly extraHooks?: readonly HookName[];
}

/** The hooks the mechanism chain reads at the last position. */
const CHAIN_HOOKS: readonly HookName[] = ['blocks.0.mlp.hook_pre', 'blocks.0.mlp.hook_post', PATTERN_HOOK, 'logits'];

function hookPattern(extra: readonly HookName[]): string {
  const names = [...new Set([...CHAIN_HOOKS, ...extra])].sort();
  return `^(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`;
}

/** The nodes a mechanism subgraph adds (all typed; use them as inputs of more stages). */
export type MechanismNodes = {
  activations: Activations;
  norms: FourierNorms;
  neurons: NeuronFreqs;
  keys: KeyFreqs;
  losses: Losses;
  'clock-pizza': ClockPizza;
  asymmetry: Asymmetry;
  mechanism: Mechanism;
};

/**
 * The mechanism analysis of one model as a subgraph: inputs `weights` (a weights or checkpoint table) and `grid` (the
 * task's pairs with labels and the train split); nodes `activations` (last position, over all p² inputs), `norms`
 * (Fourier norms of W_E and W_L), `neurons` (per-neuron frequency FVE and clusters), `keys` (key frequencies by
 * embedding, by embedding in discrete-log coordinates and by neurons), `losses` (full, restricted, excluded, in the
 * task's basis), `clock-pizza`, `asymmetry` (logit and attention asymmetry between (a, b) and (b, a)) and `mechanism`
 * (one row with every number the same-algorithm verdict reads). The only place this chain is wired. An unknown task
 * or a loss-key method of the wrong basis fails here, before any work.
 * @example PipelineGraph.create().source('grid', grid).source('w', weights).use('model', mechanismSubgraph(tf, { model: 'm', task: 'add' }), { weights: 'w', grid: 'grid' })
 */
export function mechanismSubgraph(tf: Tf, options: MechanismSubgraphOptions): Subgraph<{ weights: Weights; grid: Grid }, MechanismNodes> {
  const s = options.settings ?? DEFAULT_ANALYSIS;
  const column = options.column === undefined ? {} : { column: options.column };
  const task = options.task;
  lossKeyMethod(resolveTask(task, 'circuits/mechanism-subgraph'), s.lossKeys ?? 'auto', 'circuits/mechanism-subgraph');
  return defineSubgraph({ weights: WeightsSchema, grid: GridSchema }, (g) =>
    g
      .then('activations', activations(tf, { hooks: hookPattern(options.extraHooks ?? []), position: 'last', ...column }), 'weights')
      .then('norms', fourierNorms(column), 'weights')
      .then('neurons', neuronFrequencies(tf, { threshold: s.neuronThreshold, minCount: s.neuronMinCount, task }), 'activations')
      .join('keys', keyFrequencies({ rule: { kind: 'gap', maxKeys: s.maxKeys }, ...column }), { weights: 'weights', neurons: 'neurons' })
      .join('losses', frequencyLossesStage({ keys: s.lossKeys ?? 'auto', task }), { keys: 'keys', activations: 'activations', dataset: 'grid' })
      .join('clock-pizza', clockPizza(tf, { task, ...column }), { weights: 'weights', activations: 'activations' })
      .then('asymmetry', asymmetry({ task }), 'activations')
      .join('mechanism', mechanismSummary({ model: options.model, task, sparsity: s.sparsity }), { norms: 'norms', neurons: 'neurons', keys: 'keys', losses: 'losses', clockPizza: 'clock-pizza', asymmetry: 'asymmetry' }),
  );
}
