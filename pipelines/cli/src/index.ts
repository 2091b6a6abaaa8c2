export { main, cliVersion } from './main.js';
export type { CliIo } from './main.js';
export { assembleConfig, validateConfig, parseSet, readConfigFile, MAX_CONFIG_BYTES } from './config.js';
export { PROTOTYPE_KEYS, assertSafeKeyPath, assertNoPrototypeKeys, safeClone, setKeyPath, emptyRecord } from './safe-object.js';
export type { KeySource } from './safe-object.js';
export { EXIT, exitCodeOf } from './exit-codes.js';
export type { ErrorPhase } from './exit-codes.js';
export { PIPELINES } from './pipelines.js';
