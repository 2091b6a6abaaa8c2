// Entry of an engine worker thread (see `createEngineWorkers`): starts and configures this thread's own tfjs engine,
// imports the task module and runs its `runEngineTask`, relaying what it posts.
import { BitlensError } from '@bitlens/core';
import { parentPort, workerData } from 'node:worker_threads';
import { initTfjsBackend } from '../init.js';
import type { EngineTask, WorkerBoot, WorkerReply } from '../workers.js';

const boot = workerData as WorkerBoot;
const reply = (m: WorkerReply, transfer: readonly ArrayBuffer[] = []): void => parentPort?.postMessage(m, [...transfer]);

try {
  const engine = await initTfjsBackend(boot.backend, boot.engine);
  const mod = (await import(boot.task)) as { runEngineTask?: unknown };
  if (typeof mod.runEngineTask !== 'function') {
    throw new BitlensError('NOT_FOUND', { stage: 'engine/workers', field: 'runEngineTask', expected: `an exported function in ${boot.task}`, found: typeof mod.runEngineTask });
  }
  const task = mod.runEngineTask as EngineTask<unknown, unknown>;
  await task(engine, boot.input, (message, transfer) => reply({ type: 'message', message }, transfer));
  reply({ type: 'done' });
} catch (e) {
  const message = e instanceof Error ? e.message : String(e);
  reply(e instanceof BitlensError ? { type: 'error', message, code: e.code, site: { ...e.site } } : { type: 'error', message });
}
