import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
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
  const clean = await lastValueFrom(graph().streams({ store }).streams.sum.pipe(toArray()));
  const part = join(store.pathOf(graph().keys().sum), 'part-00001.arrow');
  damage(part);
  calls.add = 0;
  const events: GraphEvent[] = [];
  const { streams, stats } = graph().streams({ store, onEvent: (e) => events.push(e) });
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
    await lastValueFrom(graph().streams({ store, provenance: { configHash: 'feed', seed: 3, backend: 'cpu', gitRevision: 'r1' } }).streams.ys.pipe(toArray()));
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

describe('ArtifactStore: the manifest is verified against the folder', () => {
  async function editedRun(edit: (dir: string, manifest: Record<string, unknown>) => Record<string, unknown> | undefined) {
    const store = new ArtifactStore({ root: dir });
    const clean = await lastValueFrom(graph().streams({ store }).streams.sum.pipe(toArray()));
    const folder = store.pathOf(graph().keys().sum);
    const path = join(folder, 'manifest.json');
    const edited = edit(folder, JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>);
    if (edited !== undefined) writeFileSync(path, JSON.stringify(edited));
    const events: GraphEvent[] = [];
    const { streams, stats } = graph().streams({ store, onEvent: (e) => events.push(e) });
    const again = await lastValueFrom(streams.sum.pipe(toArray()));
    const reason = events.find((e) => e.type === 'artifact-corrupt');
    return { clean, again, stats, reason: reason?.type === 'artifact-corrupt' ? reason.reason : undefined };
  }

  it('a manifest rewritten with "parts": [] is corrupt: reported, removed and recomputed, never an empty result', async () => {
    const { clean, again, stats, reason } = await editedRun((_d, m) => ({ ...m, parts: [] }));
    expect(reason).toMatch(/edited/);
    expect(stats.recomputedCorrupt).toEqual(['sum']);
    expect(again).toHaveLength(clean.length);
  });

  it('a manifest with one entry removed and its digest recomputed is still caught by the folder check', async () => {
    const { createHash } = await import('node:crypto');
    const { canonicalJson } = await import('./hash.js');
    const { clean, again, reason } = await editedRun((_d, m) => {
      const rest: Record<string, unknown> = { ...m, parts: (m['parts'] as unknown[]).slice(1) };
      delete rest['digest'];
      return { ...rest, digest: createHash('sha256').update(canonicalJson(rest)).digest('hex') };
    });
    expect(reason).toMatch(/unlisted: part-00000\.arrow/);
    expect(again).toHaveLength(clean.length);
  });

  it('an unlisted extra part in the folder makes the artifact corrupt', async () => {
    const { again, clean, reason } = await editedRun((folder) => {
      writeFileSync(join(folder, 'part-00009.arrow'), 'extra');
      return undefined;
    });
    expect(reason).toMatch(/unlisted: part-00009\.arrow/);
    expect(again).toHaveLength(clean.length);
  });

  it('a removed part is reported as missing', async () => {
    const { reason } = await editedRun((folder) => {
      rmSync(join(folder, 'part-00001.arrow'));
      return undefined;
    });
    expect(reason).toMatch(/missing part part-00001\.arrow/);
  });
});

describe('ArtifactStore: a folder that cannot hold a store is a typed error, at once', () => {
  const unavailable = (root: string) => {
    try {
      new ArtifactStore({ root }).check();
    } catch (e) {
      return e;
    }
    return undefined;
  };

  it('a regular file, a path through a regular file, /dev/null, a dangling link and /proc', () => {
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    const link = join(dir, 'dangling');
    symlinkSync(join(dir, 'nowhere'), link);
    for (const [root, found] of [
      [file, /regular file/],
      [join(file, 'store'), /regular file/],
      ['/dev/null', /special file/],
      [join(link, 'store'), /dangling symbolic link/],
      ['/proc/bitlens-x/store', /ENOENT|EACCES|EPERM|refused/],
    ] as const) {
      const e = unavailable(root);
      expect(e, root).toBeInstanceOf(BitlensError);
      expect((e as BitlensError).code).toBe('STORE_UNAVAILABLE');
      expect((e as BitlensError).message).toMatch(found);
    }
  });

  it('an ordinary folder passes the check and leaves nothing behind but the tmp folder', () => {
    const root = join(dir, 'a', 'b', 'store');
    new ArtifactStore({ root }).check();
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });
});
