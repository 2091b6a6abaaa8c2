import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BitlensError, checkOutputFile, describeFileKind, ensureOutputFolder } from '@bitlens/core';
import type { BenchArgs } from './args.js';
import { readBaseline } from './baseline.js';
import { selectTasks } from './run.js';
import type { BenchSuite, BenchTaskSpec, SuiteReport } from './types.js';

const STAGE = 'bench';

/** A suite with the tasks this run will measure and, with `--compare`, its baseline. */
export interface PreparedSuite {
  readonly suite: BenchSuite;
  /** The selected tasks (filter matches plus the tasks they are compared with). */
  readonly tasks: readonly BenchTaskSpec[];
  readonly baseline?: SuiteReport;
}

/** Everything checked and loaded before the first measurement. */
export interface PreparedBench {
  readonly args: BenchArgs;
  readonly suites: readonly PreparedSuite[];
  /** Absolute results folder (created and checked writable). */
  readonly out: string;
  /** Absolute `--save` path (its folder checked writable). */
  readonly save?: string;
  /** Warnings found while preparing (e.g. a quick baseline for a full run). */
  readonly warnings: readonly string[];
}

function isSuite(v: unknown): v is BenchSuite {
  return typeof v === 'object' && v !== null && typeof (v as BenchSuite).name === 'string' && typeof (v as BenchSuite).tasks === 'function';
}

/** Imports a `--suite` module: a regular file (a FIFO would block the loader) that exports `suite` or `suites`. */
async function loadSuites(path: string, cwd: string): Promise<BenchSuite[]> {
  const abs = resolve(cwd, path);
  const bad = (expected: string, found: string, detail?: string, cause?: unknown): BitlensError =>
    new BitlensError('INVALID_OPTION', { stage: STAGE, field: '--suite', expected, found: `${found}: ${JSON.stringify(path)}` }, detail, cause === undefined ? undefined : { cause });
  let kind: string;
  try {
    const st = statSync(abs);
    kind = st.isFile() ? 'file' : describeFileKind(st);
  } catch (e) {
    throw bad('a suite module (a .js file)', 'nothing at this path', undefined, e);
  }
  if (kind !== 'file') throw bad('a suite module (a .js file)', kind);
  let mod: { suite?: unknown; suites?: unknown };
  try {
    mod = (await import(pathToFileURL(abs).href)) as { suite?: unknown; suites?: unknown };
  } catch (e) {
    throw bad('a loadable ES module', 'a file that does not load as one', (e as Error).message.split('\n')[0], e);
  }
  const found = [mod.suite, ...(Array.isArray(mod.suites) ? (mod.suites as unknown[]) : [])].filter(isSuite);
  if (found.length === 0) throw bad('a module exporting `suite` or `suites` (objects with name and tasks())', 'a module without them');
  return found;
}

function checkBaseline(suite: BenchSuite, tasks: readonly BenchTaskSpec[], reports: readonly SuiteReport[], file: string): SuiteReport {
  const base = reports.find((r) => r.suite === suite.name);
  if (base === undefined) {
    throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: '--compare', expected: `a baseline of suite '${suite.name}'`, found: `${JSON.stringify(file)} holding suite(s) ${reports.map((r) => `'${r.suite}'`).join(', ')}` });
  }
  const known = new Set(base.tasks.filter((t) => t.ratio > 0).map((t) => t.name));
  if (!tasks.some((t) => t.name !== t.reference && known.has(t.name))) {
    throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: '--compare', expected: `a baseline sharing at least one measured task with this run of '${suite.name}'`, found: `${JSON.stringify(file)} sharing none (this run: ${tasks.map((t) => t.name).slice(0, 6).join(', ')})` });
  }
  return base;
}

/**
 * Loads and checks everything a bench run needs before measuring anything: the `--suite` modules, each suite's tasks,
 * that `--filter` selects at least one task, the `--compare` baseline (readable, well shaped, holding this suite and
 * sharing tasks with the run), that `--save` can be written and that the `--out` folder exists or can be created.
 * Throws `INVALID_OPTION` naming the flag and what was found; errors of a suite's own `tasks()` pass through.
 */
export async function prepareBench(args: BenchArgs, options: { readonly suites?: readonly BenchSuite[]; readonly cwd: string }): Promise<PreparedBench> {
  const all = [...(options.suites ?? [])];
  for (const path of args.suites) all.push(...(await loadSuites(path, options.cwd)));
  if (all.length === 0) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: '--suite', expected: 'at least one suite', found: 'none' });
  const warnings: string[] = [];
  const reports = args.compare === undefined ? undefined : readBaseline(args.compare, options.cwd);
  const save = args.save === undefined ? undefined : resolve(options.cwd, args.save);
  if (save !== undefined) checkOutputFile(save, { stage: STAGE, field: '--save' });
  const built: { suite: BenchSuite; tasks: BenchTaskSpec[]; matched: number }[] = [];
  for (const suite of all) {
    const tasks = selectTasks(await suite.tasks({ quick: args.quick }), args.filter);
    const matched = args.filter === undefined ? tasks.length : tasks.filter((t) => args.filter?.test(t.name) === true).length;
    built.push({ suite, tasks, matched });
  }
  if (built.every((b) => b.matched === 0)) {
    throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: '--filter', expected: 'a pattern matching at least one task (see --list)', found: `${String(args.filter ?? '(none)')}, matching none` });
  }
  const suites: PreparedSuite[] = [];
  for (const b of built.filter((x) => x.matched > 0)) {
    if (reports === undefined || args.compare === undefined) {
      suites.push({ suite: b.suite, tasks: b.tasks });
      continue;
    }
    const baseline = checkBaseline(b.suite, b.tasks, reports, args.compare);
    if (baseline.quick !== args.quick) warnings.push(`[bench] warning: baseline quick=${baseline.quick} but this run quick=${args.quick}; ratios may not be comparable`);
    suites.push({ suite: b.suite, tasks: b.tasks, baseline });
  }
  const out = resolve(options.cwd, args.out ?? 'results');
  if (!args.list) ensureOutputFolder(out, { stage: STAGE, field: '--out' });
  return { args, suites, out, ...(save === undefined ? {} : { save }), warnings };
}
