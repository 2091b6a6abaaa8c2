export { analyzePipeline, AnalyzeConfig, analyzeGraph, weightsSource } from './pipeline.js';
export type { AnalyzeConfigOutput } from './pipeline.js';
