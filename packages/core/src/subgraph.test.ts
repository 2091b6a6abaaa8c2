import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Table, tableFromArrays } from 'apache-arrow';
import { lastValueFrom, map, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { XsSchema, type Xs, YsSchema, type Ys, addXY, calls, scale, source } from '../test/fixtures.js';
import { ArtifactStore, type GraphEvent, PipelineGraph, type RunRecord, defineStage, defineSubgraph, readProvenance, reportProgress } from './index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bitlens-subgraph-'));
  calls.source = calls.scale = calls.add = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A subgraph with one input: scale it, then add the scaled values to the input. */
const scaled = (factor: number) => defineSubgraph({ xs: XsSchema }, (g) => g.then('ys', scale({ factor }), 'xs').join('sum', addXY(), { xs: 'xs', ys: 'ys' }));

const ysOf = (tables: readonly Table[]) => tables.flatMap((t) => Array.from(t.getChild('y')?.toArray() as Float64Array));

describe('subgraphs', () => {
  it('instantiates under a prefix, typed, and computes the same as the flat graph', async () => {
    const g = PipelineGraph.create().source('xs', source({ n: 3, batches: 1 })).use('double', scaled(2), { xs: 'xs' });
    expect(g.names).toEqual(['xs', 'double/ys', 'double/sum']);
    const { tables } = await g.run({ collect: ['double/sum'] });
    expectTypeOf(tables['double/sum']).toEqualTypeOf<Table<Ys>[]>();
    expect(ysOf(tables['double/sum'])).toEqual([0, 3, 6]);
    const flat = PipelineGraph.create().source('xs', source({ n: 3, batches: 1 })).then('ys', scale({ factor: 2 }), 'xs').join('sum', addXY(), { xs: 'xs', ys: 'ys' });
    expect(g.keys()['double/sum']).toBe(flat.keys().sum); // node names never enter cache keys
  });

  it('instantiates in a loop over data with `each`; the nodes of every prefix are typed', async () => {
    const runs = [
      { name: 'two', factor: 2 },
      { name: 'three', factor: 3 },
    ] as const;
    const g = PipelineGraph.create()
      .source('xs', source({ n: 2, batches: 1 }))
      .each(runs, (r) => ({ prefix: r.name, subgraph: scaled(r.factor), inputs: { xs: 'xs' } }))
      .join('both', addXY(), { xs: 'xs', ys: 'three/sum' });
    expect(g.names).toEqual(['xs', 'two/ys', 'two/sum', 'three/ys', 'three/sum', 'both']);
    // @ts-expect-error 'four/sum' is not a node
    expect(() => g.then('bad', scale({ factor: 1 }), 'four/sum')).toThrow(/'four\/sum'/);
    const { tables } = await g.run({ collect: ['two/sum', 'both'] });
    expect(ysOf(tables['two/sum'])).toEqual([0, 3]);
    expect(ysOf(tables.both)).toEqual([0, 5]); // x + (x + 3x)
  });

  it('a prefix only known at run time (a sweep cell id) still types the node names by pattern', () => {
    const ids: string[] = ['c0', 'c1'];
    const g = PipelineGraph.create()
      .source('xs', source({ n: 1, batches: 1 }))
      .each(ids, (id) => ({ prefix: id, subgraph: scaled(1), inputs: { xs: 'xs' } }));
    const sum: `${string}/sum` = 'c1/sum';
    expect(g.keys()[sum]).toMatch(/^[0-9a-f]{64}$/);
    // @ts-expect-error a cell's ys has no x column, which scale() needs
    void (() => g.then('bad', scale({ factor: 1 }), 'c0/ys'));
  });

  it('rejects an unbound input and a subgraph that shadows its own input', () => {
    expect(() => PipelineGraph.create().source('xs', source({ n: 1, batches: 1 })).use('p', scaled(1), { xs: 'nope' as 'xs' })).toThrow(/subgraph input/);
    expect(() => defineSubgraph({ xs: XsSchema }, (g) => g.then('xs', scale({ factor: 1 }), 'xs'))).toThrow(/duplicate/);
  });

  it('nodes with the same key are computed once', async () => {
    const g = PipelineGraph.create()
      .source('xs', source({ n: 2, batches: 2 }))
      .each(['a', 'b'] as const, (p) => ({ prefix: p, subgraph: scaled(5), inputs: { xs: 'xs' } }));
    const { tables, stats } = await g.run({ collect: ['a/sum', 'b/sum'] });
    expect(ysOf(tables['a/sum'])).toEqual(ysOf(tables['b/sum']));
    expect(calls.scale).toBe(2); // two batches, once: b's ys is a's
    expect(stats.executed.sort()).toEqual(['a/sum', 'a/ys', 'xs']);
  });
});

