import type { PipelineDefinition } from '@bitlens/core';
import { analyzePipeline } from '@bitlens/pipeline-analyze';
import { helloPipeline } from '@bitlens/pipeline-hello';
import { precisionComparisonPipeline } from '@bitlens/pipeline-precision-comparison';
import { sweepPipeline } from '@bitlens/pipeline-sweep';

/** Every pipeline the CLI knows, by name (the main job first). */
export const PIPELINES: readonly PipelineDefinition[] = [precisionComparisonPipeline, sweepPipeline, analyzePipeline, helloPipeline] as unknown as readonly PipelineDefinition[];
