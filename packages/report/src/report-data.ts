/** Train/test loss and accuracy of one training run, one entry per logged epoch (all arrays the same length). */
export interface TrainingCurves {
  readonly epoch: readonly number[];
  readonly trainLoss: readonly number[];
  readonly testLoss: readonly number[];
  readonly trainAcc: readonly number[];
  readonly testAcc: readonly number[];
}

/**
 * Progress measures (docs/science.md#progress-measures) of one run, one entry per analysed checkpoint. Every series is optional (a pipeline
 * may not compute all of them); a present series has the length of `epoch`. `NaN` marks a value not computed at that
 * checkpoint.
 */
export interface ProgressCurves {
  readonly epoch: readonly number[];
  /** Restricted loss (key-frequency projection of the logits; docs/science.md#restricted-and-excluded-loss). */
  readonly restrictedLoss?: readonly number[];
  /** Excluded loss (key frequencies removed, train inputs; docs/science.md#restricted-and-excluded-loss). */
  readonly excludedLoss?: readonly number[];
  /** Gini coefficient of the Fourier-component norms of W_E (§2.6). */
  readonly giniEmbed?: readonly number[];
  /** Gini coefficient of the Fourier-component norms of W_L = W_U^T W_out (§2.6). */
  readonly giniNeuronLogit?: readonly number[];
  /** Total sum of squared weights (§2.7). */
  readonly weightNorm?: readonly number[];
}

/** Mechanism numbers of one analysed model (the inputs of the same-algorithm rule, docs/science.md#same-algorithm-verdict). */
export interface MechanismReport {
  readonly fullLoss: number;
  readonly accuracy: number;
  readonly restrictedLoss: number;
  readonly excludedLoss: number;
  /** Share of MLP variance explained by the neuron key frequencies. */
  readonly varianceExplainedByKeys: number;
  /** Share of alive neurons whose best frequency explains more than the clustering threshold. */
  readonly shareClustered: number;
  readonly ffs: number;
  readonly fcr: number;
  readonly giniEmbed: number;
  readonly giniNeuronLogit: number;
  readonly gradientSymmetricity: number;
  readonly distanceIrrelevance: number;
  readonly circularity: number;
}

/** A dense row-major matrix. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** `rows * cols` values, row-major. */
  readonly data: ArrayLike<number>;
}

/** The activation of one MLP neuron over the input grid. */
export interface NeuronMap {
  /** The key frequency it was picked for. */
  readonly freq: number;
  readonly neuron: number;
  /** Fraction of the neuron's variance that frequency explains. */
  readonly fve: number;
  /** p² values, entry a * p + b. */
  readonly values: ArrayLike<number>;
}

/** The tokens 0..p-1 in the (cos, sin) plane of one key frequency of the embedding. */
export interface ClockPlane {
  readonly freq: number;
  /** Share of the centred embedding's squared norm that lies in this plane. */
  readonly share: number;
  /** Coordinates per token (length p). */
  readonly x: ArrayLike<number>;
  readonly y: ArrayLike<number>;
}

/** Attention from the last position (`=`), per head. */
export interface AttentionView {
  /** Names of the positions attended to, e.g. `a`, `b`, `=`. */
  readonly positions: readonly string[];
  /** `[head][position]`: mean attention over all p² inputs. */
  readonly mean: readonly (readonly number[])[];
  /** Per head, p² values (entry a * p + b): the attention to position 0 (token a). */
  readonly toFirst: readonly ArrayLike<number>[];
}

/**
 * The pictures of one model (the data of `modelViews` of this package, read back by `readModelViews`): neuron
 * heatmaps, 2-D Fourier maps, attention and clock planes.
 */
export interface ModelViews {
  readonly p: number;
  /** Grouped by frequency (ascending), within one frequency by rank. */
  readonly neurons: readonly NeuronMap[];
  /** F W_E: `[p, d_model]`, rows in the basis order const, cos 1, sin 1, ... */
  readonly fourierEmbed: Matrix;
  /** Norm over neurons of the 2-D Fourier transform of the centred MLP activations, `[p, p]`. */
  readonly fourierNeurons: Matrix;
  /** Norm over output logits of the 2-D Fourier transform of the centred logits, `[p, p]`. */
  readonly fourierLogits: Matrix;
  /** Absent when the attention pattern was not captured. */
  readonly attention?: AttentionView;
  readonly clock: readonly ClockPlane[];
}

/** Embedding Fourier norms and key frequencies at every checkpoint of one run. */
export interface FrequencyEvolution {
  /** Checkpoint epochs, ascending. */
  readonly epoch: readonly number[];
  /** `[checkpoint][k - 1]`: embedding Fourier norm of frequency k (k = 1..K). */
  readonly norms: readonly (readonly number[])[];
  /** Per checkpoint, its key frequencies (the progress measures' set); empty when unknown. */
  readonly keys: readonly (readonly number[])[];
}

