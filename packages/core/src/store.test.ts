import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tableFromArrays } from 'apache-arrow';
import { lastValueFrom, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addXY, calls, scale, source } from '../test/fixtures.js';
import { ArtifactStore, BitlensError, type GraphEvent, PipelineGraph, sha256 } from './index.js';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const child = (args: string[]) => spawn(process.execPath, ['--import', 'tsx', 'test/store-child.ts', ...args], { cwd: pkg, stdio: ['ignore', 'pipe', 'pipe'] });
const exec = promisify(execFile);
const KEY = 'a'.repeat(64);

function graph() {
  return PipelineGraph.create()
    .source('xs', source({ n: 4, batches: 2 }))
    .then('ys', scale({ factor: 2 }), 'xs')
    .join('sum', addXY(), { xs: 'xs', ys: 'ys' });
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bitlens-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function damagedRun(damage: (file: string) => void) {
  const store = new ArtifactStore({ root: dir });
  const clean = await lastValueFrom(graph().run({ store }).streams.sum.pipe(toArray()));
  const part = join(store.pathOf(graph().keys().sum), 'part-00001.arrow');
  damage(part);
  calls.add = 0;
  const events: GraphEvent[] = [];
  const { streams, stats } = graph().run({ store, onEvent: (e) => events.push(e) });
  const again = await lastValueFrom(streams.sum.pipe(toArray()));
  return { store, clean, again, stats, events };
}

describe('ArtifactStore', () => {
  it('round-trips tables and verifies them on read', () => {
    const store = new ArtifactStore({ root: dir });
    const w = store.beginWrite(KEY, 'test/x');
    w.append(tableFromArrays({ v: Float64Array.from([1, 2, 3]) }));
    expect(store.has(KEY)).toBe(false); // not visible before commit
    w.commit();
    const got = store.read(KEY);
    expect(got?.map((t) => Array.from(t.getChild('v')?.toArray() as Float64Array))).toEqual([[1, 2, 3]]);
    const m = store.manifest(KEY);
    expect(m?.parts[0]?.sha256).toBe(sha256(readFileSync(join(store.pathOf(KEY), 'part-00000.arrow'))));
    expect(store.keys()).toEqual([KEY]);
  });

  it('rejects a malformed key', () => {
    expect(() => new ArtifactStore({ root: dir }).pathOf('../etc')).toThrow(BitlensError);
  });

  it('the default folder is $BITLENS_HOME/store, else .bitlens/store in the current directory', async () => {
    const { defaultStoreRoot } = await import('./store.js');
    expect(defaultStoreRoot({ BITLENS_HOME: '/x/y' }, '/w')).toBe('/x/y/store');
    expect(defaultStoreRoot({}, '/w')).toBe('/w/.bitlens/store');
  });

  it('detects a truncated artifact, reports it and recomputes it', async () => {
    const { store, clean, again, stats, events } = await damagedRun((f) => truncateSync(f, 100));
    expect(stats.recomputedCorrupt).toEqual(['sum']);
    expect(stats.executed).toContain('sum');
    expect(calls.add).toBe(1);
    expect(events.find((e) => e.type === 'artifact-corrupt')).toMatchObject({ node: 'sum', reason: expect.stringContaining('truncated') });
    expect(again.map((t) => t.numRows)).toEqual(clean.map((t) => t.numRows));
    expect(store.read(graph().keys().sum)).toHaveLength(2); // the recomputed artifact is sound
  });

  it('detects a bit-flipped artifact, reports it and recomputes it', async () => {
    const { again, clean, stats, events } = await damagedRun((f) => {
      const b = readFileSync(f);
      b[Math.floor(b.length / 2)] = (b[Math.floor(b.length / 2)] ?? 0) ^ 0x10;
      writeFileSync(f, b);
    });
    expect(stats.recomputedCorrupt).toEqual(['sum']);
    expect(events.find((e) => e.type === 'artifact-corrupt')).toMatchObject({ reason: expect.stringContaining('checksum') });
    expect(Array.from(again[1]?.getChild('y')?.toArray() as Float64Array)).toEqual(Array.from(clean[1]?.getChild('y')?.toArray() as Float64Array));
  });

  it('a writer killed mid-write leaves no artifact under the final key', async () => {
    const proc: ChildProcess = child(['hang-mid-write', dir, KEY]);
    await new Promise<void>((resolve, reject) => {
      proc.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      proc.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    proc.kill('SIGKILL');
    await new Promise((r) => proc.on('exit', r));
    const store = new ArtifactStore({ root: dir });
    expect(store.has(KEY)).toBe(false);
    expect(store.read(KEY)).toBeUndefined();
    expect(readdirSync(join(dir, 'tmp')).length).toBe(1); // the half-written temp folder, never under the key
  });

  it('two processes writing the same key at once never leave a corrupt artifact', async () => {
    const run = () => exec(process.execPath, ['--import', 'tsx', 'test/store-child.ts', 'race', dir, KEY, '25'], { cwd: pkg });
    const results = await Promise.allSettled([run(), run()]);
    for (const r of results) expect(r.status).toBe('fulfilled'); // exit code 0: no corrupt read in either process
    const store = new ArtifactStore({ root: dir });
    const got = store.read(KEY, ({ reason }) => {
      throw new Error(reason);
    });
    // The last operation of either process is a commit, so a sound artifact must be there.
    expect(got?.map((t) => t.numRows)).toEqual([20_000, 20_000]);
  });

  it('provenance written by bitlens is read back from the IPC file by a fresh process', async () => {
    const store = new ArtifactStore({ root: dir });
    await lastValueFrom(graph().run({ store, provenance: { configHash: 'feed', seed: 3, backend: 'cpu', gitRevision: 'r1' } }).streams.ys.pipe(toArray()));
    const key = graph().keys().ys;
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', 'test/store-child.ts', 'read-provenance', dir, key], { cwd: pkg });
    const meta = JSON.parse(stdout) as Record<string, string>;
    expect(meta).toMatchObject({
      'bitlens.stage': 'test/scale',
      'bitlens.stage_version': '1',
      'bitlens.options': '{"factor":2}',
      'bitlens.key': key,
      'bitlens.config_hash': 'feed',
      'bitlens.seed': '3',
      'bitlens.backend': 'cpu',
      'bitlens.git_revision': 'r1',
    });
    expect(meta['bitlens.package_version']).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
