import type { z } from 'zod';
import type { GraphEvent, NodePlan, RunStats } from './graph.js';
import type { RunLog } from './run-log.js';
import type { ArtifactStore } from './store.js';

/** What the CLI hands a pipeline when it runs it. */
export interface PipelineContext {
  readonly store: ArtifactStore;
  /** SHA-256 of the validated config (canonical JSON). */
  readonly configHash: string;
  readonly gitRevision?: string;
  /** Receives stage events (progress bars, logs). */
  readonly onEvent: (event: GraphEvent) => void;
  /** Writes a line for the user (the terminal summary). */
  readonly log: (line: string) => void;
  /**
   * The record of this command in the store (`runs/<id>.json`: pipeline, config, every node's key and what happened
   * to it), opened by the CLI; pass it to graph runs as `log` so their artifacts carry this run's id. Absent: each graph
   * run records itself.
   */
  readonly run?: RunLog;
}

/** What a pipeline returns: its run statistics and a printable / JSON summary. */
export interface PipelineResult {
  readonly stats: RunStats;
  readonly summary: Readonly<Record<string, unknown>>;
  readonly lines: readonly string[];
}

/** A file that a pipeline's config names (an input it reads or an output it writes). */
export interface ConfigFile {
  /** The config key naming it, e.g. `weights` or `out`. */
  readonly field: string;
  readonly path: string;
  /** Inputs only: the largest plausible size, in bytes. */
  readonly maxBytes?: number;
}

/** The files a config names, for checks before any work. */
export interface ConfigFiles {
  readonly inputs?: readonly ConfigFile[];
  readonly outputs?: readonly ConfigFile[];
}

/**
 * A named pipeline the CLI can list and run. `config` validates (and defaults) its options; unknown keys must be
 * rejected (use `z.strictObject`). `run` wires stages and sinks; it is the composition root.
 */
export interface PipelineDefinition<C extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly description: string;
  readonly config: C;
  /**
   * Optional, pure: the files the validated config names. The CLI checks them before anything runs (inputs: regular
   * files within `maxBytes`; outputs: files it can create, not folders or devices), so a bad path fails in a second,
   * not after training.
   */
  files?(config: z.output<C>): ConfigFiles;
  /**
   * Checks the config against what its files hold (e.g. a `p` that disagrees with a weights file's own config), after
   * `files` and before the store is opened or anything runs; throws a typed error (INVALID_CONFIG naming the key).
   */
  check?(config: z.output<C>): void;
  run(config: z.output<C>, context: PipelineContext): Promise<PipelineResult>;
  /**
   * The DAG the config would run, as data, with what a run would do with each node given the store (`stored`,
   * `execute`, `resume`, `unused`): what `bitlens run <pipeline> --dry-run` prints. Runs and writes nothing.
   */
  plan?(config: z.output<C>, context: PipelineContext): Promise<readonly NodePlan[]>;
}

/** Identity helper that keeps the config type of a pipeline definition. */
export function definePipeline<C extends z.ZodType>(definition: PipelineDefinition<C>): PipelineDefinition<C> {
  return definition;
}
