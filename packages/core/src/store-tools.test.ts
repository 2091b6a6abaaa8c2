import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { calls, scale, source } from '../test/fixtures.js';
import { ArtifactStore, BitlensError, PipelineGraph, applyGc, planGc, resolveArtifact } from './index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bitlens-store-tools-'));
  calls.source = calls.scale = calls.add = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const graph = (factor: number) => PipelineGraph.create().source('xs', source({ n: 3, batches: 1 })).then('ys', scale({ factor }), 'xs');

async function runs(store: ArtifactStore, factors: readonly number[]): Promise<string[]> {
  const ids: string[] = [];
  for (const f of factors) {
    const log = store.beginRun({ pipeline: 'test', config: { f } });
    await graph(f).run({ store, log, collect: ['ys'] });
    log.finish('ok');
    ids.push(log.id);
    await new Promise((r) => setTimeout(r, 1100)); // run records are ordered by their start second
  }
  return ids;
}

describe('store gc', () => {
  it('keeps what the last N runs use and removes the rest, with the older run records; --dry-run is the plan alone', async () => {
    const store = new ArtifactStore({ root: dir });
    const ids = await runs(store, [2, 3, 4]);
    expect(store.entries()).toHaveLength(4); // xs (shared) and three ys
    const plan = planGc(store, 2);
    expect(plan.keptRuns.map((r) => r.id)).toEqual([ids[1], ids[2]]);
    expect(plan.droppedRuns.map((r) => r.id)).toEqual([ids[0]]);
    expect(plan.remove.map((e) => e.key)).toEqual([graph(2).keys().ys]);
    expect(plan.bytes).toBeGreaterThan(0);
    expect(store.entries()).toHaveLength(4); // planning removed nothing
    applyGc(store, plan);
    expect(store.keys().sort()).toEqual([graph(3).keys().xs, graph(3).keys().ys, graph(4).keys().ys].sort());
    expect(store.runs().map((r) => r.id)).toEqual([ids[1], ids[2]]);
    // What is left is sound: the kept runs read back without executing anything.
    const again = await graph(4).run({ store, collect: ['ys'] });
    expect(again.stats.executed).toEqual([]);
  }, 20_000);

  it("keeps a sweep cell's run with its sweep, and removes temporary folders of writers that are gone", async () => {
    const store = new ArtifactStore({ root: dir });
    const parent = store.beginRun({ pipeline: 'sweep', config: {} });
    const cell = store.beginRun({ pipeline: 'sweep/cell', config: { parentRun: parent.id } });
    await graph(5).run({ store, log: cell, collect: ['ys'] });
    cell.finish('ok');
    parent.finish('ok');
    mkdirSync(join(dir, 'tmp', `${'a'.repeat(64)}-999999999-abcd`), { recursive: true });
    const plan = planGc(store, 1);
    expect(plan.remove).toEqual([]);
    expect(plan.keptRuns.map((r) => r.id).sort()).toEqual([parent.id, cell.id].sort());
    expect(plan.tmp).toEqual([`${'a'.repeat(64)}-999999999-abcd`]);
    applyGc(store, plan);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    expect(planGc(store, 0).remove).toHaveLength(2); // keep nothing: everything goes
  });
});

describe('resolveArtifact', () => {
  it('resolves a node name through the newest run naming it, a key, and a unique key prefix; names what it cannot find', async () => {
    const store = new ArtifactStore({ root: dir });
    await runs(store, [2, 3]);
    const k3 = graph(3).keys().ys;
    expect(resolveArtifact(store, 'ys')).toMatchObject({ key: k3, node: 'ys' });
    expect(resolveArtifact(store, k3).key).toBe(k3);
    expect(resolveArtifact(store, k3.slice(0, 10)).key).toBe(k3);
    const e = (() => {
      try {
        resolveArtifact(store, 'nope');
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(BitlensError);
    expect((e as BitlensError).code).toBe('NOT_FOUND');
    expect((e as BitlensError).message).toContain('"nope"');
    expect(existsSync(store.root)).toBe(true);
  }, 20_000);
});
