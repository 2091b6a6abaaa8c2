export { BUILTIN_TASKS, createTaskRegistry, modInverse, MAX_P } from './tasks.js';
export type { ModularTask, TaskRegistry } from './tasks.js';
export {
  DatasetSchema, DATASET_METADATA_KEY, SPLIT_PRNGS, datasetStage, datasetTable, modularDataset, generatePairs, labelOf,
  splitIndices, tokens, tokenMatrix, isPrime, validateModulus, readDatasetMetadata,
} from './dataset.js';
export type { Dataset, DatasetOptions, ModularDataset, SplitPrng, TaskRef } from './dataset.js';
export { modulusSchema, splitSizes } from './modulus-schema.js';
export type { ModulusSchemaOptions } from './modulus-schema.js';
