import type { Table, TypeMap } from 'apache-arrow';
import { Observable, concat, defer, finalize, forkJoin, from, lastValueFrom, map, tap, toArray } from 'rxjs';
import { BitlensError } from '../errors.js';
import { canonicalJson } from '../hash.js';
import { withProgressScope } from '../progress.js';
import { type Provenance, bitlensVersion, withProvenance } from '../provenance.js';
import { type RunLog, newRunId } from '../run-log.js';
import type { Progress } from '../stage.js';
import type { ArtifactStore } from '../store.js';
import type { NodeDescription, StageNode } from '../graph.js';
import { shareAmong } from './share-among.js';

/** What a graph run reports while it goes. */
export type GraphEvent =
  | { readonly type: 'stage-start'; readonly node: string; readonly stage: string; readonly key: string }
  | { readonly type: 'stage-cached'; readonly node: string; readonly stage: string; readonly key: string }
  | { readonly type: 'stage-resumed'; readonly node: string; readonly stage: string; readonly key: string; readonly kept: number }
  | { readonly type: 'stage-progress'; readonly node: string; readonly stage: string; readonly progress: Progress }
  | { readonly type: 'stage-done'; readonly node: string; readonly stage: string; readonly key: string; readonly tables: number; readonly rows: number; readonly executed: boolean }
  | { readonly type: 'artifact-corrupt'; readonly node: string; readonly key: string; readonly reason: string };

/** Run-wide provenance (per-stage fields are filled in by the graph). */
export interface RunProvenance {
  readonly configHash?: string;
  readonly seed?: string | number;
  readonly backend?: string;
  readonly packageVersion?: string;
  readonly gitRevision?: string;
}

/** How to run a graph. */
export interface RunOptions {
  /** Where artifacts are cached. Without a store every stage executes and nothing is written. */
  readonly store?: ArtifactStore;
  readonly provenance?: RunProvenance;
  readonly onEvent?: (event: GraphEvent) => void;
  /**
   * The run's record in the store (`runs/<id>.json`, from `store.beginRun`); its id goes into every artifact's lineage.
   * Default with a store: `run()` opens one (pipeline `graph`) and closes it when it ends.
   */
  readonly log?: RunLog;
}

/** What a run would do, or did, with a node. */
export type NodeStatus = 'stored' | 'execute' | 'resume' | 'unused';

/** Counts of what a run did, per node name. */
export interface RunStats {
  readonly executed: string[];
  readonly cached: string[];
  readonly recomputedCorrupt: string[];
  /** Nodes that continued an interrupted run (also listed in `executed`). */
  readonly resumed: string[];
}

/** What `PipelineGraph.run` returns: the collected nodes' tables, what the run did, and its id. */
export interface CollectResult<T extends Record<string, TypeMap>> {
  readonly tables: { readonly [K in keyof T]: Table<T[K]>[] };
  readonly stats: RunStats;
  /** The run id (lineage in the store); undefined without a store. */
  readonly runId: string | undefined;
}

/** What `PipelineGraph.streams` returns. */
export interface StreamsResult<S extends Record<string, TypeMap>> {
  readonly streams: { readonly [K in keyof S]: Observable<Table<S[K]>> };
  readonly stats: RunStats;
}

function inputsOf(node: StageNode): Readonly<Record<string, string>> {
  const w = node.wiring;
  return w.kind === 'none' ? {} : w.kind === 'one' ? { in: w.from } : w.from;
}

/** The collected tables under the caller's node types (each node's tables were checked against its stage's schema). */
function typedTables<T extends Record<string, TypeMap>>(tables: Record<string, Table[]>): CollectResult<T>['tables'];
function typedTables(tables: unknown): unknown {
  return tables;
}

function optionString(v: unknown): string | undefined {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
}

/** The planned status of every node a run that collects `collect` needs (see `PipelineGraph.plan`). @internal */
export function plannedStatuses(described: readonly NodeDescription[], store: ArtifactStore | undefined, collect: readonly string[]): Map<string, NodeStatus> {
  const needed = new Set(collect);
  const status = new Map<string, NodeStatus>();
  for (const d of [...described].reverse()) {
    if (!needed.has(d.node)) continue;
    if (store?.has(d.key) === true) {
      status.set(d.node, 'stored');
      continue;
    }
    status.set(d.node, d.resumable && store?.hasPartial(d.key) === true ? 'resume' : 'execute');
    for (const input of Object.values(d.inputs)) needed.add(input);
  }
  return status;
}

/**
 * One run of a graph: builds each node's stream on demand (read back from the store, resumed, or executed), hands a
 * node's tables to all of its consumers from one computation, writes what executes into the store with its lineage,
 * and records the run. @internal
 */
export class GraphRun {
  readonly stats: RunStats = { executed: [], cached: [], recomputedCorrupt: [], resumed: [] };
  private readonly byKey = new Map<string, Observable<Table>>();
  private readonly owner = new Map<string, string>();
  private readonly consumers = new Map<string, number>();
  private readonly emit: (event: GraphEvent) => void;
  private readonly runId: string | undefined;
  private readonly log: RunLog | undefined;

