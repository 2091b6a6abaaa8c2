import { mulberry32 } from '@bitlens/core';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBenchCli } from './cli.js';
import { compareToBaseline } from './compare.js';
import { summarize } from './summarize.js';
import type { BenchSuite, SuiteReport, TaskMeasurement } from './types.js';

// Mulberry32 (from core), so synthetic measurements are the same on every run
const rng = mulberry32;

/**
 * Synthetic measurements of a reference task (10 ms of work) and a task doing `workFactor` x 20 ms of work, over
 * 3 rounds. Each round has a machine-load factor (up to ±30%) common to both tasks, as on a shared machine, and
 * each measurement its own ±3% noise with a 2% rme.
 */
function measure(seed: number, workFactor: number): Pick<SuiteReport, 'tasks'> {
  const r = rng(seed);
  const rounds = (ms: number, loads: number[]) => loads.map((load) => {
    const p50 = ms * load * (1 + (r() - 0.5) * 0.06);
    return { p50, mean: p50 * 1.01, p99: p50 * 1.2, rme: 2, samples: 30 };
  });
  const loads = [0, 1, 2].map(() => 1 + (r() - 0.5) * 0.6);
  const m: TaskMeasurement[] = [
    { name: 'Ref/plain-ts/64', reference: 'Ref/plain-ts/64', meta: {}, rounds: rounds(10, loads) },
    { name: 'Work/plain-ts/64', reference: 'Ref/plain-ts/64', meta: {}, rounds: rounds(20 * workFactor, loads) },
  ];
  return { tasks: summarize(m) };
}

describe('compareToBaseline on synthetic measurements', () => {
  const baseline = measure(1, 1);

  it('records the ratio to the reference task and its spread', () => {
    const work = baseline.tasks.find((t) => t.name === 'Work/plain-ts/64');
    expect(work?.ratio).toBeGreaterThan(1.8);
    expect(work?.ratio).toBeLessThan(2.2);
    expect(work?.spread).toBeGreaterThan(0);
  });

  it.each([2, 3, 4, 5, 6, 7, 8, 9, 10, 11])('does not flag a rerun of the unchanged code (seed %i)', (seed) => {
    const rows = compareToBaseline(baseline, measure(seed, 1));
    expect(rows.find((r) => r.name === 'Work/plain-ts/64')?.status).toBe('ok');
    expect(rows.find((r) => r.name === 'Ref/plain-ts/64')?.status).toBe('reference');
  });

  it.each([2, 3, 4, 5, 6, 7, 8, 9, 10, 11])('flags a planted 2x slowdown (the work done twice), seed %i', (seed) => {
    const row = compareToBaseline(baseline, measure(seed, 2)).find((r) => r.name === 'Work/plain-ts/64');
    expect(row?.status).toBe('regression');
    expect(row?.change).toBeGreaterThan(1.7);
  });

  it('reports a 2x speed-up as an improvement, and new / missing tasks', () => {
    const faster = measure(3, 0.5);
    expect(compareToBaseline(baseline, faster).find((r) => r.name === 'Work/plain-ts/64')?.status).toBe('improvement');
    const renamed = { tasks: faster.tasks.map((t) => (t.name === 'Work/plain-ts/64' ? { ...t, name: 'Other/plain-ts/64' } : t)) };
    const statuses = compareToBaseline(baseline, renamed).map((r) => `${r.name}:${r.status}`).sort();
    expect(statuses).toEqual(['Other/plain-ts/64:new', 'Ref/plain-ts/64:reference', 'Work/plain-ts/64:missing']);
    expect(compareToBaseline(baseline, renamed, { ignoreMissing: true }).map((r) => r.status).sort()).toEqual(['new', 'reference']);
  });
});

describe('summarize', () => {
  it('prefers the paired reference time (timed right before the task) over the reference row', () => {
    const round = (p50: number, refP50?: number) => ({ p50, mean: p50, p99: p50, rme: 1, samples: 10, ...(refP50 === undefined ? {} : { refP50, refRme: 1 }) });
    const [, paired] = summarize([
      { name: 'R', reference: 'R', meta: {}, rounds: [round(10)] },
      { name: 'T', reference: 'R', meta: { macs: 2e6, speedupVs: 'R' }, rounds: [round(30, 15)] },
    ]);
    expect(paired?.ratio).toBe(2);
    expect(paired?.macsPerSec).toBeCloseTo(2e6 / 0.03, 3);
  });
});

describe('runBenchCli (one real quick run; asserts only that it ran)', () => {
  const sum = (n: number): number => { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s; };
  const suite: BenchSuite = {
    name: 'toy',
    tasks: async () => [
      { name: 'Sum/plain-ts/1000', reference: 'Sum/plain-ts/1000', fn: () => sum(1000), meta: { macs: 1000 } },
      { name: 'SumTwice/plain-ts/1000', reference: 'Sum/plain-ts/1000', fn: () => sum(1000) + sum(1000), meta: { macs: 1000, speedupVs: 'Sum/plain-ts/1000' } },
    ],
  };

  it('runs, prints a table, saves a baseline, compares against it and writes results JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bitlens-bench-'));
    const lines: string[] = [];
    const io = { log: (l: string) => lines.push(l), error: (l: string) => lines.push(l) };
    expect(await runBenchCli(['--quick', '--save', 'base.json', '--out', 'res'], { suites: [suite], io, cwd: dir })).toBe(0);
    const saved = JSON.parse(await readFile(join(dir, 'base.json'), 'utf8')) as SuiteReport;
    expect(saved.tasks.map((t) => t.name)).toEqual(['Sum/plain-ts/1000', 'SumTwice/plain-ts/1000']);
    const code = await runBenchCli(['--quick', '--compare', 'base.json', '--filter', 'SumTwice', '--out', 'res'], { suites: [suite], io, cwd: dir });
    expect(code).toBe(0); // without --fail-on-regression timing can never fail this test
    expect(lines.join('\n')).toMatch(/compare with base\.json/);
    const gab = JSON.parse(await readFile(join(dir, 'res', 'toy.gab.json'), 'utf8')) as { name: string; unit: string }[];
    expect(gab.map((g) => g.name)).toContain('toy: SumTwice/plain-ts/1000');
  });

  it('rejects unknown flags with exit code 2', async () => {
    const lines: string[] = [];
    expect(await runBenchCli(['--nope'], { suites: [suite], io: { log: (l) => lines.push(l), error: (l) => lines.push(l) } })).toBe(2);
    expect(lines.join('\n')).toMatch(/'--nope'/);
  });
});
