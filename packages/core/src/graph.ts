import type { Table, TypeMap } from 'apache-arrow';
import { type Observable, concat, defer, finalize, from, map, share, shareReplay, tap } from 'rxjs';
import { BitlensError } from './errors.js';
import { canonicalJson, hashJson } from './hash.js';
import { bitlensVersion, withProvenance } from './provenance.js';
import type { AnyStage, JoinStage, Progress, SourceStage, Stage } from './stage.js';
import type { ArtifactStore } from './store.js';

/** Names of the nodes of `S` whose output type has every column a stage input `I` requires. */
export type NodeFeeding<S extends Record<string, TypeMap>, I extends TypeMap> = {
  [K in keyof S]: S[K] extends I ? K : never;
}[keyof S] &
  string;

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
}

/** Counts of what a run did, per node name. */
export interface RunStats {
  readonly executed: string[];
  readonly cached: string[];
  readonly recomputedCorrupt: string[];
  /** Nodes that continued an interrupted run (also listed in `executed`). */
  readonly resumed: string[];
}

type Wiring = { readonly kind: 'none' } | { readonly kind: 'one'; readonly from: string } | { readonly kind: 'many'; readonly from: Readonly<Record<string, string>> };
interface GraphNode {
  readonly stage: AnyStage;
  readonly wiring: Wiring;
}

/**
 * A pipeline as a DAG of named streams. Each node is a stage; an output can feed several nodes, and a join stage
 * takes several named inputs. Types flow through the builder: a stage can only be wired to a node whose output
 * has the columns it needs.
 *
 * Running it with a store caches every node: a node's key hashes its stage name, version and options with the keys
 * of its inputs, so a node already in the store is read back without running it or anything upstream of it.
 * @example
 * const g = PipelineGraph.create().source('nums', numbers({ n: 10 })).then('sq', square(), 'nums').join('sum', add(), { left: 'sq', right: 'nums' });
 * const { streams, stats } = g.run({ store });
 * await lastValueFrom(streams.sum.pipe(toArray()));
 */
export class PipelineGraph<S extends Record<string, TypeMap> = Record<never, TypeMap>> {
  private constructor(private readonly nodes: ReadonlyMap<string, GraphNode>) {}

  /** An empty graph. */
  static create(): PipelineGraph {
    return new PipelineGraph(new Map());
  }

  private add<N extends string, O extends TypeMap>(name: N, node: GraphNode): PipelineGraph<S & { [K in N]: O }> {
    if (this.nodes.has(name)) throw new BitlensError('GRAPH_INVALID', { stage: 'core/graph', field: name, expected: 'a new node name', found: 'a duplicate' });
    const inputs = node.wiring.kind === 'one' ? [node.wiring.from] : node.wiring.kind === 'many' ? Object.values(node.wiring.from) : [];
    for (const input of inputs) {
      if (!this.nodes.has(input)) throw new BitlensError('GRAPH_INVALID', { stage: 'core/graph', field: name, expected: `an existing input node`, found: `'${input}'` });
    }
    return new PipelineGraph(new Map([...this.nodes, [name, node]]));
  }

  /** Adds a source node. */
  source<N extends string, O extends TypeMap>(name: N, stage: SourceStage<O>): PipelineGraph<S & { [K in N]: O }> {
    return this.add<N, O>(name, { stage: stage as unknown as AnyStage, wiring: { kind: 'none' } });
  }

  /** Adds a one-input stage fed by node `from`. */
  then<N extends string, I extends TypeMap, O extends TypeMap>(name: N, stage: Stage<I, O>, from: NodeFeeding<S, I>): PipelineGraph<S & { [K in N]: O }> {
    return this.add<N, O>(name, { stage: stage as unknown as AnyStage, wiring: { kind: 'one', from } });
  }

