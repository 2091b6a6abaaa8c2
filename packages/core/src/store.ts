import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { BitlensError } from './errors.js';
import { canonicalJson, sha256 } from './hash.js';
import { RUN_ID_RE, type RunLog, type RunMeta, type RunRecord, createRunLog } from './run-log.js';

const STAGE = 'core/store';
const KEY_RE = /^[0-9a-f]{64}$/;

/** One Arrow IPC file of an artifact: one emitted table. */
export interface ArtifactPart {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly rows: number;
}

/** Which node of which run wrote an artifact, and from which inputs (port → key). */
export interface ArtifactLineage {
  readonly node: string;
  readonly runId?: string;
  readonly inputs: Readonly<Record<string, string>>;
}

/**
 * The manifest written beside an artifact's parts; its presence marks a complete artifact. `digest` is the SHA-256
 * of the manifest's canonical JSON without it: an edited manifest (parts removed, say) no longer matches and the
 * artifact is treated as corrupt, and the folder must hold exactly the listed parts.
 */
export interface ArtifactManifest {
  readonly format: 'bitlens-artifact/2';
  readonly key: string;
  readonly stage: string;
  readonly parts: readonly ArtifactPart[];
  readonly node?: string;
  readonly runId?: string;
  readonly inputs?: Readonly<Record<string, string>>;
  readonly createdAt: string;
  readonly digest: string;
}

const MANIFEST_FORMAT = 'bitlens-artifact/2';

function manifestDigest(m: Omit<ArtifactManifest, 'digest'> & { readonly digest?: string }): string {
  const { digest: _digest, ...rest } = m;
  void _digest;
  return sha256(canonicalJson(rest, STAGE));
}

/** One stored artifact, as listed by `ArtifactStore.entries` (read from its manifest; not verified). */
export interface ArtifactInfo {
  readonly key: string;
  readonly stage: string;
  readonly node?: string;
  readonly runId?: string;
  readonly createdAt?: string;
  /** Bytes of its parts. */
  readonly bytes: number;
  readonly parts: number;
  readonly rows: number;
}

/** Why a stored artifact was refused. */
export interface CorruptArtifact {
  readonly key: string;
  readonly reason: string;
}

/** An artifact being written; nothing is visible under its key until `commit()`. */
export interface ArtifactWriter {
  append(table: Table): void;
  /** Publishes atomically (rename). If another writer published the same key first, keeps the valid one. */
  commit(): void;
  /** Drops everything written so far (a resumable writer keeps its parts for `readPartial`). Idempotent. */
  abort(): void;
}

/** Options of `beginWrite`. */
export interface WriteOptions {
  /**
   * Write into `tmp/partial-<key>/` under a lock file, and keep the parts when the writer is aborted or the process
   * dies, so that a later run can read them (`readPartial`) and continue. Falls back to a plain writer when another
   * live process holds the lock.
   */
  readonly resumable?: boolean;
  /** With `resumable`: continue the partial write of this key, keeping its first `keep` parts (the rest is dropped). */
  readonly keep?: number;
  /** Recorded in the manifest. */
  readonly lineage?: ArtifactLineage;
}

/** Options of the artifact store. */
export interface ArtifactStoreOptions {
  /** Folder of the store. Default: `$BITLENS_HOME/store`, else `<cwd>/.bitlens/store`. */
  readonly root?: string;
  /** Called when a stored artifact is detected as corrupt or truncated (it is then removed and recomputed). */
  readonly onCorrupt?: (info: CorruptArtifact) => void;
}

/** The default store folder: `$BITLENS_HOME/store`, else `.bitlens/store` under the current directory. */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const home = env['BITLENS_HOME'];
  return home !== undefined && home !== '' ? resolve(home, 'store') : resolve(cwd, '.bitlens', 'store');
}

/** What the user can do about a filesystem error at `path`. */
function remedy(code: string | undefined): string {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no space left on the device: free some space, or point --store / BITLENS_HOME elsewhere';
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return 'not writable by this user: fix its permissions, or point --store / BITLENS_HOME to a writable folder';
    case 'ENOTDIR':
    case 'EEXIST':
      return 'a file (not a folder) is in the way: point --store / BITLENS_HOME to a folder';
    case 'ENOENT':
      return 'a parent folder cannot be created here (a dangling link, or a filesystem such as /proc that holds no folders)';
    default:
      return 'the filesystem refused it: point --store / BITLENS_HOME to an ordinary writable folder';
  }
}

