export { createTfjsKernelBackend } from './backend.js';
export type { TfjsKernelEngine } from './backend.js';
