import { BitlensError } from '@bitlens/core';
import { checkViews } from './internal/check-views.js';
import { escapeHtml as esc } from './internal/format.js';
import { page } from './internal/page.js';
import { frequencyFigures, keyFrequencyTable, mechanismTable, provenanceSection } from './internal/sections.js';
import { VIEW_FIGURES, modelViewFigures } from './internal/view-figures.js';
import type { AnalysisReportData } from './report-data.js';

const STAGE = 'report/render-analysis-report';

/**
 * Ids of the figures of a single-model report, in page order: the spectra, then the pictures (there are no
 * checkpoints, so no key-frequency evolution).
 */
export const ANALYSIS_FIGURES = ['plot-embed-fourier', 'plot-neuron-frequencies', ...VIEW_FIGURES.filter((id) => id !== 'plot-key-frequency-evolution')] as const;

/** Id of a figure of the single-model report. */
export type AnalysisFigure = (typeof ANALYSIS_FIGURES)[number];

function numbersTable(data: AnalysisReportData): string {
  const rows = data.numbers ?? [];
  if (rows.length === 0) return '';
  return `<table id="analysis-numbers"><thead><tr><th>measure</th><th>value</th></tr></thead><tbody>${rows.map((r) => `<tr><td>${esc(r.label)}</td><td class="num">${esc(r.value)}</td></tr>`).join('')}</tbody></table>`;
}

/**
 * Renders the analysis of one model (the `analyze` pipeline's report) as one self-contained HTML page: key
 * frequencies, mechanism numbers and further numbers, the embedding spectrum and neuron-frequency histogram, and the
 * same pictures as the comparison report (neuron heatmaps, Fourier maps, attention, clock planes). No scripts, no
 * external resources; pure. Stable hooks: `figure.plot` with the ids of {@link ANALYSIS_FIGURES},
 * `table#key-frequencies`, `table#mechanism`, `table#analysis-numbers`, `section#provenance`.
 * @example await writeFile('analysis.html', await renderAnalysisReport(data))
 */
export async function renderAnalysisReport(data: AnalysisReportData): Promise<string> {
  const m = data.model;
  if (m.views !== undefined) {
    checkViews(STAGE, m.name, m.views);
    if (m.views.p !== data.p) throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: `${m.name}.views.p`, expected: String(data.p), found: String(m.views.p) });
  }
  const spectra = await frequencyFigures([m], data.p, 'the model');
  const views = await modelViewFigures([m]);
  const viewsNote = views.missing.length === 0 ? '' : `<p class="note" id="missing-views">Not available: ${esc(views.missing.join('; '))}.</p>`;
  return page(
    data.title,
    data.subtitle,
    `<section id="frequencies"><h2>Key frequencies and mechanism numbers</h2>${keyFrequencyTable([m], 'model')}${mechanismTable([m])}${numbersTable(data)}</section>
<section id="curves"><h2>Spectra</h2>
${spectra.join('\n')}
</section>
<section id="views"><h2>Inside the model</h2>${viewsNote}
${views.html}
</section>
${provenanceSection(data.provenance)}`,
  );
}
