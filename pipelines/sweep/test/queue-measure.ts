// A measured run (not a test): throughput of a sweep through the queue with 1 and 2 worker processes, each pinned to
// one core, and the queue's overhead per cell. Run from pipelines/sweep:
//   node --import tsx test/queue-measure.ts [cells] [p] [epochs]
// Overhead per cell = pickup (enqueued, or the worker's previous cell finished -> started) + on the worker outside the
// cell's own graph (checks, progress, row encoding, completion) + return (finished in Redis -> row at the submitter).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactStore } from '@bitlens/core';
import { type CellTiming, SweepConfig, queueExecutor, resolveSweep, sweepGraph } from '../src/index.js';
import { startTestRedis } from './redis-server.js';

const [nCells = '6', p = '17', epochs = '150'] = process.argv.slice(2);
const redis = await startTestRedis();
const dir = mkdtempSync(join(tmpdir(), 'bitlens-queue-measure-'));
const taskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;

function worker(store: string, core: number): Promise<ChildProcess> {
  const args = ['--import', 'tsx', 'test/queue-worker-child.ts', redis.url, store, '1'];
  const proc = taskset ? spawn('taskset', ['-c', String(core % cpus().length), process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => proc.stdout?.on('data', (d: Buffer) => d.toString().includes('serving queue') && resolve(proc)));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

async function measure(workers: number, seedBase: number) {
  const procs = await Promise.all(Array.from({ length: workers }, (_, i) => worker(join(dir, `w${workers}-${i}`), i)));
  const config = SweepConfig.parse({ axes: { seed: Array.from({ length: Number(nCells) }, (_, i) => seedBase + i) }, fixed: { p: Number(p), epochs: Number(epochs), checkpointEvery: 50, logEvery: 10 }, queue: redis.url });
  const r = resolveSweep(config);
  const store = new ArtifactStore({ root: join(dir, `submitter-${workers}`) });
  const executor = await queueExecutor({ queue: redis.url, store: store.root, backend: 'wasm', provenance: {} });
  const t0 = Date.now();
  await sweepGraph(r, executor).run({ store, collect: ['table'] });
  const wall = Date.now() - t0;
  await executor.close();
  await Promise.all(procs.map((w) => new Promise((res) => { w.once('exit', res); w.kill('SIGTERM'); })));
  const ts = [...executor.timings.values()].sort((a, b) => a.startedAt - b.startedAt);
  const prevEnd = new Map<string, number>();
  const rows = ts.map((t: CellTiming) => {
    const ready = Math.max(t.enqueuedAt, prevEnd.get(t.worker) ?? 0);
    prevEnd.set(t.worker, t.finishedAt);
    const pickup = t.startedAt - ready;
    const onWorker = t.finishedAt - t.startedAt - t.cellMs;
    const back = t.receivedAt - t.finishedAt;
    return { pickup, onWorker, back, overhead: pickup + onWorker + back, cellMs: t.cellMs };
  });
  const cellMs = median(rows.map((x) => x.cellMs));
  const overhead = median(rows.map((x) => x.overhead));
  return {
    workers,
    cells: ts.length,
    wallS: wall / 1000,
    cellsPerHour: (ts.length / wall) * 3_600_000,
    medianCellS: cellMs / 1000,
    medianPickupMs: median(rows.map((x) => x.pickup)),
    medianOnWorkerMs: median(rows.map((x) => x.onWorker)),
    medianBackMs: median(rows.map((x) => x.back)),
    medianOverheadMs: overhead,
    maxOverheadMs: Math.max(...rows.map((x) => x.overhead)),
    overheadFraction: overhead / cellMs,
  };
}

try {
  const load = () => spawnSync('uptime', { encoding: 'utf8' }).stdout.trim();
  console.log(`cells ${nCells}, p ${p}, epochs ${epochs}, taskset ${taskset}; ${load()}`);
  const results = [];
  for (const [i, w] of [1, 2, 1, 2].entries()) {
    const m = await measure(w, 1000 * (i + 1));
    results.push(m);
    console.log(JSON.stringify(m), '|', load());
  }
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
