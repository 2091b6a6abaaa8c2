import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread running the module at `entry` (a `.js` URL beside the caller, e.g.
 * `new URL('./internal/cell-worker.js', import.meta.url)`). When the caller runs from its TypeScript sources (tests,
 * tsx) the `.js` file does not exist: the `.ts` file beside it is started through tsx's loader instead (Node 20 does
 * not apply `--import tsx` from a worker's execArgv, so a small bootstrap registers it inside the worker).
 */
export function startWorker(entry: URL, workerData: unknown): Worker {
  const path = fileURLToPath(entry);
  if (existsSync(path) || !path.endsWith('.js')) return new Worker(entry, { workerData });
  const ts = new URL(entry.href.replace(/\.js$/, '.ts'));
  const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(ts.href)}); });`;
  return new Worker(code, { eval: true, workerData });
}
