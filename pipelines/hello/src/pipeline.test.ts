import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactStore, type GraphEvent, hashJson } from '@bitlens/core';
import { lastValueFrom, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HelloConfig, helloGraph, helloPipeline } from './index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bitlens-hello-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const context = (store: ArtifactStore, events: GraphEvent[] = []) => ({ store, configHash: hashJson({}), onEvent: (e: GraphEvent) => events.push(e), log: () => undefined });

describe('hello pipeline', () => {
  it('computes sum = x^power + x + offset for every row, batch by batch', async () => {
    const config = HelloConfig.parse({ n: 10, batch: 4, power: 3, offset: 0.5 });
    const g = helloGraph(config).streams();
    const [xs, combined] = await Promise.all([lastValueFrom(g.streams.numbers.pipe(toArray())), lastValueFrom(helloGraph(config).streams().streams.combined.pipe(toArray()))]);
    expect(combined.map((t) => t.numRows)).toEqual([4, 4, 2]);
    const x = xs.flatMap((t) => Array.from(t.getChild('x')?.toArray() as Float64Array));
    const sum = combined.flatMap((t) => Array.from(t.getChild('sum')?.toArray() as Float64Array));
    sum.forEach((s, k) => expect(s).toBeCloseTo((x[k] ?? 0) ** 3 + (x[k] ?? 0) + 0.5, 12));
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const total = async (seed: number) => (await helloPipeline.run(HelloConfig.parse({ n: 50, seed }), context(new ArtifactStore({ root: join(dir, String(seed)) })))).summary['total'];
    expect(await total(1)).toBe(await total(1));
    expect(await total(1)).not.toBe(await total(2));
  });

  it('reports progress of the source per batch', async () => {
    const events: GraphEvent[] = [];
    await helloPipeline.run(HelloConfig.parse({ n: 100, batch: 25 }), context(new ArtifactStore({ root: dir }), events));
    const progress = events.flatMap((e) => (e.type === 'stage-progress' ? [`${e.progress.done}/${e.progress.total}`] : []));
    expect(progress).toEqual(['1/4', '2/4', '3/4', '4/4']);
  });

  it('rejects unknown keys and bad values in its config', () => {
    expect(HelloConfig.safeParse({ n: 0 }).success).toBe(false);
    expect(HelloConfig.safeParse({ colour: 'red' }).success).toBe(false);
    expect(HelloConfig.parse({})).toEqual({ n: 1000, batch: 250, seed: 1, power: 2, offset: 1 });
  });
});
