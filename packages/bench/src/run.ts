import { cpus } from 'node:os';
import { Bench } from 'tinybench';
import { BitlensError } from '@bitlens/core';
import { summarize } from './summarize.js';
import type { BenchSuite, BenchTaskSpec, RoundStats, SuiteReport, TaskMeasurement } from './types.js';

/** How long and how often to measure. */
export interface RunOptions {
  readonly quick?: boolean;
  /** Keeps tasks whose name matches (plus the reference tasks they need). */
  readonly filter?: RegExp;
  /** Rounds of the whole suite; ratios are taken within a round. Default 3 (1 when quick). */
  readonly rounds?: number;
  /** Time budget per task (and again for its paired reference) per round, ms. Default 400 (50 when quick). */
  readonly time?: number;
  /** Warm-up budget per task, ms. Default 100 (0 when quick: one untimed call still compiles shaders). */
  readonly warmupTime?: number;
  /** Runs each task's `verify` before timing (default: when quick, as CI does: proves results agree with the reference). */
  readonly verify?: boolean;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
  /** The suite's tasks when the caller already built them (e.g. to check a filter before measuring). */
  readonly tasks?: readonly BenchTaskSpec[];
}

function checkCount(field: string, v: number | undefined, min: number): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min)) {
    throw new BitlensError('INVALID_OPTION', { stage: 'bench/run', field, expected: `an integer >= ${min}`, found: String(v) });
  }
}

/** Keeps the tasks matching `filter` and every task they are compared with (ratio reference, speedup baseline). */
export function selectTasks(tasks: readonly BenchTaskSpec[], filter: RegExp | undefined): BenchTaskSpec[] {
  if (filter === undefined) return [...tasks];
  const keep = new Set(tasks.filter((t) => filter.test(t.name)).map((t) => t.name));
  for (const t of tasks) {
    if (!keep.has(t.name)) continue;
    keep.add(t.reference);
    if (t.meta?.speedupVs !== undefined) keep.add(t.meta.speedupVs);
  }
  return tasks.filter((t) => keep.has(t.name));
}

function machine(): SuiteReport['machine'] {
  const c = cpus();
  return { cpu: c[0]?.model.trim() ?? 'unknown', cores: c.length, node: process.version, platform: `${process.platform}-${process.arch}` };
}

/**
 * Runs a suite with tinybench: each task gets one untimed call first (shader compilation, JIT tier-up, backend
 * switch), then, in every round, tinybench's warm-up and timed iterations of its reference task immediately
 * followed by its own, so each ratio compares two measurements taken back to back under the same load.
 * @throws BitlensError INVALID_OPTION when rounds, time or warm-up are not counts, or a task names a reference that is not
 * in the suite; INTERNAL when a task throws or a task ends a round with no sample.
 */
export async function runSuite(suite: BenchSuite, options: RunOptions = {}): Promise<SuiteReport> {
  const quick = options.quick ?? false;
  const rounds = options.rounds ?? (quick ? 1 : 3);
  checkCount('rounds', rounds, 1);
  checkCount('time', options.time, 1);
  checkCount('warmupTime', options.warmupTime, 0);
  const all = options.tasks ?? (await suite.tasks({ quick }));
  const tasks = selectTasks(all, options.filter);
  const names = new Set(all.map((t) => t.name));
  for (const t of tasks) {
    if (!names.has(t.reference)) {
      throw new BitlensError('INVALID_OPTION', { stage: 'bench/run', field: `${t.name}.reference`, expected: 'a task of the same suite', found: t.reference });
    }
  }
  const perTask = new Map<string, RoundStats[]>(tasks.map((t) => [t.name, []]));
  const verify = options.verify ?? quick;
  for (const t of tasks) {
    await t.beforeAll?.();
    await t.fn(); // compile / tier up once, outside any timing
    if (verify && t.verify !== undefined) await t.verify();
  }
  if (verify) options.log?.(`[bench] ${suite.name}: ${tasks.filter((t) => t.verify !== undefined).length} task results agree with the reference`);
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const time = options.time ?? (quick ? 50 : 400), warmupTime = options.warmupTime ?? (quick ? 0 : 100);
  const stats = (bench: Bench, name: string): RoundStats => {
    const res = bench.getTask(name)?.result;
    if (res === undefined || !('latency' in res)) {
      throw new BitlensError('INTERNAL', { stage: 'bench/run', field: name, expected: 'a completed task', found: res === undefined ? 'no result' : res.state },
        res !== undefined && 'error' in res ? String(res.error) : undefined);
    }
    if (!(res.latency.samplesCount > 0) || !(res.latency.p50 > 0)) {
      throw new BitlensError('INTERNAL', { stage: 'bench/run', field: name, expected: 'at least one timed sample', found: `${res.latency.samplesCount} samples` });
    }
    return { p50: res.latency.p50, mean: res.latency.mean, p99: res.latency.p99, rme: res.latency.rme, samples: res.latency.samplesCount };
  };
  for (let r = 0; r < rounds; r++) {
    options.log?.(`[bench] ${suite.name}: round ${r + 1}/${rounds}, ${tasks.length} tasks`);
    for (const t of tasks) {
      // each task is timed right after its reference (a pair), so the ratio compares two measurements taken
      // seconds apart under the same load, not a minute apart
      const ref = t.name === t.reference ? undefined : byName.get(t.reference);
      const bench = new Bench({ name: suite.name, time, warmupTime, iterations: quick ? 2 : 5, warmupIterations: quick ? 1 : 2, throws: true });
      for (const x of ref === undefined ? [t] : [ref, t]) {
        bench.add(x.name, async () => { await x.fn(); }, { beforeAll: async () => { await x.beforeAll?.(); } });
      }
      await bench.run();
      const own = stats(bench, t.name);
      if (ref === undefined) { perTask.get(t.name)?.push(own); continue; }
      const paired = stats(bench, ref.name);
      perTask.get(t.name)?.push({ ...own, refP50: paired.p50, refRme: paired.rme });
    }
  }
  const measurements: TaskMeasurement[] = tasks.map((t) => ({ name: t.name, reference: t.reference, meta: t.meta ?? {}, rounds: perTask.get(t.name) ?? [] }));
  await suite.dispose?.();
  return { suite: suite.name, created: new Date().toISOString(), quick, rounds, machine: machine(), tasks: summarize(measurements) };
}
