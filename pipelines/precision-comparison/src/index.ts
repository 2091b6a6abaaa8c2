export { precisionComparisonPipeline } from './pipeline.js';
export { PrecisionComparisonConfig, PRESETS, comparisonFiles, resolveComparison } from './config.js';
export type { PrecisionComparisonConfigOutput, ResolvedComparison, PrecisionRun } from './config.js';
export { comparisonGraph, comparisonTraining, runSubgraph, GROK_THRESHOLD } from './graph.js';
export type { ComparisonGraph } from './graph.js';
