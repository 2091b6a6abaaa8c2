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

/** Everything the report shows about one precision (one training run and the analysis of its final model). */
export interface PrecisionReport {
  /** Display name and colour key, e.g. `fp32`, `ternary`, `binary`. */
  readonly name: string;
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
  /** Embedding Fourier norm per frequency k = 1..(p-1)/2 (sqrt(n_cos^2 + n_sin^2)). */
  readonly embedFourierNorms: readonly { readonly freq: number; readonly norm: number }[];
  /** How many clustered neurons have each frequency as their best one (frequencies with zero may be left out). */
  readonly neuronFrequencies: readonly { readonly freq: number; readonly neurons: number }[];
  /** Alive neurons that are not clustered on one frequency (shown beside the histogram). */
  readonly unclusteredNeurons?: number;
  readonly keyFrequencies: { readonly embed: readonly number[]; readonly neurons: readonly number[] };
  readonly mechanism?: MechanismReport;
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