describe('run({ collect })', () => {
  const graph = () => PipelineGraph.create().source('xs', source({ n: 4, batches: 3 })).then('ys', scale({ factor: 2 }), 'xs').join('sum', addXY(), { xs: 'xs', ys: 'ys' });

  it('returns intermediate and final tables from one execution of each node', async () => {
    const store = new ArtifactStore({ root: dir });
    const { tables, stats, runId } = await graph().run({ store, collect: ['xs', 'ys', 'sum'] });
    expect(tables.xs).toHaveLength(3);
    expect(tables.ys).toHaveLength(3);
    expect(tables.sum).toHaveLength(3);
    expect(calls).toEqual({ source: 3, scale: 3, add: 1 });
    expect(stats.executed).toEqual(['xs', 'ys', 'sum']);
    expect(runId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
  });

  it('collects the leaves by default and reads stored nodes without running anything upstream', async () => {
    const store = new ArtifactStore({ root: dir });
    await graph().run({ store });
    const before = { ...calls };
    const { tables, stats } = await graph().run({ store, collect: ['ys'] });
    expect(tables.ys).toHaveLength(3);
    expect(calls).toEqual(before);
    expect(stats.cached).toEqual(['ys']);
  });

  it('a consumer subscribing after all expected ones reads the node back from the store', async () => {
    const store = new ArtifactStore({ root: dir });
    const { streams } = graph().streams({ store });
    await lastValueFrom(streams.sum.pipe(toArray()));
    const scaleCalls = calls.scale;
    expect(await lastValueFrom(streams.xs.pipe(toArray()))).toHaveLength(3); // xs had two consumers, both done
    expect(calls.scale).toBe(scaleCalls);
  });
});

describe('describe() and plan()', () => {
  const graph = (factor = 2) => PipelineGraph.create().source('xs', source({ n: 2, batches: 1 })).then('ys', scale({ factor }), 'xs').join('sum', addXY(), { xs: 'xs', ys: 'ys' });

  it('describes every node as data', () => {
    const d = graph().describe();
    expect(d.map((n) => [n.node, n.kind, n.stage, n.version])).toEqual([
      ['xs', 'source', 'test/source', '1'],
      ['ys', 'stage', 'test/scale', '1'],
      ['sum', 'join', 'test/add', '1'],
    ]);
    expect(d[1]?.options).toEqual({ factor: 2 });
    expect(d[2]?.inputs).toEqual({ xs: 'xs', ys: 'ys' });
    expect(d[2]?.key).toBe(graph().keys().sum);
    expect(d[2]?.code).toMatch(/^[0-9a-f]{64}$/);
  });

  it('plans what a run would execute, read or skip, without running anything', async () => {
    const store = new ArtifactStore({ root: dir });
    expect(graph().plan(store).map((n) => n.status)).toEqual(['execute', 'execute', 'execute']);
    await graph().run({ store });
    expect(graph().plan(store).map((n) => n.status)).toEqual(['unused', 'unused', 'stored']);
    expect(graph(3).plan(store).map((n) => n.status)).toEqual(['stored', 'execute', 'execute']);
    expect(calls.scale).toBe(1);
  });
});

describe('lineage', () => {
  it('every artifact names its node, run and input keys, in the manifest and in schema metadata; the run is recorded', async () => {
    const store = new ArtifactStore({ root: dir });
    const g = PipelineGraph.create().source('xs', source({ n: 2, batches: 1 })).use('p', scaled(2), { xs: 'xs' });
    const keys = g.keys();
    const log = store.beginRun({ pipeline: 'test', config: { factor: 2 }, configHash: 'abc' });
    const { tables, runId } = await g.run({ store, log, collect: ['p/sum'] });
    log.finish('ok');
    expect(runId).toBe(log.id);
    const m = store.manifest(keys['p/sum']);
    expect(m).toMatchObject({ node: 'p/sum', runId: log.id, inputs: { xs: keys.xs, ys: keys['p/ys'] } });
    expect(readProvenance(tables['p/sum'][0] as Table)).toMatchObject({ node: 'p/sum', runId: log.id, inputs: JSON.stringify({ xs: keys.xs, ys: keys['p/ys'] }) });
    const record = JSON.parse(readFileSync(join(dir, 'runs', `${log.id}.json`), 'utf8')) as RunRecord;
    expect(record).toMatchObject({ pipeline: 'test', config: { factor: 2 }, configHash: 'abc', status: 'ok' });
    expect(record.nodes).toEqual({
      xs: { key: keys.xs, stage: 'test/source', status: 'executed' },
      'p/ys': { key: keys['p/ys'], stage: 'test/scale', status: 'executed' },
      'p/sum': { key: keys['p/sum'], stage: 'test/add', status: 'executed' },
    });
    expect(typeof record.finishedAt).toBe('string');
    expect(store.runs().map((r) => r.id)).toEqual([log.id]);
  });

  it('a run without a record of its caller records itself, and a failed run says so', async () => {
    const store = new ArtifactStore({ root: dir });
    const broken = defineStage({ name: 'test/broken', version: '1', options: {}, input: XsSchema, output: YsSchema, apply: (s) => s.pipe(map((): Table<Ys> => { throw new Error('boom'); })) });
    const g = PipelineGraph.create().source('xs', source({ n: 1, batches: 1 })).then('bad', broken, 'xs');
    await expect(g.run({ store })).rejects.toThrow('boom');
    const [record] = store.runs();
    expect(record).toMatchObject({ pipeline: 'graph', status: 'failed', error: 'boom' });
    expect(record?.nodes['xs']?.status).toBe('executed');
    expect(readdirSync(join(dir, 'runs'))).toHaveLength(1);
  });
});

describe('reportProgress', () => {
  it('attributes progress to the node whose work is running, not to the node that fed it', async () => {
    const slow = defineStage<Xs, Ys>({
      name: 'test/slow',
      version: '1',
      options: {},
      input: XsSchema,
      output: YsSchema,
      apply: (s) =>
        s.pipe(
          map((t) => {
            for (let b = 1; b <= 3; b++) reportProgress({ done: b, total: 3, label: 'batches' });
            return scaleTable(t);
          }),
        ),
    });
    const events: GraphEvent[] = [];
    const g = PipelineGraph.create().source('xs', source({ n: 2, batches: 2 })).then('slow', slow, 'xs');
    await g.run({ onEvent: (e) => events.push(e) });
    const progress = events.filter((e) => e.type === 'stage-progress');
    expect(progress).toHaveLength(6);
    expect(progress.every((e) => e.type === 'stage-progress' && e.node === 'slow')).toBe(true);
    expect(progress[2]).toMatchObject({ progress: { done: 3, total: 3, label: 'batches' } });
    expect(() => reportProgress({ done: 1, total: 1 })).not.toThrow(); // outside a run: nothing happens
  });
});

function scaleTable(t: Table<Xs>): Table<Ys> {
  return tableFromArrays({ i: t.getChild('i')?.toArray() as Int32Array, y: t.getChild('x')?.toArray() as Float64Array }) as unknown as Table<Ys>;
}