/** What the report shows about one analysed model (shared by the comparison and the single-model report). */
export interface ModelReport {
  /** Display name and colour key, e.g. `fp32`, `ternary`, `binary`, or a file name. */
  readonly name: string;
  /** Embedding Fourier norm per frequency k = 1..(p-1)/2 (sqrt(n_cos^2 + n_sin^2)). */
  readonly embedFourierNorms: readonly { readonly freq: number; readonly norm: number }[];
  /** How many clustered neurons have each frequency as their best one (frequencies with zero may be left out). */
  readonly neuronFrequencies: readonly { readonly freq: number; readonly neurons: number }[];
  /** Alive neurons that are not clustered on one frequency (shown beside the histogram). */
  readonly unclusteredNeurons?: number;
  readonly keyFrequencies: { readonly embed: readonly number[]; readonly neurons: readonly number[] };
  readonly mechanism?: MechanismReport;
  /** The pictures (neuron heatmaps, Fourier maps, attention, clock planes); left out of the page when absent. */
  readonly views?: ModelViews;
}

/** Everything the report shows about one precision (one training run and the analysis of its final model). */
export interface PrecisionReport extends ModelReport {
  /** Quantizer of the run (`fp32` for full precision, else e.g. `ternary-absmean`). */
  readonly quantizer: string;
  readonly training: TrainingCurves;
  /** First logged epoch with test accuracy >= the threshold (null: never within the cap). */
  readonly grokEpoch: number | null;
  /** First logged epoch with train accuracy >= the threshold. */
  readonly trainFitEpoch: number | null;
  /** Epoch of the analysed (final) checkpoint. */
  readonly finalEpoch: number;
  readonly progress?: ProgressCurves;
  /** Key-frequency evolution over the checkpoints. */
  readonly evolution?: FrequencyEvolution;
}

/** The numbers of one model of a compared pair (what the verdict rule reads). */
export interface ComparisonSide {
  /** Which mechanism checks the model passes, e.g. `accurate=pass sparse=pass explained=FAIL ...`. */
  readonly checks: string;
  /** Share of MLP variance explained by the key frequencies. */
  readonly explained: number;
  /** Restricted loss / full loss. */
  readonly restrictedRatio: number;
  readonly ffs: number;
  readonly fcr: number;
  readonly gradientSymmetricity: number;
  readonly distanceIrrelevance: number;
}

/** One pair of models in the same-algorithm comparison. */
export interface ComparisonRow {
  readonly modelA: string;
  readonly modelB: string;
  /** `same`, `different` or `inconclusive` (the rule of @bitlens/circuits `sameAlgorithmVerdict`). */
  readonly verdict: string;
  readonly reason: string;
  /** Jaccard overlap of the embedding key-frequency sets (information only, not used by the verdict). */
  readonly jaccard: number;
  readonly a: ComparisonSide;
  readonly b: ComparisonSide;
}

/** One pipeline node as it ran: executed, or read from the artifact store. */
export interface StageRecord {
  readonly node: string;
  readonly stage: string;
  readonly key: string;
  readonly cached: boolean;
}

/** Where the report came from. Everything is given by the caller: rendering reads no clock and no environment. */
export interface ReportProvenance {
  readonly pipeline: string;
  /** The validated config, shown as JSON. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly configHash: string;
  readonly backend: string;
  readonly seed: number;
  readonly bitlensVersion?: string;
  readonly gitRevision?: string;
  /** ISO time the run finished (given by the caller). */
  readonly generatedAt?: string;
  /** Wall time of the run in seconds. */
  readonly wallSeconds?: number;
  readonly stages?: readonly StageRecord[];
}

/** All the data of a precision-comparison report. */
export interface ReportData {
  readonly title: string;
  /** Prime modulus. */
  readonly p: number;
  readonly task: string;
  readonly trainFraction: number;
  /** Model preset (`li` or `nanda`). */
  readonly modelPreset: string;
  readonly epochCap: number;
  /** Training settings in words, e.g. `AdamW lr 0.003, weight decay 1, full batch` (shown under the title). */
  readonly training?: string;
  /** Test-accuracy threshold of the grokking epoch (default 0.99). */
  readonly grokThreshold: number;
  readonly precisions: readonly PrecisionReport[];
  readonly comparisons: readonly ComparisonRow[];
  /** Human-readable statement of the verdict rule (thresholds), printed under the verdict table. */
  readonly verdictRule?: string;
  readonly provenance: ReportProvenance;
}

/** All the data of a single-model analysis report (`analyze`). */
export interface AnalysisReportData {
  readonly title: string;
  /** One line under the title (setting, weights file). */
  readonly subtitle: string;
  readonly p: number;
  readonly model: ModelReport;
  /** Further numbers of the analysis (losses per split, quadrature, attribution, ...), shown as a table in this order. */
  readonly numbers?: readonly { readonly label: string; readonly value: string }[];
  readonly provenance: ReportProvenance;
}
