import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { runBenchCli } from './cli.js';
import { compareToBaseline } from './compare.js';
import type { BenchSuite, SuiteReport } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'bitlens-bench-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sum = (n: number): number => {
  let s = 0;
  for (let i = 0; i < n; i++) s += i % 7;
  return s;
};
/** Counts calls of the timed functions: a usage error must be found before any of them runs. */
let calls = 0;
const toy: BenchSuite = {
  name: 'toy',
  tasks: async () => [
    { name: 'Sum/plain-ts/1000', reference: 'Sum/plain-ts/1000', fn: () => { calls++; return sum(1000); } },
    { name: 'SumTwice/plain-ts/1000', reference: 'Sum/plain-ts/1000', fn: () => { calls++; return sum(1000) + sum(1000); } },
  ],
};

/** A baseline of the toy suite with chosen ratios (no timing involved). */
function baseline(ratio: number, extra: Partial<SuiteReport> = {}): SuiteReport {
  const task = (name: string, r: number) => ({ name, reference: 'Sum/plain-ts/1000', meta: {}, p50Ms: 1, meanMs: 1, opsPerSec: 1000, p99Ms: 1, rme: 1, samples: 10, ratio: r, spread: 0 });
  return { suite: 'toy', created: '2026-01-01T00:00:00.000Z', quick: true, rounds: 1, machine: { cpu: 'x', cores: 2, node: 'v20', platform: 'linux-x64' }, tasks: [task('Sum/plain-ts/1000', 1), task('SumTwice/plain-ts/1000', ratio)], ...extra };
}
const file = (name: string, content: string): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

