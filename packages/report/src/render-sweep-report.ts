import { BitlensError } from '@bitlens/core';
import type { TopLevelSpec } from 'vega-lite';
import { escapeHtml as esc, fmt, fmtEpoch, fmtSet } from './internal/format.js';
import { page } from './internal/page.js';
import { type FrequencyBar, facetedFrequencyBarsSpec, renderSvg } from './internal/plots.js';

/** One cell of a sweep, as the sweep report shows it. */
export interface SweepCellReport {
  /** The cell id (`task=add,quantizer=fp32`). */
  readonly id: string;
  /** Its value on every axis, in axis order. */
  readonly axes: Readonly<Record<string, string | number>>;
  readonly task: string;
  readonly grokEpoch: number | null;
  readonly trainFitEpoch: number | null;
  readonly finalEpoch: number;
  readonly testAcc: number;
  readonly embedKeys: readonly number[];
  readonly neuronKeys: readonly number[];
  /** The numbers of the heat-map table, by column (see {@link SWEEP_METRICS}); NaN where not applicable. */
  readonly metrics: Readonly<Record<SweepMetric, number>>;
  readonly checksPassed: boolean;
  /** Same-algorithm verdict against the cell's fp32 sibling, when it has one. */
  readonly verdict?: { readonly reference: string; readonly verdict: string; readonly reason: string };
  readonly curves: { readonly epoch: readonly number[]; readonly trainAcc: readonly number[]; readonly testAcc: readonly number[]; readonly trainLoss: readonly number[]; readonly testLoss: readonly number[] };
  /** Embedding Fourier norm per frequency k = 1..K. */
  readonly embedNorms: readonly number[];
}

/** The numeric columns of the sweep's heat-map table, in order, with their heading and colour direction. */
export const SWEEP_METRICS = {
  ffs: { title: 'FFS', better: 'none' },
  fcr: { title: 'FCR', better: 'none' },
  varianceExplained: { title: 'MLP var. explained by keys', better: 'high' },
  restrictedOverFull: { title: 'restricted / full loss', better: 'low' },
  excludedLoss: { title: 'excluded loss', better: 'high' },
  gradientSymmetricity: { title: 'grad. symmetricity', better: 'none' },
  distanceIrrelevance: { title: 'dist. irrelevance', better: 'none' },
  asymmetry: { title: 'logit asymmetry', better: 'none' },
} as const;

/** A column of the heat-map table. */
export type SweepMetric = keyof typeof SWEEP_METRICS;

/** Everything the sweep report shows. */
export interface SweepReportData {
  readonly title: string;
  readonly subtitle: string;
  /** Axis names in order (the heat-map's leading columns). */
  readonly axes: readonly string[];
  readonly cells: readonly SweepCellReport[];
  /** Plain tables after the heat map (e.g. a paper's table on our runs, the joined record). */
  readonly tables?: readonly { readonly id: string; readonly title: string; readonly note?: string; readonly header: readonly string[]; readonly rows: readonly (readonly string[])[] }[];
  /** Claims checked on this sweep (e.g. Furuta's), each true, false or not decidable, with what was measured. */
  readonly claims?: readonly { readonly claim: string; readonly holds: boolean | null; readonly measured: string }[];
  /** Provenance lines (name → value) and the config. */
  readonly provenance: Readonly<Record<string, string>>;
  readonly config: unknown;
}

/** Background colour of a heat-map cell: value scaled into [0, 1] over its column, white → blue. */
function heat(v: number, lo: number, hi: number): string {
  if (!Number.isFinite(v) || !(hi > lo)) return '';
  const t = Math.max(0, Math.min(1, (v - lo) / (hi - lo)));
  const c = (a: number, b: number): number => Math.round(a + (b - a) * t);
  return ` style="background: rgb(${c(255, 120)}, ${c(255, 170)}, ${c(255, 230)})"`;
}

function heatmapTable(data: SweepReportData): string {
  const metrics = Object.keys(SWEEP_METRICS) as SweepMetric[];
  const range = Object.fromEntries(
    metrics.map((m) => {
      const vs = data.cells.map((c) => c.metrics[m]).filter((v) => Number.isFinite(v));
      return [m, vs.length === 0 ? [0, 0] : [Math.min(...vs), Math.max(...vs)]];
    }),
  ) as Record<SweepMetric, [number, number]>;
  const head = `<tr>${data.axes.map((a) => `<th>${esc(a)}</th>`).join('')}<th>grok epoch</th><th>test acc</th><th>keys (embed)</th><th>keys (neurons)</th>${metrics.map((m) => `<th>${esc(SWEEP_METRICS[m].title)}</th>`).join('')}<th>checks</th><th>vs fp32</th></tr>`;
  const rows = data.cells.map((c) => {
    const cells = metrics.map((m) => `<td class="num"${heat(c.metrics[m], ...range[m])}>${fmt(c.metrics[m])}</td>`).join('');
    const verdict = c.verdict === undefined ? '<td>—</td>' : `<td class="verdict" title="${esc(c.verdict.reason)}">${esc(c.verdict.verdict)}</td>`;
    const cls = c.verdict === undefined ? '' : ` class="verdict-${esc(c.verdict.verdict)}"`;
    return `<tr${cls} id="cell-${esc(c.id)}">${data.axes.map((a) => `<td>${esc(String(c.axes[a] ?? ''))}</td>`).join('')}<td class="num">${fmtEpoch(c.grokEpoch)}</td><td class="num">${fmt(c.testAcc)}</td><td>${fmtSet(c.embedKeys)}</td><td>${fmtSet(c.neuronKeys)}</td>${cells}<td>${c.checksPassed ? 'pass' : '<span class="fail">fail</span>'}</td>${verdict}</tr>`;
  });
  return `<table id="sweep-cells"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`;
}