  constructor(
    private readonly nodes: ReadonlyMap<string, StageNode>,
    private readonly keys: Readonly<Record<string, string>>,
    private readonly options: RunOptions,
    private readonly collected: readonly string[],
  ) {
    this.emit = options.onEvent ?? ((): void => undefined);
    this.log = options.log;
    this.runId = options.log?.id ?? (options.store === undefined ? undefined : newRunId());
    for (const [name] of nodes) if (!this.owner.has(this.keyOf(name))) this.owner.set(this.keyOf(name), name);
    // A node's consumers: the nodes that read it (counted once per computation) and the collector.
    for (const name of this.owner.values()) {
      const node = nodes.get(name);
      if (node !== undefined) for (const input of Object.values(inputsOf(node))) this.count(this.keyOf(input));
    }
    for (const name of collected) this.count(this.keyOf(name));
  }

  private count(key: string): void {
    this.consumers.set(key, (this.consumers.get(key) ?? 0) + 1);
  }

  private keyOf(name: string): string {
    const key = this.keys[name];
    if (key === undefined || !this.nodes.has(name)) throw new BitlensError('GRAPH_INVALID', { stage: 'core/graph', field: name, expected: 'a node of this graph', found: 'nothing' });
    return key;
  }

  /** Runs every collected node and gathers their tables, recording what happened in the run log. */
  async collect<T extends Record<string, TypeMap>>(): Promise<CollectResult<T>> {
    this.log?.addNodes(this.describeNodes());
    const names = [...new Set(this.collected)];
    try {
      const tables = names.length === 0 ? {} : await lastValueFrom(forkJoin(Object.fromEntries(names.map((n) => [n, this.stream(n).pipe(toArray())]))));
      return { tables: typedTables<T>(tables), stats: this.stats, runId: this.runId };
    } finally {
      this.markAll();
    }
  }

  private describeNodes(): { node: string; key: string; stage: string }[] {
    return [...this.nodes].map(([node, n]) => ({ node, key: this.keyOf(node), stage: n.stage.spec.name }));
  }

  private markAll(): void {
    const log = this.log;
    if (log === undefined) return;
    for (const n of this.stats.cached) log.mark(n, 'stored');
    for (const n of this.stats.executed) log.mark(n, this.stats.resumed.includes(n) ? 'resumed' : 'executed');
  }

  /** The stream of a node's tables, computed at most once per run and shared by its consumers. */
  stream(name: string): Observable<Table> {
    const key = this.keyOf(name);
    const existing = this.byKey.get(key);
    if (existing !== undefined) return existing;
    const owner = this.owner.get(key) ?? name;
    const node = this.nodes.get(owner);
    if (node === undefined) throw new BitlensError('GRAPH_INVALID', { stage: 'core/graph', field: name, expected: 'a node of this graph', found: 'nothing' });
    const cold = defer(() => this.readStored(owner, node, key) ?? this.execute(owner, node, key));
    const shared = shareAmong(cold, this.consumers.get(key) ?? 0);
    this.byKey.set(key, shared);
    return shared;
  }

  /** The node's artifact from the store (reported and recomputed when corrupt), or undefined. */
  private readStored(name: string, node: StageNode, key: string): Observable<Table> | undefined {
    const store = this.options.store;
    if (store === undefined) return undefined;
    let corrupt = false;
    const tables = store.read(key, ({ reason }) => {
      corrupt = true;
      this.emit({ type: 'artifact-corrupt', node: name, key, reason });
    });
    if (corrupt) this.stats.recomputedCorrupt.push(name);
    if (tables === undefined) return undefined;
    const stage = node.stage.spec.name;
    this.stats.cached.push(name);
    this.emit({ type: 'stage-cached', node: name, stage, key });
    this.emit({ type: 'stage-done', node: name, stage, key, tables: tables.length, rows: tables.reduce((n, t) => n + t.numRows, 0), executed: false });
    return from(tables);
  }

