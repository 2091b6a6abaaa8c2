export { trainStage, selectMetrics, selectCheckpoints, latestCheckpoint, resumeAfterLastCheckpoint } from './stage.js';
export { trainRun, trainDataFromTables, resolveTrainOptions, cleanedUp, TRAIN_STAGE_VERSION } from './train.js';
export type { TrainOptions, TrainContext, TrainData } from './train.js';
export {
  MetricsSchema, TrainingCheckpointSchema, TrainingStreamSchema, TRAINING_STATE_KEY, metricsStreamTable, checkpointStreamTable,
  streamKind, toMetricsTable, toCheckpointTable, readTrainingCheckpoint,
} from './schemas.js';
export type { Metrics, MetricsRow, TrainingCheckpoint, TrainingStream, TrainingStreamKind, TrainingState } from './schemas.js';
export { safeCrossEntropy, accuracy } from './loss.js';
export { ADAMW_DEFAULTS, adamwState, adamwStep, learningRateAt } from './adamw.js';
export type { AdamWOptions, AdamWState } from './adamw.js';
export { trainInWorkers } from './workers.js';
export type { WorkerRun, WorkerPoolOptions } from './workers.js';
export { trainInWorkerStage, finalCheckpoint } from './worker-stage.js';
