import { DEFAULT_VERDICT_RULE } from '@bitlens/circuits';
import { detectGrokking } from '@bitlens/metrics';
import { type ComparisonRow, type ComparisonSide, type PrecisionReport, type ProgressCurves, type ReportData, type ReportProvenance, type TrainingCurves, columnValues as column, frequencyEvolution, modelReportFromTables } from '@bitlens/report';
import { strings as columnStrings } from '@bitlens/core';
import type { Table } from 'apache-arrow';
import type { PrecisionRun, ResolvedComparison } from '../config.js';
import { GROK_THRESHOLD } from '../graph.js';

function strings(tables: readonly Table[], name: string): string[] {
  return tables.flatMap((t) => columnStrings(t, name));
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
  /** Embedding Fourier norms per checkpoint (`embedSpectra` of @bitlens/report). */
  readonly spectra: readonly Table[];
  readonly final: readonly Table[];
  readonly norms: readonly Table[];
  readonly neurons: readonly Table[];
  readonly keys: readonly Table[];
  readonly mechanism: readonly Table[];
  /** The pictures of the final model (`modelViews` of @bitlens/report). */
  readonly views: readonly Table[];
}

/** One precision's report section from its tables. */
export function precisionReport(run: PrecisionRun, t: RunTables, threshold: number): PrecisionReport {
  const training = trainingCurves(t.metrics);
  const events = detectGrokking(
    training.epoch.map((epoch, i) => ({ epoch, trainAccuracy: training.trainAcc[i] ?? 0, testAccuracy: training.testAcc[i] ?? 0, testLoss: training.testLoss[i] ?? 0 })),
    threshold,
  );
  const evolution = frequencyEvolution(t.spectra, t.progress);
  return {
    ...modelReportFromTables(run.name, t),
    quantizer: run.quantizer,
    training,
    grokEpoch: events.grokked >= 0 ? events.grokked : null,
    trainFitEpoch: events.memorised >= 0 ? events.memorised : null,
    finalEpoch: column(t.final, 'epoch')[0] ?? Number.NaN,
    progress: progressCurves(t.progress),
    ...(evolution === undefined ? {} : { evolution }),
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
