import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GRID_MAX_P } from '@bitlens/circuits';
import { BitlensError } from '@bitlens/core';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT, exitCodeOf } from './exit-codes.js';
import { inProcess } from '../test/in-process.js';

const bin = fileURLToPath(new URL('../bin/bitlens.js', import.meta.url));
const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'bitlens-cli-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs main() in-process, capturing output (with extra environment variables). */
const run = (args: string[], env: NodeJS.ProcessEnv = {}) => inProcess(args, env);

/** Runs the real bin in a child process (optionally as the unprivileged user nobody, when this runs as root). */
async function bitlens(args: string[], options: { env?: NodeJS.ProcessEnv; asNobody?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const nobody = options.asNobody === true && process.getuid?.() === 0;
  const [cmd, ...pre] = nobody ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath] : [process.execPath];
  try {
    const { stdout, stderr } = await exec(cmd ?? '', [...pre, bin, ...args], { env: { ...process.env, BITLENS_HOME: '', BITLENS_DEBUG: '', ...options.env }, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

const STACK = /\n\s+at .+:\d+:\d+/;

describe('the exit-code table', () => {
  it('maps errors by phase and code: usage 2, run failure 1, environment faults 1 even when found up front', () => {
    const e = (code: ConstructorParameters<typeof BitlensError>[0]) => new BitlensError(code, { stage: 't' });
    expect(exitCodeOf(e('INVALID_CONFIG'), 'run')).toBe(EXIT.usage);
    expect(exitCodeOf(e('INVALID_OPTION'), 'run')).toBe(EXIT.usage);
    expect(exitCodeOf(e('NOT_FOUND'), 'usage')).toBe(EXIT.usage);
    expect(exitCodeOf(e('SHAPE_MISMATCH'), 'run')).toBe(EXIT.failure);
    expect(exitCodeOf(e('INTERNAL'), 'run')).toBe(EXIT.failure);
    expect(exitCodeOf(e('BACKEND_UNAVAILABLE'), 'usage')).toBe(EXIT.failure);
    expect(exitCodeOf(new BitlensError('STORE_UNAVAILABLE' as 'INTERNAL', { stage: 't' }), 'usage')).toBe(EXIT.failure);
  });

  // Each row: arguments, exit status, text the message must contain (the key and the value found).
  const rows: [string, string[], number, string[]][] = [
    ['no command', [], 2, ['command']],
    ['an unknown command', ['frobnicate'], 2, ['"frobnicate"']],
    ['an unknown flag', ['run', 'hello', '--frobnicate'], 2, ['--frobnicate']],
    ['an unknown pipeline', ['run', 'nosuch'], 2, ['"nosuch"', 'precision-comparison, sweep, analyze, hello']],
    ['a stray positional', ['run', 'hello', 'n=5'], 2, ['"n=5"', 'did you mean --set n=5']],
    ['an empty --store', ['run', 'hello', '--store', ''], 2, ['--store', 'empty']],
    ['a repeated --store', ['run', 'hello', '--store', 'a', '--store', 'b'], 2, ['--store', '"a", "b"']],
    ['a key set twice', ['run', 'hello', '--set', 'n=5', '--set', 'n=6'], 2, ['"n"']],
    ['an unknown key', ['run', 'hello', '--set', 'nope=1'], 2, ["'nope': unknown key"]],
    ['a wrong type', ['run', 'hello', '--set', 'n="many"'], 2, ["'n'", 'found "many"']],
    ['an out-of-range value', ['run', 'hello', '--set', 'power=99'], 2, ["'power'", 'found 99']],
    ['p above the bound', ['run', 'precision-comparison', '--set', 'p=46337', '--set', 'epochs=1'], 2, ["'p'", `<= ${GRID_MAX_P}`, 'found 46337']],
    ['a non-prime p', ['run', 'precision-comparison', '--set', 'p=221'], 2, ["'p'", 'prime', 'found 221']],
    ['an empty train split', ['run', 'precision-comparison', '--set', 'p=3', '--set', 'trainFraction=0.05'], 2, ["'trainFraction'", '0 train', 'found 0.05']],
    ['an empty train split of analyze', ['run', 'analyze', '--set', 'weights=w', '--set', 'p=3', '--set', 'split={"fraction":0.05}'], 2, ["'split.fraction'", '0 train', 'found 0.05']],
    ['an unknown backend', ['run', 'precision-comparison', '--backend', 'tpu'], 2, ["'backend'", 'found "tpu"']],
    ['an unknown backend of analyze', ['run', 'analyze', '--set', 'weights=w', '--set', 'p=113', '--set', 'backend=gpu'], 2, ["'backend'", 'found "gpu"']],
    ['an unknown task', ['run', 'precision-comparison', '--set', 'task=pow'], 2, ["'task'", 'found "pow"']],
    ['an unknown quantizer', ['run', 'precision-comparison', '--set', 'quantizers.binary=ternary-absmean'], 2, ["'quantizers.binary'", 'found "ternary-absmean"']],
    ['an unknown preset', ['run', 'precision-comparison', '--set', 'preset=huge'], 2, ["'preset'", 'found "huge"']],
    ['an output path under /proc', ['run', 'precision-comparison', '--set', 'out=/proc/x.html'], 2, ["'out'", '/proc/x.html']],
    ['an output path that is a device', ['run', 'precision-comparison', '--set', 'out=/dev/null'], 2, ["'out'", 'character device']],
    ['an output path in a missing folder', ['run', 'precision-comparison', '--set', 'out=/nonexistent/r.html'], 2, ["'out'", 'no folder']],
    ['a sweep report path under /proc', ['run', 'sweep', '--set', 'out=/proc/x.html'], 2, ["'out'", '/proc/x.html']],
    ['missing weights', ['run', 'analyze', '--set', 'weights=/nonexistent.safetensors', '--set', 'p=113'], 2, ["'weights'", '/nonexistent.safetensors']],
    ['weights that are a device', ['run', 'analyze', '--set', 'weights=/dev/zero', '--set', 'p=113'], 2, ["'weights'", 'character device']],
    ['a required option left out', ['run', 'analyze', '--set', 'p=113'], 2, ["'weights': required"]],
    ['help of an unknown command', ['help', 'nope'], 2, ['"nope"']],
  ];
  it.each(rows)('%s: the exit status of the table, the key and the value named, nothing written', async (_, args, code, texts) => {
    const store = join(dir, `store-${args.join('_').replace(/[^a-z0-9]/gi, '')}`.slice(0, 120));
    const r = await run([...args, ...(args[0] === 'run' && !args.includes('--store') ? ['--store', store] : [])]);
    expect(r.code).toBe(code);
    for (const t of texts) expect(r.err).toContain(t);
    expect(r.err).not.toMatch(STACK);
    expect(existsSync(store)).toBe(false);
  });

  it('the same errors as one JSON object on stderr under --json', async () => {
    for (const [, args, code] of rows.filter(([, a]) => a[0] === 'run')) {
      const r = await run([...args, '--json']);
      const lines = r.err.trim().split('\n');
      expect(lines).toHaveLength(1);
      const parsed = JSON.parse(lines[0] ?? '') as { error: { code: string; message: string; stage: string; exitCode: number } };
      expect(parsed.error.exitCode).toBe(code);
      expect(parsed.error.code).toMatch(/^[A-Z_]+$/);
      expect(r.out).toBe('');
    }
  });

  it('a run failure exits 1: weights that do not fit p (found when the stage runs)', async () => {
    const { exportTransformerLens, initParams, modelConfig } = await import('@bitlens/model');
    const { readSafetensors, writeSafetensors } = await import('@bitlens/safetensors');
    const cfg = modelConfig('li', 11);
    const w = join(dir, 'li11.safetensors');
    // A file without a model config (tensors only): its p is not known before the stage reads its tensors.
    writeFileSync(w, writeSafetensors(readSafetensors(exportTransformerLens(cfg, initParams(cfg, 1))).tensors));
    const r = await run(['run', 'analyze', '--set', `weights=${w}`, '--set', 'p=13', '--set', 'preset=li', '--store', join(dir, 'fail-store')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('SHAPE_MISMATCH');
    expect(r.err).toContain('embed.W_E');
  });
});

describe('stack traces only when asked for', () => {
  it('an internal error prints one line and a hint; --debug and BITLENS_DEBUG=1 add the stack', async () => {
    const plain = await bitlens(['run', 'hello', '--store', '/dev/null']);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('/dev/null');
    expect(plain.stderr).not.toMatch(STACK);
    const debug = await bitlens(['run', 'hello', '--store', '/dev/null', '--debug']);
    expect(debug.stderr).toMatch(STACK);
    const env = await bitlens(['run', 'hello', '--store', '/dev/null'], { env: { BITLENS_DEBUG: '1' } });
    expect(env.stderr).toMatch(STACK);
    const json = await bitlens(['run', 'hello', '--store', '/dev/null', '--json', '--debug']);
    const last = JSON.parse(json.stderr.trim().split('\n').pop() ?? '') as { error: { stack?: string; exitCode: number } };
    expect(last.error.exitCode).toBe(1);
    expect(last.error.stack).toMatch(/at /);
  }, 240_000);
});

describe('environment faults of the store: exit 1, the path named, no stack trace', () => {
  it('BITLENS_HOME is a regular file', async () => {
    const f = join(dir, 'home-file');
    writeFileSync(f, 'x');
    const r = await bitlens(['run', 'hello'], { env: { BITLENS_HOME: f } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(f);
    expect(r.stderr).not.toMatch(STACK);
  });

  it('BITLENS_HOME is a dangling symbolic link', async () => {
    const link = join(dir, 'home-link');
    symlinkSync(join(dir, 'nowhere', 'deeper'), link);
    const r = await bitlens(['run', 'hello'], { env: { BITLENS_HOME: link } });
    // A dangling link to a creatable place may simply be created; either it works or it fails clearly.
    expect([0, 1]).toContain(r.code);
    if (r.code === 1) {
      expect(r.stderr).toContain('home-link');
      expect(r.stderr).not.toMatch(STACK);
    }
  });

  it('a read-only store (as the unprivileged user nobody: root ignores permissions)', async () => {
    const ro = join(dir, 'ro-store');
    mkdirSync(ro);
    chmodSync(dir, 0o755);
    chmodSync(ro, 0o555);
    const r = await bitlens(['run', 'hello', '--store', ro], { asNobody: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(ro);
    expect(r.stderr).not.toMatch(STACK);
  });
});

describe('a full disk', () => {
  // A 512 KiB tmpfs in a private mount namespace (`unshare -rm`: no root needed, nothing mounted outside the test).
  const canMount = (() => {
    try {
      execFileSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o size=64k tmpfs ${JSON.stringify(dir)}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  if (!canMount) console.log(`skipped the full-disk test: unshare -rm / mount tmpfs is not permitted here${process.env['CI'] === 'true' ? ' (CI: failing)' : ''}`);

  it.skipIf(!canMount && process.env['CI'] !== 'true')('ENOSPC: exit 1, a typed error naming the path, no stack trace, no artifact half-written', () => {
    const mnt = join(dir, 'small-disk');
    mkdirSync(mnt);
    const script = [
      `mount -t tmpfs -o size=512k tmpfs ${mnt}`,
      `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} run hello --set n=200000 --store ${mnt}/store 2>${mnt}/err; echo "exit=$?"`,
      `cat ${mnt}/err`,
      `echo "objects: $(find ${mnt}/store/objects -name manifest.json 2>/dev/null | wc -l) published, $(find ${mnt}/store/objects -mindepth 2 -maxdepth 2 -type d 2>/dev/null | wc -l) folders"`,
      `echo "tmp entries: $(ls ${mnt}/store/tmp | wc -l)"`,
    ].join('; ');
    const out = execFileSync('unshare', ['-rm', 'sh', '-c', script], { env: { ...process.env, BITLENS_HOME: '', BITLENS_DEBUG: '' } }).toString();
    expect(out).toContain('exit=1');
    expect(out).toContain('STORE_UNAVAILABLE');
    expect(out).toContain('ENOSPC');
    expect(out).toContain(`${mnt}/store`);
    expect(out).not.toMatch(STACK);
    // Every folder under objects/ is a published, complete artifact (here: none fit at all); nothing half-written.
    const [, published, folders] = /objects: (\d+) published, (\d+) folders/.exec(out) ?? [];
    expect(published).toBe(folders);
  }, 120_000);
});

describe('inputs that are not what they claim to be: typed errors, no hang', () => {
  it('a --config FIFO, device, folder, huge file, null, array, number or bad JSON', async () => {
    const fifo = join(dir, 'config.fifo');
    execFileSync('mkfifo', [fifo]);
    const huge = join(dir, 'huge.json');
    writeFileSync(huge, '');
    truncateSync(huge, 8 * 2 ** 20);
    const write = (name: string, text: string): string => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    const cases: [string, string][] = [
      [fifo, 'FIFO'],
      ['/dev/zero', 'character device'],
      [dir, 'folder'],
      [huge, '8.0 MiB'],
      [write('null.json', 'null'), 'found null'],
      [write('arr.json', '[1, 2]'), 'found an array'],
      [write('num.json', '42'), 'found a number (42)'],
      [write('bad.json', '{"n": '), 'unparseable JSON'],
      [join(dir, 'missing.json'), 'nothing at this path'],
    ];
    for (const [path, found] of cases) {
      const r = await run(['run', 'hello', '--config', path, '--store', join(dir, 'never')]);
      expect(r.code, path).toBe(2);
      expect(r.err).toContain('--config');
      expect(r.err).toContain(found);
    }
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });

  it('weights that are a FIFO, a folder or far larger than the model (a sparse 2 GiB file): refused before reading', async () => {
    const fifo = join(dir, 'w.fifo');
    execFileSync('mkfifo', [fifo]);
    const big = join(dir, 'big.safetensors');
    writeFileSync(big, '');
    truncateSync(big, 2 * 2 ** 30);
    for (const [path, found] of [[fifo, 'FIFO'], [dir, 'folder'], [big, '2.0 GiB']] as const) {
      const r = await run(['run', 'analyze', '--set', `weights=${path}`, '--set', 'p=113', '--store', join(dir, 'never')]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("'weights'");
      expect(r.err).toContain(found);
    }
  });
});

describe('CLI conventions', () => {
  it('--version prints the version; under --json as JSON', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect((await run(['--version'])).out).toBe(`bitlens ${version}`);
    expect(JSON.parse((await run(['--version', '--json'])).out)).toMatchObject({ version });
  });

  it.each(['run', 'list', 'bench', 'help'])('bitlens help %s and %s --help print that command\'s usage, exit 0', async (command) => {
    const a = await run(['help', command]);
    const b = await run([command, '--help']);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.out).toContain(`bitlens ${command}`);
    expect(b.out).toContain(a.out.split('\n')[0] ?? '');
  });

  it('run <pipeline> --help adds the pipeline\'s options with their ranges', async () => {
    const r = await run(['run', 'precision-comparison', '--help']);
    expect(r.out).toContain('Options of precision-comparison');
    expect(r.out).toMatch(new RegExp(`p\\s+integer \\[3\\.\\.${GRID_MAX_P}\\]`));
    expect(r.out).toMatch(/quantizers\.ternary\s+"ternary-absmean"\|"ternary-centred"/);
  });

  it('bitlens list states the bound on p and why', async () => {
    const text = (await run(['list'])).out;
    expect(text).toContain(`p is a prime in [3..${GRID_MAX_P}] in every pipeline`);
    const json = JSON.parse((await run(['list', '--json'])).out) as { limits: { p: { max: number; prime: boolean } } };
    expect(json.limits.p).toMatchObject({ max: GRID_MAX_P, prime: true });
  });
});