function tablesSection(data: SweepReportData): string {
  return (data.tables ?? [])
    .map(
      (t) =>
        `<section id="${esc(t.id)}"><h2>${esc(t.title)}</h2><table id="table-${esc(t.id)}"><thead><tr>${t.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${t.rows
          .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
          .join('')}</tbody></table>${t.note === undefined ? '' : `<p class="note">${esc(t.note)}</p>`}</section>`,
    )
    .join('\n');
}

function claimsSection(data: SweepReportData): string {
  if (data.claims === undefined || data.claims.length === 0) return '';
  const rows = data.claims.map((c) => {
    const v = c.holds === null ? 'n/a' : c.holds ? 'true' : 'false';
    return `<tr class="claim-${v === 'n/a' ? 'na' : v}"><td>${esc(c.claim)}</td><td class="verdict">${v}</td><td>${esc(c.measured)}</td></tr>`;
  });
  return `<section id="claims"><h2>Claims checked on this sweep</h2><table id="sweep-claims"><thead><tr><th>claim</th><th>on our runs</th><th>measured</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

/** The label of a cell inside its task's spectrum figure: its other axis values. */
function panelLabel(c: SweepCellReport, axes: readonly string[]): string {
  const rest = axes.filter((a) => a !== 'task').map((a) => String(c.axes[a] ?? ''));
  return rest.length === 0 ? c.id : rest.join(' · ');
}

async function spectraFigures(data: SweepReportData): Promise<string> {
  const tasks = [...new Set(data.cells.map((c) => c.task))];
  const out: string[] = [];
  for (const [ti, task] of tasks.entries()) {
    const cells = data.cells.filter((c) => c.task === task);
    const panels = cells.map((c) => panelLabel(c, data.axes));
    const bars: FrequencyBar[] = cells.flatMap((c, i) => c.embedNorms.map((v, k) => ({ precision: panels[i] ?? c.id, freq: k + 1, value: v, key: c.embedKeys.includes(k + 1) })));
    const maxFreq = Math.max(1, ...cells.map((c) => c.embedNorms.length));
    const svg = await renderSvg(facetedFrequencyBarsSpec({ bars, precisions: panels, maxFreq, yTitle: '‖W_E‖ per frequency' }), `spectrum-${ti}`);
    out.push(`<figure class="plot" id="spectrum-${esc(task)}"><figcaption>Embedding Fourier spectrum, task ${esc(task)} (key frequencies highlighted)</figcaption>${svg}</figure>`);
  }
  return out.join('\n');
}

function curvesSpec(data: SweepReportData): TopLevelSpec {
  const values = data.cells.flatMap((c) =>
    c.curves.epoch.flatMap((e, i) => [
      { cell: c.id, epoch: e, series: 'train acc', value: c.curves.trainAcc[i] ?? Number.NaN },
      { cell: c.id, epoch: e, series: 'test acc', value: c.curves.testAcc[i] ?? Number.NaN },
    ]),
  );
  return {
    config: { background: 'white', axis: { labelFontSize: 9, titleFontSize: 10, grid: true, gridColor: '#eceff3' }, header: { labelFontSize: 10 }, view: { stroke: '#d0d5dc' } },
    data: { values: values.filter((v) => Number.isFinite(v.value)) },
    facet: { field: 'cell', type: 'nominal', sort: data.cells.map((c) => c.id), title: null },
    columns: 3,
    spec: {
      width: 230,
      height: 110,
      mark: { type: 'line', strokeWidth: 1.3 },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', title: 'epoch' },
        y: { field: 'value', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1] } },
        color: { field: 'series', type: 'nominal', title: null, scale: { domain: ['train acc', 'test acc'], range: ['#1f77b4', '#d62728'] }, legend: { orient: 'top' } },
      },
    },
    resolve: { scale: { x: 'independent' } },
  } as TopLevelSpec;
}

/**
 * Renders a sweep's report as one self-contained HTML page: the cells × metrics heat-map table (one row per cell, each
 * metric column coloured over its range, the same-algorithm verdict against the fp32 sibling), the claims checked on
 * the sweep, the embedding spectra of each task side by side, every cell's accuracy curves, and provenance. Pure.
 * Stable hooks for tests: `table#sweep-cells` (rows `tr#cell-<id>`), `table#sweep-claims`, `figure#spectrum-<task>`,
 * `figure#sweep-curves`, `section#provenance`.
 */
export async function renderSweepReport(data: SweepReportData): Promise<string> {
  if (data.cells.length === 0) throw new BitlensError('INVALID_OPTION', { stage: 'report/render-sweep-report', field: 'cells', expected: 'at least one cell', found: 'none' });
  const curves = await renderSvg(curvesSpec(data), 'sweep-curves');
  const dl = Object.entries(data.provenance).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('');
  return page(
    data.title,
    data.subtitle,
    `<section id="cells"><h2>Cells</h2>${heatmapTable(data)}<p class="note">Hover a verdict for its reason. Colour: each column from its lowest (white) to its highest value (blue). — = not applicable or not computed.</p></section>
${tablesSection(data)}
${claimsSection(data)}
<section id="spectra"><h2>Spectra by task</h2>
${await spectraFigures(data)}
</section>
<section id="curves"><h2>Training curves</h2><figure class="plot" id="sweep-curves"><figcaption>Train and test accuracy of every cell</figcaption>${curves}</figure></section>
<section id="provenance"><h2>Provenance</h2><dl>${dl}</dl><h3>Config</h3><pre id="config">${esc(JSON.stringify(data.config, null, 2))}</pre></section>`,
  );
}
