import type { Schema, Table, TypeMap } from 'apache-arrow';
import type { Observable } from 'rxjs';
import { BitlensError } from './errors.js';
import { hashJson } from './hash.js';
import { type CollectResult, type NodeStatus, type RunOptions, type StreamsResult, GraphRun, plannedStatuses } from './internal/graph-run.js';
import type { AnyStage, InputSchemas, JoinStage, SourceStage, Stage, StageOptions } from './stage.js';
import type { ArtifactStore } from './store.js';

export type { CollectResult, GraphEvent, NodeStatus, RunOptions, RunProvenance, RunStats, StreamsResult } from './internal/graph-run.js';

/** Names of the nodes of `S` whose output type has every column a stage input `I` requires. */
export type NodeFeeding<S extends Record<string, TypeMap>, I extends TypeMap> = {
  [K in keyof S]: S[K] extends I ? K : never;
}[keyof S] &
  string;

/** The node names of a subgraph's nodes `O` once it is instantiated under `P` (`<P>/<name>`; no prefix for ''). */
export type Prefixed<P extends string, O extends Record<string, TypeMap>> = {
  [K in keyof O & string as P extends '' ? K : `${P}/${K}`]: O[K];
};

/** How a node gets its input: none (a source), one stream, or named streams (a join). @internal */
export type Wiring =
  | { readonly kind: 'none' }
  | { readonly kind: 'one'; readonly from: string }
  | { readonly kind: 'many'; readonly from: Readonly<Record<string, string>> };

/** A node that computes: a stage and where its input comes from. @internal */
export interface StageNode {
  readonly kind: 'stage';
  readonly stage: AnyStage;
  readonly wiring: Wiring;
}
/** A named input of a subgraph, bound to a node of the graph it is used in. @internal */
export interface InputNode {
  readonly kind: 'input';
  readonly schema: Schema;
}
type GraphNode = StageNode | InputNode;

/** One node of a graph, as data (`PipelineGraph.describe`). */
export interface NodeDescription {
  readonly node: string;
  readonly kind: 'source' | 'stage' | 'join';
  /** The stage's `spec.name`. */
  readonly stage: string;
  readonly version: string;
  readonly options: StageOptions;
  /** Input port → node name (`in` for a one-input stage). */
  readonly inputs: Readonly<Record<string, string>>;
  /** The cache key: hash of stage name, version, code fingerprint, options and the input keys. */
  readonly key: string;
  /** Fingerprint of the code that computes the stage (part of the key). */
  readonly code: string;
  /** Whether an interrupted run of it can be continued (its stage declares `resume`). */
  readonly resumable: boolean;
}

/** A node of a graph with what a run would do with it (`PipelineGraph.plan`). */
export interface NodePlan extends NodeDescription {
  readonly status: NodeStatus;
}

/**
 * A reusable piece of a graph: named inputs (each with the schema it needs) and the nodes built on them. Instantiate it
 * with `PipelineGraph.use(prefix, subgraph, inputs)` or, in a loop over data, `PipelineGraph.each`; its nodes are then
 * named `<prefix>/<node>` and fully typed.
 */
export interface Subgraph<Ins extends Record<string, TypeMap>, Outs extends Record<string, TypeMap>> {
  readonly inputs: InputSchemas<Ins>;
  /** Names of the nodes it adds, in topological order. */
  readonly outputs: readonly (keyof Outs & string)[];
  /** @internal */
  readonly nodes: ReadonlyMap<string, GraphNode>;
}

/** One instantiation of a subgraph inside {@link PipelineGraph.each}. */
export interface SubgraphUse<S extends Record<string, TypeMap>, P extends string, Ins extends Record<string, TypeMap>, Outs extends Record<string, TypeMap>> {
  readonly prefix: P;
  readonly subgraph: Subgraph<Ins, Outs>;
  readonly inputs: { readonly [K in keyof Ins]: NodeFeeding<S, Ins[K]> };
}

function inputsOf(w: Wiring): Readonly<Record<string, string>> {
  return w.kind === 'none' ? {} : w.kind === 'one' ? { in: w.from } : w.from;
}

/** Arrow's `Table<O>` is invariant in O, so a typed stage is stored as the untyped `AnyStage` (the builder's types did the checking). */
function erased(stage: Stage<never, never> | SourceStage<never> | JoinStage<never, never>): AnyStage;
function erased(stage: unknown): AnyStage {
  return stage as AnyStage;
}

