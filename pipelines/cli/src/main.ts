import { readFileSync } from 'node:fs';
import { BitlensError, type PipelineDefinition, toBitlensError } from '@bitlens/core';
import { benchCommand } from './commands/bench.js';
import { listPipelines } from './commands/list.js';
import { type CommandIo, runCommand } from './commands/run.js';
import { workerCommand } from './commands/worker.js';
import { EXIT, type ErrorPhase, exitCodeOf } from './exit-codes.js';
import { COMMANDS, COMMAND_HELP, MAIN_HELP } from './help.js';
import { PIPELINES } from './pipelines.js';
import { debugFromEnv, renderError } from './render-error.js';
import { storeCommand } from './store-command.js';

/** Where the CLI writes; replaceable in tests. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** The stream progress bars draw on when it is a TTY. */
  readonly stderr?: NodeJS.WriteStream;
  /** Environment (default `process.env`): `BITLENS_DEBUG=1` adds stack traces. */
  readonly env?: NodeJS.ProcessEnv;
  readonly pipelines?: readonly PipelineDefinition[];
}

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  stderr: process.stderr,
};

/** The version of the bitlens CLI (its package version). */
export function cliVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function usageError(field: string, expected: string, found: string): BitlensError {
  return new BitlensError('INVALID_OPTION', { stage: 'cli', field, expected, found });
}

/** `bitlens help [command]`. */
function helpCommand(rest: readonly string[], io: CommandIo): number {
  const [name, ...more] = rest.filter((a) => a !== '--debug' && a !== '--json');
  if (name === '--help' || name === '-h') return helpCommand(['help'], io);
  if (more.length > 0) return io.fail(usageError('arguments', 'at most one command name', more.map((m) => JSON.stringify(m)).join(' ')), 'usage');
  if (name === undefined) {
    io.out(MAIN_HELP);
    return EXIT.ok;
  }
  const text = COMMAND_HELP[name];
  if (text === undefined) return io.fail(usageError('command', `one of ${COMMANDS.join(', ')}`, JSON.stringify(name)), 'usage');
  io.out(text);
  return EXIT.ok;
}

/** `bitlens list [--json]`. */
function listCommand(rest: readonly string[], pipelines: readonly PipelineDefinition[], io: CommandIo): number {
  const unknown = rest.filter((a) => a !== '--json' && a !== '--debug' && a !== '--help' && a !== '-h');
  if (unknown.length > 0) return io.fail(usageError('arguments', 'only --json', unknown.map((u) => JSON.stringify(u)).join(' ')), 'usage');
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(COMMAND_HELP['list'] ?? '');
    return EXIT.ok;
  }
  return listPipelines(pipelines, rest.includes('--json'), io.out);
}

/**
 * Runs the CLI with arguments (without `node bitlens`) and resolves to the exit status: 0 success, 1 the run failed,
 * 2 bad usage, config or option (found before any work). Errors print one line without a stack trace (with
 * `--debug` or `BITLENS_DEBUG=1`, the stack), or one JSON object under `--json`. Never calls process.exit.
 */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const pipelines = io.pipelines ?? PIPELINES;
  const style = { json: argv.includes('--json'), debug: argv.includes('--debug') || debugFromEnv(io.env ?? process.env) };
  const fail = (e: unknown, phase: ErrorPhase, hint?: string): number => {
    const error = toBitlensError(e, 'cli');
    const code = exitCodeOf(error, phase);
    io.err(renderError(error, code, style, hint ?? (code === EXIT.usage && !style.json ? 'bitlens --help lists the commands; bitlens help <command> their options' : undefined)));
    return code;
  };
  const cio: CommandIo = { out: io.out, err: io.err, ...(io.stderr === undefined ? {} : { stderr: io.stderr }), fail };
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      return fail(usageError('command', `one of ${COMMANDS.join(', ')}`, 'none'), 'usage', MAIN_HELP);
    case '--help':
    case '-h':
      io.out(MAIN_HELP);
      return EXIT.ok;
    case '--version':
    case '-V':
      io.out(style.json ? JSON.stringify({ version: cliVersion(), node: process.version }) : `bitlens ${cliVersion()}`);
      return EXIT.ok;
    case 'help':
      return helpCommand(rest, cio);
    case 'list':
      return listCommand(rest, pipelines, cio);
    case 'run':
      return runCommand(rest, pipelines, cio);
    case 'bench':
      return benchCommand(rest, cio);
    case 'store':
      try {
        return storeCommand(rest, io.out, io.env ?? process.env);
      } catch (e) {
        return fail(e, 'run');
      }
    case 'worker':
      return workerCommand(rest, cio, io.env ?? process.env);
    default:
      return fail(usageError(command.startsWith('-') ? 'option' : 'command', `a command first: one of ${COMMANDS.join(', ')} (or --help, --version)`, JSON.stringify(command)), 'usage');
  }
}
