import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactStore, type GraphEvent, hashJson } from '@bitlens/core';
import { MODEL_CONFIG_KEY, TRANSFORMER_LENS_CONFIG_KEY, exportTransformerLens, initParams, modelConfig } from '@bitlens/model';
import { ANALYSIS_FIGURES } from '@bitlens/report';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalyzeConfig, analyzePipeline } from './index.js';

// CI clones the repository with shared/ beside it: <repo>/../shared/fixtures.
const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const FIXTURE = resolve(repo, '../shared/fixtures/progress_measures_p113_wd0.1_seed1.safetensors');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bitlens-analyze-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A safetensors file's header (8-byte little-endian length, then JSON) with its `__metadata__` rewritten; data unchanged. */
function withMetadata(bytes: Uint8Array, edit: (m: Record<string, string>) => Record<string, string>): Uint8Array {
  const n = Number(Buffer.from(bytes.buffer, bytes.byteOffset, 8).readBigUInt64LE(0));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) as Record<string, unknown>;
  header['__metadata__'] = edit((header['__metadata__'] ?? {}) as Record<string, string>);
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, Buffer.from(json, 'utf8'), bytes.subarray(8 + n)]);
}
const metadataOf = (bytes: Uint8Array): Record<string, string> => {
  let m: Record<string, string> = {};
  withMetadata(bytes, (x) => (m = x));
  return m;
};

const context = (store: ArtifactStore, lines: string[] = []) => ({ store, configHash: hashJson({}), onEvent: (_e: GraphEvent) => undefined, log: (l: string) => lines.push(l) });