  /** Adds a stage with several named inputs, each fed by a node. */
  join<N extends string, Ins extends Record<string, TypeMap>, O extends TypeMap>(
    name: N,
    stage: JoinStage<Ins, O>,
    from: { readonly [P in keyof Ins]: NodeFeeding<S, Ins[P]> },
  ): PipelineGraph<S & { [K in N]: O }> {
    return this.add<N, O>(name, { stage: stage as unknown as AnyStage, wiring: { kind: 'many', from: from as Readonly<Record<string, string>> } });
  }

  /** Node names in insertion (topological) order. */
  get names(): (keyof S & string)[] {
    return [...this.nodes.keys()] as (keyof S & string)[];
  }

  /** The cache key of every node (computed from the graph alone, without running anything). */
  keys(): { readonly [K in keyof S]: string } {
    const keys: Record<string, string> = {};
    for (const [name, node] of this.nodes) {
      const spec = node.stage.spec;
      const w = node.wiring;
      const inputs = w.kind === 'none' ? {} : w.kind === 'one' ? { in: keys[w.from] } : Object.fromEntries(Object.entries(w.from).map(([p, n]) => [p, keys[n]]));
      keys[name] = hashJson({ stage: spec.name, version: spec.version, options: spec.options, inputs }, spec.name);
    }
    return keys as { readonly [K in keyof S]: string };
  }

