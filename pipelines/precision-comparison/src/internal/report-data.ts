import { DEFAULT_VERDICT_RULE, keysOf } from '@bitlens/circuits';
import { detectGrokking } from '@bitlens/metrics';
import type { ComparisonRow, ComparisonSide, MechanismReport, PrecisionReport, ProgressCurves, ReportData, ReportProvenance, TrainingCurves } from '@bitlens/report';
import type { Table } from 'apache-arrow';
import type { PrecisionRun, ResolvedComparison } from '../config.js';
import { GROK_THRESHOLD } from '../graph.js';

/** Values of a column over several tables, as numbers (NaN for null). */
export function column(tables: readonly Table[], name: string): number[] {
  return tables.flatMap((t) => {
    const c = t.getChild(name);
    return Array.from({ length: t.numRows }, (_, i) => {
      const v = c?.get(i) as number | bigint | null | undefined;
      return v === null || v === undefined ? Number.NaN : Number(v);
    });
  });
}

function strings(tables: readonly Table[], name: string): string[] {
  return tables.flatMap((t) => Array.from({ length: t.numRows }, (_, i) => String(t.getChild(name)?.get(i) ?? '')));
}

function booleans(tables: readonly Table[], name: string): boolean[] {
  return tables.flatMap((t) => Array.from({ length: t.numRows }, (_, i) => t.getChild(name)?.get(i) === true));
}

/** Rows sorted by epoch (the training stream emits one metrics table per logged epoch). */
function byEpoch<T extends Record<string, readonly number[]>>(epoch: readonly number[], cols: T): { epoch: number[] } & { [K in keyof T]: number[] } {
  const order = epoch.map((_, i) => i).sort((a, b) => (epoch[a] ?? 0) - (epoch[b] ?? 0));
  const out: Record<string, number[]> = { epoch: order.map((i) => epoch[i] ?? Number.NaN) };
  for (const [k, v] of Object.entries(cols)) out[k] = order.map((i) => v[i] ?? Number.NaN);
  return out as { epoch: number[] } & { [K in keyof T]: number[] };
}

/** Training curves from the metrics tables (`MetricsSchema` of @bitlens/training). */
export function trainingCurves(metrics: readonly Table[]): TrainingCurves {
  const s = byEpoch(column(metrics, 'epoch'), {
    trainLoss: column(metrics, 'train_loss'),
    testLoss: column(metrics, 'test_loss'),
    trainAcc: column(metrics, 'train_acc'),
    testAcc: column(metrics, 'test_acc'),
  });
  return s;
}

/** Progress curves from the progress tables (`ProgressSchema` of @bitlens/metrics). */
export function progressCurves(progress: readonly Table[]): ProgressCurves {
  return byEpoch(column(progress, 'epoch'), {
    restrictedLoss: column(progress, 'restricted_loss'),
    excludedLoss: column(progress, 'excluded_loss'),
    giniEmbed: column(progress, 'gini_embed'),
    giniNeuronLogit: column(progress, 'gini_wl'),
    weightNorm: column(progress, 'weight_norm_sq'),
  });
}

/** Per-frequency embedding norms sqrt(n_cos^2 + n_sin^2) from a `FourierNormsSchema` table (matrix W_E). */
export function embedFrequencyNorms(norms: readonly Table[]): { freq: number; norm: number }[] {
  const matrix = strings(norms, 'matrix');
  const freq = column(norms, 'freq');
  const kind = strings(norms, 'kind');
  const norm = column(norms, 'norm');
  const sq = new Map<number, number>();
  matrix.forEach((m, i) => {
    const k = freq[i] ?? 0;
    if (m !== 'W_E' || kind[i] === 'const' || k < 1) return;
    sq.set(k, (sq.get(k) ?? 0) + (norm[i] ?? 0) ** 2);
  });
  return [...sq.entries()].sort((a, b) => a[0] - b[0]).map(([f, s]) => ({ freq: f, norm: Math.sqrt(s) }));
}

/** Clustered neurons per best frequency, and the alive neurons that are not clustered (`NeuronFreqsSchema`). */
export function neuronHistogram(neurons: readonly Table[]): { bins: { freq: number; neurons: number }[]; unclustered: number } {
  const freq = column(neurons, 'freq');
  const alive = booleans(neurons, 'alive');
  const clustered = booleans(neurons, 'clustered');
  const counts = new Map<number, number>();
  let unclustered = 0;
  freq.forEach((f, i) => {
    if (!alive[i]) return;
    if (clustered[i]) counts.set(f, (counts.get(f) ?? 0) + 1);
    else unclustered++;
  });
  return { bins: [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([f, n]) => ({ freq: f, neurons: n })), unclustered };
}

/** The mechanism numbers of one `MechanismSchema` row. */
export function mechanismReport(mech: readonly Table[]): MechanismReport | undefined {
  if (mech.reduce((n, t) => n + t.numRows, 0) === 0) return undefined;
  const v = (c: string): number => column(mech, c)[0] ?? Number.NaN;
  return {
    fullLoss: v('full_loss'),
    accuracy: v('accuracy'),
    restrictedLoss: v('restricted_loss'),
    excludedLoss: v('excluded_loss'),
    varianceExplainedByKeys: v('variance_explained_by_keys'),
    shareClustered: v('share_clustered'),
    ffs: v('ffs'),
    fcr: v('fcr'),
    giniEmbed: v('gini_embed'),
    giniNeuronLogit: v('gini_wl'),
    gradientSymmetricity: v('gradient_symmetricity'),
    distanceIrrelevance: v('distance_irrelevance'),
    circularity: v('circularity'),
  };
}

