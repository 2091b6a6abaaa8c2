import { BitlensError } from '@bitlens/core';
import type { TopLevelSpec } from 'vega-lite';
import { checkEvolution, checkViews } from './internal/check-views.js';
import { escapeHtml as esc, fmt, fmtEpoch, last } from './internal/format.js';
import { page } from './internal/page.js';
import { type LinePoint, type Marker, facetedLinesSpec, linesByPrecisionSpec, renderSvg } from './internal/plots.js';
import { figure, frequencyFigures, keyFrequencyTable, mechanismTable, provenanceSection } from './internal/sections.js';
import { VIEW_FIGURES, evolutionFigure, modelViewFigures } from './internal/view-figures.js';
import type { PrecisionReport, ReportData } from './report-data.js';

const STAGE = 'report/render-report';

/** Ids of the training and spectrum figures (section `#curves`), in page order. */
const CURVE_FIGURES = ['plot-loss', 'plot-accuracy', 'plot-restricted-excluded', 'plot-gini', 'plot-weight-norm', 'plot-key-frequency-evolution', 'plot-embed-fourier', 'plot-neuron-frequencies'] as const;

/**
 * Ids of the figures a full report contains, in page order (a figure whose data is absent is left out): the curves
 * and spectra, then the pictures of the final models (section `#views`).
 */
export const REPORT_FIGURES = [...CURVE_FIGURES, ...VIEW_FIGURES.filter((id) => id !== 'plot-key-frequency-evolution')] as const;

/** Id of a report figure. */
export type ReportFigure = (typeof REPORT_FIGURES)[number];


function checkData(data: ReportData): void {
  if (data.precisions.length === 0) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'precisions', expected: 'at least one precision', found: 'none' });
  const names = new Set<string>();
  for (const r of data.precisions) {
    if (names.has(r.name)) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'precisions.name', expected: 'distinct names', found: `'${r.name}' twice` });
    names.add(r.name);
    const t = r.training;
    for (const [k, v] of Object.entries({ trainLoss: t.trainLoss, testLoss: t.testLoss, trainAcc: t.trainAcc, testAcc: t.testAcc })) {
      if (v.length !== t.epoch.length) throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: `${r.name}.training.${k}`, expected: `${t.epoch.length} values (one per epoch)`, found: String(v.length) });
    }
    const pr = r.progress;
    if (pr !== undefined) {
      for (const [k, v] of Object.entries(pr)) {
        if (v !== undefined && (v as readonly number[]).length !== pr.epoch.length) {
          throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: `${r.name}.progress.${k}`, expected: `${pr.epoch.length} values (one per checkpoint)`, found: String((v as readonly number[]).length) });
        }
      }
    }
    if (r.views !== undefined) checkViews(STAGE, r.name, r.views);
    if (r.evolution !== undefined) checkEvolution(STAGE, r.name, r.evolution);
  }
}

function grokMarkers(data: ReportData): Marker[] {
  return data.precisions.flatMap((r) => (r.grokEpoch === null ? [] : [{ precision: r.name, epoch: r.grokEpoch, label: `grok ${r.grokEpoch}` }]));
}

function trainingPoints(data: ReportData, which: 'loss' | 'acc'): LinePoint[] {
  const out: LinePoint[] = [];
  for (const r of data.precisions) {
    const t = r.training;
    const [tr, te] = which === 'loss' ? [t.trainLoss, t.testLoss] : [t.trainAcc, t.testAcc];
    t.epoch.forEach((e, i) => {
      out.push({ precision: r.name, epoch: e, series: 'train', value: tr[i] ?? Number.NaN });
      out.push({ precision: r.name, epoch: e, series: 'test', value: te[i] ?? Number.NaN });
    });
  }
  return out;
}

function progressPoints(data: ReportData, series: readonly { readonly label: string; readonly get: (r: PrecisionReport) => readonly number[] | undefined }[]): LinePoint[] {
  const out: LinePoint[] = [];
  for (const r of data.precisions) {
    const pr = r.progress;
    if (pr === undefined) continue;
    for (const s of series) {
      const v = s.get(r);
      if (v === undefined) continue;
      pr.epoch.forEach((e, i) => out.push({ precision: r.name, epoch: e, series: s.label, value: v[i] ?? Number.NaN }));
    }
  }
  return out;
}

