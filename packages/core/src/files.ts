import { randomBytes } from 'node:crypto';
import { type Stats, closeSync, constants, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { BitlensError } from './errors.js';

/** Who reads a file and how much is plausible: the error names them. */
export interface RegularFileOptions {
  /** Stage or command reading it, e.g. `cli/config`. */
  readonly stage: string;
  /** The option that named the path, e.g. `--config` or `weights`. */
  readonly field: string;
  /** Largest plausible size; a larger file (or one that keeps growing while read) is refused without reading it all. */
  readonly maxBytes: number;
  /** What the file should be, for messages (default `a regular file`). */
  readonly what?: string;
}

/** What `stat` found at a path, in words. */
export function describeFileKind(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Bytes in words: `512 B`, `3.2 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i] ?? 'TiB'}`;
}

function openFailure(path: string, o: RegularFileOptions, e: unknown): BitlensError {
  const code = (e as NodeJS.ErrnoException).code;
  const found =
    code === 'ENOENT' ? 'nothing at this path (or a dangling link)'
    : code === 'EACCES' || code === 'EPERM' ? 'a path this user may not read'
    : code === 'ELOOP' ? 'a loop of symbolic links'
    : code === 'ENOTDIR' ? 'a path through something that is not a folder'
    : `an error opening it (${code ?? (e as Error).message})`;
  return new BitlensError(code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_OPTION', { stage: o.stage, field: o.field, expected: o.what ?? 'a readable regular file', found: `${found}: ${JSON.stringify(path)}` }, undefined, { cause: e });
}

/**
 * Reads a whole regular file of at most `maxBytes`. Opens without blocking (a FIFO with no writer would block a plain
 * open forever), checks the open descriptor is a regular file (not a FIFO, device, socket or folder), and reads at most
 * `maxBytes + 1` bytes, so memory stays bounded even for files whose size `stat` does not know (/proc) or that grow.
 * Throws `NOT_FOUND` for a missing path, `INVALID_OPTION` for anything else, naming the option, path and what was found.
 * @example const text = new TextDecoder().decode(readRegularFile(path, { stage: 'cli/config', field: '--config', maxBytes: 4 << 20 }));
 */
export function readRegularFile(path: string, options: RegularFileOptions): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw openFailure(path, options, e);
  }
  try {
    const st = fstatSync(fd);
    const bad = (found: string, expected = options.what ?? 'a regular file'): BitlensError =>
      new BitlensError('INVALID_OPTION', { stage: options.stage, field: options.field, expected, found: `${found}: ${JSON.stringify(path)}` });
    if (!st.isFile()) throw bad(describeFileKind(st));
    const limit = `a file of at most ${formatBytes(options.maxBytes)}`;
    if (st.size > options.maxBytes) throw bad(`${formatBytes(st.size)}`, limit);
    // Start at the reported size (+1 to see the end); grow for files stat cannot size, never past maxBytes + 1.
    let buf = new Uint8Array(Math.min(options.maxBytes + 1, st.size + 1 < 4096 ? 4096 : st.size + 1));
    let used = 0;
    for (;;) {
      if (used === buf.length) {
        if (used > options.maxBytes) throw bad(`more than that (it grew while read, or stat reported ${formatBytes(st.size)})`, limit);
        const bigger = new Uint8Array(Math.min(options.maxBytes + 1, buf.length * 2));
        bigger.set(buf);
        buf = bigger;
      }
      const n = readSync(fd, buf, used, buf.length - used, null);
      if (n === 0) break;
      used += n;
    }
    return buf.subarray(0, used);
  } catch (e) {
    if (e instanceof BitlensError) throw e;
    throw new BitlensError('INVALID_OPTION', { stage: options.stage, field: options.field, expected: options.what ?? 'a readable regular file', found: `a read error (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): ${JSON.stringify(path)}` }, undefined, { cause: e });
  } finally {
    closeSync(fd);
  }
}

/** Who writes a file: the error names them. */
export interface OutputFileOptions {
  /** Stage or command writing it. */
  readonly stage: string;
  /** The option that named the path, e.g. `out` or `--save`. */
  readonly field: string;
}

