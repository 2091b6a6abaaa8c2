import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BitlensError } from './errors.js';
import type { RunRecord } from './run-log.js';
import type { ArtifactInfo, ArtifactStore } from './store.js';

const STAGE = 'core/store';

/** True when the process that wrote a `running` record is still alive on this host (then its run is in use). */
function stillRunning(r: RunRecord): boolean {
  if (r.status !== 'running') return false;
  try {
    process.kill(r.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A run's parent (a sweep cell's run records the sweep's run as `config.parentRun`). */
function parentOf(r: RunRecord): string | undefined {
  const c = r.config as { parentRun?: unknown } | null | undefined;
  return typeof c?.parentRun === 'string' ? c.parentRun : undefined;
}

/** What `gc` keeps and removes (`planGc`). */
export interface GcPlan {
  /** Top-level runs kept: the last `keepRuns`, and any still running. */
  readonly keptRuns: readonly RunRecord[];
  /** Run records removed (older runs, and the sweep-cell runs under them). */
  readonly droppedRuns: readonly RunRecord[];
  /** Artifacts no kept run uses. */
  readonly remove: readonly ArtifactInfo[];
  readonly keep: number;
  /** Bytes of the artifacts removed. */
  readonly bytes: number;
  /** Temporary folders left by writers that are gone, and partial writes no kept run uses. */
  readonly tmp: readonly string[];
}

/**
 * Plans a garbage collection: keep every artifact that one of the last `keepRuns` top-level runs (and the sweep-cell
 * runs that belong to them) uses, and any run still in progress; remove the rest, with the records of the older runs
 * and the temporary folders of writers that died. Artifacts no run record mentions (written before records existed)
 * are removed too. Reads only.
 */
export function planGc(store: ArtifactStore, keepRuns: number): GcPlan {
  if (!Number.isInteger(keepRuns) || keepRuns < 0) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'keep', expected: 'a number of runs >= 0', found: String(keepRuns) });
  const runs = store.runs();
  const top = runs.filter((r) => parentOf(r) === undefined).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const keptTop = new Set([...top.slice(Math.max(0, top.length - keepRuns)), ...top.filter(stillRunning)].map((r) => r.id));
  const kept = runs.filter((r) => keptTop.has(r.id) || keptTop.has(parentOf(r) ?? '') || stillRunning(r));
  const keptIds = new Set(kept.map((r) => r.id));
  const used = new Set(kept.flatMap((r) => Object.values(r.nodes).map((n) => n.key)));
  const entries = store.entries();
  const remove = entries.filter((e) => !used.has(e.key));
  const tmpRoot = join(store.root, 'tmp');
  const tmp = existsSync(tmpRoot)
    ? readdirSync(tmpRoot).filter((f) => {
        const partial = /^partial-([0-9a-f]{64})$/.exec(f);
        if (partial !== null) return !used.has(partial[1] ?? '') && !store.hasPartialLive(partial[1] ?? '');
        const m = /^(?:trash-)?[0-9a-f]{64}-(\d+)-[0-9a-f]+$/.exec(f) ?? /^probe-(\d+)-[0-9a-f]+$/.exec(f);
        if (m === null) return false;
        try {
          process.kill(Number(m[1]), 0);
          return false;
        } catch {
          return true;
        }
      })
    : [];
  return { keptRuns: kept, droppedRuns: runs.filter((r) => !keptIds.has(r.id)), remove, keep: entries.length - remove.length, bytes: remove.reduce((n, e) => n + e.bytes, 0), tmp };
}

/** Carries out a plan of {@link planGc}: removes the artifacts (atomically, one at a time), run records and tmp folders. */
export function applyGc(store: ArtifactStore, plan: GcPlan): void {
  for (const e of plan.remove) store.remove(e.key);
  for (const r of plan.droppedRuns) store.removeRun(r.id);
  for (const f of plan.tmp) {
    const path = join(store.root, 'tmp', f);
    rmSync(path, { recursive: true, force: true });
    if (f.startsWith('partial-')) rmSync(`${path}.lock`, { force: true });
  }
}

/** How a node or key given by a user resolves to an artifact. */
export interface ResolvedArtifact {
  readonly key: string;
  /** The run whose record named the node (when resolved by node name). */
  readonly run?: RunRecord;
  readonly node?: string;
}

/**
 * Resolves `ref` to a stored artifact: a key or a unique key prefix of at least 6 hex digits, or a node name (e.g.
 * `fp32/final`), looked up in the newest run record (or in run `runId`) that names it and whose artifact is stored.
 * A typed NOT_FOUND names `ref` and what was searched; an ambiguous prefix lists the candidates.
 */
export function resolveArtifact(store: ArtifactStore, ref: string, runId?: string): ResolvedArtifact {
  if (/^[0-9a-f]{6,64}$/.test(ref)) {
    const matches = store.keys().filter((k) => k.startsWith(ref));
    if (matches.length === 1 && matches[0] !== undefined) return { key: matches[0] };
    if (matches.length > 1) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'node', expected: 'a key prefix that matches one artifact', found: `${ref} matches ${matches.length}: ${matches.slice(0, 5).map((k) => k.slice(0, 12)).join(', ')}…` });
  }
  const runs = store.runs().filter((r) => runId === undefined || r.id === runId).reverse();
  if (runId !== undefined && runs.length === 0) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: 'run', expected: `a run record in ${join(store.root, 'runs')}`, found: JSON.stringify(runId) });
  for (const run of runs) {
    const n = run.nodes[ref];
    if (n !== undefined && store.has(n.key)) return { key: n.key, run, node: ref };
  }
  throw new BitlensError('NOT_FOUND', { stage: STAGE, field: 'node', expected: `a stored artifact's key (or prefix) or a node name of ${runId === undefined ? 'a run' : `run ${runId}`} in ${store.root}`, found: JSON.stringify(ref) });
}

/** The store's size on disk in bytes (objects, runs and tmp), for `store ls`. */
export function storeBytes(store: ArtifactStore): number {
  const walk = (dir: string): number => {
    if (!existsSync(dir)) return 0;
    let n = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      n += e.isDirectory() ? walk(p) : e.isFile() ? statSync(p).size : 0;
    }
    return n;
  };
  return walk(store.root);
}