async function figures(data: ReportData): Promise<{ readonly html: string; readonly missing: string[] }> {
  const names = data.precisions.map((r) => r.name);
  const parts: string[] = [];
  const missing: string[] = [];
  const add = async (id: ReportFigure, caption: string, spec: TopLevelSpec): Promise<void> => {
    parts.push(figure(id, caption, await renderSvg(spec, id)));
  };
  const markers = grokMarkers(data);
  const trainTest = { series: ['train', 'test'], seriesColours: ['#1f77b4', '#d62728'] } as const;
  await add('plot-loss', 'Train and test loss (cross-entropy on the last position, log scale); dashed: grokking epoch (first test accuracy ≥ threshold).', facetedLinesSpec({ points: trainingPoints(data, 'loss'), markers, precisions: names, ...trainTest, yTitle: 'loss', yLog: true }));
  await add('plot-accuracy', 'Train and test accuracy; dashed: grokking epoch.', facetedLinesSpec({ points: trainingPoints(data, 'acc'), markers, precisions: names, ...trainTest, yTitle: 'accuracy', yLog: false, yDomain: [0, 1] }));

  const progressSeries = (labels: readonly { readonly label: string; readonly get: (r: PrecisionReport) => readonly number[] | undefined }[]): LinePoint[] => progressPoints(data, labels);
  const lossPts = progressSeries([
    { label: 'restricted', get: (r) => r.progress?.restrictedLoss },
    { label: 'excluded', get: (r) => r.progress?.excludedLoss },
  ]);
  if (lossPts.length > 0) {
    // Test loss from the same checkpoints' training log for reference is in the loss plot above; here the two projections.
    await add('plot-restricted-excluded', 'Restricted loss (only the key frequencies kept) and excluded loss (key frequencies removed, train inputs) over training, log scale.', facetedLinesSpec({ points: lossPts, markers, precisions: names, series: ['restricted', 'excluded'], seriesColours: ['#2ca02c', '#9467bd'], yTitle: 'loss', yLog: true }));
  } else missing.push('restricted and excluded loss over training');
  const giniPts = progressSeries([
    { label: 'Gini W_E', get: (r) => r.progress?.giniEmbed },
    { label: 'Gini W_L', get: (r) => r.progress?.giniNeuronLogit },
  ]);
  if (giniPts.length > 0) {
    await add('plot-gini', 'Gini coefficient of the Fourier-component norms of the embedding W_E and of the neuron-logit map W_L over training (rises in cleanup).', facetedLinesSpec({ points: giniPts, markers, precisions: names, series: ['Gini W_E', 'Gini W_L'], seriesColours: ['#8c564b', '#17becf'], yTitle: 'Gini', yLog: false }));
  } else missing.push('Gini over training');
  const normPts = data.precisions.flatMap((r) => {
    const pr = r.progress;
    const w = pr?.weightNorm;
    return pr === undefined || w === undefined ? [] : pr.epoch.map((e, i) => ({ precision: r.name, epoch: e, value: w[i] ?? Number.NaN }));
  });
  if (normPts.length > 0) {
    await add('plot-weight-norm', 'Total sum of squared (latent) weights over training.', linesByPrecisionSpec({ points: normPts, precisions: names, yTitle: 'Σ‖θ‖²', yLog: false }));
  } else missing.push('weight norm over training');
  const evolution = await evolutionFigure(data.precisions);
  if (evolution !== undefined) parts.push(evolution);
  else missing.push('key-frequency evolution over checkpoints');
  parts.push(...(await frequencyFigures(data.precisions, data.p, 'the final models')));
  return { html: parts.join('\n'), missing };
}