function probeFolder(dir: string, path: string, o: OutputFileOptions): void {
  const probe = join(dir, `.bitlens-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    closeSync(openSync(probe, 'wx'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EROFS' ? 'a read-only file system' : code === 'EACCES' || code === 'EPERM' ? 'a folder this user may not write to' : code === 'ENOSPC' ? 'a full disk' : `a folder where files cannot be created (${code ?? (e as Error).message})`;
    throw new BitlensError('INVALID_OPTION', { stage: o.stage, field: o.field, expected: 'a path in a folder where files can be created', found: `${why}: ${JSON.stringify(path)}` }, undefined, { cause: e });
  }
  rmSync(probe, { force: true });
}

/**
 * Checks, before any work, that a file can be written at `path`: its folder exists and files can be created there
 * (tried: a probe file is created and removed, which catches read-only mounts, /proc and /sys, and permissions), and
 * the path is not a folder, device, FIFO or socket (a rename over `/dev/null` would replace the device). An existing
 * regular file is fine (it is replaced). Throws `INVALID_OPTION` naming the option, the path and what was found.
 */
export function checkOutputFile(path: string, options: OutputFileOptions): void {
  const abs = resolve(path);
  const bad = (expected: string, found: string): BitlensError => new BitlensError('INVALID_OPTION', { stage: options.stage, field: options.field, expected, found: `${found}: ${JSON.stringify(path)}` });
  if (path === '' || path.endsWith(sep) || basename(abs) === '') throw bad('a file path', 'an empty or folder-like path');
  let st: Stats | undefined;
  try {
    st = statSync(abs);
  } catch {
    st = undefined; // does not exist (or a dangling link, replaced on write): the folder decides
  }
  if (st !== undefined && !st.isFile()) throw bad('a regular file to create or replace', describeFileKind(st));
  const dir = dirname(abs);
  let dst: Stats;
  try {
    dst = statSync(dir);
  } catch {
    throw bad('a path in an existing folder', `no folder ${JSON.stringify(dir)}`);
  }
  if (!dst.isDirectory()) throw bad('a path in an existing folder', `${describeFileKind(dst)} at ${JSON.stringify(dir)}`);
  probeFolder(dir, path, options);
}

/**
 * Creates `abs` and its missing parents one level at a time. Not `mkdirSync(…, { recursive: true })`: on some
 * filesystems (/proc) Node's recursive mkdir retries forever instead of failing.
 */
function makeFolders(abs: string): void {
  const missing: string[] = [];
  for (let p = abs; ; p = dirname(p)) {
    try {
      statSync(p);
      break;
    } catch {
      missing.push(p);
      if (dirname(p) === p) break;
    }
  }
  for (const p of missing.reverse()) mkdirSync(p);
}

/** Creates a folder for outputs (with its parents) and checks files can be created in it; `INVALID_OPTION` otherwise. */
export function ensureOutputFolder(path: string, options: OutputFileOptions): void {
  const abs = resolve(path);
  try {
    makeFolders(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BitlensError('INVALID_OPTION', { stage: options.stage, field: options.field, expected: 'a folder that exists or can be created', found: `an error creating it (${code ?? (e as Error).message}): ${JSON.stringify(path)}` }, undefined, { cause: e });
  }
  const st = statSync(abs);
  if (!st.isDirectory()) throw new BitlensError('INVALID_OPTION', { stage: options.stage, field: options.field, expected: 'a folder', found: `${describeFileKind(st)}: ${JSON.stringify(path)}` });
  probeFolder(abs, path, options);
}

/**
 * Writes a file atomically (a temp file beside it, then a rename), so a reader never sees half a file and a failed
 * write leaves nothing at `path`: what a pipeline's sinks (reports, exports) use. Errors are typed, naming the stage
 * and the path.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, stage: string, field = 'out'): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new BitlensError('INTERNAL', { stage, field, expected: 'a writable path', found: JSON.stringify(path) }, (e as Error).message, { cause: e });
  }
}
