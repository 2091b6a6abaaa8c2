import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runBenchCli } from '@bitlens/bench';
import { ArtifactStore, BitlensError, type PipelineDefinition, gitRevision, hashJson, toBitlensError } from '@bitlens/core';
import { z } from 'zod';
import { assembleConfig, validateConfig } from './config.js';
import { PIPELINES } from './pipelines.js';
import { type ProgressView, barProgress, lineProgress } from './progress.js';

const HELP = `bitlens — tiny transformers, their circuits, and what ternary or binary weights change

Usage:
  bitlens run <pipeline> [--config file.json] [--set key=value ...] [--backend name] [--store dir] [--json]
  bitlens list [--json]          pipelines and their options with defaults
  bitlens bench [--filter re] [--quick] [--compare baseline.json [--fail-on-regression]] [--save baseline.json]
                                 kernel microbenchmarks (default suite: benchmarks/kernels); --help for all options
  bitlens --help

Options of run:
  --config file.json   options as a JSON object
  --set key=value      one option (repeatable; value parsed as JSON when it can be, dots nest: a.b=1)
  --backend name       tfjs backend: wasm (default, CPU), cpu, webgpu, tensorflow (tfjs-node, when installed)
  --store dir          artifact store folder (default $BITLENS_HOME/store, else ./.bitlens/store)
  --json               print the summary as one JSON object on stdout (progress goes to stderr)

Exit codes: 0 success, 1 the run failed, 2 bad usage or config (nothing was run or written).`;

/** Where the CLI writes; replaceable in tests. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly stderr?: NodeJS.WriteStream;
  readonly env?: NodeJS.ProcessEnv;
  readonly pipelines?: readonly PipelineDefinition[];
}

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  stderr: process.stderr,
};

function describeOptions(schema: z.ZodType): { key: string; type: string; default?: unknown; description?: string; required: boolean }[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, { type?: string; enum?: unknown[]; default?: unknown; description?: string; minimum?: number; maximum?: number }>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([key, p]) => {
    let type = p.enum !== undefined ? p.enum.map((v) => JSON.stringify(v)).join('|') : (p.type ?? 'any');
    const bound = (v: number | undefined): string => (v === undefined || Math.abs(v) > 1e15 ? '' : String(v));
    if (bound(p.minimum) !== '' || bound(p.maximum) !== '') type += ` [${bound(p.minimum)}..${bound(p.maximum)}]`;
    return { key, type, default: p.default, description: p.description, required: (json.required ?? []).includes(key) && p.default === undefined };
  });
}

function list(pipelines: readonly PipelineDefinition[], asJson: boolean, io: CliIo): number {
  const described = pipelines.map((p) => ({ name: p.name, description: p.description, options: describeOptions(p.config) }));
  if (asJson) {
    io.out(JSON.stringify(described, null, 2));
    return 0;
  }
  for (const p of described) {
    io.out(`${p.name} — ${p.description}`);
    for (const o of p.options) {
      const dflt = o.required ? 'required' : o.default === undefined ? 'optional' : `default ${JSON.stringify(o.default)}`;
      io.out(`  ${o.key.padEnd(16)} ${o.type.padEnd(22)} ${dflt.padEnd(18)} ${o.description ?? ''}`.trimEnd());
    }
  }
  return 0;
}

async function run(pipelines: readonly PipelineDefinition[], positionals: string[], values: Record<string, unknown>, io: CliIo): Promise<number> {
  const name = positionals[1];
  const pipeline = pipelines.find((p) => p.name === name);
  if (pipeline === undefined) {
    throw new BitlensError('INVALID_CONFIG', { stage: 'cli', field: 'pipeline', expected: `one of ${pipelines.map((p) => p.name).join(', ')}`, found: JSON.stringify(name ?? '') });
  }
  const raw = assembleConfig({
    ...(typeof values['config'] === 'string' ? { file: values['config'] } : {}),
    sets: (values['set'] as string[] | undefined) ?? [],
    ...(typeof values['backend'] === 'string' ? { backend: values['backend'] } : {}),
  });
  // Validated before anything runs or is written.
  const config = validateConfig(pipeline.name, pipeline.config, raw);
  const asJson = values['json'] === true;
  const store = new ArtifactStore(typeof values['store'] === 'string' ? { root: values['store'] } : {});
  const log = asJson ? io.err : io.out;
  const view: ProgressView = io.stderr?.isTTY === true ? barProgress(io.stderr, io.err) : lineProgress(io.err);
  const revision = gitRevision();
  try {
    const result = await pipeline.run(config, {
      store,
      configHash: hashJson({ pipeline: pipeline.name, config }),
      ...(revision === undefined ? {} : { gitRevision: revision }),
      onEvent: view.onEvent,
      log,
    });
    view.stop();
    if (asJson) io.out(JSON.stringify(result.summary, null, 2));
    else for (const line of result.lines) io.out(line);
    return 0;
  } finally {
    view.stop();
  }
}

/** The kernel suite of this checkout, loaded at run time so that no package depends on benchmarks/. */
const KERNEL_SUITE = fileURLToPath(new URL('../../../benchmarks/kernels/dist/kernels.bench.js', import.meta.url));

function bench(argv: readonly string[], io: CliIo): Promise<number> {
  const hasSuite = argv.some((a) => a === '--suite' || a.startsWith('--suite='));
  if (!hasSuite && !existsSync(KERNEL_SUITE)) {
    io.err(`bitlens: [NOT_FOUND] bench: the kernel suite is not built (${KERNEL_SUITE}); run \`npm run build\` first`);
    return Promise.resolve(1);
  }
  return runBenchCli(hasSuite ? argv : ['--suite', KERNEL_SUITE, ...argv], { io: { log: io.out, error: io.err } });
}

/** Runs the CLI with arguments (without `node bitlens`); returns the exit code. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const pipelines = io.pipelines ?? PIPELINES;
  if (argv[0] === 'bench') return bench(argv.slice(1), io);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        config: { type: 'string' },
        set: { type: 'string', multiple: true },
        backend: { type: 'string' },
        store: { type: 'string' },
        json: { type: 'boolean' },
      },
    });
  } catch (e) {
    io.err(`bitlens: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values['help'] === true || command === undefined || command === 'help') {
    io.out(HELP);
    return command === undefined && values['help'] !== true ? 2 : 0;
  }
  try {
    switch (command) {
      case 'list':
        return list(pipelines, values['json'] === true, io);
      case 'run':
        return await run(pipelines, positionals, values, io);
      default:
        io.err(`bitlens: unknown command '${command}'\n\n${HELP}`);
        return 2;
    }
  } catch (e) {
    const err = toBitlensError(e, `cli ${command}`);
    io.err(`bitlens: ${err.message}`);
    if (err.code === 'INTERNAL' && err.cause instanceof Error && err.cause.stack !== undefined) io.err(err.cause.stack);
    return err.code === 'INVALID_CONFIG' ? 2 : 1;
  }
}
