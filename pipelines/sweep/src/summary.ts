import type { SweepCellReport, SweepMetric } from '@bitlens/report';
import type { Table } from 'apache-arrow';
import type { Cell } from './config.js';

/** One cell of the merged table as plain data (the `--json` output's `cells`, camelCase throughout). */
export interface CellSummary {
  readonly cell: string;
  readonly axes: Readonly<Record<string, string | number>>;
  readonly task: string;
  readonly quantizer: string;
  readonly model: string;
  readonly attention: string;
  readonly seed: number;
  readonly p: number;
  readonly trainFraction: number;
  readonly lr: number;
  readonly weightDecay: number;
  readonly grokEpoch: number | null;
  readonly trainFitEpoch: number | null;
  readonly finalEpoch: number;
  readonly trainAcc: number;
  readonly testAcc: number;
  readonly embedKeys: number[];
  readonly neuronKeys: number[];
  readonly ffs: number | null;
  readonly ffsEps: number | null;
  readonly fcr: number | null;
  readonly varianceExplainedByKeys: number | null;
  readonly fullLoss: number | null;
  readonly restrictedLoss: number | null;
  readonly excludedLoss: number | null;
  readonly gradientSymmetricity: number | null;
  readonly distanceIrrelevance: number | null;
  readonly circularity: number | null;
  readonly asymmetry: number | null;
  readonly checks: { readonly accurate: boolean; readonly sparse: boolean; readonly explained: boolean; readonly restricted: boolean; readonly excluded: boolean; readonly passed: boolean };
  readonly verdict: { readonly reference: string; readonly verdict: string; readonly reason: string; readonly keyJaccard: number } | null;
  /** The joined record (null when the sweep did not compute it). */
  readonly record: CellRecordSummary | null;
}

/** A cell's joined record (see the `CellRecord` columns): outliers, W8A8, packed inference. */
export interface CellRecordSummary {
  readonly maxInfNorm: number | null;
  readonly maxInfNormHook: string | null;
  readonly meanKurtosis: number | null;
  readonly maxKurtosis: number | null;
  readonly w8a8AccuracyBefore: number | null;
  readonly w8a8AccuracyAfter: number | null;
  readonly w8a8TestAccuracyAfter: number | null;
  readonly w8a8Agreement: number | null;
  readonly w8a8MinOutputSqnrDb: number | null;
  readonly w8a8RestrictedLossBefore: number | null;
  readonly w8a8RestrictedLossAfter: number | null;
  readonly w8a8KeyJaccard: number | null;
  readonly w8a8Verdict: string | null;
  readonly packedInt8MaxAbsDelta: number | null;
  readonly packedInt8Tolerance: number | null;
  readonly packedInt8Accuracy: number | null;
  readonly packedInt8ArgmaxAgreement: number | null;
  readonly packedWeightBytes: number | null;
  readonly fp32WeightBytes: number | null;
  /** Measured when the cell ran (not deterministic). */
  readonly packedInt8Ms: number | null;
  readonly tfjsFp32Ms: number | null;
  readonly speedupInt8: number | null;
  readonly packedInt8Gmacs: number | null;
  readonly tfjsFp32Gmacs: number | null;
}

