import { Bool, Float32, Float64, Int32, type List, Schema, Utf8 } from 'apache-arrow';
import { field, listOf } from './internal/arrow.js';

/** Activations: one row per (input, hook). `values` is the activation of that input (row-major, per-input `shape`). */
export type Activations = { row: Int32; a: Int32; b: Int32; hook: Utf8; shape: List<Int32>; values: List<Float32> };
/** Schema of {@link Activations}; the model config is in metadata `bitlens.model_config`, the position in `bitlens.position`. */
export const ActivationsSchema = new Schema<Activations>([
  field('row', new Int32()),
  field('a', new Int32()),
  field('b', new Int32()),
  field('hook', new Utf8()),
  field('shape', listOf(new Int32())),
  field('values', listOf(new Float32())),
]);

/** The input grid with labels and the train/test split. */
export type Grid = { a: Int32; b: Int32; label: Int32; train: Bool };
/** Schema of {@link Grid} (extra columns allowed on input). */
export const GridSchema = new Schema<Grid>([field('a', new Int32()), field('b', new Int32()), field('label', new Int32()), field('train', new Bool())]);

/** Fourier norms of W_E (token axis) and W_L (output axis): one row per matrix and basis component. */
export type FourierNorms = { matrix: Utf8; component: Int32; freq: Int32; kind: Utf8; norm: Float64; gini: Float64 };
/** Schema of {@link FourierNorms}. */
export const FourierNormsSchema = new Schema<FourierNorms>([
  field('matrix', new Utf8()),
  field('component', new Int32()),
  field('freq', new Int32()),
  field('kind', new Utf8()),
  field('norm', new Float64()),
  field('gini', new Float64()),
]);

/** Per-neuron frequency structure. */
export type NeuronFreqs = { neuron: Int32; freq: Int32; max_fve: Float64; energy: Float64; alive: Bool; clustered: Bool; fve: List<Float64> };
/** Schema of {@link NeuronFreqs}; threshold and minCount in metadata `bitlens.neuron_threshold`, `bitlens.neuron_min_count`. */
export const NeuronFreqsSchema = new Schema<NeuronFreqs>([
  field('neuron', new Int32()),
  field('freq', new Int32()),
  field('max_fve', new Float64()),
  field('energy', new Float64()),
  field('alive', new Bool()),
  field('clustered', new Bool()),
  field('fve', listOf(new Float64())),
]);

/**
 * Key-frequency candidates by method: `embed` (score = Fourier norm of W_E over Z_p, frequencies 1..(p−1)/2),
 * `embed-log` (score = Fourier norm of W_E in discrete-log coordinates over Z_{p−1}, frequencies 1..(p−1)/2; the
 * basis of mul and div), `neurons` (score = clustered-neuron count).
 */
export type KeyFreqs = { method: Utf8; freq: Int32; score: Float64; is_key: Bool };
/** Schema of {@link KeyFreqs}. */
export const KeyFreqsSchema = new Schema<KeyFreqs>([field('method', new Utf8()), field('freq', new Int32()), field('score', new Float64()), field('is_key', new Bool())]);

/**
 * Loss rows: variant full | restricted | excluded, with the key set used, over a subset: `all` | `train` | `test`
 * (the task's valid pairs: div leaves out b = 0), or for multiplicative tasks `nonzero` | `train-nonzero` (the pairs
 * with a, b ≠ 0, where the discrete-log basis lives). `count` = rows averaged. Metadata `bitlens.loss_basis` (JSON:
 * `applicable`, `kind`, `description`, `keyMethod`) says which directions were used; a task without a group
 * structure has no restricted / excluded rows and `applicable: false`.
 */
export type Losses = { variant: Utf8; keys: List<Int32>; subset: Utf8; loss: Float64; accuracy: Float64; count: Int32 };
/** Schema of {@link Losses}. */
export const LossesSchema = new Schema<Losses>([
  field('variant', new Utf8()),
  field('keys', listOf(new Int32())),
  field('subset', new Utf8()),
  field('loss', new Float64()),
  field('accuracy', new Float64()),
  field('count', new Int32()),
]);

/**
 * Clock vs pizza metrics (one row). `distance_basis` says which combinations distance irrelevance grouped by (e.g.
 * `s = a-b, d = a+b (mod 59)`), or `n/a` for a task without a group structure (then `distance_irrelevance` is NaN).
 */
