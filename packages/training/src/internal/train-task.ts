// The task an engine worker thread runs for `workerExecutor`: one training run on the engine that thread started.
import type { EngineTask } from '@bitlens/engine';
import { createQuantizerRegistry } from '@bitlens/quantization';
import { tableFromIPC, tableToIPC } from 'apache-arrow';
import type { TrainTaskInput } from '../executor.js';
import { trainRun } from '../train.js';

/** Trains `input.options` and posts every table of the stream as Arrow IPC bytes (transferred, not copied). */
export const runEngineTask: EngineTask<TrainTaskInput, Uint8Array> = ({ tf }, input, post) =>
  new Promise<void>((resolve, reject) => {
    const resumeFrom = input.resumeFrom === undefined ? undefined : tableFromIPC(input.resumeFrom);
    trainRun({ tf, registry: createQuantizerRegistry() }, input.options, input.data, resumeFrom).subscribe({
      next: (t) => {
        const bytes = tableToIPC(t);
        post(bytes, [bytes.buffer as ArrayBuffer]);
      },
      complete: resolve,
      error: reject,
    });
  });
