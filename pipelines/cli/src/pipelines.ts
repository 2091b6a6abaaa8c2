import type { PipelineDefinition } from '@bitlens/core';
import { helloPipeline } from '@bitlens/pipeline-hello';

/** Every pipeline the CLI knows, by name. */
export const PIPELINES: readonly PipelineDefinition[] = [helloPipeline as unknown as PipelineDefinition];
