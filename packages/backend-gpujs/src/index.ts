export { createGpujsBackend } from './backend.js';
export type { GpujsMode } from './backend.js';
