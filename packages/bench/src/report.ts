import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CompareRow } from './compare.js';
import type { SuiteReport } from './types.js';

const num = (v: number | undefined, digits = 3): string => (v === undefined || !Number.isFinite(v) ? '' : v >= 100 ? v.toFixed(0) : v.toPrecision(digits));

/** Table rows of a report: task, backend, threads, mode, p50, ±rme, GMAC/s, speedup, ratio ± spread. */
export function reportRows(report: SuiteReport): Record<string, string>[] {
  return report.tasks.map((t) => ({
    task: t.name,
    backend: t.meta.backend ?? '',
    threads: t.meta.threads === undefined ? '' : String(t.meta.threads),
    mode: t.meta.mode ?? '',
    'p50 ms': num(t.p50Ms, 4),
    'rme %': num(t.rme, 2),
    'GMAC/s': num(t.macsPerSec === undefined ? undefined : t.macsPerSec / 1e9),
    speedup: t.speedup === undefined ? '' : `${num(t.speedup)}x vs ${t.meta.speedupVs ?? ''}`,
    'ratio to ref': t.name === t.reference ? '(reference)' : `${num(t.ratio, 4)} ± ${num(t.spread, 2)}`,
  }));
}

/** Formats rows as an aligned plain-text table (stable in logs, unlike console.table's box drawing). */
export function formatTable(rows: readonly Record<string, string>[]): string {
  const first = rows[0];
  if (first === undefined) return '(no rows)';
  const cols = Object.keys(first);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]): string => cells.map((v, i) => v.padEnd(width[i] ?? 0)).join('  ').trimEnd();
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => r[c] ?? '')))].join('\n');
}

/** Comparison rows for the table printed by `--compare`. */
export function compareRows(rows: readonly CompareRow[]): Record<string, string>[] {
  return rows.map((r) => ({
    task: r.name, status: r.status.toUpperCase(),
    'baseline ratio': num(r.baselineRatio, 4), 'current ratio': num(r.currentRatio, 4),
    change: r.change === undefined ? '' : `${((r.change - 1) * 100).toFixed(1)}%`,
    'allowed ±': num(r.allowed, 2),
  }));
}

/**
 * github-action-benchmark's `customSmallerIsBetter` entries: the p50 time of each task, with its ratio and spread
 * in `extra` (the action compares absolute values; our own `--compare` judges ratios).
 */
export function toGithubActionBenchmark(report: SuiteReport): { name: string; unit: string; value: number; range: string; extra: string }[] {
  return report.tasks.map((t) => ({
    name: `${report.suite}: ${t.name}`, unit: 'ms', value: Number(t.p50Ms.toPrecision(6)), range: `±${t.rme.toFixed(2)}%`,
    extra: `ratio ${t.ratio.toPrecision(4)} ± ${t.spread.toPrecision(2)} vs ${t.reference}${t.macsPerSec === undefined ? '' : `; ${(t.macsPerSec / 1e9).toPrecision(4)} GMAC/s`}${t.speedup === undefined ? '' : `; ${t.speedup.toPrecision(3)}x vs ${t.meta.speedupVs ?? ''}`}`,
  }));
}

/** Writes JSON with a trailing newline, creating the folder. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}
