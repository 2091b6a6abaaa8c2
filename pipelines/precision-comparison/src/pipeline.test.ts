import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactStore, type GraphEvent, hashJson } from '@bitlens/core';
import { REPORT_FIGURES } from '@bitlens/report';
import { afterAll, describe, expect, it } from 'vitest';
import { PrecisionComparisonConfig, precisionComparisonPipeline } from './index.js';

// A tiny comparison (p = 11, 40 epochs): it exercises the whole DAG (three worker trainings, progress measures,
// analyses, comparison, report sink) in seconds. It does not grok; the science is checked by the default run.
const dir = mkdtempSync(join(tmpdir(), 'bitlens-precision-comparison-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const store = new ArtifactStore({ root: join(dir, 'store') });
const tiny = { p: 11, epochs: 40, checkpointEvery: 10, logEvery: 10, out: join(dir, 'report.html') };

async function run(overrides: Record<string, unknown> = {}) {
  const config = PrecisionComparisonConfig.parse({ ...tiny, ...overrides });
  const events: GraphEvent[] = [];
  const result = await precisionComparisonPipeline.run(config, { store, configHash: hashJson(config), onEvent: (e) => events.push(e), log: () => undefined });
  return { result, events };
}

/** Every figure of the report is there; each picture figure has one chart per precision, with its rasters inline. */
function expectEveryFigure(html: string): void {
  expect((html.match(/<figure class="plot/g) ?? []).length).toBe(REPORT_FIGURES.length);
  for (const id of REPORT_FIGURES) {
    const at = html.indexOf(`id="${id}"`);
    expect(at, id).toBeGreaterThan(0);
    const fig = html.slice(at, html.indexOf('</figure>', at));
    expect(fig, id).toContain('<svg');
    if (fig.includes('class="model-views"')) for (const name of ['fp32', 'ternary', 'binary']) expect(fig, `${id} ${name}`).toContain(`data-model="${name}"`);
  }
  expect((html.match(/href="data:image\/png;base64,/g) ?? []).length).toBeGreaterThan(20);
  expect(html).not.toContain('id="missing-views"');
}

describe('precision-comparison pipeline', () => {
  it('trains three precisions, analyses and compares them, and writes a self-contained report', async () => {
    const { result, events } = await run();
    expect(result.stats.executed).toContain('fp32/train');
    expect(result.stats.executed).toContain('binary/mechanism');
    expect(result.stats.executed).toContain('comparison');
    expect(result.stats.cached).toEqual([]);
    // Training reported its progress per epoch on the way.
    expect(events.some((e) => e.type === 'stage-progress' && e.node === 'ternary/train')).toBe(true);
    const html = readFileSync(tiny.out, 'utf8');
    expectEveryFigure(html);
    expect((html.match(/<tr class="verdict-/g) ?? []).length).toBe(3);
    expect(html).not.toMatch(/\s(src|href)\s*=\s*["']?https?:/i);
    const summary = result.summary as { precisions: { name: string; finalEpoch: number; trainAcc: number }[]; comparisons: { pair: string; verdict: string }[] };
    expect(summary.precisions.map((p) => p.name)).toEqual(['fp32', 'ternary', 'binary']);
    expect(summary.precisions.every((p) => p.finalEpoch === 40)).toBe(true);
    expect(summary.comparisons.map((c) => c.pair)).toEqual(['fp32/ternary', 'fp32/binary', 'ternary/binary']);
    expect(result.lines.some((l) => l.startsWith('report: '))).toBe(true);
    expect(result.lines.some((l) => l.includes('fp32 vs ternary:'))).toBe(true);
  });

  it('reruns from the store without executing anything and rewrites the same report data', async () => {
    rmSync(tiny.out);
    const { result } = await run();
    expect(result.stats.executed).toEqual([]);
    expect(result.stats.cached.length).toBeGreaterThan(0);
    expect(existsSync(tiny.out)).toBe(true);
    expect(readFileSync(tiny.out, 'utf8')).toContain('<table id="verdict">');
  });

  it('changing the ternary quantizer recomputes the ternary run and the comparison only', async () => {
    const { result } = await run({ quantizers: { ternary: 'ternary-centred' } });
    const executed = [...result.stats.executed].sort();
    expect(executed).toContain('ternary/train');
    expect(executed).toContain('comparison');
    expect(executed.every((n) => n.startsWith('ternary/') || n === 'mechanisms' || n === 'comparison')).toBe(true);
    expect(result.stats.cached).toEqual(expect.arrayContaining(['fp32/metrics', 'binary/metrics', 'fp32/mechanism', 'binary/mechanism']));
  });
});

// The reduced version of the main job that CI runs: p = 31, train fraction 0.7, the small preset's lr 3e-3, analysed
// 200 epochs after grokking. Measured on this machine kind (training stage version 4): fp32 groks at epoch 510,
// ternary at 200, binary at 220. Analysed 100 epochs after grokking (as before version 3, when fp32 grokked at 500),
// the fp32 model failed the "explained" check (MLP variance explained by its key frequencies, not yet cleaned up):
// INCONCLUSIVE; 200 epochs after, all three pass every check.
describe('reduced comparison (p = 31)', () => {
  it('all three precisions grok, pass every mechanism check, and are judged the same algorithm', async () => {
    const config = PrecisionComparisonConfig.parse({ p: 31, trainFraction: 0.7, epochs: 1500, afterGrok: 200, out: join(dir, 'reduced.html') });
    const result = await precisionComparisonPipeline.run(config, { store, configHash: hashJson(config), onEvent: () => undefined, log: () => undefined });
    const summary = result.summary as {
      precisions: { name: string; grokEpoch: number | null; finalEpoch: number; testAcc: number; keyFrequencies: { embed: number[] } }[];
      comparisons: { pair: string; verdict: string }[];
    };
    for (const p of summary.precisions) {
      expect(p.grokEpoch, p.name).not.toBeNull();
      expect(p.testAcc, p.name).toBeGreaterThanOrEqual(0.99);
      expect(p.finalEpoch, p.name).toBeLessThan(1500); // stopped 200 epochs after grokking, not by the cap
      expect(p.keyFrequencies.embed.length, p.name).toBeGreaterThanOrEqual(1);
      expect(p.keyFrequencies.embed.length, p.name).toBeLessThanOrEqual(10); // of 15 frequencies at p = 31
    }
    expect(summary.comparisons.map((c) => c.verdict)).toEqual(['same', 'same', 'same']);
    // The real report: every view, and the pictures show what the verdict rests on. Each run's neuron heatmaps are
    // of its own neuron key frequencies, and its clock planes of its embedding key frequencies.
    const html = readFileSync(join(dir, 'reduced.html'), 'utf8');
    expectEveryFigure(html);
    for (const p of summary.precisions) {
      const start = html.indexOf(`data-model="${p.name}"`, html.indexOf('id="plot-clock"'));
      const plane = html.slice(start, html.indexOf('</svg>', start));
      for (const k of p.keyFrequencies.embed.slice(0, 8)) expect(plane, `${p.name} k ${k}`).toMatch(new RegExp(`>k ${k} \\(\\d+% of W_E\\)<`));
    }
  }, 600_000);
});