  /**
   * Builds the output streams of the graph (lazy: nothing runs until a stream is subscribed).
   * A node read by several consumers is computed once and replayed to each (its tables are held in memory).
   * A stream subscribed again after it completed is read back from the store (recomputed without a store).
   */
  run(options: RunOptions = {}): { readonly streams: { readonly [K in keyof S]: Observable<Table<S[K]>> }; readonly stats: RunStats } {
    const keys = this.keys() as Record<string, string>;
    const stats: RunStats = { executed: [], cached: [], recomputedCorrupt: [], resumed: [] };
    const consumers = new Map<string, number>();
    for (const node of this.nodes.values()) {
      const w = node.wiring;
      const inputs = w.kind === 'one' ? [w.from] : w.kind === 'many' ? Object.values(w.from) : [];
      for (const i of inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
    }
    const emit = options.onEvent ?? ((): void => undefined);
    const prov = options.provenance ?? {};
    const streams = new Map<string, Observable<Table>>();

    const streamOf = (name: string): Observable<Table> => {
      const existing = streams.get(name);
      if (existing !== undefined) return existing;
      const node = this.nodes.get(name);
      if (node === undefined) throw new BitlensError('GRAPH_INVALID', { stage: 'core/graph', field: name, expected: 'a node of this graph', found: 'nothing' });
      const key = keys[name] ?? '';
      const spec = node.stage.spec;
      const cold = defer(() => {
        const store = options.store;
        if (store !== undefined) {
          let corrupt = false;
          const tables = store.read(key, ({ reason }) => {
            corrupt = true;
            emit({ type: 'artifact-corrupt', node: name, key, reason });
          });
          if (corrupt) stats.recomputedCorrupt.push(name);
          if (tables !== undefined) {
            stats.cached.push(name);
            emit({ type: 'stage-cached', node: name, stage: spec.name, key });
            emit({ type: 'stage-done', node: name, stage: spec.name, key, tables: tables.length, rows: tables.reduce((n, t) => n + t.numRows, 0), executed: false });
            return from(tables);
          }
        }
        stats.executed.push(name);
        emit({ type: 'stage-start', node: name, stage: spec.name, key });
        const resumption = store === undefined ? undefined : this.resumption(node, key, store);
        if (resumption !== undefined) {
          stats.resumed.push(name);
          emit({ type: 'stage-resumed', node: name, stage: spec.name, key, kept: resumption.kept.length });
        }
        const resumable = node.stage.kind === 'stage' && node.stage.spec.resume !== undefined;
        const writer = store?.beginWrite(key, spec.name, { resumable, ...(resumption === undefined ? {} : { keep: resumption.kept.length }) });
        let done = false;
        let nTables = 0;
        let nRows = 0;
        const provenance = {
          stage: spec.name,
          stageVersion: spec.version,
          options: canonicalJson(spec.options, spec.name),
          key,
          configHash: prov.configHash,
          seed: optionString(spec.options['seed']) ?? optionString(prov.seed),
          backend: optionString(spec.options['backend']) ?? prov.backend,
          packageVersion: prov.packageVersion ?? bitlensVersion(),
          gitRevision: prov.gitRevision,
        };
        const kept = resumption?.kept ?? [];
        const computed = (resumption === undefined ? this.compute(node, streamOf) : resumption.rest(streamOf)).pipe(
          map((t) => withProvenance(t, provenance)),
          tap((t) => writer?.append(t)),
        );
        return concat(from(kept), computed).pipe(
          tap({
            next: (t) => {
              nTables += 1;
              nRows += t.numRows;
              const progress = spec.progress?.(t as never);
              if (progress !== undefined) emit({ type: 'stage-progress', node: name, stage: spec.name, progress });
            },
            complete: () => {
              writer?.commit();
              done = true;
              emit({ type: 'stage-done', node: name, stage: spec.name, key, tables: nTables, rows: nRows, executed: true });
            },
          }),
          // Error or early unsubscribe: nothing half-written is left under the key.
          finalize(() => {
            if (!done) writer?.abort();
          }),
        );
      });
      // A consumer may stop early (e.g. `zip` once its other input is done). The node's own subscription is kept
      // alive (refCount off) so that it runs to completion and its artifact is committed, not aborted half-way.
      // After completion the share resets: subscribing again later reads the artifact back from the store (or
      // recomputes when there is no store) instead of seeing an empty stream.
      const stream =
        (consumers.get(name) ?? 0) > 1
          ? cold.pipe(shareReplay({ bufferSize: Number.POSITIVE_INFINITY, refCount: false }))
          : cold.pipe(share({ resetOnError: true, resetOnComplete: true, resetOnRefCountZero: false }));
      streams.set(name, stream);
      return stream;
    };

    const out: Record<string, Observable<Table>> = {};
    for (const name of this.nodes.keys()) {
      Object.defineProperty(out, name, { enumerable: true, get: () => streamOf(name) });
    }
    return { streams: out as { readonly [K in keyof S]: Observable<Table<S[K]>> }, stats };
  }

  /** The kept tables and the continuing stream of an interrupted resumable node, if its stage takes them up. */
  private resumption(node: GraphNode, key: string, store: ArtifactStore): { readonly kept: readonly Table[]; readonly rest: (streamOf: (name: string) => Observable<Table>) => Observable<Table> } | undefined {
    const { stage, wiring } = node;
    if (stage.kind !== 'stage' || stage.spec.resume === undefined || wiring.kind !== 'one') return undefined;
    const previous = store.readPartial(key);
    if (previous === undefined || previous.length === 0) return undefined;
    const r = stage.spec.resume(previous);
    if (r === undefined) return undefined;
    if (!Number.isInteger(r.keep) || r.keep < 1 || r.keep > previous.length) {
      throw new BitlensError('INTERNAL', { stage: stage.spec.name, field: 'resume().keep', expected: `an integer in [1, ${previous.length}]`, found: String(r.keep) });
    }
    return { kept: previous.slice(0, r.keep), rest: (streamOf) => streamOf(wiring.from).pipe(r.rest) };
  }

  private compute(node: GraphNode, streamOf: (name: string) => Observable<Table>): Observable<Table> {
    const { stage, wiring } = node;
    switch (stage.kind) {
      case 'source':
        return stage();
      case 'stage':
        if (wiring.kind !== 'one') throw new BitlensError('GRAPH_INVALID', { stage: stage.spec.name, expected: 'one input', found: wiring.kind });
        return streamOf(wiring.from).pipe(stage);
      case 'join': {
        if (wiring.kind !== 'many') throw new BitlensError('GRAPH_INVALID', { stage: stage.spec.name, expected: 'named inputs', found: wiring.kind });
        const inputs: Record<string, Observable<Table>> = {};
        for (const [port, from] of Object.entries(wiring.from)) inputs[port] = streamOf(from);
        return stage(inputs);
      }
    }
  }
}

function optionString(v: unknown): string | undefined {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
}
