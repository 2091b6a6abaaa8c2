import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inProcess } from '../test/in-process.js';

const bin = fileURLToPath(new URL('../bin/bitlens.js', import.meta.url));
const exec = promisify(execFile);

/** Runs the real `bitlens` bin (built dist) in a child process. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], { env: { ...process.env, BITLENS_HOME: '' } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bitlens-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('bitlens run with a bad config', () => {
  const cases: [string, string[], string][] = [
    ['an unknown key', ['--set', 'nope=1'], "'nope': unknown key"],
    ['a wrong type', ['--set', 'n="many"'], "'n': Invalid input: expected number"],
    ['an out-of-range value', ['--set', 'power=99'], "'power': Too big"],
  ];
  it.each(cases)('%s exits non-zero, names the key and writes nothing to the store', async (_, sets, message) => {
    const store = join(dir, 'store');
    const r = await cli(['run', 'hello', '--store', store, ...sets]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('INVALID_CONFIG');
    expect(r.stderr).toContain(message);
    expect(existsSync(store)).toBe(false);
  });

  it('a config file with an unknown key is rejected the same way', async () => {
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ n: 10, colour: 'red' }));
    const r = await inProcess(['run', 'hello', '--config', file, '--store', join(dir, 's')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("'colour': unknown key");
    expect(existsSync(join(dir, 's'))).toBe(false);
  });

  it('a YAML config file is read like a JSON one; a duplicate key is refused', async () => {
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'n: 10\ncolour: red\n');
    const r = await inProcess(['run', 'hello', '--config', file, '--store', join(dir, 's')]);
    expect([r.code, r.err]).toEqual([2, expect.stringContaining("'colour': unknown key") as unknown]);
    writeFileSync(file, 'n: 10\nn: 11\n');
    const dup = await inProcess(['run', 'hello', '--config', file, '--store', join(dir, 's')]);
    expect([dup.code, dup.err]).toEqual([2, expect.stringContaining('unparseable YAML') as unknown]);
    expect(existsSync(join(dir, 's'))).toBe(false);
  });

  it('--workers and --queue are the sweep options: checked, and unknown keys of a pipeline without them', async () => {
    expect((await inProcess(['run', 'sweep', '--workers', 'many'])).err).toContain('--workers');
    const hello = await inProcess(['run', 'hello', '--workers', '2', '--store', join(dir, 's')]);
    expect([hello.code, hello.err]).toEqual([2, expect.stringContaining("'workers': unknown key") as unknown]);
    const q = await inProcess(['run', 'sweep', '--queue', 'http://x:1', '--store', join(dir, 's')]);
    expect([q.code, q.err]).toEqual([2, expect.stringContaining('redis://') as unknown]);
  });

  it('an unknown pipeline and an unknown flag are usage errors', async () => {
    expect((await inProcess(['run', 'nosuch'])).err).toContain('one of precision-comparison, sweep, analyze, hello');
    expect((await inProcess(['run', 'hello', '--frobnicate'])).code).toBe(2);
  });
});

describe('bitlens store and bitlens worker', () => {
  it('store ls reads the store a run wrote; bad store arguments are usage errors (exit 2)', async () => {
    const store = join(dir, 'store');
    expect((await inProcess(['run', 'hello', '--store', store])).code).toBe(0);
    const ls = await inProcess(['store', 'ls', '--store', store]);
    expect(ls.code).toBe(0);
    expect(ls.out).toMatch(/artifacts/);
    expect(ls.out).toContain('hello');
    const bad = await inProcess(['store', 'frobnicate', '--store', store]);
    expect(bad.code).toBe(2);
  });

  it('worker refuses a missing or malformed --queue and a bad --concurrency before connecting (exit 2)', async () => {
    const none = await inProcess(['worker']);
    expect([none.code, none.err]).toEqual([2, expect.stringContaining('--queue') as unknown]);
    const http = await inProcess(['worker', '--queue', 'http://localhost:6379']);
    expect([http.code, http.err]).toEqual([2, expect.stringContaining('redis://') as unknown]);
    const conc = await inProcess(['worker', '--queue', 'redis://127.0.0.1:1', '--concurrency', '0']);
    expect([conc.code, conc.err]).toEqual([2, expect.stringContaining('--concurrency') as unknown]);
  });

  it('help lists store and worker, and prints their usage', async () => {
    const h = await inProcess(['--help']);
    expect(h.out).toContain('bitlens store');
    expect(h.out).toContain('bitlens worker');
    expect((await inProcess(['help', 'worker'])).out).toContain('--concurrency');
    expect((await inProcess(['help', 'store'])).out).toContain('export');
  });
});

describe('bitlens run hello', () => {
  it('runs, then a second run executes no stage and prints the same result; --set recomputes only what depends on it', async () => {
    const store = join(dir, 'store');
    const first = await cli(['run', 'hello', '--store', store, '--json']);
    expect(first.code).toBe(0);
    const a = JSON.parse(first.stdout) as { rows: number; total: number; executed: number; cached: number };
    expect(a).toMatchObject({ rows: 1000, executed: 4, cached: 0 });
    // Under --json, stderr carries JSON lines: every event, progress included.
    const events = first.stderr.trim().split('\n').map((l) => JSON.parse(l) as { event: string; node: string; progress?: { done: number; total: number } });
    expect(events.find((e) => e.event === 'stage-progress' && e.node === 'numbers' && e.progress?.done === 4)?.progress?.total).toBe(4);
    const plain = await cli(['run', 'hello', '--store', join(dir, 'plain')]);
    expect(plain.stderr).toContain('[numbers] 4/4 batches'); // plain progress lines when not a TTY

    const second = await cli(['run', 'hello', '--store', store, '--json']);
    const b = JSON.parse(second.stdout) as typeof a;
    expect(b.executed).toBe(0);
    expect(b.cached).toBeGreaterThan(0);
    expect(b.total).toBe(a.total);

    const changed = await cli(['run', 'hello', '--store', store, '--set', 'power=3']);
    expect(changed.code).toBe(0);
    expect(changed.stdout).toContain('stages executed: 2 [combined, powered]');
    expect(changed.stdout).toContain('read from store: 2 [numbers, shifted]');
  }, 240_000);
});

describe('bitlens list and help', () => {
  it('lists pipelines with their options and defaults', async () => {
    const r = await inProcess(['list', '--json']);
    const list = JSON.parse(r.out) as { pipelines: { name: string; options: { key: string; default?: unknown }[] }[] };
    const hello = list.pipelines.find((p) => p.name === 'hello');
    expect(hello?.options.find((o) => o.key === 'n')?.default).toBe(1000);
    expect((await inProcess(['list'])).out).toMatch(/power\s+integer \[1\.\.8\]\s+default 2/);
  });

  it('--help prints usage and exits 0', async () => {
    const r = await inProcess(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('bitlens run <pipeline>');
  });
});

describe('bitlens run --dry-run', () => {
  it('prints the plan (node, stage, version, key, inputs, status), runs and writes nothing; follows the store', async () => {
    const store = join(dir, 'dry');
    const before = await inProcess(['run', 'hello', '--dry-run', '--store', store]);
    expect(before.code).toBe(0);
    expect(before.out).toMatch(/^hello: 4 nodes; 0 in store, 4 would execute/);
    expect(before.out).toMatch(/node\s+stage\s+version\s+key\s+inputs\s+status/);
    expect(before.out).toMatch(/combined\s+hello\/combine\s+1\s+[0-9a-f]{12}\s+powered=powered, shifted=shifted\s+would execute/);
    expect(existsSync(store)).toBe(false);
    expect((await inProcess(['run', 'hello', '--store', store])).code).toBe(0);
    const after = JSON.parse((await inProcess(['run', 'hello', '--dry-run', '--json', '--store', store])).out) as { dryRun: boolean; nodes: { node: string; status: string; key: string }[] };
    expect(after.dryRun).toBe(true);
    // The leaf is stored, so nothing upstream of it is needed.
    expect(Object.fromEntries(after.nodes.map((n) => [n.node, n.status]))).toEqual({ numbers: 'unused', powered: 'unused', shifted: 'unused', combined: 'stored' });
    const changed = JSON.parse((await inProcess(['run', 'hello', '--dry-run', '--json', '--set', 'power=3', '--store', store])).out) as typeof after;
    expect(Object.fromEntries(changed.nodes.map((n) => [n.node, n.status]))).toEqual({ numbers: 'stored', powered: 'execute', shifted: 'stored', combined: 'execute' });
  });

  it('checks the config first: a bad value under --dry-run exits 2', async () => {
    expect((await inProcess(['run', 'hello', '--dry-run', '--set', 'power=99'])).code).toBe(2);
  });
});
