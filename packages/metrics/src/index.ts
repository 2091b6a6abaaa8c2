export { progressMeasures, ProgressSchema } from './progress.js';
export type { ProgressRow, ProgressOptions } from './progress.js';
export { detectGrokking, grokkingSummary, GrokkingSchema } from './grokking.js';
export type { CurvePoint, GrokkingEvents, Grokking } from './grokking.js';
export { kurtosis, infNorm, outlierMetrics, OutliersSchema } from './outliers.js';
export type { Outliers } from './outliers.js';