export type ClockPizza = { gradient_symmetricity: Float64; distance_irrelevance: Float64; circularity: Float64; samples: Int32; seed: Int32; distance_basis: Utf8 };
/** Schema of {@link ClockPizza}. */
export const ClockPizzaSchema = new Schema<ClockPizza>([
  field('gradient_symmetricity', new Float64()),
  field('distance_irrelevance', new Float64()),
  field('circularity', new Float64()),
  field('samples', new Int32()),
  field('seed', new Int32()),
  field('distance_basis', new Utf8()),
]);

/** Operand asymmetry of one model (one row): see `logitAsymmetry` and `attentionAsymmetry`; `pairs` = swappable pairs used. */
export type Asymmetry = { logit_asymmetry: Float64; attention_asymmetry: Float64; pairs: Int32 };
/** Schema of {@link Asymmetry}. */
export const AsymmetrySchema = new Schema<Asymmetry>([field('logit_asymmetry', new Float64()), field('attention_asymmetry', new Float64()), field('pairs', new Int32())]);

/** Quadrature error per frequency cluster. */
export type Quadrature = { freq: Int32; neurons: Int32; max_error: Float64; mean_error: Float64; mean_fit: Float64 };
/** Schema of {@link Quadrature}. */
export const QuadratureSchema = new Schema<Quadrature>([
  field('freq', new Int32()),
  field('neurons', new Int32()),
  field('max_error', new Float64()),
  field('mean_error', new Float64()),
  field('mean_fit', new Float64()),
]);

/** Ablation effects over all p^2 inputs. */
export type Ablations = { target: Utf8; mode: Utf8; base_loss: Float64; loss: Float64; delta_loss: Float64; base_accuracy: Float64; accuracy: Float64; delta_accuracy: Float64 };
/** Schema of {@link Ablations}. */
export const AblationsSchema = new Schema<Ablations>([
  field('target', new Utf8()),
  field('mode', new Utf8()),
  field('base_loss', new Float64()),
  field('loss', new Float64()),
  field('delta_loss', new Float64()),
  field('base_accuracy', new Float64()),
  field('accuracy', new Float64()),
  field('delta_accuracy', new Float64()),
]);

/** Direct logit attribution per component: mean contribution to the correct logit and mean |contribution| over all logits. */
export type Attribution = { component: Utf8; mean_correct: Float64; mean_abs: Float64; exact: Bool };
/** Schema of {@link Attribution}. */
export const AttributionSchema = new Schema<Attribution>([field('component', new Utf8()), field('mean_correct', new Float64()), field('mean_abs', new Float64()), field('exact', new Bool())]);

/** Activation patching results. */
export type Patching = { clean_a: Int32; clean_b: Int32; corrupt_a: Int32; corrupt_b: Int32; hook: Utf8; clean_diff: Float64; corrupt_diff: Float64; patched_diff: Float64; restored: Float64 };
/** Schema of {@link Patching}. */
export const PatchingSchema = new Schema<Patching>([
  field('clean_a', new Int32()),
  field('clean_b', new Int32()),
  field('corrupt_a', new Int32()),
  field('corrupt_b', new Int32()),
  field('hook', new Utf8()),
  field('clean_diff', new Float64()),
  field('corrupt_diff', new Float64()),
  field('patched_diff', new Float64()),
  field('restored', new Float64()),
]);