function invalid(field: string, expected: string, found: string): BitlensError {
  return new BitlensError('GRAPH_INVALID', { stage: 'core/graph', field, expected, found });
}

/** Adds a node to `nodes` after checking its name is new and its inputs exist. */
function addNode(nodes: Map<string, GraphNode>, name: string, node: StageNode): void {
  if (name === '' || nodes.has(name)) throw invalid(name, 'a new, non-empty node name', nodes.has(name) ? 'a duplicate' : 'an empty name');
  for (const input of Object.values(inputsOf(node.wiring))) {
    if (!nodes.has(input)) throw invalid(name, 'an existing input node', `'${input}'`);
  }
  nodes.set(name, node);
}

/** Adds a subgraph's nodes to `nodes` under `prefix`, its inputs bound to the nodes named in `inputs`. */
function instantiate(nodes: Map<string, GraphNode>, prefix: string, subgraph: ReadonlyMap<string, GraphNode>, inputs: Readonly<Record<string, string>>): void {
  const rename = new Map<string, string>();
  const at = (n: string): string => rename.get(n) ?? n;
  for (const [name, node] of subgraph) {
    if (node.kind === 'input') {
      const target = inputs[name];
      if (target === undefined || !nodes.has(target)) throw invalid(`${prefix}:${name}`, 'an existing node for the subgraph input', JSON.stringify(target ?? null));
      rename.set(name, target);
      continue;
    }
    const full = prefix === '' ? name : `${prefix}/${name}`;
    rename.set(name, full);
    const w = node.wiring;
    const wiring: Wiring = w.kind === 'none' ? w : w.kind === 'one' ? { kind: 'one', from: at(w.from) } : { kind: 'many', from: Object.fromEntries(Object.entries(w.from).map(([p, n]) => [p, at(n)])) };
    addNode(nodes, full, { kind: 'stage', stage: node.stage, wiring });
  }
}

/**
 * A pipeline as a DAG of named streams. Each node is a stage; an output can feed several nodes, and a join stage takes
 * several named inputs. Types flow through the builder: a stage can only be wired to a node whose output has the
 * columns it needs, and subgraphs (`defineSubgraph`) can be instantiated under a prefix, also in a loop (`each`).
 *
 * Running it with a store caches every node: a node's key hashes its stage name, version, code fingerprint and
 * options with the keys of its inputs, so a node already in the store is read back without running it or anything
 * upstream of it. Nodes with the same key (the same computation reached twice) are computed once.
 * @example
 * const g = PipelineGraph.create().source('nums', numbers({ n: 10 })).then('sq', square(), 'nums').join('sum', add(), { left: 'sq', right: 'nums' });
 * const { tables, stats } = await g.run({ store, collect: ['sum', 'sq'] });
 */
export class PipelineGraph<S extends Record<string, TypeMap> = Record<never, TypeMap>> {
  private constructor(private readonly nodes: ReadonlyMap<string, GraphNode>) {}

  /** An empty graph. */
  static create(): PipelineGraph {
    return new PipelineGraph(new Map());
  }

  /** A graph holding only the named inputs of a subgraph (what `defineSubgraph`'s builder starts from). @internal */
  static inputs<Ins extends Record<string, TypeMap>>(inputs: InputSchemas<Ins>): PipelineGraph<Ins> {
    const nodes = new Map<string, GraphNode>();
    for (const [name, schema] of Object.entries(inputs) as [string, Schema][]) {
      if (name.includes('/')) throw invalid(name, 'an input name without "/"', JSON.stringify(name));
      nodes.set(name, { kind: 'input', schema });
    }
    return new PipelineGraph<Ins>(nodes);
  }

  private add<N extends string, O extends TypeMap>(name: N, node: StageNode): PipelineGraph<S & { [K in N]: O }> {
    const nodes = new Map(this.nodes);
    addNode(nodes, name, node);
    return new PipelineGraph(nodes);
  }

  /** Adds a source node. */
  source<N extends string, O extends TypeMap>(name: N, stage: SourceStage<O>): PipelineGraph<S & { [K in N]: O }> {
    return this.add<N, O>(name, { kind: 'stage', stage: erased(stage as never), wiring: { kind: 'none' } });
  }

  /** Adds a one-input stage fed by node `from`. */
  then<N extends string, I extends TypeMap, O extends TypeMap>(name: N, stage: Stage<I, O>, from: NodeFeeding<S, I>): PipelineGraph<S & { [K in N]: O }> {
    return this.add<N, O>(name, { kind: 'stage', stage: erased(stage as never), wiring: { kind: 'one', from } });
  }