function recordOf(t: Table, i: number): CellRecordSummary | null {
  if (num(t, 'max_inf_norm', i) === null) return null; // the sweep computed no record
  const n = (c: string): number | null => num(t, c, i);
  const s = (c: string): string | null => str(t, c, i);
  return {
    maxInfNorm: n('max_inf_norm'),
    maxInfNormHook: s('max_inf_norm_hook'),
    meanKurtosis: n('mean_kurtosis'),
    maxKurtosis: n('max_kurtosis'),
    w8a8AccuracyBefore: n('w8a8_accuracy_before'),
    w8a8AccuracyAfter: n('w8a8_accuracy_after'),
    w8a8TestAccuracyAfter: n('w8a8_test_accuracy_after'),
    w8a8Agreement: n('w8a8_agreement'),
    w8a8MinOutputSqnrDb: n('w8a8_min_output_sqnr_db'),
    w8a8RestrictedLossBefore: n('w8a8_restricted_loss_before'),
    w8a8RestrictedLossAfter: n('w8a8_restricted_loss_after'),
    w8a8KeyJaccard: n('w8a8_key_jaccard'),
    w8a8Verdict: s('w8a8_verdict'),
    packedInt8MaxAbsDelta: n('packed_int8_max_abs_delta'),
    packedInt8Tolerance: n('packed_int8_tolerance'),
    packedInt8Accuracy: n('packed_int8_accuracy'),
    packedInt8ArgmaxAgreement: n('packed_int8_argmax_agreement'),
    packedWeightBytes: n('packed_weight_bytes'),
    fp32WeightBytes: n('fp32_weight_bytes'),
    packedInt8Ms: n('packed_int8_ms'),
    tfjsFp32Ms: n('tfjs_fp32_ms'),
    speedupInt8: n('speedup_int8'),
    packedInt8Gmacs: n('packed_int8_gmacs'),
    tfjsFp32Gmacs: n('tfjs_fp32_gmacs'),
  };
}

const num = (t: Table, col: string, i: number): number | null => {
  const c = t.getChild(col);
  if (c === null) return null;
  const v = c.get(i) as number | null;
  return v === null || !Number.isFinite(v) ? null : Number(v);
};
const list = (t: Table, col: string, i: number): number[] => {
  const v = t.getChild(col)?.get(i) as { toArray(): ArrayLike<number> } | null | undefined;
  return v === null || v === undefined ? [] : Array.from(v.toArray());
};
const str = (t: Table, col: string, i: number): string | null => {
  const v = t.getChild(col)?.get(i) as string | null | undefined;
  return v === null || v === undefined ? null : String(v);
};
const flag = (t: Table, col: string, i: number): boolean => t.getChild(col)?.get(i) === true;

/** The rows of the merged table (`SweepTableSchema`) as {@link CellSummary} objects, in cell order. */
export function cellSummaries(tables: readonly Table[], cells: readonly Cell[]): CellSummary[] {
  const out: CellSummary[] = [];
  for (const t of tables) {
    for (let i = 0; i < t.numRows; i++) {
      const id = str(t, 'cell', i) ?? '';
      const reference = str(t, 'reference', i);
      out.push({
        cell: id,
        axes: { ...(cells.find((c) => c.id === id)?.axes ?? {}) },
        task: str(t, 'task', i) ?? '',
        quantizer: str(t, 'quantizer', i) ?? '',
        model: str(t, 'model', i) ?? '',
        attention: str(t, 'attention', i) ?? '',
        seed: num(t, 'seed', i) ?? 0,
        p: num(t, 'p', i) ?? 0,
        trainFraction: num(t, 'train_fraction', i) ?? 0,
        lr: num(t, 'lr', i) ?? 0,
        weightDecay: num(t, 'weight_decay', i) ?? 0,
        grokEpoch: num(t, 'grok_epoch', i),
        trainFitEpoch: num(t, 'train_fit_epoch', i),
        finalEpoch: num(t, 'final_epoch', i) ?? 0,
        trainAcc: num(t, 'train_acc', i) ?? Number.NaN,
        testAcc: num(t, 'test_acc', i) ?? Number.NaN,
        embedKeys: list(t, 'embed_keys', i),
        neuronKeys: list(t, 'neuron_keys', i),
        ffs: num(t, 'ffs', i),
        ffsEps: num(t, 'ffs_eps', i),
        fcr: num(t, 'fcr', i),
        varianceExplainedByKeys: num(t, 'variance_explained_by_keys', i),
        fullLoss: num(t, 'full_loss', i),
        restrictedLoss: num(t, 'restricted_loss', i),
        excludedLoss: num(t, 'excluded_loss', i),
        gradientSymmetricity: num(t, 'gradient_symmetricity', i),
        distanceIrrelevance: num(t, 'distance_irrelevance', i),
        circularity: num(t, 'circularity', i),
        asymmetry: num(t, 'logit_asymmetry', i),
        checks: {
          accurate: flag(t, 'check_accurate', i),
          sparse: flag(t, 'check_sparse', i),
          explained: flag(t, 'check_explained', i),
          restricted: flag(t, 'check_restricted', i),
          excluded: flag(t, 'check_excluded', i),
          passed: flag(t, 'checks_passed', i),
        },
        verdict: reference === null ? null : { reference, verdict: str(t, 'verdict', i) ?? '', reason: str(t, 'verdict_reason', i) ?? '', keyJaccard: num(t, 'key_jaccard', i) ?? Number.NaN },
        record: recordOf(t, i),
      });
    }
  }
  return out;
}