/** The mechanism numbers of one analysed model (one row per model): the input of the same-algorithm comparison. */
export type Mechanism = {
  model: Utf8;
  p: Int32;
  preset: Utf8;
  embed_keys: List<Int32>;
  neuron_keys: List<Int32>;
  embed_gap_ratio: Float64;
  share_clustered: Float64;
  variance_explained_by_keys: Float64;
  full_loss: Float64;
  accuracy: Float64;
  restricted_loss: Float64;
  excluded_loss: Float64;
  ffs: Float64;
  fcr: Float64;
  ffs_eps: Float64;
  gini_embed: Float64;
  gini_wl: Float64;
  gradient_symmetricity: Float64;
  distance_irrelevance: Float64;
  circularity: Float64;
  task: Utf8;
  structure: Utf8;
  losses_applicable: Bool;
  loss_basis: Utf8;
  loss_key_method: Utf8;
  loss_keys: List<Int32>;
  loss_rows: Int32;
  basis_loss: Float64;
  embed_log_keys: List<Int32>;
  logit_asymmetry: Float64;
  attention_asymmetry: Float64;
  ffs_rule: Utf8;
  cos_share: Float64;
};
/**
 * Schema of {@link Mechanism}. Besides the numbers of the same-algorithm verdict: `task` and its `structure`
 * (`linear`, `multiplicative` or `none`); `losses_applicable` (false for a task without a group structure: then
 * `restricted_loss`, `excluded_loss`, `basis_loss` and `distance_irrelevance` are NaN and `loss_basis` is `n/a`);
 * `loss_basis` (the directions restricted/excluded loss used), `loss_key_method` (`embed`, `embed-log`, `neurons` or
 * `fixed`) and `loss_keys` (in that basis' frequencies), `loss_rows` (rows the restricted loss averaged over: p² for
 * linear tasks, (p−1)² for mul and div) and `basis_loss` (the full loss over those rows, what restricted loss is
 * compared with); `embed_log_keys` (key frequencies of the embedding in discrete-log coordinates); the operand
 * asymmetries; `ffs_rule` (how `ffs_eps` was chosen); `cos_share` (share of the embedding's Fourier energy in cosines:
 * which way a low FCR leans).
 */
export const MechanismSchema = new Schema<Mechanism>([
  field('model', new Utf8()),
  field('p', new Int32()),
  field('preset', new Utf8()),
  field('embed_keys', listOf(new Int32())),
  field('neuron_keys', listOf(new Int32())),
  field('embed_gap_ratio', new Float64()),
  field('share_clustered', new Float64()),
  field('variance_explained_by_keys', new Float64()),
  field('full_loss', new Float64()),
  field('accuracy', new Float64()),
  field('restricted_loss', new Float64()),
  field('excluded_loss', new Float64()),
  field('ffs', new Float64()),
  field('fcr', new Float64()),
  field('ffs_eps', new Float64()),
  field('gini_embed', new Float64()),
  field('gini_wl', new Float64()),
  field('gradient_symmetricity', new Float64()),
  field('distance_irrelevance', new Float64()),
  field('circularity', new Float64()),
  field('task', new Utf8()),
  field('structure', new Utf8()),
  field('losses_applicable', new Bool()),
  field('loss_basis', new Utf8()),
  field('loss_key_method', new Utf8()),
  field('loss_keys', listOf(new Int32())),
  field('loss_rows', new Int32()),
  field('basis_loss', new Float64()),
  field('embed_log_keys', listOf(new Int32())),
  field('logit_asymmetry', new Float64()),
  field('attention_asymmetry', new Float64()),
  field('ffs_rule', new Utf8()),
  field('cos_share', new Float64()),
]);

/** One row per pair of models: key-frequency overlap (information), each model's mechanism numbers and checks, and the verdict. */
export type Comparison = {
  model_a: Utf8;
  model_b: Utf8;
  jaccard: Float64;
  checks_a: Utf8;
  checks_b: Utf8;
  explained_a: Float64;
  explained_b: Float64;
  restricted_ratio_a: Float64;
  restricted_ratio_b: Float64;
  ffs_a: Float64;
  ffs_b: Float64;
  fcr_a: Float64;
  fcr_b: Float64;
  gradient_symmetricity_a: Float64;
  gradient_symmetricity_b: Float64;
  distance_irrelevance_a: Float64;
  distance_irrelevance_b: Float64;
  verdict: Utf8;
  reason: Utf8;
};
/** Schema of {@link Comparison}. */
export const ComparisonSchema = new Schema<Comparison>([
  field('model_a', new Utf8()),
  field('model_b', new Utf8()),
  field('jaccard', new Float64()),
  field('checks_a', new Utf8()),
  field('checks_b', new Utf8()),
  field('explained_a', new Float64()),
  field('explained_b', new Float64()),
  field('restricted_ratio_a', new Float64()),
  field('restricted_ratio_b', new Float64()),
  field('ffs_a', new Float64()),
  field('ffs_b', new Float64()),
  field('fcr_a', new Float64()),
  field('fcr_b', new Float64()),
  field('gradient_symmetricity_a', new Float64()),
  field('gradient_symmetricity_b', new Float64()),
  field('distance_irrelevance_a', new Float64()),
  field('distance_irrelevance_b', new Float64()),
  field('verdict', new Utf8()),
  field('reason', new Utf8()),
]);