/** Comparison rows from `ComparisonSchema` tables (columns `<measure>_a` / `<measure>_b` per model of the pair). */
export function comparisonRows(comparison: readonly Table[]): ComparisonRow[] {
  const s = (c: string): string[] => strings(comparison, c);
  const n = (c: string): number[] => (comparison.some((t) => t.getChild(c) !== null) ? column(comparison, c) : []);
  const side = (x: 'a' | 'b', i: number): ComparisonSide => ({
    checks: s(`checks_${x}`)[i] ?? '',
    explained: n(`explained_${x}`)[i] ?? Number.NaN,
    restrictedRatio: n(`restricted_ratio_${x}`)[i] ?? Number.NaN,
    ffs: n(`ffs_${x}`)[i] ?? Number.NaN,
    fcr: n(`fcr_${x}`)[i] ?? Number.NaN,
    gradientSymmetricity: n(`gradient_symmetricity_${x}`)[i] ?? Number.NaN,
    distanceIrrelevance: n(`distance_irrelevance_${x}`)[i] ?? Number.NaN,
  });
  return s('model_a').map((modelA, i) => ({
    modelA,
    modelB: s('model_b')[i] ?? '',
    verdict: s('verdict')[i] ?? '',
    reason: s('reason')[i] ?? '',
    jaccard: n('jaccard')[i] ?? Number.NaN,
    a: side('a', i),
    b: side('b', i),
  }));
}

/** The tables of one run that the report reads. */
export interface RunTables {
  readonly metrics: readonly Table[];
  readonly progress: readonly Table[];
  readonly final: readonly Table[];
  readonly norms: readonly Table[];
  readonly neurons: readonly Table[];
  readonly keys: readonly Table[];
  readonly mechanism: readonly Table[];
}

/** One precision's report section from its tables. */
export function precisionReport(run: PrecisionRun, t: RunTables, threshold: number): PrecisionReport {
  const training = trainingCurves(t.metrics);
  const events = detectGrokking(
    training.epoch.map((epoch, i) => ({ epoch, trainAccuracy: training.trainAcc[i] ?? 0, testAccuracy: training.testAcc[i] ?? 0, testLoss: training.testLoss[i] ?? 0 })),
    threshold,
  );
  const hist = neuronHistogram(t.neurons);
  const mechanism = mechanismReport(t.mechanism);
  const keyTable = t.keys[0];
  return {
    name: run.name,
    quantizer: run.quantizer,
    training,
    grokEpoch: events.grokked >= 0 ? events.grokked : null,
    trainFitEpoch: events.memorised >= 0 ? events.memorised : null,
    finalEpoch: column(t.final, 'epoch')[0] ?? Number.NaN,
    progress: progressCurves(t.progress),
    embedFourierNorms: embedFrequencyNorms(t.norms),
    neuronFrequencies: hist.bins,
    unclusteredNeurons: hist.unclustered,
    keyFrequencies: keyTable === undefined ? { embed: [], neurons: [] } : { embed: keysOf(keyTable, 'embed'), neurons: keysOf(keyTable, 'neurons') },
    ...(mechanism === undefined ? {} : { mechanism }),
  };
}

/** The text of the default verdict rule (thresholds read from @bitlens/circuits, so it cannot go stale). */
export function verdictRuleText(): string {
  const thresholds = Object.entries(DEFAULT_VERDICT_RULE)
    .map(([k, v]) => `${k} = ${String(v)}`)
    .join(', ');
  return (
    'each model must pass every mechanism check listed in the table (accuracy, a sparse key-frequency set, MLP variance explained by the key ' +
    'frequencies, restricted loss at or below the full loss, excluded loss large against ln p); two passing models run the SAME algorithm when ' +
    'their clock/pizza signatures (gradient symmetricity, distance irrelevance) agree within the tolerance, else DIFFERENT; a failed check makes ' +
    `the pair INCONCLUSIVE. Thresholds (DEFAULT_VERDICT_RULE of @bitlens/circuits): ${thresholds}. The key-frequency Jaccard overlap is ` +
    'information only: which frequencies a model picks depends on the seed.'
  );
}

/** Assembles the report data of a comparison from its tables. */
export function comparisonReportData(r: ResolvedComparison, runs: readonly { readonly run: PrecisionRun; readonly tables: RunTables }[], comparison: readonly Table[], provenance: ReportProvenance): ReportData {
  return {
    title: `bitlens precision comparison: fp32 vs ternary vs binary (p = ${r.p}, ${r.preset})`,
    p: r.p,
    task: r.task,
    trainFraction: r.trainFraction,
    modelPreset: r.model,
    epochCap: r.epochs,
    training: `full-batch AdamW lr ${r.lr}, weight decay ${r.weightDecay}, betas (0.9, 0.98); stop ${r.afterGrok} epochs after grokking${r.grokfast === null ? '' : `; GROKFAST ON (EMA alpha ${r.grokfast.alpha}, lambda ${r.grokfast.lambda}): amplified slow gradients, not plain AdamW`}`,
    grokThreshold: GROK_THRESHOLD,
    precisions: runs.map(({ run, tables }) => precisionReport(run, tables, GROK_THRESHOLD)),
    comparisons: comparisonRows(comparison),
    verdictRule: verdictRuleText(),
    provenance,
  };
}
