import { rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BitlensError, writeFileAtomic } from '@bitlens/core';
import { type AnalysisReportData, type AnalysisTables, type ReportProvenance, modelReportFromTables, renderAnalysisReport } from '@bitlens/report';

/**
 * Checks, before any work, that the report can be written at `out` (a probe file beside it is created and removed):
 * INVALID_CONFIG naming `out` otherwise, so that a typo in the path does not surface only after the analysis.
 */
export function checkReportPath(out: string): void {
  const probe = `${resolve(out)}.${process.pid}.probe`;
  try {
    writeFileSync(probe, '');
  } catch (e) {
    throw new BitlensError('INVALID_CONFIG', { stage: 'pipeline-analyze', field: 'out', expected: 'a writable file path for the HTML report', found: JSON.stringify(out) }, (e as Error).message, { cause: e });
  } finally {
    rmSync(probe, { force: true });
  }
}

/** A number as the report's table shows it (four significant digits; exponent form when tiny). */
function show(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) && v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(3) : String(Number.isFinite(v) ? Number(v.toPrecision(4)) : v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return `{${v.join(', ')}}`;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The summary's fields as labelled rows: nested objects flattened to `a.b`, lists of rows kept as JSON. */
export function summaryNumbers(summary: Readonly<Record<string, unknown>>, prefix = ''): { label: string; value: string }[] {
  return Object.entries(summary).flatMap(([k, v]) => {
    const label = prefix === '' ? k : `${prefix}.${k}`;
    if (v === undefined || v === null) return [];
    if (typeof v === 'object' && !Array.isArray(v)) return summaryNumbers(v as Record<string, unknown>, label);
    return [{ label, value: show(v) }];
  });
}

/**
 * The `analyze` report sink: renders the analysis of one model (key frequencies, mechanism numbers, every number of
 * the summary, spectra and pictures) and writes it atomically to `out`. Returns the absolute path written.
 */
export async function writeAnalysisReport(
  out: string,
  o: { readonly name: string; readonly title: string; readonly subtitle: string; readonly p: number; readonly tables: AnalysisTables; readonly summary: Readonly<Record<string, unknown>>; readonly provenance: ReportProvenance },
): Promise<string> {
  const data: AnalysisReportData = {
    title: o.title,
    subtitle: o.subtitle,
    p: o.p,
    model: modelReportFromTables(o.name, o.tables),
    numbers: summaryNumbers(o.summary),
    provenance: o.provenance,
  };
  const path = resolve(out);
  writeFileAtomic(path, await renderAnalysisReport(data), 'pipeline-analyze/report-sink');
  return path;
}
