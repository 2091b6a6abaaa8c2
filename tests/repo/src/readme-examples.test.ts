import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, workspaces } from './workspace.js';

// Every package and pipeline has a README with at least one ```ts example. All examples type-check together against
// the built packages with the repository's compiler options, and the runnable ones run, so that an API change that
// breaks an example fails here. Info string: ```ts -> type-check and run; ```ts no-run -> type-check only (for
// examples that train for minutes or need files the reader has).

interface Example {
  readonly readme: string;
  /** Line of the opening fence in the README (1-based). */
  readonly line: number;
  readonly code: string;
  readonly run: boolean;
  readonly file: string;
}

const OUT = join(ROOT, 'tests/repo/.examples');
const documented = workspaces().filter((w) => /^(packages|pipelines)\//.test(w.dir));

function examplesOf(dir: string): Example[] {
  const readme = `${dir}/README.md`;
  const path = join(ROOT, readme);
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```ts(?:\s+(no-run))?\s*$/.exec(lines[i] ?? '');
    if (open === null) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i] ?? '');
    const name = `${dir.replace(/\//g, '__')}__${out.length + 1}.ts`;
    out.push({ readme, line: start + 1, code: body.join('\n'), run: open[1] === undefined, file: join(OUT, name) });
  }
  return out;
}

const examples = new Map(documented.map((w) => [w.dir, examplesOf(w.dir)]));
const all = [...examples.values()].flat();

beforeAll(() => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'package.json'), '{ "type": "module", "private": true }\n');
  for (const e of all) writeFileSync(e.file, `${e.code}\n`);
});

describe('package READMEs', () => {
  it('exist for every package and pipeline, each with at least one ```ts example', () => {
    expect(documented.length).toBeGreaterThanOrEqual(19);
    const missing = documented.filter((w) => (examples.get(w.dir) ?? []).length === 0).map((w) => `${w.dir}/README.md`);
    expect(missing).toEqual([]);
  });

  it('say that the package is ESM only', () => {
    const silent = documented.filter((w) => !/ESM only/.test(readFileSync(join(ROOT, w.dir, 'README.md'), 'utf8'))).map((w) => w.dir);
    expect(silent).toEqual([]);
  });

  it('have examples that type-check against the built packages (strict, as the repository compiles)', () => {
    const base = ts.readConfigFile(join(ROOT, 'tsconfig.base.json'), (p) => ts.sys.readFile(p)).config as { compilerOptions: object };
    const { options, errors } = ts.convertCompilerOptionsFromJson({ ...base.compilerOptions, noEmit: true, types: ['node'] }, OUT);
    expect(errors).toEqual([]);
    const program = ts.createProgram(all.map((e) => e.file), options);
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const e = all.find((x) => x.file === d.file?.fileName);
      const at = d.file !== undefined && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
      const where = e === undefined ? (d.file?.fileName ?? '?') : `${e.readme}:${e.line + 1 + at}`;
      return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(problems).toEqual([]);
  }, 300_000);
});

const run = promisify(execFile);
describe.each(documented.map((w) => w.dir))('%s/README.md examples', (dir) => {
  const runnable = (examples.get(dir) ?? []).filter((e) => e.run);
  it.skipIf(runnable.length === 0)('run to completion (exit code 0)', async () => {
    for (const e of runnable) {
      const failure = await run(process.execPath, ['--import', 'tsx', e.file], { cwd: ROOT, timeout: 240_000, maxBuffer: 16 << 20 }).then(
        () => undefined,
        (err: { code?: number | string; signal?: string; stderr?: string }) => `${e.readme}:${e.line}: exit ${err.code ?? err.signal ?? '?'}\n${err.stderr ?? ''}`,
      );
      if (failure !== undefined) expect.fail(failure);
    }
  }, 600_000);
});
