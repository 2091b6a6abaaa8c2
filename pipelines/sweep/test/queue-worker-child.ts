// A `bitlens worker` in its own process for the queue tests (the parent kills it, or stops it with SIGTERM). Short
// locks so that a killed worker's cell goes back to the queue within seconds.
import { serveQueue } from '../src/queue/worker.js';

const [queue, store, concurrency] = process.argv.slice(2);
await serveQueue({
  queue: queue ?? '',
  store: store ?? '',
  concurrency: Number(concurrency ?? '1'),
  lockDurationMs: 4_000,
  stalledIntervalMs: 1_000,
  log: (line) => process.stdout.write(`${line}\n`),
});
process.exit(0);