/** Every figure of the single-model report is there, drawn (an SVG each, the heatmaps with inline rasters). */
function expectEveryFigure(html: string): void {
  expect((html.match(/<figure class="plot/g) ?? []).length).toBe(ANALYSIS_FIGURES.length);
  for (const id of ANALYSIS_FIGURES) {
    const at = html.indexOf(`id="${id}"`);
    expect(at, id).toBeGreaterThan(0);
    expect(html.slice(at, html.indexOf('</figure>', at)), id).toContain('<svg');
  }
  expect((html.match(/href="data:image\/png;base64,/g) ?? []).length).toBeGreaterThanOrEqual(10);
  expect(html).not.toContain('id="missing-views"');
}

describe('analyze pipeline on the Nanda fixture (p = 113)', () => {
  it.skipIf(!existsSync(FIXTURE))('without --set p (read from its TransformerLens config): accuracy 1, key frequencies {6,23,37,39,41} by both methods, restricted < full loss, excluded > 5', async () => {
    const config = AnalyzeConfig.parse({ weights: FIXTURE, split: { fraction: 0.3, seed: 1, shuffle: 'python' }, out: join(dir, 'analysis.html') });
    const store = new ArtifactStore({ root: dir });
    const result = await analyzePipeline.run(config, context(store));
    const s = result.summary as Record<string, unknown> & {
      key_frequencies: { embedding: number[]; neurons: number[] };
      accuracy: { all: number; train: number; test: number };
      loss: { all: number; train: number; test: number };
      restricted_loss: number;
      excluded_loss: number;
      neurons: { share_clustered: number; variance_explained_by_key_freqs: number };
    };
    console.log(result.lines.join('\n'));
    console.log(JSON.stringify(s));
    expect(s.accuracy.all).toBe(1);
    expect(s.key_frequencies.embedding).toEqual([6, 23, 37, 39, 41]);
    expect(s.key_frequencies.neurons).toEqual([6, 23, 37, 39, 41]);
    expect(s.restricted_loss).toBeLessThan(s.loss.all);
    expect(s.excluded_loss).toBeGreaterThan(5);
    // The fixture's reference analysis: 185 of 512 neurons clustered, 0.9599 of MLP variance in key frequencies,
    // and (with Nanda's Python split, seed 1) train loss 9.2e-9, test loss 4.99e-7, excluded train loss 8.385.
    expect(s.neurons.share_clustered).toBeCloseTo(185 / 512, 3);
    expect(s.neurons.variance_explained_by_key_freqs).toBeCloseTo(0.96, 2);
    expect(s.loss.train / 9.2024e-9).toBeGreaterThan(0.9);
    expect(s.loss.train / 9.2024e-9).toBeLessThan(1.1);
    expect(s.loss.test / 4.988e-7).toBeGreaterThan(0.95);
    expect(s.loss.test / 4.988e-7).toBeLessThan(1.05);
    expect(s.excluded_loss).toBeCloseTo(8.385, 1);
    expect([s['p'], s['preset']]).toEqual([113, 'nanda']);
    // The numbers of the same analysis run with --set p=113 before the config was read from the file (same backend).
    const before = { all: 3.519747304322693e-7, train: 9.202422090055159e-9, test: 4.988388025824742e-7, restricted: 2.2011258520748053e-9, excluded: 8.385370309637894 };
    const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);
    for (const [got, want] of [[s.loss.all, before.all], [s.loss.train, before.train], [s.loss.test, before.test], [s.restricted_loss, before.restricted], [s.excluded_loss, before.excluded]] as const) {
      expect(rel(got, want)).toBeLessThan(1e-5);
    }
    expect(s['attribution_mean_correct_logit']).toMatchObject({ 'head.0': 0.1089, 'head.1': 0.1996, 'head.2': 0.1418, 'head.3': 0.1642, mlp: 58.08 });
    // The report: every figure; the neuron heatmaps and the clock planes are those of the five key frequencies.
    const html = readFileSync(join(dir, 'analysis.html'), 'utf8');
    expectEveryFigure(html);
    const neurons = html.slice(html.indexOf('id="plot-neuron-heatmaps"'), html.indexOf('</figure>', html.indexOf('id="plot-neuron-heatmaps"')));
    for (const k of [6, 23, 37, 39, 41]) expect((neurons.match(new RegExp(`>k ${k} · #\\d+ · 0\\.\\d\\d<`, 'g')) ?? []).length, `k ${k}`).toBe(3);
    const clock = html.slice(html.indexOf('id="plot-clock"'));
    for (const k of [6, 23, 37, 39, 41]) expect(clock).toMatch(new RegExp(`>k ${k} \\(\\d+% of W_E\\)<`));
    expect(html).toMatch(/<td>key_frequencies\.embedding<\/td><td class="num">\{6, 23, 37, 39, 41\}<\/td>/);
    expect(result.lines.at(-1)).toBe(`report: ${join(dir, 'analysis.html')}`);

    // With an explicit, agreeing p and preset the analysis is the same one: every stage is read from the artifact store.
    const again = await analyzePipeline.run(AnalyzeConfig.parse({ ...config, p: 113, preset: 'nanda' }), context(store));
    expect(again.stats.executed).toEqual([]);
    expect(again.summary).toMatchObject({ key_frequencies: s.key_frequencies, loss: s.loss, excluded_loss: s.excluded_loss });
  }, 240_000); // p = 113 over all inputs: about 15 s idle, much longer on a loaded machine

  it.skipIf(!existsSync(FIXTURE))('a p or preset that disagrees with the file is a typed config error naming both values, before any work', async () => {
    const store = new ArtifactStore({ root: join(dir, 'p59') });
    await expect(analyzePipeline.run(AnalyzeConfig.parse({ weights: FIXTURE, p: 59 }), context(store))).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      site: { field: 'p', expected: expect.stringContaining('113') as unknown, found: '59 (given)' },
    });
    await expect(analyzePipeline.run(AnalyzeConfig.parse({ weights: FIXTURE, preset: 'li' }), context(store))).rejects.toMatchObject({ code: 'INVALID_CONFIG', site: { field: 'preset' } });
    expect(existsSync(join(dir, 'p59'))).toBe(false); // nothing was written
  });

  it.skipIf(!existsSync(FIXTURE))('a file without any config needs --set p; a p that does not fit its tensors names the tensor', async () => {
    const bare = join(dir, 'bare.safetensors');
    writeFileSync(bare, withMetadata(new Uint8Array(readFileSync(FIXTURE)), ({ [TRANSFORMER_LENS_CONFIG_KEY]: _tl, ...rest }) => rest));
    const store = new ArtifactStore({ root: join(dir, 'bare') });
    await expect(analyzePipeline.run(AnalyzeConfig.parse({ weights: bare }), context(store))).rejects.toMatchObject({ code: 'INVALID_CONFIG', site: { field: 'p' } });
    await expect(analyzePipeline.run(AnalyzeConfig.parse({ weights: bare, p: 59 }), context(store))).rejects.toMatchObject({ code: 'SHAPE_MISMATCH', site: { field: 'embed.W_E' } });
  });

  it('runs end to end on a li model (final norm) exported to safetensors', async () => {
    const cfg = modelConfig('li', 11);
    const path = join(dir, 'li11.safetensors');
    const bytes = exportTransformerLens(cfg, initParams(cfg, 1));
    writeFileSync(path, bytes);
    // p and the preset come from the file's bitlens config.
    const r = await analyzePipeline.run(AnalyzeConfig.parse({ weights: path, ablations: true, out: join(dir, 'li11.html') }), context(new ArtifactStore({ root: join(dir, 'li') })));
    const s = r.summary as { p: number; preset: string; accuracy: { all: number }; attribution_mean_correct_logit: Record<string, number>; ablations: unknown[] };
    expect([s.p, s.preset]).toEqual([11, 'li']);
    expect(metadataOf(bytes)[MODEL_CONFIG_KEY]).toBe(JSON.stringify(cfg));
    expectEveryFigure(readFileSync(join(dir, 'li11.html'), 'utf8'));
    expect(s.accuracy.all).toBeGreaterThanOrEqual(0);
    expect(Object.keys(s.attribution_mean_correct_logit)).toEqual(['embed', 'head.0', 'head.1', 'head.2', 'head.3', 'mlp']);
    expect(s.ablations.length).toBe(12); // 4 heads x zero/mean/resample
  });

  it('checks the report path before any work: an unwritable one is a config error naming out, and nothing is stored', async () => {
    const root = join(dir, 'bad-out');
    const run = analyzePipeline.run(AnalyzeConfig.parse({ weights: FIXTURE, p: 113, out: '/proc/no/such/report.html' }), context(new ArtifactStore({ root })));
    await expect(run).rejects.toMatchObject({ code: 'INVALID_CONFIG', site: { field: 'out', found: '"/proc/no/such/report.html"' } });
    expect(existsSync(root) ? readdirSync(root) : []).toEqual([]);
  });

  it('rejects unknown config keys and a missing weights path', async () => {
    expect(() => AnalyzeConfig.parse({ weights: 'x', p: 113, bogus: 1 })).toThrow();
    expect(() => AnalyzeConfig.parse({ p: 113 })).toThrow();
    await expect(analyzePipeline.run(AnalyzeConfig.parse({ weights: join(dir, 'none.safetensors'), p: 113 }), context(new ArtifactStore({ root: dir })))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
