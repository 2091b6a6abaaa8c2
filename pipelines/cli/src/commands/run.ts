import { parseArgs } from 'node:util';
import { ArtifactStore, BitlensError, type PipelineContext, type PipelineDefinition, gitRevision, hashJson } from '@bitlens/core';
import { checkConfigFiles } from '../check-files.js';
import { assembleConfig, validateConfig } from '../config.js';
import type { ErrorPhase } from '../exit-codes.js';
import { RUN_HELP } from '../help.js';
import { type ProgressView, barProgress, guardTerminal, jsonProgress, lineProgress } from '../progress.js';
import { optionLines } from './list.js';
import { planLines } from './plan.js';

const STAGE = 'cli run';

/** Where a command writes, and how it reports a failure (renders it, returns the exit status). */
export interface CommandIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly stderr?: NodeJS.WriteStream;
  readonly fail: (error: unknown, phase: ErrorPhase, hint?: string) => number;
}

/** The flags of `bitlens run`, checked. */
interface RunArgs {
  readonly pipeline?: string;
  readonly config?: string;
  readonly sets: readonly string[];
  readonly backend?: string;
  readonly store?: string;
  /** `--queue url` and `--workers N`: shorthands of `--set queue=…` and `--set workers=N` (the sweep's options). */
  readonly shorthands: readonly string[];
  readonly json: boolean;
  readonly dryRun: boolean;
  readonly help: boolean;
}

function usage(field: string, expected: string, found: string, detail?: string): BitlensError {
  return new BitlensError('INVALID_OPTION', { stage: STAGE, field, expected, found }, detail);
}

function once(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name] as string[] | undefined;
  if (v === undefined) return undefined;
  if (v.length > 1) throw usage(`--${name}`, 'the flag once', `${v.length} values: ${v.map((x) => JSON.stringify(x)).join(', ')}`);
  return v[0];
}

/** Parses `run` flags: strict, one pipeline name, no stray arguments, no repeated single flags, no empty store. */
function parseRunArgs(argv: readonly string[]): RunArgs {
  let values: Record<string, unknown>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv], allowPositionals: true, strict: true,
      options: {
        config: { type: 'string', multiple: true }, set: { type: 'string', multiple: true }, backend: { type: 'string', multiple: true },
        store: { type: 'string', multiple: true }, queue: { type: 'string', multiple: true }, workers: { type: 'string', multiple: true }, json: { type: 'boolean' }, debug: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw usage('arguments', 'the options listed by `bitlens help run`', (e as Error).message.replace(/\. To specify.*$/s, ''));
  }
  const [pipeline, ...stray] = positionals;
  const first = stray[0];
  if (first !== undefined) {
    const hint = first.includes('=') ? ` (did you mean --set ${first}?)` : '';
    throw usage('arguments', 'one pipeline name, then options', `stray argument(s) ${stray.map((s) => JSON.stringify(s)).join(' ')}${hint}`);
  }
  const store = once(values, 'store');
  if (store !== undefined && store.trim() === '') throw usage('--store', 'a folder path', 'an empty string');
  const config = once(values, 'config');
  if (config !== undefined && config.trim() === '') throw usage('--config', 'a file path', 'an empty string');
  const backend = once(values, 'backend');
  const queue = once(values, 'queue');
  const workers = once(values, 'workers');
  if (workers !== undefined && !/^\d+$/.test(workers)) throw usage('--workers', 'a non-negative integer (0 = in this process)', JSON.stringify(workers));
  const shorthands = [...(queue === undefined ? [] : [`queue=${JSON.stringify(queue)}`]), ...(workers === undefined ? [] : [`workers=${workers}`])];
  return {
    shorthands,
    ...(pipeline === undefined ? {} : { pipeline }), ...(config === undefined ? {} : { config }), sets: (values['set'] as string[] | undefined) ?? [],
    ...(backend === undefined ? {} : { backend }), ...(store === undefined ? {} : { store }),
    json: values['json'] === true, dryRun: values['dry-run'] === true, help: values['help'] === true,
  };
}

function findPipeline(pipelines: readonly PipelineDefinition[], name: string | undefined): PipelineDefinition {
  const p = pipelines.find((x) => x.name === name);
  if (p === undefined) {
    throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: 'pipeline', expected: `one of ${pipelines.map((x) => x.name).join(', ')}`, found: name === undefined ? 'none' : JSON.stringify(name) });
  }
  return p;
}

