import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactStore, type GraphEvent, hashJson } from '@bitlens/core';
import { exportTransformerLens, initParams, modelConfig } from '@bitlens/model';
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

const context = (store: ArtifactStore, lines: string[] = []) => ({ store, configHash: hashJson({}), onEvent: (_e: GraphEvent) => undefined, log: (l: string) => lines.push(l) });

describe('analyze pipeline on the Nanda fixture (p = 113)', () => {
  it.skipIf(!existsSync(FIXTURE))('reports accuracy 1, key frequencies {6,23,37,39,41} by both methods, restricted < full loss, excluded > 5', async () => {
    const config = AnalyzeConfig.parse({ weights: FIXTURE, p: 113, split: { fraction: 0.3, seed: 1, shuffle: 'python' } });
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

    // A second run reads every stage from the artifact store.
    const again = await analyzePipeline.run(config, context(store));
    expect(again.stats.executed).toEqual([]);
    expect((again.summary as typeof s).key_frequencies).toEqual(s.key_frequencies);
  }, 240_000); // p = 113 over all inputs: about 15 s idle, much longer on a loaded machine

  it.skipIf(!existsSync(FIXTURE))('a p that does not fit the weights fails with a typed error naming the tensor', async () => {
    await expect(analyzePipeline.run(AnalyzeConfig.parse({ weights: FIXTURE, p: 59 }), context(new ArtifactStore({ root: join(dir, 'p59') })))).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
      site: { field: 'embed.W_E' },
    });
  });

  it('runs end to end on a li model (final norm) exported to safetensors', async () => {
    const cfg = modelConfig('li', 11);
    const path = join(dir, 'li11.safetensors');
    writeFileSync(path, exportTransformerLens(cfg, initParams(cfg, 1)));
    const r = await analyzePipeline.run(AnalyzeConfig.parse({ weights: path, p: 11, preset: 'li', ablations: true }), context(new ArtifactStore({ root: join(dir, 'li') })));
    const s = r.summary as { preset: string; accuracy: { all: number }; attribution_mean_correct_logit: Record<string, number>; ablations: unknown[] };
    expect(s.preset).toBe('li');
    expect(s.accuracy.all).toBeGreaterThanOrEqual(0);
    expect(Object.keys(s.attribution_mean_correct_logit)).toEqual(['embed', 'head.0', 'head.1', 'head.2', 'head.3', 'mlp']);
    expect(s.ablations.length).toBe(12); // 4 heads x zero/mean/resample
  });

  it('rejects unknown config keys and a missing weights path', async () => {
    expect(() => AnalyzeConfig.parse({ weights: 'x', p: 113, bogus: 1 })).toThrow();
    expect(() => AnalyzeConfig.parse({ p: 113 })).toThrow();
    await expect(analyzePipeline.run(AnalyzeConfig.parse({ weights: join(dir, 'none.safetensors'), p: 113 }), context(new ArtifactStore({ root: dir })))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
