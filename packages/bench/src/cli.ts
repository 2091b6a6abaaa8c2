import { resolve } from 'node:path';
import { BitlensError, toBitlensError } from '@bitlens/core';
import { BENCH_USAGE, type BenchArgs, parseBenchArgs } from './args.js';
import { type CompareRow, compareToBaseline } from './compare.js';
import { type PreparedBench, prepareBench } from './prepare.js';
import { compareRows, formatTable, reportRows, toGithubActionBenchmark, writeJson } from './report.js';
import { runSuite } from './run.js';
import type { BenchSuite, SuiteReport } from './types.js';

/** Where output goes (tests capture it). */
export interface CliIo {
  readonly log: (line: string) => void;
  readonly error: (line: string) => void;
}

/** Options of `runBench` and `runBenchCli`. */
export interface BenchCliOptions {
  /** Suites registered by the caller (e.g. benchmarks/kernels/src/main.ts). `--suite` modules are added to them. */
  readonly suites?: readonly BenchSuite[];
  readonly io?: CliIo;
  /** Working directory for relative paths (default `process.cwd()`). */
  readonly cwd?: string;
}

/** One suite's comparison with its baseline. */
export interface BenchComparison {
  readonly suite: string;
  readonly baseline: string;
  readonly created: string;
  readonly rows: readonly CompareRow[];
}

/** What a measured bench run found (the `--json` output). */
export interface BenchOutcome {
  readonly reports: readonly SuiteReport[];
  readonly comparisons: readonly BenchComparison[];
  /** Tasks slower than their baseline beyond the recorded spread. */
  readonly regressions: readonly string[];
  readonly saved?: string;
}

const consoleIo: CliIo = { log: (l) => console.log(l), error: (l) => console.error(l) };

/** Measures a prepared run: each suite, its results JSON, its comparison; then the `--save` baseline. */
async function measure(prepared: PreparedBench, io: CliIo): Promise<BenchOutcome> {
  const { args } = prepared;
  // Under --json, stdout carries only the final JSON: tables and progress go to stderr.
  const say = args.json ? io.error : io.log;
  const reports: SuiteReport[] = [];
  const comparisons: BenchComparison[] = [];
  for (const { suite, tasks, baseline } of prepared.suites) {
    const report = await runSuite(suite, { quick: args.quick, tasks, ...(args.rounds === undefined ? {} : { rounds: args.rounds }), log: io.error });
    reports.push(report);
    if (!args.json) say(`\n${suite.name} (${report.machine.cpu}, ${report.machine.node}, ${report.rounds} round(s)${args.quick ? ', quick' : ''})\n${formatTable(reportRows(report))}`);
    await writeJson(resolve(prepared.out, `${suite.name}.json`), report);
    await writeJson(resolve(prepared.out, `${suite.name}.gab.json`), toGithubActionBenchmark(report));
    if (baseline === undefined) continue;
    const rows = compareToBaseline(baseline, report, { ignoreMissing: args.filter !== undefined, ...(args.tolerance === undefined ? {} : { minTolerance: args.tolerance }) });
    comparisons.push({ suite: suite.name, baseline: args.compare ?? '', created: baseline.created, rows });
    if (!args.json) say(`\ncompare with ${args.compare ?? ''} (${baseline.created})\n${formatTable(compareRows(rows))}`);
  }
  if (prepared.save !== undefined) {
    await writeJson(prepared.save, reports.length === 1 ? reports[0] : reports);
    say(`saved baseline to ${args.save ?? prepared.save}`);
  }
  const regressions = comparisons.flatMap((c) => c.rows.filter((r) => r.status === 'regression').map((r) => `${c.suite}: ${r.name}`));
  return { reports, comparisons, regressions, ...(prepared.save === undefined ? {} : { saved: prepared.save }) };
}

