import type { Schema, Table, TypeMap } from 'apache-arrow';
import { type Observable, type OperatorFunction, map, pipe } from 'rxjs';
import { assertSchema } from './assert-schema.js';
import { callerFingerprint } from './fingerprint.js';

/** JSON-serialisable options: they identify a stage's work and go into its cache key and provenance. */
export type StageOptions = Readonly<Record<string, unknown>>;

/** Progress of a long stage, derived from one of its output tables. */
export interface Progress {
  readonly done: number;
  readonly total: number;
  readonly label?: string;
}

interface SpecBase<O extends TypeMap> {
  /** `"<package>/<file>"`, e.g. `hello/square`. */
  readonly name: string;
  /** Bump when the stage's output for the same inputs and options changes: it is part of the cache key. */
  readonly version: string;
  /** What identifies this stage's work (hashed into the cache key, written into provenance). */
  readonly options: StageOptions;
  readonly output: Schema<O>;
  /** Optional: how far along the stage is, given a table it just emitted. Pure. */
  readonly progress?: (table: Table<O>) => Progress | undefined;
  /**
   * Fingerprint of the code that computes the stage; part of the cache key, so changed code never reuses a stale
   * result. Filled in by `defineStage`/`defineSource`/`defineJoin` from the package that calls them (its sources, its
   * @bitlens dependencies and the installed versions of its dependencies; see `packageFingerprint`). Set it only to
   * pin a key on purpose (tests).
   */
  readonly code?: string;
}

/** How a stage continues an interrupted run (see `StageSpec.resume`). */
export interface StageResumption<I extends TypeMap, O extends TypeMap> {
  /** How many of the interrupted run's tables are kept (replayed downstream as they are, not recomputed); >= 1. */
  readonly keep: number;
  /** The stage that produces the tables after them, from the same input (its output follows the kept tables). */
  readonly rest: Stage<I, O>;
}

/** A one-input stage: an RxJS operator from tables to tables plus declared schemas. */
export interface StageSpec<I extends TypeMap, O extends TypeMap> extends SpecBase<O> {
  readonly input: Schema<I>;
  readonly apply: OperatorFunction<Table<I>, Table<O>>;
  /**
   * Optional: continue after an interruption. A graph run with a store keeps the tables a resumable stage has emitted
   * so far; if the process dies, the next run calls `resume` with them and, when it returns a resumption, replays
   * `keep` of them and runs `rest` for the remainder, instead of starting over. Must give the same complete output
   * as an uninterrupted run (e.g. a training run resumed from its last checkpoint). Pure.
   */
  readonly resume?: (previous: readonly Table<O>[]) => StageResumption<I, O> | undefined;
}

/** A stage with no input (a generator such as a dataset). */
export interface SourceSpec<O extends TypeMap> extends SpecBase<O> {
  readonly create: () => Observable<Table<O>>;
}

/** Named input streams of a stage with several inputs. */
export type InputStreams<Ins extends Record<string, TypeMap>> = { readonly [K in keyof Ins]: Observable<Table<Ins[K]>> };
/** Declared schemas of a stage with several inputs. */
export type InputSchemas<Ins extends Record<string, TypeMap>> = { readonly [K in keyof Ins]: Schema<Ins[K]> };

/** A stage with several named inputs, e.g. `{ dataset, weights }`. */
export interface JoinSpec<Ins extends Record<string, TypeMap>, O extends TypeMap> extends SpecBase<O> {
  readonly inputs: InputSchemas<Ins>;
  readonly apply: (inputs: InputStreams<Ins>) => Observable<Table<O>>;
}

/** A checked one-input stage; usable directly in `source.pipe(stage)`. */
export type Stage<I extends TypeMap, O extends TypeMap> = OperatorFunction<Table, Table<O>> & {
  readonly kind: 'stage';
  readonly spec: StageSpec<I, O>;
};
/** A checked source stage: call it to get its output stream. */
export type SourceStage<O extends TypeMap> = (() => Observable<Table<O>>) & { readonly kind: 'source'; readonly spec: SourceSpec<O> };
/** A checked stage with several inputs: call it with named streams. */
export type JoinStage<Ins extends Record<string, TypeMap>, O extends TypeMap> = ((inputs: { readonly [K in keyof Ins]: Observable<Table> }) => Observable<Table<O>>) & {
  readonly kind: 'join';
  readonly spec: JoinSpec<Ins, O>;
};
/** Any stage. */
export type AnyStage = Stage<TypeMap, TypeMap> | SourceStage<TypeMap> | JoinStage<Record<string, TypeMap>, TypeMap>;

function checkOutput<O extends TypeMap>(spec: SpecBase<O>): OperatorFunction<Table, Table<O>> {
  return map((t: Table) => assertSchema(spec.output, t, { stage: spec.name, side: 'output', exact: true }));
}

/**
 * Wraps `spec.apply` so that both boundaries are checked against the declared schemas at run time.
 * @example of(table).pipe(defineStage({ name: 'hello/square', version: '1', options: {}, input, output, apply: map(square) }))
 */
export function defineStage<I extends TypeMap, O extends TypeMap>(spec: StageSpec<I, O>): Stage<I, O> {
  const guarded: OperatorFunction<Table, Table<O>> = pipe(
    map((t: Table) => assertSchema(spec.input, t, { stage: spec.name, side: 'input', exact: false })),
    spec.apply,
    checkOutput(spec),
  );
  return Object.assign(guarded, { kind: 'stage' as const, spec: withCode(spec) });
}

function withCode<T extends { readonly code?: string }>(spec: T): T {
  return spec.code === undefined ? { ...spec, code: callerFingerprint() } : spec;
}

/** Defines a source stage whose every emitted table is checked against `spec.output`. */
export function defineSource<O extends TypeMap>(spec: SourceSpec<O>): SourceStage<O> {
  const run = (): Observable<Table<O>> => spec.create().pipe(checkOutput(spec));
  return Object.assign(run, { kind: 'source' as const, spec: withCode(spec) });
}

/** Defines a stage with several named inputs; each input and the output are checked at run time. */
export function defineJoin<Ins extends Record<string, TypeMap>, O extends TypeMap>(spec: JoinSpec<Ins, O>): JoinStage<Ins, O> {
  const run = (inputs: { readonly [K in keyof Ins]: Observable<Table> }): Observable<Table<O>> => {
    const checked = {} as { [K in keyof Ins]: Observable<Table<Ins[K]>> };
    for (const port of Object.keys(spec.inputs) as (keyof Ins & string)[]) {
      const stream = inputs[port];
      const schema = spec.inputs[port];
      checked[port] = stream.pipe(map((t: Table) => assertSchema(schema, t, { stage: spec.name, side: 'input', exact: false, port })));
    }
    return spec.apply(checked).pipe(checkOutput(spec));
  };
  return Object.assign(run, { kind: 'join' as const, spec: withCode(spec) });
}
