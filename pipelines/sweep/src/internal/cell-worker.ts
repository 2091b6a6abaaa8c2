import { BitlensError } from '@bitlens/core';
import { initTfjsBackend } from '@bitlens/engine';
import { createQuantizerRegistry } from '@bitlens/quantization';
import { tableToIPC } from 'apache-arrow';
import { parentPort, workerData } from 'node:worker_threads';
import { sweepKernels } from '../kernels.js';
import { runCell } from '../run-cell.js';
import type { CellWorkerData, FromCellWorker, ToCellWorker } from './protocol.js';

// A worker thread of the sweep's local pool: its own tfjs engine (started here, once, with its share of the cores),
// cells one at a time, each trained in this thread (the training package's in-process executor on this engine).
const port = parentPort;
const data = workerData as CellWorkerData;
const post = (m: FromCellWorker, transfer: ArrayBuffer[] = []): void => port?.postMessage(m, transfer);
const fail = (cell: string | undefined, e: unknown): void =>
  post({ type: 'error', cell, message: e instanceof Error ? e.message : String(e), ...(e instanceof BitlensError ? { code: e.code, site: e.site } : {}) });

try {
  const { tf } = await initTfjsBackend(data.backend, { threads: data.engineThreads });
  const registry = createQuantizerRegistry();
  const kernels = sweepKernels();
  let queue: Promise<void> = Promise.resolve();
  port?.on('message', (m: ToCellWorker) => {
    if (m.type === 'stop') {
      port.close();
      return;
    }
    const id = m.job.cell.id;
    queue = queue.then(async () => {
      try {
        const { row, stats } = await runCell(m.job, tf, registry, (event) => post({ type: 'event', cell: id, event }), kernels);
        const bytes = tableToIPC(row);
        post({ type: 'row', cell: id, bytes, stats }, [bytes.buffer as ArrayBuffer]);
      } catch (e) {
        fail(id, e);
      }
    });
  });
} catch (e) {
  fail(undefined, e);
}
