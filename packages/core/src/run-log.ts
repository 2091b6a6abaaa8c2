import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { bitlensVersion } from './provenance.js';

/** What a run did with a node. */
export type RunNodeStatus = 'executed' | 'stored' | 'resumed';

/** One node of a run record. */
export interface RunNodeRecord {
  readonly key: string;
  readonly stage: string;
  /** Absent while the run has not reached the node (or never needed it). */
  readonly status?: RunNodeStatus;
}

/**
 * `runs/<id>.json` in the store: what one command ran, like a lock file — the pipeline, its validated config and
 * hash, every node's cache key, what happened to each, and when. Written when the run starts (status `running`) and
 * again when it ends; a record left `running` by a process that is gone is an interrupted run.
 */
export interface RunRecord {
  readonly format: 'bitlens-run/1';
  readonly id: string;
  readonly pipeline: string;
  readonly config: unknown;
  readonly configHash?: string;
  readonly gitRevision?: string;
  readonly bitlensVersion: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly status: 'running' | 'ok' | 'failed';
  readonly error?: string;
  readonly nodes: Readonly<Record<string, RunNodeRecord>>;
}

/** What the caller says about a run it opens (`ArtifactStore.beginRun`). */
export interface RunMeta {
  /** Default: a new id (`newRunId`). */
  readonly id?: string;
  readonly pipeline: string;
  readonly config: unknown;
  readonly configHash?: string;
  readonly gitRevision?: string;
}

/** An open run record: graph runs add their nodes and what they did; the opener finishes it. */
export interface RunLog {
  readonly id: string;
  /** Registers nodes (node name → key, stage); idempotent, several graphs may add theirs to one run. */
  addNodes(nodes: readonly { readonly node: string; readonly key: string; readonly stage: string }[]): void;
  /** What happened to a node. */
  mark(node: string, status: RunNodeStatus): void;
  /** Ends the run (writes the record with its end time). Idempotent. */
  finish(status: 'ok' | 'failed', error?: unknown): void;
  /** The record as it stands. */
  record(): RunRecord;
}

/** A new run id: UTC time to the second, sortable, plus 6 random hex digits (e.g. `20261201T203015Z-3fa9c1`). */
export function newRunId(now: Date = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${t}-${randomBytes(3).toString('hex')}`;
}

/** The run-id format (also what `runs/` file names must look like). */
export const RUN_ID_RE = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;

/** A run log that persists its record with `write` (at start, on every `addNodes`, and at the end). @internal */
export function createRunLog(meta: RunMeta, write: (record: RunRecord) => void): RunLog {
  const nodes: Record<string, RunNodeRecord> = {};
  let record: RunRecord = {
    format: 'bitlens-run/1',
    id: meta.id ?? newRunId(),
    pipeline: meta.pipeline,
    config: meta.config,
    ...(meta.configHash === undefined ? {} : { configHash: meta.configHash }),
    ...(meta.gitRevision === undefined ? {} : { gitRevision: meta.gitRevision }),
    bitlensVersion: bitlensVersion(),
    host: hostname(),
    pid: process.pid,
    startedAt: new Date().toISOString(),
    status: 'running',
    nodes,
  };
  write(record);
  let finished = false;
  return {
    id: record.id,
    addNodes(list) {
      for (const n of list) nodes[n.node] ??= { key: n.key, stage: n.stage };
      if (!finished) write(record);
    },
    mark(node, status) {
      const n = nodes[node];
      if (n !== undefined) nodes[node] = { ...n, status };
    },
    finish(status, error) {
      if (finished) return;
      finished = true;
      const message = error === undefined ? undefined : error instanceof Error ? error.message : String(error);
      record = { ...record, status, finishedAt: new Date().toISOString(), ...(message === undefined ? {} : { error: message }) };
      write(record);
    },
    record: () => record,
  };
}
