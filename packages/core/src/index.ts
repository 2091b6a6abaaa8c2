export { BitlensError, SchemaMismatchError, toBitlensError, assert } from './errors.js';
export type { ErrorCode, ErrorSite, SchemaSite } from './errors.js';
export { assertSchema } from './assert-schema.js';
export { defineStage, defineSource, defineJoin } from './stage.js';
export type { Stage, SourceStage, JoinStage, AnyStage, StageSpec, StageResumption, SourceSpec, JoinSpec, StageOptions, Progress, InputStreams, InputSchemas } from './stage.js';
export { PipelineGraph, defineSubgraph } from './graph.js';
export type {
  GraphEvent, RunOptions, RunProvenance, RunStats, NodeFeeding, NodeDescription, NodePlan, NodeStatus, Prefixed, Subgraph, SubgraphUse, CollectResult, StreamsResult,
} from './graph.js';
export { ArtifactStore, defaultStoreRoot } from './store.js';
export { planGc, applyGc, resolveArtifact, storeBytes } from './store-tools.js';
export type { GcPlan, ResolvedArtifact } from './store-tools.js';
export type { ArtifactInfo, ArtifactLineage, ArtifactManifest, ArtifactPart, ArtifactStoreOptions, ArtifactWriter, CorruptArtifact, WriteOptions } from './store.js';
export { newRunId, RUN_ID_RE } from './run-log.js';
export type { RunLog, RunMeta, RunNodeRecord, RunNodeStatus, RunRecord } from './run-log.js';
export { reportProgress } from './progress.js';
export { startWorker } from './worker.js';
export { writeFileAtomic } from './files.js';
export { packageFingerprint, packageRootOf } from './fingerprint.js';
export type { CodeFingerprint } from './fingerprint.js';
export { canonicalJson, hashJson, sha256 } from './hash.js';
export { withMetadata, withProvenance, readProvenance, bitlensVersion, gitRevision } from './provenance.js';
export type { Provenance } from './provenance.js';
export { definePipeline } from './pipeline.js';
export { readRegularFile, checkOutputFile, ensureOutputFolder, describeFileKind, formatBytes } from './files.js';
export type { RegularFileOptions, OutputFileOptions } from './files.js';
export type { ConfigFile, ConfigFiles, PipelineContext, PipelineDefinition, PipelineResult } from './pipeline.js';
export { mulberry32, randomFloat32 } from './random.js';
export {
  field, listOf, nullable, int32, float64, bool, utf8, utf8List, int32List, float64List, float32List, float32ListFlat, nullData, tableOf,
  columnData, listRow, typedRow, float32Row, numbers, strings, booleans, int32OrNull, utf8OrNull, float64OrNull,
} from './arrow.js';