  /** Executes the node (continuing an interrupted run of it when it can), writing its tables into the store. */
  private execute(name: string, node: StageNode, key: string): Observable<Table> {
    const store = this.options.store;
    const spec = node.stage.spec;
    this.stats.executed.push(name);
    this.emit({ type: 'stage-start', node: name, stage: spec.name, key });
    const resumption = store === undefined ? undefined : this.resumption(name, node, key, store);
    if (resumption !== undefined) {
      this.stats.resumed.push(name);
      this.emit({ type: 'stage-resumed', node: name, stage: spec.name, key, kept: resumption.kept.length });
    }
    const inputs = Object.fromEntries(Object.entries(inputsOf(node)).map(([port, n]) => [port, this.keyOf(n)]));
    const lineage = { node: name, inputs, ...(this.runId === undefined ? {} : { runId: this.runId }) };
    const resumable = node.stage.kind === 'stage' && node.stage.spec.resume !== undefined;
    const writer = store?.beginWrite(key, spec.name, { resumable, lineage, ...(resumption === undefined ? {} : { keep: resumption.kept.length }) });
    const provenance = this.provenanceOf(name, node, key, inputs);
    const computed = (resumption?.rest ?? this.compute(name, node)).pipe(
      map((t) => withProvenance(t, provenance)),
      tap((t) => writer?.append(t)),
    );
    let done = false;
    let nTables = 0;
    let nRows = 0;
    return concat(from(resumption?.kept ?? []), computed).pipe(
      tap({
        next: (t) => {
          nTables += 1;
          nRows += t.numRows;
          const progress = spec.progress?.(t as never);
          if (progress !== undefined) this.emit({ type: 'stage-progress', node: name, stage: spec.name, progress });
        },
        complete: () => {
          writer?.commit();
          done = true;
          this.emit({ type: 'stage-done', node: name, stage: spec.name, key, tables: nTables, rows: nRows, executed: true });
        },
      }),
      // Error or early unsubscribe: nothing half-written is left under the key.
      finalize(() => {
        if (!done) writer?.abort();
      }),
    );
  }

  private provenanceOf(name: string, node: StageNode, key: string, inputs: Readonly<Record<string, string>>): Provenance {
    const spec = node.stage.spec;
    const prov = this.options.provenance ?? {};
    return {
      stage: spec.name,
      stageVersion: spec.version,
      options: canonicalJson(spec.options, spec.name),
      key,
      node: name,
      inputs: canonicalJson(inputs),
      ...(spec.code === undefined ? {} : { code: spec.code }),
      ...(this.runId === undefined ? {} : { runId: this.runId }),
      configHash: prov.configHash,
      seed: optionString(spec.options['seed']) ?? optionString(prov.seed),
      backend: optionString(spec.options['backend']) ?? prov.backend,
      packageVersion: prov.packageVersion ?? bitlensVersion(),
      gitRevision: prov.gitRevision,
    };
  }

  /** The kept tables and the continuing stream of an interrupted resumable node, if its stage takes them up. */
  private resumption(name: string, node: StageNode, key: string, store: ArtifactStore): { readonly kept: readonly Table[]; readonly rest: Observable<Table> } | undefined {
    const { stage, wiring } = node;
    if (stage.kind !== 'stage' || stage.spec.resume === undefined || wiring.kind !== 'one') return undefined;
    const previous = store.readPartial(key);
    if (previous === undefined || previous.length === 0) return undefined;
    const r = stage.spec.resume(previous);
    if (r === undefined) return undefined;
    if (!Number.isInteger(r.keep) || r.keep < 1 || r.keep > previous.length) {
      throw new BitlensError('INTERNAL', { stage: stage.spec.name, field: 'resume().keep', expected: `an integer in [1, ${previous.length}]`, found: String(r.keep) });
    }
    return { kept: previous.slice(0, r.keep), rest: this.input(wiring.from, name, stage.spec.name).pipe(r.rest) };
  }

  /** The node's computation on its inputs' streams. */
  private compute(name: string, node: StageNode): Observable<Table> {
    const { stage, wiring } = node;
    switch (stage.kind) {
      case 'source':
        return this.inScope(defer(() => stage()), name, stage.spec.name);
      case 'stage':
        if (wiring.kind !== 'one') throw new BitlensError('GRAPH_INVALID', { stage: stage.spec.name, expected: 'one input', found: wiring.kind });
        return this.input(wiring.from, name, stage.spec.name).pipe(stage);
      case 'join': {
        if (wiring.kind !== 'many') throw new BitlensError('GRAPH_INVALID', { stage: stage.spec.name, expected: 'named inputs', found: wiring.kind });
        const inputs: Record<string, Observable<Table>> = {};
        for (const [port, n] of Object.entries(wiring.from)) inputs[port] = this.input(n, name, stage.spec.name);
        return stage(inputs);
      }
    }
  }

  /** Node `from`'s stream as read by node `consumer`: its tables arrive in the consumer's progress scope. */
  private input(from: string, consumer: string, stage: string): Observable<Table> {
    return this.inScope(this.stream(from), consumer, stage);
  }

  /** Delivers the stream's notifications (and runs its subscription) with progress attributed to node `name`. */
  private inScope<T>(source: Observable<T>, name: string, stage: string): Observable<T> {
    const scope = { node: name, stage, report: (progress: Progress) => this.emit({ type: 'stage-progress', node: name, stage, progress }) };
    return new Observable<T>((subscriber) =>
      withProgressScope(scope, () =>
        source.subscribe({
          next: (v) => withProgressScope(scope, () => subscriber.next(v)),
          error: (e: unknown) => subscriber.error(e),
          complete: () => withProgressScope(scope, () => subscriber.complete()),
        }),
      ),
    );
  }
}
