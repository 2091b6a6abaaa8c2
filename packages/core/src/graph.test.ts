import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Table, tableToIPC } from 'apache-arrow';
import { type Observable, lastValueFrom, map, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { XsSchema, YsSchema, type Ys, addXY, calls, scale, source } from '../test/fixtures.js';
import { ArtifactStore, type GraphEvent, PipelineGraph, defineStage, readProvenance } from './index.js';

function graph(factor = 2) {
  return PipelineGraph.create()
    .source('xs', source({ n: 5, batches: 3 }))
    .then('ys', scale({ factor }), 'xs')
    .join('sum', addXY(), { xs: 'xs', ys: 'ys' });
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bitlens-graph-'));
  calls.source = calls.scale = calls.add = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (ts: { batches: unknown[] }[]) => ts.map((t) => Buffer.from(tableToIPC(t as never, 'file')).toString('base64'));

describe('PipelineGraph', () => {
  it('computes a DAG with a fan-out and a two-input stage', async () => {
    const { streams, stats } = graph().streams();
    const out = await lastValueFrom(streams.sum.pipe(toArray()));
    expect(out).toHaveLength(3);
    expect(Array.from(out[1]?.getChild('y')?.toArray() as Float64Array)).toEqual([15, 18, 21, 24, 27]); // x + 2x for x = 5..9
    expect(calls.source).toBe(3); // the fan-out computed the source once
    expect(stats.executed.sort()).toEqual(['sum', 'xs', 'ys']);
  });

  it('a second run executes no stage, reads from the store and gives identical output', async () => {
    const store = new ArtifactStore({ root: dir });
    const first = graph().streams({ store });
    const a = await lastValueFrom(first.streams.sum.pipe(toArray()));
    expect(first.stats.executed.sort()).toEqual(['sum', 'xs', 'ys']);
    const before = { ...calls };
    const events: GraphEvent[] = [];
    const second = graph().streams({ store, onEvent: (e) => events.push(e) });
    const b = await lastValueFrom(second.streams.sum.pipe(toArray()));
    expect(second.stats.executed).toEqual([]);
    expect(second.stats.cached).toEqual(['sum']); // upstream of a cached node is not even read
    expect(calls).toEqual(before);
    expect(events.map((e) => e.type)).toEqual(['stage-cached', 'stage-done']);
    expect(bytes(b)).toEqual(bytes(a));
    // every node is in the store, reading an intermediate executes nothing either
    const third = graph().streams({ store });
    await lastValueFrom(third.streams.ys.pipe(toArray()));
    expect(third.stats.executed).toEqual([]);
  });

  it("changing one stage's option recomputes that stage and those below it only", async () => {
    const store = new ArtifactStore({ root: dir });
    await lastValueFrom(graph(2).streams({ store }).streams.sum.pipe(toArray()));
    const k2 = graph(2).keys();
    const k3 = graph(3).keys();
    expect(k3.xs).toBe(k2.xs);
    expect(k3.ys).not.toBe(k2.ys);
    expect(k3.sum).not.toBe(k2.sum);
    const { streams, stats } = graph(3).streams({ store });
    const out = await lastValueFrom(streams.sum.pipe(toArray()));
    expect(stats.executed.sort()).toEqual(['sum', 'ys']);
    expect(stats.cached).toEqual(['xs']);
    expect(Array.from(out[0]?.getChild('y')?.toArray() as Float64Array)).toEqual([0, 4, 8, 12, 16]);
  });

  it('a node read again after the run completed yields its tables again (from the store)', async () => {
    const store = new ArtifactStore({ root: dir });
    const { streams, stats } = graph().streams({ store });
    const sum = await lastValueFrom(streams.sum.pipe(toArray()));
    const ys = await lastValueFrom(streams.ys.pipe(toArray()));
    const again = await lastValueFrom(streams.sum.pipe(toArray()));
    expect(sum).toHaveLength(3);
    expect(ys).toHaveLength(3);
    expect(again).toHaveLength(3);
    expect(stats.cached).toEqual(['ys', 'sum']);
    const bare = graph().streams(); // without a store: recomputed
    await lastValueFrom(bare.streams.ys.pipe(toArray()));
    expect(await lastValueFrom(bare.streams.ys.pipe(toArray()))).toHaveLength(3);
  });

  it('writes provenance into every output table', async () => {
    const store = new ArtifactStore({ root: dir });
    const { streams } = graph().streams({ store, provenance: { configHash: 'c0ffee', seed: 7, backend: 'wasm', gitRevision: 'abc123' } });
    const [t] = await lastValueFrom(streams.ys.pipe(toArray()));
    const p = readProvenance(t as never);
    expect(p).toMatchObject({ stage: 'test/scale', stageVersion: '1', options: '{"factor":2}', configHash: 'c0ffee', seed: '7', backend: 'wasm', gitRevision: 'abc123' });
    expect(p?.key).toBe(graph().keys().ys);
    expect(p?.packageVersion).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('a failing stage leaves no artifact under its key', async () => {
    const store = new ArtifactStore({ root: dir });
    const broken = defineStage({ name: 'test/broken', version: '1', options: {}, input: XsSchema, output: YsSchema, apply: (src) => src.pipe(map(() => { throw new Error('boom'); })) });
    const g = PipelineGraph.create().source('xs', source({ n: 2, batches: 2 })).then('bad', broken, 'xs');
    await expect(lastValueFrom(g.streams({ store }).streams.bad)).rejects.toThrow('boom');
    expect(store.has(g.keys().bad)).toBe(false);
    expect(store.has(g.keys().xs)).toBe(true);
  });

  it('rejects duplicate node names and unknown inputs', () => {
    const g = PipelineGraph.create().source('xs', source({ n: 1, batches: 1 }));
    expect(() => g.source('xs', source({ n: 1, batches: 1 }))).toThrow(/duplicate/);
    expect(() => g.then('ys', scale({ factor: 1 }), 'nope' as 'xs')).toThrow(/'nope'/);
  });

  it('types the wiring: a stage only accepts nodes whose output has its input columns', () => {
    const g = PipelineGraph.create().source('xs', source({ n: 1, batches: 1 })).then('ys', scale({ factor: 1 }), 'xs');
    // @ts-expect-error 'ys' lacks column x that scale() requires
    g.then('zs', scale({ factor: 1 }), 'ys');
    expectTypeOf(g.streams().streams.ys).toEqualTypeOf<Observable<Table<Ys>>>();
  });
});
