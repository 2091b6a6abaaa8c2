export { BitlensError, SchemaMismatchError, toBitlensError, assert } from './errors.js';
export type { ErrorCode, ErrorSite, SchemaSite } from './errors.js';
export { assertSchema } from './assert-schema.js';
export { defineStage, defineSource, defineJoin } from './stage.js';
export type { Stage, SourceStage, JoinStage, AnyStage, StageSpec, StageResumption, SourceSpec, JoinSpec, StageOptions, Progress, InputStreams, InputSchemas } from './stage.js';
export { PipelineGraph } from './graph.js';
export type { GraphEvent, RunOptions, RunProvenance, RunStats, NodeFeeding } from './graph.js';
export { ArtifactStore, defaultStoreRoot } from './store.js';
export type { ArtifactManifest, ArtifactPart, ArtifactStoreOptions, ArtifactWriter, CorruptArtifact } from './store.js';
export { canonicalJson, hashJson, sha256 } from './hash.js';
export { withMetadata, withProvenance, readProvenance, bitlensVersion, gitRevision } from './provenance.js';
export type { Provenance } from './provenance.js';
export { definePipeline } from './pipeline.js';
export { readRegularFile, checkOutputFile, ensureOutputFolder, describeFileKind, formatBytes } from './files.js';
export type { RegularFileOptions, OutputFileOptions } from './files.js';
export type { ConfigFile, ConfigFiles, PipelineContext, PipelineDefinition, PipelineResult } from './pipeline.js';
export { mulberry32, randomFloat32 } from './random.js';
export {
  field, listOf, nullable, int32, float64, bool, utf8, int32List, float64List, float32List, float32ListFlat, nullData, tableOf,
  columnData, listRow, typedRow, float32Row, numbers, strings, booleans,
} from './arrow.js';