  /** Adds a stage with several named inputs, each fed by a node. */
  join<N extends string, Ins extends Record<string, TypeMap>, O extends TypeMap>(
    name: N,
    stage: JoinStage<Ins, O>,
    from: { readonly [P in keyof Ins]: NodeFeeding<S, Ins[P]> },
  ): PipelineGraph<S & { [K in N]: O }> {
    return this.add<N, O>(name, { kind: 'stage', stage: erased(stage as never), wiring: { kind: 'many', from: { ...from } } });
  }

  /**
   * Instantiates a subgraph: its inputs are bound to nodes of this graph, its nodes are added as `<prefix>/<node>`
   * (or under their own names for prefix '').
   * @example g.use('fp32', runSubgraph(fp32Options), { dataset: 'dataset' }) // adds 'fp32/train', 'fp32/final', ...
   */
  use<P extends string, Ins extends Record<string, TypeMap>, Outs extends Record<string, TypeMap>>(
    prefix: P,
    subgraph: Subgraph<Ins, Outs>,
    inputs: { readonly [K in keyof Ins]: NodeFeeding<S, Ins[K]> },
  ): PipelineGraph<S & Prefixed<P, Outs>> {
    const nodes = new Map(this.nodes);
    instantiate(nodes, prefix, subgraph.nodes, inputs);
    return new PipelineGraph(nodes);
  }

  /**
   * Instantiates one subgraph per item of a list (runs of a comparison, cells of a sweep), each under its own prefix.
   * @example g.each(runs, (run) => ({ prefix: run.name, subgraph: runSubgraph(run), inputs: { dataset: 'dataset' } }))
   */
  each<T, P extends string, Ins extends Record<string, TypeMap>, Outs extends Record<string, TypeMap>>(
    items: readonly T[],
    instance: (item: T, index: number) => SubgraphUse<S, P, Ins, Outs>,
  ): PipelineGraph<S & Prefixed<P, Outs>> {
    const nodes = new Map(this.nodes);
    items.forEach((item, i) => {
      const u = instance(item, i);
      instantiate(nodes, u.prefix, u.subgraph.nodes, u.inputs);
    });
    return new PipelineGraph(nodes);
  }

  /** Node names in insertion (topological) order (a subgraph's inputs excluded). */
  get names(): (keyof S & string)[] {
    return [...this.stageNodes().keys()] as (keyof S & string)[];
  }

  /** @internal */
  stageNodes(): ReadonlyMap<string, StageNode> {
    const out = new Map<string, StageNode>();
    for (const [name, node] of this.nodes) if (node.kind === 'stage') out.set(name, node);
    return out;
  }

  /** @internal */
  allNodes(): ReadonlyMap<string, GraphNode> {
    return this.nodes;
  }

  /** The cache key of every node (computed from the graph alone, without running anything). */
  keys(): { readonly [K in keyof S]: string } {
    const keys: Record<string, string> = {};
    for (const [name, node] of this.nodes) {
      if (node.kind === 'input') throw invalid(name, 'a graph whose subgraph inputs are bound (use it with `use`)', 'an unbound input');
      const spec = node.stage.spec;
      const inputs = Object.fromEntries(Object.entries(inputsOf(node.wiring)).map(([port, from]) => [port, keys[from]]));
      keys[name] = hashJson({ stage: spec.name, version: spec.version, code: spec.code ?? 'none', options: spec.options, inputs }, spec.name);
    }
    return keys as { readonly [K in keyof S]: string };
  }

  /** The DAG as data: every node with its stage, version, options, input nodes and cache key. */
  describe(): NodeDescription[] {
    const keys = this.keys() as Readonly<Record<string, string>>;
    return [...this.stageNodes()].map(([node, { stage, wiring }]) => ({
      node,
      kind: stage.kind,
      stage: stage.spec.name,
      version: stage.spec.version,
      options: stage.spec.options,
      inputs: inputsOf(wiring),
      key: keys[node] ?? '',
      code: stage.spec.code ?? 'none',
      resumable: stage.kind === 'stage' && stage.spec.resume !== undefined,
    }));
  }

  /**
   * What a run that collects `collect` (default: every node nothing else reads) would do with each node, given what is
   * in `store`: `stored` (read back), `execute`, `resume` (continue an interrupted run), or `unused` (not needed:
   * everything that reads it is stored). Runs nothing.
   */
  plan(store: ArtifactStore | undefined, collect?: readonly (keyof S & string)[]): NodePlan[] {
    const described = this.describe();
    const status = plannedStatuses(described, store, collect ?? this.leaves());
    return described.map((d) => ({ ...d, status: status.get(d.node) ?? 'unused' }));
  }

