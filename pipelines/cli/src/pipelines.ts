import type { PipelineDefinition } from '@bitlens/core';
import { analyzePipeline } from '@bitlens/pipeline-analyze';
import { helloPipeline } from '@bitlens/pipeline-hello';

/** Every pipeline the CLI knows, by name. */
export const PIPELINES: readonly PipelineDefinition[] = [helloPipeline, analyzePipeline] as unknown as readonly PipelineDefinition[];
