import { describe, expect, it } from 'vitest';
import { syntheticReportData } from '../test/synthetic.js';
import { REPORT_FIGURES, renderReport, textSummary } from './index.js';

const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;

describe('renderReport', () => {
  it('renders every plot as inline SVG inside figure.plot, with stable ids', async () => {
    const html = await renderReport(syntheticReportData());
    for (const id of REPORT_FIGURES) expect(html).toContain(`<figure class="plot" id="${id}">`);
    expect(count(html, /<figure class="plot"/g)).toBe(REPORT_FIGURES.length);
    expect(count(html, /<svg[\s>]/g)).toBe(REPORT_FIGURES.length);
    // Each panel of a faceted plot is drawn: three precisions → three "fp32/ternary/binary" headers in the loss plot.
    const loss = html.slice(html.indexOf('id="plot-loss"'), html.indexOf('id="plot-accuracy"'));
    for (const name of ['fp32', 'ternary', 'binary']) expect(loss).toContain(`>${name}</text>`);
    // Grokking markers for the two runs that grokked, none for the binary one.
    expect(loss).toContain('grok 610');
    expect(loss).toContain('grok 850');
    expect(count(loss, />grok \d+<\/text>/g)).toBe(2);
  });

  it('has the verdict table with one row per pair, classed by verdict, and escapes text', async () => {
    const html = await renderReport(syntheticReportData());
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
    const html = await renderReport(syntheticReportData());
    expect(html).not.toMatch(/\s(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(\s*["']?https?:/i);
    expect(html).toContain(`default-src 'none'`);
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [, ref] of html.matchAll(/url\(#([^)]+)\)/g)) expect(ids).toContain(ref);
  });

  it('is deterministic', async () => {
    expect(await renderReport(syntheticReportData())).toBe(await renderReport(syntheticReportData()));
  });

  it('leaves out progress plots that have no data and says so', async () => {
    const d = syntheticReportData();
    const html = await renderReport({ ...d, precisions: d.precisions.map(({ progress: _, ...r }) => r) });
    expect(html).not.toContain('id="plot-gini"');
    expect(html).not.toContain('id="plot-weight-norm"');
    expect(html).toContain('id="missing-plots"');
    expect(count(html, /<svg[\s>]/g)).toBe(REPORT_FIGURES.length - 3);
  });

  it('draws a panel for every precision even when one has no clustered neurons', async () => {
    const d = syntheticReportData();
    const html = await renderReport({ ...d, precisions: d.precisions.map((r) => (r.name === 'binary' ? { ...r, neuronFrequencies: [] } : r)) });
    const plot = html.slice(html.indexOf('id="plot-neuron-frequencies"'));
    for (const name of ['fp32', 'ternary', 'binary']) expect(plot).toContain(`>${name}</text>`);
  });

  it("shows both models' numbers of every pair and the differences the verdict reads", async () => {
    const html = await renderReport(syntheticReportData());
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
