export { BUILTIN_TASKS, BUILTIN_TASK_NAMES, createTaskRegistry, checkTaskStructure, structureLabel, modInverse, modPow, MAX_P } from './tasks.js';
export type { ModularTask, TaskRegistry, TaskStructure } from './tasks.js';
export {
  DatasetSchema, DATASET_METADATA_KEY, SPLIT_PRNGS, datasetStage, datasetTable, modularDataset, generatePairs, labelOf,
  splitIndices, tokens, tokenMatrix, isPrime, validateModulus, readDatasetMetadata,
} from './dataset.js';
export type { Dataset, DatasetOptions, ModularDataset, SplitPrng, TaskRef } from './dataset.js';
export { modulusSchema, splitSizes } from './modulus-schema.js';
export type { ModulusSchemaOptions } from './modulus-schema.js';
