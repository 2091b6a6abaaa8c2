export { trainStage, selectMetrics, selectCheckpoints, latestCheckpoint, resumeAfterLastCheckpoint, finalCheckpoint } from './stage.js';
export { inProcessExecutor, workerExecutor } from './executor.js';
export type { TrainExecutor, WorkerExecutorOptions } from './executor.js';
export { trainRun } from './train.js';
export { createTrainingRun } from './run.js';
export type { TrainingRun, TrainingRunContext, PendingStep } from './run.js';
export { resolveTrainOptions, cleanedUp, TRAIN_STAGE_VERSION } from './options.js';
export type { TrainOptions, TrainSchedule, ResolvedTrainOptions, ResolvedSchedule } from './options.js';
export { trainDataFromTables } from './data.js';
export type { TrainData } from './data.js';
export {
  MetricsSchema, TrainingCheckpointSchema, TrainingStreamSchema, TRAINING_STATE_KEY, metricsStreamTable, checkpointStreamTable,
  streamKind, toMetricsTable, toCheckpointTable, readTrainingCheckpoint,
} from './schemas.js';
export type { Metrics, MetricsRow, TrainingCheckpoint, TrainingStream, TrainingStreamKind, TrainingState, ReadTrainingCheckpoint } from './schemas.js';
export { safeCrossEntropy, accuracy } from './loss.js';
export { ADAMW_DEFAULTS, adamwState, adamwStep, learningRateAt } from './adamw.js';
export type { AdamWOptions, AdamWState } from './adamw.js';
export { GROKFAST_DEFAULTS, grokfastFilter } from './grokfast.js';
export type { GrokfastOptions, GrokfastState } from './grokfast.js';
