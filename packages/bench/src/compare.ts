import { BitlensError } from '@bitlens/core';
import type { SuiteReport, TaskSummary } from './types.js';

/** Verdict for one task against the baseline. */
/** `unmeasured`: the baseline has the task but this run's ratio is not a positive number (it measured nothing). */
export type CompareStatus = 'ok' | 'regression' | 'improvement' | 'new' | 'missing' | 'reference' | 'unmeasured';

/** One row of a comparison. */
export interface CompareRow {
  readonly name: string;
  readonly status: CompareStatus;
  readonly baselineRatio?: number;
  readonly currentRatio?: number;
  /** current / baseline ratio (above 1: slower relative to the reference task). */
  readonly change?: number;
  /** The band within which a change is noise: baseline spread + current spread + minTolerance x baseline ratio. */
  readonly allowed?: number;
}

/** Options of `compareToBaseline`. */
export interface CompareOptions {
  /** Change always treated as noise, relative to the baseline ratio (default 0.10). */
  readonly minTolerance?: number;
  /** Leave out baseline tasks this run did not measure (a `--filter`ed run) instead of listing them as missing. */
  readonly ignoreMissing?: boolean;
}

/**
 * Compares the ratios of a run with a baseline: a task regresses only when its ratio rose by more than the spread
 * recorded in both runs plus `minTolerance` of the baseline ratio. Reference tasks (ratio 1 by definition) are
 * listed as `reference`; a task whose current ratio is not a positive finite number is `unmeasured` (never `ok`).
 * Pure. Throws `INVALID_OPTION` for a tolerance that is not a finite number >= 0.
 */
export function compareToBaseline(baseline: Pick<SuiteReport, 'tasks'>, current: Pick<SuiteReport, 'tasks'>, options: CompareOptions = {}): CompareRow[] {
  const tol = options.minTolerance ?? 0.1;
  if (!(Number.isFinite(tol) && tol >= 0)) {
    throw new BitlensError('INVALID_OPTION', { stage: 'bench/compare', field: 'minTolerance', expected: 'a finite number >= 0', found: String(tol) });
  }
  const before = new Map<string, TaskSummary>(baseline.tasks.map((t) => [t.name, t]));
  const rows: CompareRow[] = [];
  for (const cur of current.tasks) {
    const old = before.get(cur.name);
    before.delete(cur.name);
    if (cur.name === cur.reference) { rows.push({ name: cur.name, status: 'reference' }); continue; }
    if (old === undefined || !(old.ratio > 0)) { rows.push({ name: cur.name, status: 'new', currentRatio: cur.ratio }); continue; }
    if (!(Number.isFinite(cur.ratio) && cur.ratio > 0)) { rows.push({ name: cur.name, status: 'unmeasured', baselineRatio: old.ratio }); continue; }
    const allowed = old.spread + cur.spread + tol * old.ratio;
    const status: CompareStatus = cur.ratio > old.ratio + allowed ? 'regression' : cur.ratio < old.ratio - allowed ? 'improvement' : 'ok';
    rows.push({ name: cur.name, status, baselineRatio: old.ratio, currentRatio: cur.ratio, change: cur.ratio / old.ratio, allowed });
  }
  if (options.ignoreMissing !== true) for (const old of before.values()) rows.push({ name: old.name, status: 'missing', baselineRatio: old.ratio });
  return rows;
}
