import { initTfjsBackend } from '@bitlens/engine';
import { BitlensError } from '@bitlens/core';
import { createQuantizerRegistry } from '@bitlens/quantization';
import { tableFromIPC, tableToIPC } from 'apache-arrow';
import { parentPort, workerData } from 'node:worker_threads';
import { trainDataFromTables, trainRun } from '../train.js';
import type { WorkerInput, WorkerMessage } from '../workers.js';

const port = parentPort;
const input = workerData as WorkerInput;
const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []): void => port?.postMessage(m, transfer);

try {
  const { tf } = await initTfjsBackend(input.backend);
  const data = trainDataFromTables([tableFromIPC(input.dataset)], input.options.model.p);
  const ctx = { tf, registry: createQuantizerRegistry(), ...(input.resumeFrom === undefined ? {} : { resumeFrom: tableFromIPC(input.resumeFrom) }) };
  trainRun(ctx, input.options, data).subscribe({
    next: (t) => {
      const bytes = tableToIPC(t);
      post({ type: 'table', bytes }, [bytes.buffer as ArrayBuffer]);
    },
    complete: () => post({ type: 'done' }),
    error: (e: unknown) => post({ type: 'error', message: e instanceof Error ? e.message : String(e), ...(e instanceof BitlensError ? { code: e.code } : {}) }),
  });
} catch (e) {
  post({ type: 'error', message: e instanceof Error ? e.message : String(e), ...(e instanceof BitlensError ? { code: e.code } : {}) });
}