/** A cell for the sweep report (curves and spectrum read from the merged table's list columns). */
export function cellReports(tables: readonly Table[], summaries: readonly CellSummary[]): SweepCellReport[] {
  const rows: { t: Table; i: number }[] = tables.flatMap((t) => Array.from({ length: t.numRows }, (_, i) => ({ t, i })));
  return summaries.map((s, k) => {
    const r = rows[k];
    const l = (col: string): number[] => (r === undefined ? [] : list(r.t, col, r.i));
    const n = (x: number | null): number => x ?? Number.NaN;
    const metrics: Record<SweepMetric, number> = {
      ffs: n(s.ffs),
      fcr: n(s.fcr),
      varianceExplained: n(s.varianceExplainedByKeys),
      restrictedOverFull: s.restrictedLoss === null || s.fullLoss === null ? Number.NaN : s.restrictedLoss / s.fullLoss,
      excludedLoss: n(s.excludedLoss),
      gradientSymmetricity: n(s.gradientSymmetricity),
      distanceIrrelevance: n(s.distanceIrrelevance),
      asymmetry: n(s.asymmetry),
    };
    return {
      id: s.cell,
      axes: s.axes,
      task: s.task,
      grokEpoch: s.grokEpoch,
      trainFitEpoch: s.trainFitEpoch,
      finalEpoch: s.finalEpoch,
      testAcc: s.testAcc,
      embedKeys: s.embedKeys,
      neuronKeys: s.neuronKeys,
      metrics,
      checksPassed: s.checks.passed,
      ...(s.verdict === null ? {} : { verdict: { reference: s.verdict.reference, verdict: s.verdict.verdict, reason: s.verdict.reason } }),
      curves: { epoch: l('curve_epoch'), trainAcc: l('curve_train_acc'), testAcc: l('curve_test_acc'), trainLoss: l('curve_train_loss'), testLoss: l('curve_test_loss') },
      embedNorms: l('embed_norms'),
    };
  });
}

const f3 = (x: number | null): string => (x === null ? 'n/a' : Math.abs(x) < 1e-3 && x !== 0 ? x.toExponential(2) : x.toFixed(3));

/** The terminal table: one line per cell. */
export function terminalTable(summaries: readonly CellSummary[], axes: readonly string[]): string[] {
  const header = [...axes, 'grok', 'test acc', 'keys', 'FFS', 'FCR', 'asym', 'restr/full', 'excl', 'checks', 'vs fp32'];
  const rows = summaries.map((s) => [
    ...axes.map((a) => String(s.axes[a] ?? '')),
    s.grokEpoch === null ? 'never' : String(s.grokEpoch),
    f3(s.testAcc),
    `{${s.embedKeys.join(',')}}`,
    f3(s.ffs),
    f3(s.fcr),
    f3(s.asymmetry),
    s.restrictedLoss === null || s.fullLoss === null ? 'n/a' : f3(s.restrictedLoss / s.fullLoss),
    f3(s.excludedLoss),
    s.checks.passed ? 'pass' : 'fail',
    s.verdict === null ? '' : s.verdict.verdict.toUpperCase(),
  ]);
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => (r[j] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((x, j) => x.padEnd(widths[j] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}
