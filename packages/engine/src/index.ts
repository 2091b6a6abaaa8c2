export { initTfjsBackend, probeTfjsBackend, TFJS_BACKENDS, TfjsBackendSchema, isTfjsBackendName } from './init.js';
export type { TfjsBackendName, TfjsBackendInfo, TfjsBackend, Tf } from './init.js';
export { configureEngine, engineConfig, BITLENS_KERNELS } from './configure.js';
export type { EngineOptions, EngineConfig, EngineKernels, BitlensKernel } from './configure.js';
export { createEngineWorkers, threadsPerEngine } from './workers.js';
export type { EngineWorkers, EngineWorkersOptions, EngineTask, EngineTaskOptions } from './workers.js';
