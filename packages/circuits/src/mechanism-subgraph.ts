import type { Tf } from '@bitlens/engine';
import { type Subgraph, defineSubgraph } from '@bitlens/core';
import { type HookName, type Weights, WeightsSchema } from '@bitlens/model';
import { activations } from './activations.js';
import { DEFAULT_VERDICT_RULE, type VerdictRule } from './compare.js';
import type { WeightsColumn } from './model.js';
import type { Activations, ClockPizza, FourierNorms, Grid, KeyFreqs, Losses, Mechanism, NeuronFreqs } from './schemas.js';
import { GridSchema } from './schemas.js';
import type { SparsityThreshold } from './spectra.js';
import { clockPizza } from './stages/clock-pizza.js';
import { fourierNorms } from './stages/fourier-norms.js';
import { frequencyLossesStage } from './stages/frequency-losses.js';
import { keyFrequencies } from './stages/key-frequencies.js';
import { mechanismSummary } from './stages/mechanism-summary.js';
import { neuronFrequencies } from './stages/neuron-frequencies.js';
import type { Task } from './task.js';

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
  /** FFS significance threshold (Furuta's eps). */
  readonly sparsity: SparsityThreshold;
  /** The same-algorithm rule. */
  readonly verdict: VerdictRule;
}

/** The defaults (see docs/science.md for why each number). */
export const DEFAULT_ANALYSIS: AnalysisSettings = {
  neuronThreshold: 0.85,
  neuronMinCount: 5,
  maxKeys: 15,
  sparsity: { kind: 'relative', fraction: 0.1 },
  verdict: DEFAULT_VERDICT_RULE,
};

/** Options of {@link mechanismSubgraph}. */
export interface MechanismSubgraphOptions {
  /** Name of the model in its mechanism row (e.g. `fp32`, a sweep cell id, a file name). */
  readonly model: string;
  /** The task the model computes (labels, clock/pizza directions). */
  readonly task: Task;
  readonly settings?: AnalysisSettings;
  /** Which weights the analyses read (default `effective`: what the forward pass multiplies with). */
  readonly column?: WeightsColumn;
  /** Hooks to capture besides the ones the chain needs (e.g. `hook_embed` for attribution), as TransformerLens names. */
  readonly extraHooks?: readonly HookName[];
}

/** The hooks the mechanism chain reads at the last position. */
const CHAIN_HOOKS: readonly HookName[] = ['blocks.0.mlp.hook_pre', 'blocks.0.mlp.hook_post', 'logits'];

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
  mechanism: Mechanism;
};

/**
 * The mechanism analysis of one model as a subgraph: inputs `weights` (a weights or checkpoint table) and `grid` (the
 * p² inputs with labels and the train split); nodes `activations` (last position, over all p² inputs), `norms`
 * (Fourier norms of W_E and W_L), `neurons` (per-neuron frequency FVE and clusters), `keys` (key frequencies by
 * embedding and by neurons), `losses` (full, restricted, excluded), `clock-pizza`, and `mechanism` (one row with every
 * number the same-algorithm verdict reads). The only place this chain is wired.
 * @example PipelineGraph.create().source('grid', grid).source('w', weights).use('model', mechanismSubgraph(tf, { model: 'm', task: 'add' }), { weights: 'w', grid: 'grid' })
 */
export function mechanismSubgraph(tf: Tf, options: MechanismSubgraphOptions): Subgraph<{ weights: Weights; grid: Grid }, MechanismNodes> {
  const s = options.settings ?? DEFAULT_ANALYSIS;
  const column = options.column === undefined ? {} : { column: options.column };
  return defineSubgraph({ weights: WeightsSchema, grid: GridSchema }, (g) =>
    g
      .then('activations', activations(tf, { hooks: hookPattern(options.extraHooks ?? []), position: 'last', ...column }), 'weights')
      .then('norms', fourierNorms(column), 'weights')
      .then('neurons', neuronFrequencies(tf, { threshold: s.neuronThreshold, minCount: s.neuronMinCount }), 'activations')
      .join('keys', keyFrequencies({ rule: { kind: 'gap', maxKeys: s.maxKeys }, ...column }), { weights: 'weights', neurons: 'neurons' })
      .join('losses', frequencyLossesStage({ keys: 'embed' }), { keys: 'keys', activations: 'activations', dataset: 'grid' })
      .join('clock-pizza', clockPizza(tf, { task: options.task, ...column }), { weights: 'weights', activations: 'activations' })
      .join('mechanism', mechanismSummary({ model: options.model, sparsity: s.sparsity }), { norms: 'norms', neurons: 'neurons', keys: 'keys', losses: 'losses', clockPizza: 'clock-pizza' }),
  );
}