/** A typed error for a filesystem failure of the store (never a bare Node error with a stack). */
function unavailable(path: string, action: string, e: unknown): BitlensError {
  const code = (e as NodeJS.ErrnoException).code;
  return new BitlensError('STORE_UNAVAILABLE', { stage: STAGE, field: path, expected: `a folder the store can ${action}`, found: `${code ?? 'error'}: ${remedy(code)}` }, undefined, { cause: e });
}

/**
 * mkdir -p, one level at a time and bounded by the path's depth (Node's recursive mkdir can spin forever on a
 * filesystem such as /proc); every failure is a typed STORE_UNAVAILABLE error naming the path.
 */
function ensureDir(path: string): void {
  const missing: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw unavailable(dir, 'use', e); // ENOTDIR: a parent is a file
      let link = false;
      try {
        link = lstatSync(dir).isSymbolicLink();
      } catch {
        /* not there at all */
      }
      if (link) throw new BitlensError('STORE_UNAVAILABLE', { stage: STAGE, field: dir, expected: 'a folder', found: 'a dangling symbolic link: point it to a folder, or use another --store / BITLENS_HOME' });
    }
    if (st !== undefined) {
      if (!st.isDirectory()) throw new BitlensError('STORE_UNAVAILABLE', { stage: STAGE, field: dir, expected: 'a folder', found: `a ${st.isFile() ? 'regular file' : 'special file'}: point --store / BITLENS_HOME to a folder` });
      break;
    }
    missing.push(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true) continue; // a racing process made it
      throw unavailable(dir, 'create', e);
    }
  }
}

function inodeOf(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

function writeFileDurably(path: string, data: Uint8Array | string): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (e) {
    throw unavailable(dirname(path), 'write to', e);
  }
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (e) {
    throw unavailable(dirname(path), 'write to', e);
  } finally {
    closeSync(fd);
  }
}

function partName(i: number): string {
  return `part-${String(i).padStart(5, '0')}.arrow`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock file (its content is our pid); a lock left by a dead process is taken over. False if a live one holds it. */
function takeLock(path: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (lockHolderAlive(path)) return false;
      rmSync(path, { force: true });
    }
  }
  return false;
}

function lockHolderAlive(path: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(path, 'utf8'));
  } catch {
    return false;
  }
  return Number.isInteger(pid) && pid > 0 && processAlive(pid);
}

/**
 * Content-addressed store of Arrow IPC artifacts on disk.
 *
 * Layout: `objects/<key[0..2]>/<key>/{manifest.json, part-00000.arrow, ...}`. Each part is a plain Arrow IPC
 * file (readable by pyarrow, DuckDB, polars). The manifest records each part's size and SHA-256; a part that does
 * not match is reported as corrupt, the artifact is removed and the caller recomputes it.
 * Writes go to `tmp/` and are published by renaming the whole folder, so a writer killed mid-write leaves nothing
 * under the final key, and two writers racing on one key cannot interleave files (the first rename wins).
 */
export class ArtifactStore {
  readonly root: string;
  private readonly onCorrupt: ((info: CorruptArtifact) => void) | undefined;

  constructor(options: ArtifactStoreOptions = {}) {
    this.root = resolve(options.root ?? defaultStoreRoot());
    this.onCorrupt = options.onCorrupt;
  }

