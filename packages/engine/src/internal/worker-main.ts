// Entry of an engine worker thread (see `createEngineWorkers`): starts and configures this thread's own tfjs engine,
// imports the task module and runs its `runEngineTask`, relaying what it posts.
import { BitlensError } from '@bitlens/core';
import { parentPort, workerData } from 'node:worker_threads';
import { configureEngine } from '../configure.js';
import { initTfjsBackend } from '../init.js';
import type { EngineTask, WorkerBoot, WorkerReply, WorkerThreads } from '../workers.js';

const boot = workerData as WorkerBoot;
const reply = (m: WorkerReply, transfer: readonly ArrayBuffer[] = []): void => parentPort?.postMessage(m, [...transfer]);

try {
  const engine = await initTfjsBackend(boot.backend, boot.engine);
  // The pool changes this engine's threads as tasks start and end; applied one at a time, between the task's steps
  // (this thread's event loop runs them when the task yields). The port does not keep the thread alive.
  let configuring: Promise<unknown> = Promise.resolve();
  parentPort?.on('message', (m: WorkerThreads) => {
    if (m.type === 'threads') configuring = configuring.then(() => configureEngine(engine.tf, { ...boot.engine, threads: m.threads })).catch((e: unknown) => {
      // Only speed depends on the thread count: keep the engine as it is and say why.
      console.warn(`bitlens engine worker: could not switch to ${m.threads} threads: ${e instanceof Error ? e.message : String(e)}`);
    });
  });
  parentPort?.unref();
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
