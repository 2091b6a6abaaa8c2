import { describe, expect, it } from 'vitest';
import { syntheticAnalysisData } from '../test/synthetic.js';
import { ANALYSIS_FIGURES, renderAnalysisReport } from './index.js';

const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;
let full: Promise<string> | undefined;
const report = (): Promise<string> => (full ??= renderAnalysisReport(syntheticAnalysisData()));

describe('renderAnalysisReport', () => {
  it('shows the spectra and every picture of the one model, with its tables', async () => {
    const html = await report();
    for (const id of ANALYSIS_FIGURES) expect(html).toMatch(new RegExp(`<figure class="plot( view)?" id="${id}">`));
    expect(count(html, /<figure class="plot/g)).toBe(ANALYSIS_FIGURES.length);
    expect(html).not.toContain('plot-key-frequency-evolution');
    expect(count(html, /data-model="model.safetensors"/g)).toBe(ANALYSIS_FIGURES.length - 2);
    expect(html).toContain('<title>bitlens analysis: model.safetensors &lt;synthetic&gt;</title>');
    expect(html).toContain('<table id="key-frequencies">');
    expect(html).toContain('{4, 17, 23}');
    expect(html).toContain('<table id="mechanism">');
    expect(html).toMatch(/<table id="analysis-numbers">.*loss \(train\)<\/td><td class="num">9\.2e-9</);
    expect(html).toContain(`default-src 'none'`);
    expect(html).not.toMatch(/<script/i);
  });

  it('is deterministic', async () => {
    expect(await renderAnalysisReport(syntheticAnalysisData())).toBe(await report());
  });

  it('says which pictures are missing, and rejects views of another p', async () => {
    const d = syntheticAnalysisData();
    const { views, ...bare } = d.model;
    const html = await renderAnalysisReport({ ...d, model: bare });
    expect(html).toContain('id="missing-views"');
    expect(html).not.toContain('id="plot-neuron-heatmaps"');
    if (views === undefined) throw new Error('fixture');
    await expect(renderAnalysisReport({ ...d, p: 61 })).rejects.toMatchObject({ code: 'SHAPE_MISMATCH', site: { field: 'model.safetensors.views.p' } });
  });
});
