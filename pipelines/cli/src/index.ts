export { main } from './main.js';
export type { CliIo } from './main.js';
export { assembleConfig, validateConfig, parseSet } from './config.js';
export { PIPELINES } from './pipelines.js';