/** Throws when a comparison judged nothing: every compared task must have been measured. */
function checkCompared(outcome: BenchOutcome): void {
  for (const c of outcome.comparisons) {
    const unmeasured = c.rows.filter((r) => r.status === 'unmeasured').map((r) => r.name);
    const judged = c.rows.filter((r) => r.status === 'ok' || r.status === 'regression' || r.status === 'improvement').length;
    if (unmeasured.length > 0 || judged === 0) {
      throw new BitlensError('INVALID_DATA', { stage: 'bench', field: '--compare', expected: `every task of '${c.suite}' shared with the baseline measured and judged`, found: `${judged} judged, ${unmeasured.length} unmeasured${unmeasured.length > 0 ? ` (${unmeasured.join(', ')})` : ''}` });
    }
  }
}

/**
 * The `bench` command without its error handling (the bitlens CLI adds its own): checks every flag and file first
 * (`parseBenchArgs`, `prepareBench`: `INVALID_OPTION`, nothing measured), then measures, prints a table (or, with
 * `--json`, one JSON object on stdout), writes results JSON (full + github-action-benchmark), compares with
 * `--compare`. Resolves to 0, or 1 when `--fail-on-regression` finds a regression. Throws `INVALID_DATA` when a
 * comparison judged nothing or a shared task was not measured: a gate that measured nothing never passes.
 */
export async function runBench(argv: readonly string[], options: BenchCliOptions = {}): Promise<number> {
  const io = options.io ?? consoleIo;
  const args: BenchArgs = parseBenchArgs(argv);
  if (args.help) {
    io.log(BENCH_USAGE);
    return 0;
  }
  const prepared = await prepareBench(args, { ...(options.suites === undefined ? {} : { suites: options.suites }), cwd: options.cwd ?? process.cwd() });
  for (const w of prepared.warnings) io.error(w);
  if (args.list) {
    const names = prepared.suites.flatMap((s) => s.tasks.filter((t) => args.filter === undefined || args.filter.test(t.name)).map((t) => ({ suite: s.suite.name, task: t.name })));
    if (args.json) io.log(JSON.stringify(names, null, 2));
    else for (const n of names) io.log(`${n.suite}: ${n.task}`);
    return 0;
  }
  const outcome = await measure(prepared, io);
  if (args.json) io.log(JSON.stringify(outcome, null, 2));
  checkCompared(outcome);
  if (outcome.comparisons.length > 0 && !args.json) {
    io.log(outcome.regressions.length === 0 ? 'no regression beyond the recorded spread' : `${outcome.regressions.length} regression(s): ${outcome.regressions.join(', ')}`);
  }
  return outcome.regressions.length > 0 && args.failOnRegression ? 1 : 0;
}

/** Exit status of a bench error: 2 for a usage error (a flag or a file it names), 1 for a failure while running. */
export function benchExitCode(error: BitlensError): number {
  return error.code === 'INVALID_OPTION' || error.code === 'INVALID_CONFIG' ? 2 : 1;
}

/**
 * `runBench` with plain error handling, for stand-alone bench entry points: an error prints one line
 * (`bench: [CODE] …`, its stack only with `--debug` or BITLENS_DEBUG=1) and resolves to its exit status (2 usage, 1
 * failure). Never calls process.exit.
 * @example process.exitCode = await runBenchCli(process.argv.slice(2), { suites: [kernelsSuite] });
 */
export async function runBenchCli(argv: readonly string[], options: BenchCliOptions = {}): Promise<number> {
  const io = options.io ?? consoleIo;
  try {
    return await runBench(argv, options);
  } catch (e) {
    const err = toBitlensError(e, 'bench');
    io.error(`bench: ${err.message}${benchExitCode(err) === 2 ? '\n(bitlens bench --help lists the options)' : ''}`);
    if (argv.includes('--debug') || process.env['BITLENS_DEBUG'] === '1') io.error(String((err.cause instanceof Error ? err.cause : err).stack));
    return benchExitCode(err);
  }
}