function summaryTable(data: ReportData): string {
  const rows = data.precisions.map((r) => {
    const t = r.training;
    const grok = r.grokEpoch === null ? `<span class="fail">never (cap ${data.epochCap})</span>` : String(r.grokEpoch);
    return `<tr data-precision="${esc(r.name)}"><td>${esc(r.name)}</td><td>${esc(r.quantizer)}</td><td class="num">${fmtEpoch(r.trainFitEpoch)}</td><td class="num">${grok}</td><td class="num">${r.finalEpoch}</td><td class="num">${fmt(last(t.trainAcc))}</td><td class="num">${fmt(last(t.testAcc))}</td><td class="num">${fmt(last(t.trainLoss))}</td><td class="num">${fmt(last(t.testLoss))}</td></tr>`;
  });
  return `<table id="training-summary"><thead><tr><th>precision</th><th>quantizer</th><th>train acc ≥ ${data.grokThreshold} at</th><th>grokking epoch (test acc ≥ ${data.grokThreshold})</th><th>final epoch</th><th>train acc</th><th>test acc</th><th>train loss</th><th>test loss</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** `accurate=pass sparse=FAIL` → the same tokens with failed checks marked. */
function checksHtml(checks: string): string {
  return checks
    .split(/\s+/)
    .filter((x) => x.length > 0)
    .map((x) => (x.endsWith('=FAIL') ? `<span class="fail">${esc(x)}</span>` : esc(x)))
    .join(' ');
}

function pair(a: number, b: number, digits = 3): string {
  return `${fmt(a, digits)} / ${fmt(b, digits)}`;
}

function verdictTable(data: ReportData): string {
  if (data.comparisons.length === 0) return '<p class="note" id="verdict-missing">No comparison rows: fewer than two analysed models.</p><table id="verdict"><tbody></tbody></table>';
  const rows = data.comparisons.map((c) => {
    const v = c.verdict.toLowerCase().replace(/[^a-z]/g, '');
    const dg = Math.abs(c.a.gradientSymmetricity - c.b.gradientSymmetricity);
    const dd = Math.abs(c.a.distanceIrrelevance - c.b.distanceIrrelevance);
    return (
      `<tr class="verdict-${esc(v)}"><td>${esc(c.modelA)} vs ${esc(c.modelB)}</td><td class="verdict">${esc(c.verdict.toUpperCase())}</td>` +
      `<td class="num">${pair(c.a.explained, c.b.explained)}</td><td class="num">${pair(c.a.restrictedRatio, c.b.restrictedRatio)}</td>` +
      `<td class="num">${pair(c.a.ffs, c.b.ffs)}</td><td class="num">${pair(c.a.fcr, c.b.fcr)}</td>` +
      `<td class="num">${pair(c.a.gradientSymmetricity, c.b.gradientSymmetricity)}<br>|Δ| ${fmt(dg)}</td><td class="num">${pair(c.a.distanceIrrelevance, c.b.distanceIrrelevance)}<br>|Δ| ${fmt(dd)}</td>` +
      `<td class="num">${fmt(c.jaccard, 2)}</td><td class="checks">${esc(c.modelA)}: ${checksHtml(c.a.checks)}<br>${esc(c.modelB)}: ${checksHtml(c.b.checks)}</td><td>${esc(c.reason)}</td></tr>`
    );
  });
  return (
    '<table id="verdict"><thead><tr><th>pair (A vs B)</th><th>verdict</th><th>MLP variance explained by keys (A / B)</th><th>restricted / full loss (A / B)</th>' +
    '<th>FFS (A / B)</th><th>FCR (A / B)</th><th>gradient symmetricity (A / B)</th><th>distance irrelevance (A / B)</th><th>key-freq Jaccard (info only)</th>' +
    `<th>mechanism checks</th><th>reason</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
  );
}

/**
 * Renders a precision-comparison report as one self-contained HTML page: inline SVG plots (Vega-Lite specs rendered
 * headless by vega's SVG string renderer; heatmaps as PNG rasters inside them), the training summary, the
 * same-algorithm verdict table with its numbers, the curves (training, progress measures, key-frequency evolution),
 * the spectra, the pictures of the final models (neuron heatmaps, 2-D Fourier maps of embedding, neurons and logits,
 * attention from `=`, clock planes), key frequencies, mechanism numbers and provenance. No scripts, no external
 * resources (a Content-Security-Policy of `default-src 'none'` is set, so the page cannot fetch anything). Pure: the
 * same data gives the same string.
 *
 * Stable hooks for tests: `figure.plot` with the ids of {@link REPORT_FIGURES}, `table#verdict` (rows
 * `tr.verdict-same|different|inconclusive`), `table#training-summary`, `table#key-frequencies`, `table#mechanism`,
 * `section#provenance`; pictures of one model in `figure.view div.model-view[data-model=<name>]`.
 * @example await writeFile('report.html', await renderReport(data))
 */
export async function renderReport(data: ReportData): Promise<string> {
  checkData(data);
  const { html: plots, missing } = await figures(data);
  const views = await modelViewFigures(data.precisions);
  const viewsNote = views.missing.length === 0 ? '' : `<p class="note" id="missing-views">Not available: ${esc(views.missing.join('; '))}.</p>`;
  const missingNote = missing.length === 0 ? '' : `<p class="note" id="missing-plots">Not computed in this run: ${esc(missing.join('; '))}.</p>`;
  const rule = data.verdictRule === undefined ? '' : `<p class="note" id="verdict-rule">Rule: ${esc(data.verdictRule)}</p>`;
  const subtitle = `p = ${data.p}, task ${data.task}, train fraction ${data.trainFraction}, model preset ${data.modelPreset}, epoch cap ${data.epochCap}${data.training === undefined ? '' : `, ${data.training}`}; precisions: ${data.precisions.map((r) => `${r.name} (${r.quantizer})`).join(', ')}`;
  return page(data.title, subtitle, `<section id="summary"><h2>Training</h2>${summaryTable(data)}</section>
<section id="comparison"><h2>Same algorithm?</h2>${verdictTable(data)}${rule}</section>
<section id="curves"><h2>Curves</h2>${missingNote}
${plots}
</section>
<section id="views"><h2>Inside the final models</h2>${viewsNote}
${views.html}
</section>
<section id="frequencies"><h2>Key frequencies and mechanism numbers of the final models</h2>${keyFrequencyTable(data.precisions, 'precision')}${mechanismTable(data.precisions)}</section>
${provenanceSection(data.provenance)}`);
}
