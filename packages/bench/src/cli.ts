import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BitlensError } from '@bitlens/core';
import { compareToBaseline } from './compare.js';
import { compareRows, formatTable, reportRows, toGithubActionBenchmark, writeJson } from './report.js';
import { runSuite } from './run.js';
import type { BenchSuite, SuiteReport } from './types.js';

const USAGE = `bitlens bench [options]
  --suite <module>       load a suite module (exports \`suite\` or \`suites\`); repeatable
  --filter <regex>       run tasks whose name matches (their reference tasks run too)
  --quick                small shapes, one short round (CI: proves it runs)
  --rounds <n>           rounds of the whole suite (default 3, quick 1)
  --compare <file.json>  judge ratios against a baseline; prints a table
  --fail-on-regression   exit 1 when --compare finds a regression
  --save <file.json>     write this run as a baseline
  --out <dir>            results folder (default ./results): <suite>.json and <suite>.gab.json
  --tolerance <x>        change always treated as noise, relative (default 0.10)
  --list                 list task names and exit
  -h, --help`;

/** Where output goes (tests capture it). */
export interface CliIo {
  readonly log: (line: string) => void;
  readonly error: (line: string) => void;
}

/** Options of `runBenchCli`. */
export interface BenchCliOptions {
  /** Suites registered by the caller (e.g. benchmarks/kernels/src/main.ts). `--suite` modules are added to them. */
  readonly suites?: readonly BenchSuite[];
  readonly io?: CliIo;
  /** Working directory for relative paths (default `process.cwd()`). */
  readonly cwd?: string;
}

function isSuite(v: unknown): v is BenchSuite {
  return typeof v === 'object' && v !== null && typeof (v as BenchSuite).name === 'string' && typeof (v as BenchSuite).tasks === 'function';
}

async function loadSuites(path: string, cwd: string): Promise<BenchSuite[]> {
  const mod = (await import(pathToFileURL(resolve(cwd, path)).href)) as { suite?: unknown; suites?: unknown };
  const found = [mod.suite, ...(Array.isArray(mod.suites) ? mod.suites : [])].filter(isSuite);
  if (found.length === 0) throw new BitlensError('INVALID_OPTION', { stage: 'bench/cli', field: '--suite', expected: 'a module exporting `suite` or `suites`', found: path });
  return found;
}

/**
 * The `bench` command: runs suites, prints a table, writes results JSON (full + github-action-benchmark), and with
 * `--compare` judges each task's ratio against a baseline. Resolves to the exit code (0, or 1 on a regression with
 * `--fail-on-regression`, 2 on a usage error); never calls process.exit.
 * @example process.exitCode = await runBenchCli(process.argv.slice(2), { suites: [kernelsSuite] });
 */
export async function runBenchCli(argv: readonly string[], options: BenchCliOptions = {}): Promise<number> {
  const io = options.io ?? { log: (l: string) => console.log(l), error: (l: string) => console.error(l) };
  const cwd = options.cwd ?? process.cwd();
  let args;
  try {
    args = parseArgs({
      args: [...argv], allowPositionals: false,
      options: {
        suite: { type: 'string', multiple: true }, filter: { type: 'string' }, quick: { type: 'boolean' }, rounds: { type: 'string' },
        compare: { type: 'string' }, 'fail-on-regression': { type: 'boolean' }, save: { type: 'string' }, out: { type: 'string' },
        tolerance: { type: 'string' }, list: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    io.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help === true) { io.log(USAGE); return 0; }
  const suites = [...(options.suites ?? [])];
  for (const path of args.suite ?? []) suites.push(...(await loadSuites(path, cwd)));
  if (suites.length === 0) { io.error(`no suite given\n${USAGE}`); return 2; }
  const filter = args.filter === undefined ? undefined : new RegExp(args.filter);
  const quick = args.quick === true;
  if (args.list === true) {
    for (const s of suites) for (const t of await s.tasks({ quick })) if (filter === undefined || filter.test(t.name)) io.log(`${s.name}: ${t.name}`);
    return 0;
  }
  const baseline = args.compare === undefined ? undefined : (JSON.parse(await readFile(resolve(cwd, args.compare), 'utf8')) as SuiteReport | SuiteReport[]);
  const out = resolve(cwd, args.out ?? 'results');
  const reports: SuiteReport[] = [];
  let regressions = 0;
  for (const suite of suites) {
    const report = await runSuite(suite, { quick, ...(filter === undefined ? {} : { filter }), ...(args.rounds === undefined ? {} : { rounds: Number(args.rounds) }), log: io.log });
    reports.push(report);
    io.log(`\n${suite.name} (${report.machine.cpu}, ${report.machine.node}, ${report.rounds} round(s)${quick ? ', quick' : ''})\n${formatTable(reportRows(report))}`);
    await writeJson(resolve(out, `${suite.name}.json`), report);
    await writeJson(resolve(out, `${suite.name}.gab.json`), toGithubActionBenchmark(report));
    if (baseline !== undefined) {
      const base = Array.isArray(baseline) ? baseline.find((b) => b.suite === suite.name) : baseline.suite === suite.name ? baseline : undefined;
      if (base === undefined) { io.error(`[bench] no baseline for suite '${suite.name}' in ${args.compare ?? ''}`); continue; }
      if (base.quick !== quick) io.error(`[bench] warning: baseline quick=${base.quick} but this run quick=${quick}; ratios may not be comparable`);
      const rows = compareToBaseline(base, report, { ignoreMissing: filter !== undefined, ...(args.tolerance === undefined ? {} : { minTolerance: Number(args.tolerance) }) });
      const bad = rows.filter((r) => r.status === 'regression');
      regressions += bad.length;
      io.log(`\ncompare with ${args.compare ?? ''} (${base.created})\n${formatTable(compareRows(rows))}`);
      io.log(bad.length === 0 ? 'no regression beyond the recorded spread' : `${bad.length} regression(s): ${bad.map((r) => r.name).join(', ')}`);
    }
  }
  if (args.save !== undefined) {
    await writeJson(resolve(cwd, args.save), reports.length === 1 ? reports[0] : reports);
    io.log(`saved baseline to ${args.save}`);
  }
  return regressions > 0 && args['fail-on-regression'] === true ? 1 : 0;
}