  /** Nodes no other node reads (the default of what a run collects). */
  leaves(): (keyof S & string)[] {
    const read = new Set<string>();
    for (const node of this.stageNodes().values()) for (const from of Object.values(inputsOf(node.wiring))) read.add(from);
    return this.names.filter((n) => !read.has(n));
  }

  /**
   * Runs the graph and returns the tables of the nodes in `collect` (default: the leaves). Every node runs at most
   * once: a node read by several consumers (or collected and consumed) is computed once and its tables are handed to
   * each; an intermediate node is collected from the same run, never by running the graph again.
   */
  async run<C extends keyof S & string = keyof S & string>(options: RunOptions & { readonly collect?: readonly C[] } = {}): Promise<CollectResult<{ readonly [K in C]: S[K] }>> {
    const collect = (options.collect ?? this.leaves()) as readonly C[];
    // Without a run record of the caller's (the CLI opens one per command), a run with a store records itself.
    const own = options.log === undefined && options.store !== undefined ? options.store.beginRun({ pipeline: 'graph', config: null }) : undefined;
    try {
      const result = await new GraphRun(this.stageNodes(), this.keys(), own === undefined ? options : { ...options, log: own }, collect).collect<{ readonly [K in C]: S[K] }>();
      own?.finish('ok');
      return result;
    } catch (e) {
      own?.finish('failed', e);
      throw e;
    }
  }

  /**
   * The output streams of the graph (lazy: nothing runs until a stream is subscribed). A node read by several
   * consumers is computed once and handed to each; a stream subscribed again after it completed is read back from the
   * store (recomputed without a store). Prefer `run({ collect })` unless you need the tables as they come.
   */
  streams(options: RunOptions = {}): StreamsResult<S> {
    const run = new GraphRun(this.stageNodes(), this.keys(), options, []);
    const out: Record<string, Observable<Table>> = {};
    for (const name of this.names) Object.defineProperty(out, name, { enumerable: true, get: () => run.stream(name) });
    return { streams: out as { readonly [K in keyof S]: Observable<Table<S[K]>> }, stats: run.stats };
  }
}

/**
 * Defines a subgraph: named inputs (with the schemas the subgraph's stages need) and a builder that adds its nodes.
 * The builder runs once, now; instantiate the result with `PipelineGraph.use` / `each`. Without inputs (a
 * self-contained piece, e.g. one sweep cell) pass only the builder.
 * @example
 * const run = defineSubgraph({ dataset: DatasetSchema }, (g) => g.then('train', train(opts), 'dataset').then('final', finalCheckpoint(), 'train'));
 * PipelineGraph.create().source('dataset', data).use('fp32', run, { dataset: 'dataset' }); // nodes 'fp32/train', 'fp32/final'
 */
export function defineSubgraph<R extends Record<string, TypeMap>>(build: (g: PipelineGraph) => PipelineGraph<R>): Subgraph<Record<never, TypeMap>, R>;
export function defineSubgraph<Ins extends Record<string, TypeMap>, R extends Record<string, TypeMap>>(
  inputs: InputSchemas<Ins>,
  build: (g: PipelineGraph<Ins>) => PipelineGraph<R>,
): Subgraph<Ins, Omit<R, keyof Ins>>;
export function defineSubgraph(
  inputsOrBuild: InputSchemas<Record<string, TypeMap>> | ((g: PipelineGraph) => PipelineGraph<Record<string, TypeMap>>),
  maybeBuild?: (g: PipelineGraph<Record<string, TypeMap>>) => PipelineGraph<Record<string, TypeMap>>,
): Subgraph<Record<string, TypeMap>, Record<string, TypeMap>> {
  const [inputs, build] = typeof inputsOrBuild === 'function' ? [{}, inputsOrBuild] : [inputsOrBuild, maybeBuild];
  if (build === undefined) throw invalid('build', 'a builder function', 'nothing');
  const built = build(PipelineGraph.inputs(inputs));
  const nodes = built.allNodes();
  for (const name of Object.keys(inputs)) {
    if (nodes.get(name)?.kind !== 'input') throw invalid(name, 'the subgraph input itself, not a stage of that name', 'a stage');
  }
  const outputs = [...nodes].filter(([, n]) => n.kind === 'stage').map(([name]) => name);
  return { inputs, outputs, nodes };
}