/** Checks everything before any work: flags, pipeline, config, the files it names. */
function prepareRun(pipelines: readonly PipelineDefinition[], args: RunArgs): { pipeline: PipelineDefinition; config: unknown } {
  const pipeline = findPipeline(pipelines, args.pipeline);
  const raw = assembleConfig({ ...(args.config === undefined ? {} : { file: args.config }), sets: [...args.sets, ...args.shorthands], ...(args.backend === undefined ? {} : { backend: args.backend }) });
  const config = validateConfig(pipeline.name, pipeline.config, raw);
  if (pipeline.files !== undefined) checkConfigFiles(pipeline.name, pipeline.files(config));
  pipeline.check?.(config);
  if (args.dryRun && pipeline.plan === undefined) throw usage('--dry-run', 'a pipeline that can list its plan', `${pipeline.name}, which cannot`);
  return { pipeline, config };
}

function progressView(json: boolean, io: CommandIo): ProgressView {
  if (json) return jsonProgress(io.err);
  return io.stderr?.isTTY === true ? barProgress(io.stderr) : lineProgress(io.err);
}

/** `bitlens run <pipeline>`: checks everything up front (exit 2 on a bad request), then runs (exit 1 on a failure). */
export async function runCommand(argv: readonly string[], pipelines: readonly PipelineDefinition[], io: CommandIo): Promise<number> {
  let prepared: { pipeline: PipelineDefinition; config: unknown };
  let args: RunArgs;
  try {
    args = parseRunArgs(argv);
    if (args.help) {
      io.out(RUN_HELP);
      const p = pipelines.find((x) => x.name === args.pipeline);
      if (p !== undefined) io.out([``, `Options of ${p.name} (--set key=value):`, ...optionLines(p)].join('\n'));
      return 0;
    }
    prepared = prepareRun(pipelines, args);
  } catch (e) {
    const config = e instanceof BitlensError && (e.site.field === 'pipeline' || e.site.field === 'config');
    return io.fail(e, 'usage', config ? 'bitlens list shows each pipeline and its options with types, ranges and defaults' : 'bitlens help run lists the options');
  }
  const { pipeline, config } = prepared;
  return args.dryRun ? dryRun(pipeline, config, args, io) : execute(pipeline, config, args, io);
}

/** `--dry-run`: the plan as a table (or JSON); reads the store, runs and writes nothing. */
async function dryRun(pipeline: PipelineDefinition, config: unknown, args: RunArgs, io: CommandIo): Promise<number> {
  try {
    const store = new ArtifactStore(args.store === undefined ? {} : { root: args.store });
    const context: PipelineContext = { store, configHash: hashJson({ pipeline: pipeline.name, config }), onEvent: () => undefined, log: () => undefined };
    const plan = (await pipeline.plan?.(config, context)) ?? [];
    if (args.json) io.out(JSON.stringify({ pipeline: pipeline.name, dryRun: true, nodes: plan }, null, 2));
    else for (const line of planLines(pipeline.name, plan)) io.out(line);
    return 0;
  } catch (e) {
    return io.fail(e, 'run');
  }
}

/** Runs the pipeline with progress, a run record in the store, and the summary at the end. */
async function execute(pipeline: PipelineDefinition, config: unknown, args: RunArgs, io: CommandIo): Promise<number> {
  const view = progressView(args.json, io);
  const release = io.stderr?.isTTY === true && !args.json ? guardTerminal(() => view.stop()) : () => undefined;
  let record: ReturnType<ArtifactStore['beginRun']> | undefined;
  try {
    const store = new ArtifactStore(args.store === undefined ? {} : { root: args.store });
    store.check(); // a store that cannot hold a store fails here, typed, before any work
    const revision = gitRevision();
    const configHash = hashJson({ pipeline: pipeline.name, config });
    record = store.beginRun({ pipeline: pipeline.name, config, configHash, ...(revision === undefined ? {} : { gitRevision: revision }) });
    const result = await pipeline.run(config, {
      store,
      configHash,
      ...(revision === undefined ? {} : { gitRevision: revision }),
      onEvent: view.onEvent,
      log: args.json ? (line) => io.err(JSON.stringify({ event: 'log', line })) : io.out,
      run: record,
    });
    record.finish('ok');
    view.stop();
    if (args.json) io.out(JSON.stringify(result.summary, null, 2));
    else for (const line of result.lines) io.out(line);
    return 0;
  } catch (e) {
    view.stop();
    try {
      record?.finish('failed', e);
    } catch {
      /* the store itself failed: the error below says so */
    }
    return io.fail(e, 'run');
  } finally {
    view.stop();
    release();
  }
}