  /** Folder of an artifact (whether or not it exists). */
  pathOf(key: string): string {
    if (!KEY_RE.test(key)) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'key', expected: '64 hex digits', found: JSON.stringify(key) });
    return join(this.root, 'objects', key.slice(0, 2), key);
  }

  /** True when a complete artifact (manifest present) exists; does not verify checksums. */
  has(key: string): boolean {
    return existsSync(join(this.pathOf(key), 'manifest.json'));
  }

  /** Keys of all complete artifacts. */
  keys(): string[] {
    const objects = join(this.root, 'objects');
    if (!existsSync(objects)) return [];
    try {
      return readdirSync(objects).flatMap((prefix) => readdirSync(join(objects, prefix))).filter((k) => KEY_RE.test(k) && this.has(k));
    } catch (e) {
      throw unavailable(objects, 'read', e);
    }
  }

  /** Every complete artifact with what its manifest says (stage, node, run, date, size); unverified, unordered. */
  entries(): ArtifactInfo[] {
    return this.keys().flatMap((key) => {
      const m = this.manifest(key);
      if (m === undefined || !Array.isArray(m.parts)) return [];
      return [{
        key,
        stage: String(m.stage),
        ...(m.node === undefined ? {} : { node: m.node }),
        ...(m.runId === undefined ? {} : { runId: m.runId }),
        ...(m.createdAt === undefined ? {} : { createdAt: m.createdAt }),
        bytes: m.parts.reduce((n, p) => n + (Number(p.bytes) || 0), 0),
        parts: m.parts.length,
        rows: m.parts.reduce((n, p) => n + (Number(p.rows) || 0), 0),
      }];
    });
  }

  /** Removes a run record (`runs/<id>.json`); absent is fine. */
  removeRun(id: string): void {
    if (!RUN_ID_RE.test(id)) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'run', expected: 'a run id', found: JSON.stringify(id) });
    rmSync(join(this.root, 'runs', `${id}.json`), { force: true });
  }

  /** Reads the manifest, or undefined if there is no complete artifact. Verifies nothing (see `read`). */
  manifest(key: string): ArtifactManifest | undefined {
    const path = join(this.pathOf(key), 'manifest.json');
    if (!existsSync(path)) return undefined;
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as ArtifactManifest;
    } catch {
      return undefined;
    }
  }

  /**
   * Reads and verifies an artifact. Returns undefined when absent, or when corrupt (after reporting it through
   * the store's and the call's `onCorrupt` and removing it, so that it is recomputed and never used).
   */
  read(key: string, onCorrupt?: (info: CorruptArtifact) => void): Table[] | undefined {
    const dir = this.pathOf(key);
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = inodeOf(dir);
      if (before === undefined || !existsSync(join(dir, 'manifest.json'))) return undefined;
      const verdict = this.verify(key);
      if (typeof verdict !== 'string') return verdict;
      // Another process may have replaced or removed the folder while we read it: that is not corruption.
      if (inodeOf(dir) !== before) continue;
      this.onCorrupt?.({ key, reason: verdict });
      onCorrupt?.({ key, reason: verdict });
      this.remove(key, before);
      return undefined;
    }
    return undefined;
  }

  /**
   * The artifact's tables, or why it cannot be trusted: the manifest must be well formed, describe this key and match
   * its own digest; the folder must hold exactly the manifest and the listed parts; every part must have the listed
   * size, checksum and row count and be valid Arrow IPC.
   */
  private verify(key: string): Table[] | string {
    const dir = this.pathOf(key);
    let manifest: ArtifactManifest;
    try {
      manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ArtifactManifest;
    } catch (e) {
      return `unreadable manifest (${(e as Error).message})`;
    }
    if (typeof manifest !== 'object' || manifest === null || manifest.format !== MANIFEST_FORMAT || manifest.key !== key || !Array.isArray(manifest.parts)) return 'manifest does not describe this key';
    let digest: string;
    try {
      digest = manifestDigest(manifest);
    } catch {
      return 'manifest is not plain JSON';
    }
    if (digest !== manifest.digest) return 'manifest was edited (its digest does not match its content)';
    let files: string[];
    try {
      files = readdirSync(dir).filter((f) => f !== 'manifest.json').sort();
    } catch (e) {
      return `unreadable folder (${(e as Error).message})`;
    }
    const listed = manifest.parts.map((p) => p.file).sort();
    if (files.length !== listed.length || files.some((f, i) => f !== listed[i])) {
      const extra = files.filter((f) => !listed.includes(f));
      const missing = listed.filter((f) => !files.includes(f));
      return `folder does not match the manifest (${extra.length > 0 ? `unlisted: ${extra.join(', ')}` : ''}${extra.length > 0 && missing.length > 0 ? '; ' : ''}${missing.length > 0 ? `missing part ${missing.join(', ')}` : ''})`;
    }
    const tables: Table[] = [];
    for (const part of manifest.parts) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(dir, part.file));
      } catch {
        return `missing part ${part.file}`;
      }
      if (bytes.length !== part.bytes) return `part ${part.file} is ${bytes.length} bytes, expected ${part.bytes} (truncated?)`;
      const partDigest = sha256(bytes);
      if (partDigest !== part.sha256) return `part ${part.file} checksum ${partDigest.slice(0, 12)}… does not match ${String(part.sha256).slice(0, 12)}…`;
      try {
        const table = tableFromIPC(bytes);
        if (table.numRows !== part.rows) return `part ${part.file} has ${table.numRows} rows, expected ${part.rows}`;
        tables.push(table);
      } catch (e) {
        return `part ${part.file} is not valid Arrow IPC (${(e as Error).message})`;
      }
    }
    return tables;
  }

  /**
   * Removes an artifact (moved aside first, so readers never see half a folder). With `onlyInode`, removes it only
   * if it is still that folder: a fresh artifact another process published meanwhile is put back.
   */
  remove(key: string, onlyInode?: number): void {
    const dir = this.pathOf(key);
    if (!existsSync(dir)) return;
    const trash = join(this.root, 'tmp', `trash-${key}-${process.pid}-${randomBytes(4).toString('hex')}`);
    ensureDir(join(this.root, 'tmp'));
    try {
      renameSync(dir, trash);
    } catch {
      return; // someone else removed or replaced it meanwhile
    }
    if (onlyInode !== undefined && inodeOf(trash) !== onlyInode) {
      try {
        renameSync(trash, dir);
        return;
      } catch {
        /* yet another writer published: drop the one we moved aside */
      }
    }
    rmSync(trash, { recursive: true, force: true });
  }

  /**
   * The tables of an interrupted resumable write of `key`, in order (a part cut short by the interruption, and any
   * after it, are left out), or undefined when there is none or a live process is still writing it.
   */
  readPartial(key: string): Table[] | undefined {
    const dir = this.partialDirOf(key);
    if (!existsSync(dir) || lockHolderAlive(`${dir}.lock`)) return undefined;
    const tables: Table[] = [];
    for (let i = 0; existsSync(join(dir, partName(i))); i++) {
      try {
        tables.push(tableFromIPC(readFileSync(join(dir, partName(i)))));
      } catch {
        break;
      }
    }
    return tables;
  }

  /** True when an interrupted resumable write of `key` is waiting to be continued (no live process holds it). */
  hasPartial(key: string): boolean {
    const dir = this.partialDirOf(key);
    return existsSync(join(dir, partName(0))) && !lockHolderAlive(`${dir}.lock`);
  }

  /** True when a live process is writing `key` resumably right now (its partial write must not be touched). */
  hasPartialLive(key: string): boolean {
    return lockHolderAlive(`${this.partialDirOf(key)}.lock`);
  }

  /**
   * Checks that the store's folder can hold a store (creates it, writes and removes a probe file): call it before any
   * work, so that a bad `--store` fails at once with a typed STORE_UNAVAILABLE error naming the path.
   */
  check(): void {
    ensureDir(join(this.root, 'tmp'));
    const probe = join(this.root, 'tmp', `probe-${process.pid}-${randomBytes(4).toString('hex')}`);
    writeFileDurably(probe, 'ok');
    rmSync(probe, { force: true });
  }

  /** Opens a run record `runs/<id>.json` (see {@link RunRecord}); graph runs given it record their nodes in it. */
  beginRun(meta: RunMeta): RunLog {
    const dir = join(this.root, 'runs');
    ensureDir(dir);
    return createRunLog(meta, (record) => {
      const path = join(dir, `${record.id}.json`);
      const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      writeFileDurably(tmp, `${JSON.stringify(record, null, 1)}\n`);
      try {
        renameSync(tmp, path);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw unavailable(dir, 'write to', e);
      }
    });
  }

  /** The run records in the store, oldest first (unreadable ones are skipped). */
  runs(): RunRecord[] {
    const dir = join(this.root, 'runs');
    if (!existsSync(dir)) return [];
    const records: RunRecord[] = [];
    for (const f of readdirSync(dir).sort()) {
      const id = f.replace(/\.json$/, '');
      if (!f.endsWith('.json') || !RUN_ID_RE.test(id)) continue;
      try {
        const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as RunRecord;
        if (r.format === 'bitlens-run/1' && r.id === id) records.push(r);
      } catch {
        /* a record being replaced, or damaged: skip it */
      }
    }
    return records;
  }

  /** Folder of a resumable write of `key` (its lock file is this path plus `.lock`). */
  private partialDirOf(key: string): string {
    this.pathOf(key); // validates the key
    return join(this.root, 'tmp', `partial-${key}`);
  }

  /**
   * Removes the temporary folders of writers whose process is gone (`tmp/<key>-<pid>-<random>` and
   * `tmp/trash-<key>-<pid>-<random>`; a killed writer cannot clean up after itself). Interrupted resumable writes
   * (`tmp/partial-<key>`) are kept for `readPartial`. Called once per store object by the first `beginWrite`.
   */
  sweepStale(): void {
    const tmpRoot = join(this.root, 'tmp');
    if (!existsSync(tmpRoot)) return;
    for (const f of readdirSync(tmpRoot)) {
      const m = /^(?:trash-)?[0-9a-f]{64}-(\d+)-[0-9a-f]+$/.exec(f);
      if (m !== null && !processAlive(Number(m[1]))) rmSync(join(tmpRoot, f), { recursive: true, force: true });
    }
  }

  /**
   * Releases the locks this process holds on resumable writes (`tmp/partial-<key>.lock` naming our pid) and returns
   * their keys, so that another process can continue those writes at once instead of after this one exits. Only for a
   * process whose writers were stopped without finishing (the worker threads that ran them were terminated) and that
   * starts no new write before it exits: the lock of a live writer must never be released.
   */
  releaseOwnLocks(): string[] {
    const tmpRoot = join(this.root, 'tmp');
    if (!existsSync(tmpRoot)) return [];
    const released: string[] = [];
    for (const f of readdirSync(tmpRoot)) {
      const m = /^partial-([0-9a-f]{64})\.lock$/.exec(f);
      const key = m?.[1];
      if (key === undefined) continue;
      const path = join(tmpRoot, f);
      let pid: number;
      try {
        pid = Number(readFileSync(path, 'utf8'));
      } catch {
        continue;
      }
      if (pid !== process.pid) continue;
      rmSync(path, { force: true });
      released.push(key);
    }
    return released;
  }

  private swept = false;

  /** Starts writing an artifact under `key` (see {@link WriteOptions} for a resumable write). */
  beginWrite(key: string, stage: string, options: WriteOptions = {}): ArtifactWriter {
    const finalDir = this.pathOf(key);
    const tmpRoot = join(this.root, 'tmp');
    ensureDir(tmpRoot);
    if (!this.swept) {
      this.swept = true;
      this.sweepStale();
    }
    const partialDir = this.partialDirOf(key);
    const lock = `${partialDir}.lock`;
    const resumable = options.resumable === true && takeLock(lock);
    const parts: ArtifactPart[] = [];
    let tmpDir: string;
    if (resumable) {
      tmpDir = partialDir;
      const keep = options.keep ?? 0;
      if (existsSync(tmpDir)) {
        for (const f of readdirSync(tmpDir)) {
          const i = /^part-(\d{5})\.arrow$/.exec(f);
          if (i === null || Number(i[1]) >= keep) rmSync(join(tmpDir, f), { force: true });
        }
      } else {
        ensureDir(tmpDir);
      }
      for (let i = 0; i < keep; i++) {
        const file = partName(i);
        let bytes: Buffer;
        try {
          bytes = readFileSync(join(tmpDir, file));
        } catch {
          rmSync(lock, { force: true });
          throw new BitlensError('NOT_FOUND', { stage: STAGE, field: `${key}/${file}`, expected: `${keep} kept parts of the interrupted write`, found: `${i}` });
        }
        parts.push({ file, bytes: bytes.length, sha256: sha256(bytes), rows: tableFromIPC(bytes).numRows });
      }
    } else {
      tmpDir = join(tmpRoot, `${key}-${process.pid}-${randomBytes(6).toString('hex')}`);
      ensureDir(tmpDir);
    }
    const release = (): void => {
      if (resumable) rmSync(lock, { force: true });
    };
    let state: 'open' | 'committed' | 'aborted' = 'open';
    const ensureOpen = (): void => {
      if (state !== 'open') throw new BitlensError('INTERNAL', { stage: STAGE, field: key, expected: 'an open writer', found: state });
    };
    return {
      append: (table: Table) => {
        ensureOpen();
        const file = partName(parts.length);
        const bytes = tableToIPC(table, 'file');
        writeFileDurably(join(tmpDir, file), bytes);
        parts.push({ file, bytes: bytes.length, sha256: sha256(bytes), rows: table.numRows });
      },
      commit: () => {
        ensureOpen();
        const lineage = options.lineage;
        const body = {
          format: MANIFEST_FORMAT,
          key,
          stage,
          parts,
          ...(lineage === undefined ? {} : { node: lineage.node, inputs: lineage.inputs, ...(lineage.runId === undefined ? {} : { runId: lineage.runId }) }),
          createdAt: new Date().toISOString(),
        } as const;
        const manifest: ArtifactManifest = { ...body, digest: manifestDigest(body) };
        writeFileDurably(join(tmpDir, 'manifest.json'), JSON.stringify(manifest, null, 1));
        ensureDir(dirname(finalDir));
        try {
          renameSync(tmpDir, finalDir);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw unavailable(dirname(finalDir), 'publish artifacts in', e);
          // Another writer published this key first. Keep theirs if it verifies; otherwise replace it with ours.
          const theirs = inodeOf(finalDir);
          if (theirs !== undefined && typeof this.verify(key) === 'string' && inodeOf(finalDir) === theirs) {
            this.remove(key, theirs);
            try {
              renameSync(tmpDir, finalDir);
            } catch {
              /* a third writer won the race; theirs was verified by its own commit */
            }
          }
          rmSync(tmpDir, { recursive: true, force: true });
        }
        state = 'committed';
        release();
      },
      abort: () => {
        if (state !== 'open') return;
        state = 'aborted';
        if (!resumable) rmSync(tmpDir, { recursive: true, force: true });
        release();
      },
    };
  }
}
