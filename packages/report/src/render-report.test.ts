import { describe, expect, it } from 'vitest';
import { syntheticReportData } from '../test/synthetic.js';
import { REPORT_FIGURES, renderReport, textSummary } from './index.js';
import { VIEW_FIGURES } from './internal/view-figures.js';

const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;
/** The HTML of one figure. */
const figureOf = (html: string, id: string): string => html.slice(html.indexOf(`id="${id}"`), html.indexOf('</figure>', html.indexOf(`id="${id}"`)));
/** The synthetic report, rendered once for the tests that only read it. */
let full: Promise<string> | undefined;
const report = (): Promise<string> => (full ??= renderReport(syntheticReportData()));
/** Figures holding one chart per model. */
const PER_MODEL: readonly string[] = VIEW_FIGURES;

describe('renderReport', () => {
  it('renders every plot as inline SVG inside figure.plot, with stable ids', async () => {
    const html = await report();
    for (const id of REPORT_FIGURES) expect(html).toMatch(new RegExp(`<figure class="plot( view)?" id="${id}">`));
    expect(count(html, /<figure class="plot/g)).toBe(REPORT_FIGURES.length);
    // One SVG per curve figure; one per precision in each picture figure.
    const perModel = REPORT_FIGURES.filter((id) => PER_MODEL.includes(id));
    expect(perModel.length).toBe(8);
    expect(count(html, /<svg[\s>]/g)).toBe(REPORT_FIGURES.length - perModel.length + 3 * perModel.length);
    for (const id of perModel) {
      const f = figureOf(html, id);
      expect(count(f, /<div class="model-view" data-model="/g), id).toBe(3);
      for (const name of ['fp32', 'ternary', 'binary']) expect(f, id).toContain(`data-model="${name}"`);
    }
    // Each panel of a faceted plot is drawn: three precisions → three "fp32/ternary/binary" headers in the loss plot.
    const loss = html.slice(html.indexOf('id="plot-loss"'), html.indexOf('id="plot-accuracy"'));
    for (const name of ['fp32', 'ternary', 'binary']) expect(loss).toContain(`>${name}</text>`);
    // Grokking markers for the two runs that grokked, none for the binary one.
    expect(loss).toContain('grok 610');
    expect(loss).toContain('grok 850');
    expect(count(loss, />grok \d+<\/text>/g)).toBe(2);
  });

  it('has the verdict table with one row per pair, classed by verdict, and escapes text', async () => {
    const html = await report();
    const table = html.slice(html.indexOf('<table id="verdict">'), html.indexOf('</table>', html.indexOf('<table id="verdict">')));
    expect(count(table, /<tr class="verdict-/g)).toBe(3);
    expect(table).toContain('<tr class="verdict-same">');
    expect(table).toContain('<tr class="verdict-inconclusive">');
    expect(table).toContain('<tr class="verdict-different">');
    expect(table).toContain('signatures differ &lt;&amp;&gt;');
    expect(html).toContain('<title>bitlens precision comparison &lt;synthetic&gt;</title>');
    expect(html).toContain('<table id="key-frequencies">');
    expect(html).toContain('{4, 17, 23}');
    expect(html).toContain('<table id="mechanism">');
    expect(html).toMatch(/never \(cap 1200\)/);
  });

  it('is self-contained: no scripts, no external src/href, SVG definition ids unique across plots', async () => {
    const html = await report();
    expect(html).not.toMatch(/\s(src|href)\s*=\s*["']?(https?:)?\/\//i);
    // Every link is a fragment or an inline PNG raster.
    const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1] ?? '');
    expect(hrefs.filter((h) => h.startsWith('data:image/png;base64,')).length).toBeGreaterThan(50);
    expect(hrefs.filter((h) => !h.startsWith('#') && !h.startsWith('data:image/png;base64,'))).toEqual([]);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(\s*["']?https?:/i);
    expect(html).toContain(`default-src 'none'`);
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [, ref] of html.matchAll(/url\(#([^)]+)\)/g)) expect(ids).toContain(ref);
  });

  it('is deterministic', async () => {
    expect(await renderReport(syntheticReportData())).toBe(await report());
  });

  it('leaves out progress plots that have no data and says so', async () => {
    const d = syntheticReportData();
    const html = await renderReport({ ...d, precisions: d.precisions.map(({ progress: _, ...r }) => r) });
    expect(html).not.toContain('id="plot-gini"');
    expect(html).not.toContain('id="plot-weight-norm"');
    expect(html).toContain('id="missing-plots"');
    expect(html).toContain('id="plot-key-frequency-evolution"'); // from the checkpoints' spectra, not the progress rows
  });

  it('leaves out the pictures of models without views and says so; keeps the other models’ pictures', async () => {
    const d = syntheticReportData();
    const none = await renderReport({ ...d, precisions: d.precisions.map(({ views: _v, evolution: _e, ...r }) => r) });
    for (const id of VIEW_FIGURES) expect(none).not.toContain(`id="${id}"`);
    expect(none).toMatch(/id="missing-views">Not available: neuron heatmaps/);
    expect(none).toMatch(/id="missing-plots">[^<]*key-frequency evolution/);
    const some = await renderReport({ ...d, precisions: d.precisions.map((r) => (r.name === 'binary' ? { ...r, views: undefined } : r)) as typeof d.precisions });
    const f = figureOf(some, 'plot-neuron-heatmaps');
    expect(count(f, /<div class="model-view"/g)).toBe(2);
    expect(f).not.toContain('data-model="binary"');
  });

  it('shows the neuron heatmaps of every neuron key frequency, and the clock plane of every embedding key frequency', async () => {
    const html = await report();
    const neurons = figureOf(html, 'plot-neuron-heatmaps');
    // fp32 keys {4, 17, 23}, ternary {9, 17, 28, 11}, binary {5, 21}: three neurons each.
    expect(count(neurons, /<image /g)).toBe(3 * (3 + 4 + 2));
    for (const k of [4, 17, 23, 9, 28, 11, 5, 21]) expect(neurons).toContain(`>k ${k} · #`);
    const clock = figureOf(html, 'plot-clock');
    for (const k of [4, 17, 23, 9, 28, 11, 5, 21]) expect(clock).toMatch(new RegExp(`>k ${k} \\(\\d+% of W_E\\)<`));
    expect(count(figureOf(html, 'plot-attention-a'), /<image /g)).toBe(3 * 4);
  });

  it('rejects pictures whose shapes do not fit p, naming the field', async () => {
    const d = syntheticReportData();
    const [first, ...rest] = d.precisions;
    if (first?.views === undefined) throw new Error('fixture');
    const bad = { ...first, views: { ...first.views, neurons: [{ freq: 4, neuron: 0, fve: 1, values: new Float32Array(10) }] } };
    await expect(renderReport({ ...d, precisions: [bad, ...rest] })).rejects.toMatchObject({ code: 'SHAPE_MISMATCH', site: { field: 'fp32.views.neurons[0].values' } });
  });

  it('draws a panel for every precision even when one has no clustered neurons', async () => {
    const d = syntheticReportData();
    const html = await renderReport({ ...d, precisions: d.precisions.map((r) => (r.name === 'binary' ? { ...r, neuronFrequencies: [] } : r)) });
    const plot = html.slice(html.indexOf('id="plot-neuron-frequencies"'));
    for (const name of ['fp32', 'ternary', 'binary']) expect(plot).toContain(`>${name}</text>`);
  });

  it("shows both models' numbers of every pair and the differences the verdict reads", async () => {
    const html = await report();
    const table = html.slice(html.indexOf('<table id="verdict">'), html.indexOf('</table>', html.indexOf('<table id="verdict">')));
    // ternary vs binary: gradient symmetricity 0.570 / 0.970, |Δ| 0.400; distance irrelevance 0.910 / 0.410, |Δ| 0.500.
    expect(table).toContain('0.570 / 0.970<br>|Δ| 0.400');
    expect(table).toContain('0.910 / 0.410<br>|Δ| 0.500');
    expect(table).toContain('binary: <span class="fail">explained=FAIL</span>');
  });

  it('rejects curves whose lengths disagree, naming the field', async () => {
    const d = syntheticReportData();
    const [first, ...rest] = d.precisions;
    if (first === undefined) throw new Error('fixture');
    const bad = { ...first, training: { ...first.training, testAcc: first.training.testAcc.slice(1) } };
    await expect(renderReport({ ...d, precisions: [bad, ...rest] })).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    await expect(renderReport({ ...d, precisions: [] })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });
});

describe('textSummary', () => {
  it('prints a line per precision and per pair with the numbers', () => {
    const lines = textSummary(syntheticReportData());
    expect(lines).toHaveLength(1 + 3 + 3);
    expect(lines[0]).toContain('p=59 add');
    expect(lines[1]).toMatch(/fp32 \(fp32\)\s+grokked at epoch 610 \(train fit \d+, delay \d+\)/);
    expect(lines[3]).toContain('NOT grokked within 1200 epochs');
    expect(lines[4]).toContain('fp32 vs ternary: SAME');
    expect(lines[5]).toContain('INCONCLUSIVE');
  });

  it('states the training settings under the header when the data has them, and in the report subtitle', async () => {
    const data = { ...syntheticReportData(), training: 'full-batch AdamW lr 0.003, weight decay 1' };
    const lines = textSummary(data);
    expect(lines).toHaveLength(2 + 3 + 3);
    expect(lines[1]).toBe('  training: full-batch AdamW lr 0.003, weight decay 1');
    expect(await renderReport(data)).toContain('full-batch AdamW lr 0.003, weight decay 1');
  });
});
