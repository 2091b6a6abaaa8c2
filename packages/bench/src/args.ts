import { parseArgs } from 'node:util';
import { BitlensError } from '@bitlens/core';

const STAGE = 'bench';

/** The options of `bitlens bench`, one line each. */
export const BENCH_USAGE = `bitlens bench [options]
  --suite <module>       load a suite module (exports \`suite\` or \`suites\`); repeatable
  --filter <regex>       run tasks whose name matches (their reference tasks run too); must match at least one
  --quick                small shapes, one short round (CI: proves it runs)
  --rounds <n>           rounds of the whole suite, a positive integer (default 3, quick 1)
  --compare <file.json>  judge ratios against a baseline; prints a table; fails (exit 1) when nothing was compared
  --fail-on-regression   exit 1 when --compare finds a regression (needs --compare)
  --tolerance <x>        change always treated as noise, relative, a number >= 0 (default 0.10; needs --compare)
  --save <file.json>     write this run as a baseline (into an existing folder)
  --out <dir>            results folder (default ./results): <suite>.json and <suite>.gab.json
  --list                 list task names and exit
  --json                 print the results as one JSON object on stdout; errors as one JSON object on stderr
  --debug                print stack traces of errors
  -h, --help`;

/** Parsed and checked flags of the bench command (files are checked by `prepareBench`). */
export interface BenchArgs {
  readonly suites: readonly string[];
  readonly filter?: RegExp;
  readonly quick: boolean;
  readonly rounds?: number;
  readonly compare?: string;
  readonly failOnRegression: boolean;
  readonly tolerance?: number;
  readonly save?: string;
  readonly out?: string;
  readonly list: boolean;
  readonly json: boolean;
  readonly debug: boolean;
  readonly help: boolean;
}

function bad(field: string, expected: string, found: string, detail?: string): BitlensError {
  return new BitlensError('INVALID_OPTION', { stage: STAGE, field, expected, found }, detail);
}

/** The one value of a flag that may be given once: a repeated flag is an error, not silently the last one. */
function single(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const list = Array.isArray(v) ? (v as string[]) : [String(v)];
  if (list.length > 1) throw bad(`--${name}`, 'the flag once', `${list.length} values: ${list.map((x) => JSON.stringify(x)).join(', ')}`);
  return list[0];
}

function positiveInteger(field: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < 1) throw bad(field, 'a positive integer', JSON.stringify(raw));
  return n;
}

function nonNegative(field: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw bad(field, 'a finite number >= 0 (e.g. 0.1 for 10%)', JSON.stringify(raw));
  return n;
}

function regex(field: string, raw: string): RegExp {
  try {
    return new RegExp(raw);
  } catch (e) {
    throw bad(field, 'a valid regular expression', JSON.stringify(raw), (e as Error).message);
  }
}

function nonEmpty(field: string, raw: string | undefined): string | undefined {
  if (raw !== undefined && raw.trim() === '') throw bad(field, 'a path', 'an empty string');
  return raw;
}

/** `--rounds -1` as `--rounds=-1`, so that a negative value is checked as a value, not refused as an unknown flag. */
function attachNegativeNumbers(argv: readonly string[], flags: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const next = argv[i + 1];
    if (flags.includes(a) && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * Parses the bench flags and checks every value before anything is loaded or measured: unknown flags, stray
 * arguments, repeated flags, a bad regex, rounds that are not a positive integer, a negative or non-numeric tolerance,
 * empty paths, and flags that need `--compare` without it. Throws `INVALID_OPTION` naming the flag and the value.
 */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: attachNegativeNumbers(argv, ['--rounds', '--tolerance']), allowPositionals: false, strict: true,
      options: {
        suite: { type: 'string', multiple: true }, filter: { type: 'string', multiple: true }, quick: { type: 'boolean' },
        rounds: { type: 'string', multiple: true }, compare: { type: 'string', multiple: true }, 'fail-on-regression': { type: 'boolean' },
        tolerance: { type: 'string', multiple: true }, save: { type: 'string', multiple: true }, out: { type: 'string', multiple: true },
        list: { type: 'boolean' }, json: { type: 'boolean' }, debug: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw bad('arguments', 'the flags listed by `bitlens bench --help`', (e as Error).message.replace(/\. To specify.*$/s, ''));
  }
  const suites = (values['suite'] as string[] | undefined) ?? [];
  for (const s of suites) nonEmpty('--suite', s);
  const filter = single(values, 'filter');
  const rounds = single(values, 'rounds');
  const tolerance = single(values, 'tolerance');
  const compare = nonEmpty('--compare', single(values, 'compare'));
  const failOnRegression = values['fail-on-regression'] === true;
  if (compare === undefined && failOnRegression) throw bad('--fail-on-regression', 'together with --compare <baseline.json>', 'no --compare');
  if (compare === undefined && tolerance !== undefined) throw bad('--tolerance', 'together with --compare <baseline.json>', 'no --compare');
  const save = nonEmpty('--save', single(values, 'save'));
  const out = nonEmpty('--out', single(values, 'out'));
  return {
    suites,
    ...(filter === undefined ? {} : { filter: regex('--filter', filter) }),
    quick: values['quick'] === true,
    ...(rounds === undefined ? {} : { rounds: positiveInteger('--rounds', rounds) }),
    ...(compare === undefined ? {} : { compare }),
    failOnRegression,
    ...(tolerance === undefined ? {} : { tolerance: nonNegative('--tolerance', tolerance) }),
    ...(save === undefined ? {} : { save }),
    ...(out === undefined ? {} : { out }),
    list: values['list'] === true,
    json: values['json'] === true,
    debug: values['debug'] === true,
    help: values['help'] === true,
  };
}
