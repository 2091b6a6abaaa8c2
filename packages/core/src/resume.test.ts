import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Table, tableFromArrays } from 'apache-arrow';
import { type Observable, concatMap, lastValueFrom, map, range, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { XsSchema, YsSchema, type Xs, type Ys, source } from '../test/fixtures.js';
import { ArtifactStore, type GraphEvent, PipelineGraph, type Stage, defineStage } from './index.js';

// A resumable "long" stage: after its input completes it emits `steps` tables, table k holding y = k. It can be told to
// fail after a number of tables (an interruption); `resume` keeps every previous table and continues after them.
const emitted: number[] = [];
let failAfter = Number.POSITIVE_INFINITY;

function steps(options: { steps: number }, start = 0): Stage<Xs, Ys> {
  return defineStage<Xs, Ys>({
    name: 'test/steps',
    version: '1',
    options,
    input: XsSchema,
    output: YsSchema,
    apply: (input: Observable<Table<Xs>>) =>
      input.pipe(
        toArray(),
        concatMap(() => range(start, options.steps - start)),
        map((k) => {
          if (k >= failAfter) throw new Error(`interrupted at ${k}`);
          emitted.push(k);
          return tableFromArrays({ i: Int32Array.of(k), y: Float64Array.of(k) }) as unknown as Table<Ys>;
        }),
      ),
    resume: (previous) => ({ keep: previous.length, rest: steps(options, previous.length) }),
  });
}

const graph = () => PipelineGraph.create().source('xs', source({ n: 2, batches: 1 })).then('steps', steps({ steps: 10 }), 'xs');
const ys = (tables: Table[]) => tables.map((t) => Number(t.getChild('y')?.get(0)));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bitlens-resume-'));
  emitted.length = 0;
  failAfter = Number.POSITIVE_INFINITY;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('resumable stages', () => {
  it('a rerun after an interruption replays the kept tables and computes only the rest; the artifact is complete', async () => {
    const store = new ArtifactStore({ root: dir });
    failAfter = 4;
    await expect(lastValueFrom(graph().streams({ store }).streams.steps.pipe(toArray()))).rejects.toThrow(/interrupted at 4/);
    expect(emitted).toEqual([0, 1, 2, 3]);
    expect(store.keys()).toHaveLength(1); // only the source was published; the interrupted node is not an artifact
    failAfter = Number.POSITIVE_INFINITY;
    emitted.length = 0;
    const events: GraphEvent[] = [];
    const second = graph().streams({ store, onEvent: (e) => events.push(e) });
    const out = await lastValueFrom(second.streams.steps.pipe(toArray()));
    expect(ys(out)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(emitted).toEqual([4, 5, 6, 7, 8, 9]); // 0..3 were not recomputed
    expect(second.stats.resumed).toEqual(['steps']);
    expect(events).toContainEqual(expect.objectContaining({ type: 'stage-resumed', node: 'steps', kept: 4 }));
    expect(readdirSync(join(dir, 'tmp')).filter((f) => f.startsWith('partial-'))).toEqual([]); // published and cleaned up
    // A third run reads the complete artifact.
    const third = graph().streams({ store });
    expect(ys(await lastValueFrom(third.streams.steps.pipe(toArray())))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(third.stats.cached).toContain('steps');
  });

  it('a part cut short by the interruption is dropped, and the rerun continues before it', async () => {
    const store = new ArtifactStore({ root: dir });
    failAfter = 5;
    await expect(lastValueFrom(graph().streams({ store }).streams.steps.pipe(toArray()))).rejects.toThrow(/interrupted/);
    const key = graph().keys().steps;
    const partial = join(dir, 'tmp', `partial-${key}`);
    truncateSync(join(partial, 'part-00004.arrow'), 100); // as if killed while writing the fifth table
    expect(store.readPartial(key)).toHaveLength(4);
    failAfter = Number.POSITIVE_INFINITY;
    emitted.length = 0;
    const out = await lastValueFrom(graph().streams({ store }).streams.steps.pipe(toArray()));
    expect(ys(out)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(emitted[0]).toBe(4);
  });

  it('does not touch the partial write of a live process, and takes over one whose writer died', async () => {
    const store = new ArtifactStore({ root: dir });
    failAfter = 3;
    await expect(lastValueFrom(graph().streams({ store }).streams.steps.pipe(toArray()))).rejects.toThrow(/interrupted/);
    const key = graph().keys().steps;
    const lock = join(dir, 'tmp', `partial-${key}.lock`);
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      writeFileSync(lock, String(live.pid));
      expect(store.readPartial(key)).toBeUndefined();
    } finally {
      live.kill();
    }
    await new Promise((r) => live.once('exit', r));
    expect(store.readPartial(key)).toHaveLength(3); // its holder is gone
    failAfter = Number.POSITIVE_INFINITY;
    emitted.length = 0;
    const run = graph().streams({ store });
    expect(ys(await lastValueFrom(run.streams.steps.pipe(toArray())))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(run.stats.resumed).toEqual(['steps']);
    expect(existsSync(lock)).toBe(false);
  });

  it("releaseOwnLocks frees this process's abandoned partial writes for others at once, never another live process's", () => {
    const store = new ArtifactStore({ root: dir });
    const mine = 'a'.repeat(64);
    const theirs = 'b'.repeat(64);
    mkdirSync(join(dir, 'tmp', `partial-${mine}`), { recursive: true });
    mkdirSync(join(dir, 'tmp', `partial-${theirs}`), { recursive: true });
    writeFileSync(join(dir, 'tmp', `partial-${mine}`, 'part-00000.arrow'), 'x');
    writeFileSync(join(dir, 'tmp', `partial-${theirs}`, 'part-00000.arrow'), 'x');
    writeFileSync(join(dir, 'tmp', `partial-${mine}.lock`), String(process.pid)); // a writer of ours whose thread was stopped
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      writeFileSync(join(dir, 'tmp', `partial-${theirs}.lock`), String(live.pid));
      expect(store.hasPartial(mine)).toBe(false);
      expect(store.releaseOwnLocks()).toEqual([mine]);
      expect(store.hasPartial(mine)).toBe(true);
      expect(store.hasPartial(theirs)).toBe(false);
      expect(existsSync(join(dir, 'tmp', `partial-${theirs}.lock`))).toBe(true);
      expect(store.releaseOwnLocks()).toEqual([]);
    } finally {
      live.kill();
    }
  });

  it('a stage without `resume` starts over and leaves no partial write behind', async () => {
    const store = new ArtifactStore({ root: dir });
    const plain = defineStage<Xs, Ys>({ ...steps({ steps: 10 }).spec, resume: undefined });
    const g = () => PipelineGraph.create().source('xs', source({ n: 2, batches: 1 })).then('steps', plain, 'xs');
    failAfter = 4;
    await expect(lastValueFrom(g().streams({ store }).streams.steps.pipe(toArray()))).rejects.toThrow(/interrupted/);
    expect(readdirSync(join(dir, 'tmp')).filter((f) => !f.startsWith('trash-'))).toEqual([]);
    failAfter = Number.POSITIVE_INFINITY;
    emitted.length = 0;
    const run = g().streams({ store });
    expect(ys(await lastValueFrom(run.streams.steps.pipe(toArray())))).toHaveLength(10);
    expect(emitted).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(run.stats.resumed).toEqual([]);
  });

  it("the first write sweeps away the temporary folders of writers that died, not a live writer's or a partial write", async () => {
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.once('exit', r));
    const k = 'a'.repeat(64);
    const tmp = join(dir, 'tmp');
    const names = [`${k}-${dead.pid}-0123456789ab`, `trash-${k}-${dead.pid}-01234567`, `${k}-${process.pid}-0123456789ab`, `partial-${k}`];
    for (const n of names) mkdirSync(join(tmp, n), { recursive: true });
    const store = new ArtifactStore({ root: dir });
    store.beginWrite('b'.repeat(64), 'test/x').abort();
    expect(readdirSync(tmp).sort()).toEqual([`${k}-${process.pid}-0123456789ab`, `partial-${k}`].sort());
  });
});
