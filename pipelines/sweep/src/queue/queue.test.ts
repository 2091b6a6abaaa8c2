import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactStore, type BitlensError, hashJson } from '@bitlens/core';
import { initTfjsBackend } from '@bitlens/engine';
import { createQuantizerRegistry } from '@bitlens/quantization';
import type { Table } from 'apache-arrow';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasRedisServer, startTestRedis, type TestRedis } from '../../test/redis-server.js';
import { cellJobData } from './protocol.js';
import { type CellExecutor, type ResolvedSweep, type SweepStats, SweepConfig, cellGraph, queueExecutor, queueName, resolveSweep, sweepGraph, sweepPipeline } from '../index.js';

// The sweep through a real Redis (Debian's redis-server, started here on a free loopback port without persistence)
// and real `bitlens worker` processes. Small cells (p = 11, tens of epochs): the machinery is under test, not the
// science. Every wait is bounded and says what it waited for.
const inCi = process.env['CI'] === 'true';
const available = hasRedisServer();
if (!available && !inCi) process.stdout.write('queue tests skipped: no redis-server on PATH (apt-get install redis-server, or run bash .ci/setup --test)\n');

const pkg = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'bitlens-queue-'));
const cells4 = { axes: { quantizer: ['fp32', 'binary-scaled'], seed: [0, 1] }, fixed: { p: 11, epochs: 40, checkpointEvery: 10, logEvery: 10 } };

let redis: TestRedis;
const children: { proc: ChildProcess; output: string[] }[] = [];