async function bench(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runBenchCli(args, { suites: [toy], cwd: dir, io: { log: (l) => out.push(l), error: (l) => err.push(l) } });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeEach(() => {
  calls = 0;
});

describe('bench: every flag and file is checked before anything is measured (exit 2, nothing run)', () => {
  mkdirSync(join(dir, 'a-folder'));
  execFileSync('mkfifo', [join(dir, 'fifo.json')]);
  const good = file('good.json', JSON.stringify(baseline(2)));
  const cases: [string, string[], string[]][] = [
    ['a bad regex', ['--filter', '('], ['--filter', '"("']],
    ['a filter matching nothing', ['--filter', '^Nope'], ['--filter', 'matching none']],
    ['rounds -1', ['--rounds', '-1'], ['--rounds', 'positive integer', '"-1"']],
    ['rounds 0', ['--rounds', '0'], ['--rounds', '"0"']],
    ['rounds abc', ['--rounds', 'abc'], ['--rounds', '"abc"']],
    ['rounds 1.5', ['--rounds', '1.5'], ['--rounds', '"1.5"']],
    ['rounds given twice', ['--rounds', '1', '--rounds', '2'], ['--rounds', 'once']],
    ['tolerance -5', ['--compare', good, '--tolerance', '-5'], ['--tolerance', '"-5"']],
    ['tolerance abc', ['--compare', good, '--tolerance', 'abc', '--fail-on-regression'], ['--tolerance', '"abc"']],
    ['tolerance NaN', ['--compare', good, '--tolerance', 'NaN'], ['--tolerance', '"NaN"']],
    ['tolerance Infinity', ['--compare', good, '--tolerance', 'Infinity'], ['--tolerance']],
    ['tolerance without --compare', ['--tolerance', '0.2'], ['--tolerance', 'no --compare']],
    ['--fail-on-regression without --compare', ['--fail-on-regression'], ['--fail-on-regression', 'no --compare']],
    ['--compare of a missing file', ['--compare', 'missing.json'], ['--compare', 'missing.json']],
    ['--compare of a FIFO', ['--compare', 'fifo.json'], ['--compare', 'FIFO']],
    ['--compare of a folder', ['--compare', 'a-folder'], ['--compare', 'folder']],
    ['--compare of invalid JSON', ['--compare', file('bad.json', '{"suite": ')], ['--compare', 'unparseable JSON', 'bad.json']],
    ['--compare of null', ['--compare', file('null.json', 'null')], ['--compare', 'null.json']],
    ['--compare of an empty array', ['--compare', file('empty.json', '[]')], ['--compare', 'empty.json']],
    ['--compare without tasks', ['--compare', file('notasks.json', JSON.stringify({ ...baseline(2), tasks: undefined }))], ['--compare', 'tasks']],
    ['--compare with a non-numeric ratio', ['--compare', file('ratio.json', JSON.stringify({ ...baseline(2), tasks: [{ ...baseline(2).tasks[1], ratio: 'x' }] }))], ['--compare', 'tasks.0.ratio', '"x"']],
    ['--compare of another suite', ['--compare', file('other.json', JSON.stringify(baseline(2, { suite: 'other' })))], ['--compare', "'toy'", "'other'"]],
    ['--compare sharing no task', ['--compare', file('disjoint.json', JSON.stringify({ ...baseline(2), tasks: [{ ...baseline(2).tasks[1], name: 'Else/x/1' }] }))], ['--compare', 'sharing none']],
    ['--save into a missing folder', ['--save', 'no/such/folder/base.json'], ['--save', 'no folder']],
    ['--save onto a folder', ['--save', 'a-folder'], ['--save', 'folder']],
    ['--save onto a device', ['--save', '/dev/null'], ['--save', 'character device']],
    ['--out under /proc', ['--out', '/proc/results'], ['--out', '/proc/results']],
    ['--suite of a missing path', ['--suite', 'nope.js'], ['--suite', 'nope.js']],
    ['--suite of a folder', ['--suite', 'a-folder'], ['--suite', 'folder']],
    ['--suite of a FIFO', ['--suite', 'fifo.json'], ['--suite', 'FIFO']],
    ['--suite of a non-module', ['--suite', file('text.js', 'this is not javascript(')], ['--suite', 'loadable ES module']],
    ['--suite of a module without suites', ['--suite', file('empty.mjs', 'export const x = 1;')], ['--suite', 'without them']],
    ['an unknown flag', ['--nope'], ['--nope']],
    ['a stray argument', ['kernels'], ['kernels']],
  ];
  it.each(cases)('%s', async (_, args, texts) => {
    const r = await bench(['--quick', '--out', 'res', ...args]);
    expect(r.code).toBe(2);
    for (const t of texts) expect(r.err).toContain(t);
    expect(r.err).not.toMatch(/\n\s+at .+:\d+/);
    expect(calls).toBe(0);
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });
});

describe('bench: the regression gate never passes silently', () => {
  it('a planted regression (the baseline ratio far below any real one) fails with --fail-on-regression, exit 1', async () => {
    const planted = file('planted.json', JSON.stringify(baseline(0.01)));
    // Full-length rounds (not --quick): the ratio's spread is then a few percent, against a planted change of ~100x.
    const gate = await bench(['--rounds', '1', '--out', 'res', '--compare', planted, '--fail-on-regression']);
    expect(gate.code).toBe(1);
    expect(gate.out).toMatch(/1 regression\(s\): toy: SumTwice/);
    expect((await bench(['--rounds', '1', '--out', 'res', '--compare', planted])).code).toBe(0); // reported, not gated
    expect((await bench(['--rounds', '1', '--out', 'res', '--compare', planted, '--tolerance', '10000', '--fail-on-regression'])).code).toBe(0); // an explicit, valid tolerance
  });

  it('--json prints the outcome as one JSON object on stdout', async () => {
    const planted = file('planted2.json', JSON.stringify(baseline(0.01)));
    const r = await bench(['--rounds', '1', '--out', 'res', '--compare', planted, '--json']);
    const outcome = JSON.parse(r.out) as { regressions: string[]; comparisons: { rows: { status: string }[] }[] };
    expect(outcome.regressions).toEqual(['toy: SumTwice/plain-ts/1000']);
  });

  it('a current ratio that is not a number is `unmeasured`, never `ok`', () => {
    const base = baseline(2);
    const cur = { tasks: base.tasks.map((t) => (t.name === t.reference ? t : { ...t, ratio: Number.NaN })) };
    expect(compareToBaseline(base, cur).find((r) => r.name === 'SumTwice/plain-ts/1000')?.status).toBe('unmeasured');
    expect(() => compareToBaseline(base, cur, { minTolerance: Number.NaN })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => compareToBaseline(base, cur, { minTolerance: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('--save writes a baseline with samples, into an existing folder', async () => {
    const r = await bench(['--quick', '--out', 'res', '--save', 'saved.json']);
    expect(r.code).toBe(0);
    const saved = JSON.parse(readFileSync(join(dir, 'saved.json'), 'utf8')) as SuiteReport;
    expect(saved.tasks.every((t) => t.samples > 0 && t.ratio > 0)).toBe(true);
  });
});
