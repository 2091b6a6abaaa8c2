export { progressMeasures, ProgressSchema } from './progress.js';
export type { ProgressRow, ProgressOptions } from './progress.js';
export { detectGrokking, grokkingSummary, GrokkingSchema } from './grokking.js';
export type { CurvePoint, GrokkingEvents, Grokking } from './grokking.js';
export { kurtosis, infNorm, activationOutliers, outlierStats, OutliersSchema, OUTLIER_HOOKS } from './outliers.js';
export type { Outliers, OutlierOptions } from './outliers.js';
