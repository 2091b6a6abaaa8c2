export { analyzePipeline, analyzeGraph, weightsSource } from './pipeline.js';
export { AnalyzeConfig, analyzeFiles, weightsByteLimit } from './config.js';
export type { AnalyzeConfigOutput } from './config.js';
