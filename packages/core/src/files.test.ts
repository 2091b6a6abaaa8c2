import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOutputFile, ensureOutputFolder, readRegularFile } from './files.js';

const dir = mkdtempSync(join(tmpdir(), 'bitlens-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const o = { stage: 'test', field: 'path', maxBytes: 1024 };

describe('readRegularFile: bounded, never blocks', () => {
  it('reads a regular file', () => {
    const f = join(dir, 'a.txt');
    writeFileSync(f, 'hello');
    expect(new TextDecoder().decode(readRegularFile(f, o))).toBe('hello');
  });

  it('refuses a FIFO without blocking (a plain open would wait for a writer forever)', () => {
    const f = join(dir, 'fifo');
    execFileSync('mkfifo', [f]);
    expect(() => readRegularFile(f, o)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', site: expect.objectContaining({ found: expect.stringContaining('FIFO') }) }));
  });

  it.each([
    ['/dev/zero', 'character device'],
    ['/dev/null', 'character device'],
    ['/tmp', 'folder'],
  ])('refuses %s (%s)', (path, kind) => {
    expect(() => readRegularFile(path, o)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', site: expect.objectContaining({ field: 'path', found: expect.stringContaining(kind) }) }));
  });

  it('refuses a file above maxBytes without reading it (a sparse 10 GiB file)', () => {
    const f = join(dir, 'huge');
    writeFileSync(f, '');
    truncateSync(f, 10 * 2 ** 30);
    expect(() => readRegularFile(f, o)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', site: expect.objectContaining({ expected: 'a file of at most 1.0 KiB', found: expect.stringContaining('10 GiB') }) }));
  });

  it('stops at maxBytes for a file whose size stat does not report (/proc)', () => {
    expect(() => readRegularFile('/proc/self/maps', { ...o, maxBytes: 16 })).toThrow(expect.objectContaining({ site: expect.objectContaining({ found: expect.stringContaining('more than that') }) }));
    expect(readRegularFile('/proc/self/stat', o).byteLength).toBeGreaterThan(0); // size 0 in stat, read anyway
  });

  it('missing path and dangling link: NOT_FOUND naming the path', () => {
    const link = join(dir, 'dangling');
    symlinkSync(join(dir, 'nowhere'), link);
    for (const p of [join(dir, 'missing'), link]) {
      expect(() => readRegularFile(p, o)).toThrow(expect.objectContaining({ code: 'NOT_FOUND', site: expect.objectContaining({ found: expect.stringContaining(p) }) }));
    }
  });
});

describe('checkOutputFile: before any work', () => {
  it('accepts a new file in a writable folder, and an existing regular file', () => {
    expect(() => checkOutputFile(join(dir, 'out.html'), { stage: 'test', field: 'out' })).not.toThrow();
    writeFileSync(join(dir, 'exists.html'), 'x');
    expect(() => checkOutputFile(join(dir, 'exists.html'), { stage: 'test', field: 'out' })).not.toThrow();
  });

  it.each([
    ['/proc/x.html', 'cannot be created'],
    ['/sys/x.html', 'x.html'],
    ['/dev/null', 'character device'],
    ['/tmp', 'folder'],
    ['/nonexistent-folder/x.html', 'no folder'],
    ['dir/', 'folder-like'],
  ])('refuses %s', (path, found) => {
    expect(() => checkOutputFile(path, { stage: 'test', field: 'out' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', site: expect.objectContaining({ field: 'out', found: expect.stringContaining(found) }) }));
  });

  it('refuses a path under a regular file', () => {
    writeFileSync(join(dir, 'file'), 'x');
    expect(() => checkOutputFile(join(dir, 'file', 'x.html'), { stage: 'test', field: 'out' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('ensureOutputFolder creates a folder and refuses one that cannot be', () => {
    ensureOutputFolder(join(dir, 'res', 'deep'), { stage: 'test', field: '--out' });
    expect(() => ensureOutputFolder('/proc/results', { stage: 'test', field: '--out' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => ensureOutputFolder(join(dir, 'file'), { stage: 'test', field: '--out' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('refuses a read-only folder (checked as the unprivileged user nobody: root ignores permissions)', () => {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(dir, 0o755);
    chmodSync(ro, 0o555);
    const dist = new URL('../dist/files.js', import.meta.url).pathname;
    const script = `import { checkOutputFile } from ${JSON.stringify(dist)}; try { checkOutputFile(${JSON.stringify(join(ro, 'x.html'))}, { stage: 't', field: 'out' }); console.log('accepted'); } catch (e) { console.log(e.code, e.site.found); }`;
    const asRoot = process.getuid?.() === 0;
    const cmd = asRoot ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath] : [process.execPath];
    const out = execFileSync(cmd[0] ?? '', [...cmd.slice(1), '--input-type=module', '-e', script]).toString();
    expect(out).toContain('INVALID_OPTION');
    expect(out).toContain('may not write');
  });
});
