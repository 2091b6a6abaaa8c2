import { parseArgs } from 'node:util';
import { BitlensError, defaultStoreRoot } from '@bitlens/core';
import { checkQueueUrl, serveQueue } from '@bitlens/pipeline-sweep';
import { EXIT } from '../exit-codes.js';
import type { CommandIo } from './run.js';

/** Usage of `bitlens worker`. */
export const WORKER_HELP = `bitlens worker — run sweep cells taken from a queue (BullMQ on Redis), on this machine

Usage:
  bitlens worker --queue redis://HOST:PORT[/DB] [--store dir] [--concurrency N] [--backend wasm]

Options:
  --queue url        the Redis the sweep was submitted to (bitlens run sweep --set queue=redis://...)
  --store dir        this worker's artifact store (a shared filesystem's folder lets another worker resume a cell
                     from its checkpoints); default $BITLENS_HOME/store, else ./.bitlens/store
  --concurrency N    cells at once, one worker thread (one core) each (default 1)
  --backend name     tfjs backend of the cells this worker takes (default wasm; one queue per backend)

Stops on SIGTERM or SIGINT: the first lets the running cells finish and takes no new ones; a second hands them back
to the queue at once (another worker resumes them from their last checkpoint).`;

function usage(field: string, expected: string, found: string): BitlensError {
  return new BitlensError('INVALID_OPTION', { stage: 'cli worker', field, expected, found });
}

/** The parsed flags of `bitlens worker` (INVALID_OPTION naming the flag for anything wrong). */
export function parseWorkerArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): { readonly queue: string; readonly store: string; readonly concurrency: number; readonly backend: string } | 'help' {
  let parsed: ReturnType<typeof parseArgs<{ options: { queue: { type: 'string' }; store: { type: 'string' }; concurrency: { type: 'string' }; backend: { type: 'string' }; help: { type: 'boolean'; short: 'h' }; debug: { type: 'boolean' } } }>>;
  try {
    parsed = parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: { queue: { type: 'string' }, store: { type: 'string' }, concurrency: { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' }, debug: { type: 'boolean' } } });
  } catch (e) {
    throw usage('arguments', 'the flags of bitlens worker (bitlens help worker)', (e as Error).message);
  }
  const v = parsed.values;
  if (v.help === true) return 'help';
  if (v.queue === undefined) throw usage('--queue', 'redis://HOST:PORT[/DB]', 'none');
  checkQueueUrl(v.queue, '--queue');
  const concurrency = v.concurrency === undefined ? 1 : Number(v.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw usage('--concurrency', 'an integer from 1 to 256', JSON.stringify(v.concurrency));
  if (v.store !== undefined && v.store.trim() === '') throw usage('--store', 'a folder path', 'an empty string');
  return { queue: v.queue, store: v.store ?? defaultStoreRoot(env), concurrency, backend: v.backend ?? 'wasm' };
}

/** `bitlens worker`: serves the sweep queue until stopped. Resolves to the exit status. */
export async function workerCommand(argv: readonly string[], io: CommandIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let args: ReturnType<typeof parseWorkerArgs>;
  try {
    args = parseWorkerArgs(argv, env);
  } catch (e) {
    return io.fail(e, 'usage');
  }
  if (args === 'help') {
    io.out(WORKER_HELP);
    return EXIT.ok;
  }
  try {
    await serveQueue({ ...args, log: io.err });
    return EXIT.ok;
  } catch (e) {
    return io.fail(e, 'run');
  }
}
