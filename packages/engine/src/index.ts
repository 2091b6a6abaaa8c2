export { initTfjsBackend, probeTfjsBackend, TFJS_BACKENDS, TfjsBackendSchema, isTfjsBackendName } from './init.js';
export type { TfjsBackendName, TfjsBackendInfo, TfjsBackend, Tf } from './init.js';
export { useExplicitTransposeMatMul } from './wasm-matmul.js';