function startWorker(store: string): { proc: ChildProcess; output: string[] } {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/queue-worker-child.ts', redis.url, store, '1'], { cwd: pkg, stdio: ['ignore', 'pipe', 'pipe'] });
  const child = { proc, output: [] as string[] };
  const keep = (d: Buffer): void => {
    child.output.push(d.toString());
    if (child.output.length > 200) child.output.shift();
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  children.push(child);
  return child;
}

async function stopWorker(child: { proc: ChildProcess }, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return child.proc.exitCode;
  const exited = new Promise<number | null>((r) => child.proc.once('exit', (code) => r(code)));
  child.proc.kill(signal);
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), 60_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

/** Waits (bounded) until `ok()` holds; fails naming what it waited for and the workers' last lines. */
async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 240_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms / 1000} s waiting for ${what}; workers said:\n${children.map((c) => c.output.join('').slice(-1500)).join('\n---\n')}`);
}

async function runSweep(store: string, raw: Record<string, unknown>) {
  const config = SweepConfig.parse({ out: join(dir, `${hashJson({ store, raw }).slice(0, 8)}.html`), ...raw });
  const lines: string[] = [];
  const s = new ArtifactStore({ root: store });
  const result = await sweepPipeline.run(config, { store: s, configHash: hashJson(config), onEvent: () => undefined, log: (l) => lines.push(l) });
  const r = resolveSweep(config);
  const none: CellExecutor = { run: () => { throw new Error('unused'); }, stats: new Map(), close: () => Promise.resolve() };
  const table = s.read(sweepGraph(r, none).keys().table)?.[0];
  if (table === undefined) throw new Error('no merged table in the store');
  return { table, stats: (result.summary as { stats: SweepStats }).stats, lines };
}

/** Every column but where the artifacts are, as plain values, row by row. */
function cellValues(t: Table): unknown[] {
  const cols = t.schema.fields.map((f) => f.name).filter((n) => !n.startsWith('worker_'));
  return Array.from({ length: t.numRows }, (_, i) => Object.fromEntries(cols.map((c) => [c, JSON.stringify(t.getChild(c)?.get(i), (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))])));
}
const column = (t: Table, c: string): unknown[] => Array.from({ length: t.numRows }, (_, i) => t.getChild(c)?.get(i));

/** Trainings of each cell recorded in workers' stores (run records of `sweep/cell` whose train node ran). */
function trainings(stores: readonly string[]): Map<string, number> {
  const n = new Map<string, number>();
  for (const root of stores) {
    for (const rec of new ArtifactStore({ root }).runs()) {
      if (rec.pipeline !== 'sweep/cell') continue;
      for (const [node, x] of Object.entries(rec.nodes)) {
        if (node.endsWith('/train') && (x.status === 'executed' || x.status === 'resumed')) n.set(node, (n.get(node) ?? 0) + 1);
      }
    }
  }
  return n;
}

describe.runIf(available || inCi)('sweep cells on a BullMQ queue in Redis, run by bitlens worker processes', () => {
  const w1 = join(dir, 'worker-1');
  const w2 = join(dir, 'worker-2');
  let local: Table;

  beforeAll(async () => {
    redis = await startTestRedis();
    startWorker(w1);
    startWorker(w2);
    local = (await runSweep(join(dir, 'local'), { ...cells4, workers: 0 })).table;
  }, 300_000);

  afterAll(async () => {
    await Promise.all(children.map((c) => stopWorker(c, 'SIGKILL')));
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('two worker processes: the merged table equals the local sweep cell by cell, and names each cell\'s worker and store', async () => {
    const r = await runSweep(join(dir, 'submitter-1'), { ...cells4, queue: redis.url });
    expect(r.stats).toMatchObject({ cells: 4, executed: 4 });
    expect(cellValues(r.table)).toEqual(cellValues(local));
    expect(new Set(column(r.table, 'worker_store')).size).toBeGreaterThanOrEqual(1);
    for (const s of column(r.table, 'worker_store')) expect([resolve(w1), resolve(w2)]).toContain(s);
    // The local sweep records this machine and its own store.
    expect(column(local, 'worker_store')).toEqual(Array(4).fill(resolve(join(dir, 'local'))));
    expect(r.lines.some((l) => /^queue: 4 cells — 0 waiting, 0 running, 4 done, 0 failed/.test(l))).toBe(true);
  }, 300_000);

  it('a cell already in the submitter\'s store is not enqueued; a duplicate submission trains no cell twice', async () => {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const q = new Queue(queueName('wasm'), { connection, prefix: 'bitlens' });
    try {
      const before = await q.getJobCountByTypes('completed', 'waiting', 'active', 'delayed', 'failed');
      const again = await runSweep(join(dir, 'submitter-1'), { ...cells4, queue: redis.url });
      expect(again.stats).toMatchObject({ executed: 0, fromStore: 4 });
      expect(await q.getJobCountByTypes('completed', 'waiting', 'active', 'delayed', 'failed')).toBe(before);
      // Two submitters at once, each with its own store, for two new cells: one job per cell, one training each.
      const two = { ...cells4, axes: { seed: [2, 3] } };
      const [a, b] = await Promise.all([runSweep(join(dir, 'submitter-2'), { ...two, queue: redis.url }), runSweep(join(dir, 'submitter-3'), { ...two, queue: redis.url })]);
      expect(cellValues(a.table)).toEqual(cellValues(b.table));
      expect(await q.getJobCountByTypes('completed', 'waiting', 'active', 'delayed', 'failed')).toBe(before + 2);
      // A later submission from a fresh store gets the finished jobs' rows back: nothing trains.
      await runSweep(join(dir, 'submitter-4'), { ...two, queue: redis.url });
      const counts = trainings([w1, w2]);
      expect([...counts.values()]).toEqual(Array(6).fill(1));
      expect(counts.size).toBe(6);
    } finally {
      await q.close();
      await connection.quit();
    }
  }, 300_000);

  it('a bad cell fails once with its message (not retried), the other cells complete, and the sweep fails naming it', async () => {
    const r = resolveSweep(SweepConfig.parse({ ...cells4, axes: { seed: [0, 4] }, queue: redis.url }));
    const [good, bad] = r.cells;
    if (good === undefined || bad === undefined) throw new Error('two cells expected');
    // A cell that no submitter of this version would send (p = 12 is not prime): what another version might enqueue.
    const tampered: ResolvedSweep = { ...r, cells: [good, { ...bad, settings: { ...bad.settings, p: 12 } }] };
    const store = new ArtifactStore({ root: join(dir, 'submitter-bad') });
    const executor = await queueExecutor({ queue: redis.url, store: store.root, backend: 'wasm', provenance: {} });
    let error: BitlensError | undefined;
    try {
      await sweepGraph(tampered, executor).run({ store, collect: ['table'] });
    } catch (e) {
      error = e as BitlensError;
    } finally {
      await executor.close();
    }
    expect(error?.message).toMatch(/1 of 2 cell\(s\) failed/);
    expect(error?.message).toContain(bad.id);
    expect(error?.message).toMatch(/expected a prime/);
    expect(error?.message).toMatch(/after 1 attempt\(s\)/);
    expect(error?.code).toBe('INVALID_CONFIG');
    const keys = sweepGraph(tampered, executor).keys();
    expect(store.has(keys[`${good.id}/cell`] ?? '')).toBe(true);
    expect(store.has(keys[`${bad.id}/cell`] ?? '')).toBe(false);
  }, 300_000);

  it('a job whose key the worker does not compute (other code) is failed at once, naming the mismatch', async () => {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const q = new Queue(queueName('wasm'), { connection, prefix: 'bitlens' });
    try {
      const cell = resolveSweep(SweepConfig.parse(cells4)).cells[0];
      if (cell === undefined) throw new Error('a cell expected');
      const foreign = 'f'.repeat(64);
      await q.add('cell', cellJobData(foreign, cell, 'wasm', {}, undefined, { host: 'elsewhere', store: '/x' }), { jobId: foreign, attempts: 3 });
      await until('the foreign job to fail', async () => (await q.getJobState(foreign)) === 'failed');
      const job = await q.getJob(foreign);
      expect(job?.failedReason).toMatch(/\[INVALID_DATA\].*runs other code than the submitter/);
      expect(job?.attemptsMade).toBe(1);
    } finally {
      await q.close();
      await connection.quit();
    }
  });

  describe('workers sharing one store', () => {
    const shared = join(dir, 'shared');
    beforeAll(async () => {
      await Promise.all(children.splice(0).map((c) => stopWorker(c)));
      startWorker(shared);
      startWorker(shared);
    });

    /** A one-cell sweep on the queue, and the worker process training it once its training has a checkpoint. */
    async function trainingOnQueue(seed: number) {
      const one = { fixed: { p: 11, seed, epochs: 120, checkpointEvery: 20, logEvery: 20 } };
      const cell = resolveSweep(SweepConfig.parse(one)).cells[0];
      if (cell === undefined) throw new Error('one cell expected');
      const { tf } = await initTfjsBackend('wasm');
      const trainKey = cellGraph(cell, tf, createQuantizerRegistry()).keys()[`${cell.id}/train`];
      const lock = join(shared, 'tmp', `partial-${trainKey}.lock`);
      const sweep = runSweep(join(dir, `submitter-seed-${seed}`), { ...one, queue: redis.url });
      // Parts of a training alternate metrics and checkpoints: four parts hold at least one checkpoint.
      await until('a checkpoint of the training in the shared store', () => existsSync(join(shared, 'tmp', `partial-${trainKey}`, 'part-00003.arrow')) && existsSync(lock));
      const pid = Number(readFileSync(lock, 'utf8'));
      const holder = children.find((c) => c.proc.pid === pid);
      if (holder === undefined) throw new Error(`the training's lock names pid ${pid}, not one of the workers`);
      children.splice(children.indexOf(holder), 1);
      return { one, sweep, holder };
    }

    it('SIGKILL of the worker training a cell: the other one continues it from its checkpoint; the table is the same', async () => {
      const { one, sweep, holder } = await trainingOnQueue(7);
      await stopWorker(holder, 'SIGKILL');
      const queued = await sweep;
      expect(queued.stats).toMatchObject({ cells: 1, executed: 1, resumed: 1 });
      const clean = await runSweep(join(dir, 'clean-kill'), { ...one, workers: 0 });
      expect(cellValues(queued.table)).toEqual(cellValues(clean.table));
      expect(queued.lines.some((l) => l.includes('lost its worker'))).toBe(true);
      startWorker(shared);
    }, 300_000);

    it('Redis restarted mid-sweep (its jobs lost): workers and submitter reconnect, lost jobs are enqueued again, the sweep completes with the same table', async () => {
      await redis.restart(); // start from an empty queue: the four cells must run again, on the shared store
      const r = resolveSweep(SweepConfig.parse(cells4));
      const { tf } = await initTfjsBackend('wasm');
      const rowKeys = r.cells.map((c) => cellGraph(c, tf, createQuantizerRegistry()).keys()[`${c.id}/row`]);
      const s = new ArtifactStore({ root: shared });
      const sweep = runSweep(join(dir, 'submitter-restart'), { ...cells4, queue: redis.url });
      await until('a first cell finished on the shared store', () => rowKeys.some((k) => k !== undefined && s.has(k)));
      await redis.restart();
      const done = await sweep;
      expect(done.stats).toMatchObject({ cells: 4, executed: 4 });
      expect(cellValues(done.table)).toEqual(cellValues(local));
      expect(done.lines.some((l) => l.includes('reconnected to Redis'))).toBe(true);
    }, 300_000);

    it('SIGTERM: the worker finishes its running cell, takes no other, and exits 0', async () => {
      const { sweep, holder } = await trainingOnQueue(8);
      holder.proc.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => holder.proc.once('exit', (c) => r(c)));
      expect(code).toBe(0);
      const done = await sweep;
      expect(done.stats).toMatchObject({ cells: 1, executed: 1, resumed: 0 });
      expect(holder.output.join('')).toMatch(/cell all done in .* \(trained\)[\s\S]*closed after \d+ cell/);
      startWorker(shared);
    }, 300_000);

    it('a second SIGTERM hands the running cell back at once: another worker continues it from its checkpoint', async () => {
      const { sweep, holder } = await trainingOnQueue(9);
      holder.proc.kill('SIGTERM');
      await until('the worker to say it finishes its cell', () => holder.output.join('').includes('finishing 1 running cell'));
      holder.proc.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => holder.proc.once('exit', (c) => r(c)));
      expect(code).toBe(0);
      expect(holder.output.join('')).toContain('handed back to the queue');
      const done = await sweep;
      expect(done.stats).toMatchObject({ cells: 1, executed: 1, resumed: 1 });
    }, 300_000);

    it('idle workers stop on SIGTERM with exit code 0', async () => {
      const codes = await Promise.all(children.splice(0).map((c) => stopWorker(c, 'SIGTERM')));
      expect(codes).toEqual(codes.map(() => 0));
    });
  });
});
