export {
  modelConfig, validateConfig, upgradeConfig, isQuantized, isPtqQuantized, inputRangeOf, quantizesActivations, attentionOf, ptqRangeNames,
  QUANTIZABLE_LAYERS, PTQ_LAYERS, ATTENTION_VARIANTS, CLIPPED_SOFTMAX_DEFAULTS, GATED_ATTENTION_DEFAULTS,
} from './config.js';
export type { ModelConfig, ModelConfigOverrides, ModelPreset, QuantizableLayer, Attention, AttentionVariant, AttentionOverride, Ptq, PtqLayer } from './config.js';
export { paramSpecs, paramCount, initParams, checkParams, sizeOf } from './params.js';
export type { ParamSpec, HostTensor, HostParams } from './params.js';
export { forwardFull, forwardLast } from './forward.js';
export type { ParamTensors, ForwardOptions, ForwardResult } from './forward.js';
export { BLOCK_HOOKS, INPUT_HOOKS, OUTPUT_HOOKS, isHookName, hookNames, checkHookNames, hookPredicate, actName } from './hooks.js';
export type { HookName, BlockHook, HookSelector, BlockActName, GlobalActName } from './hooks.js';
export { ActivationCache, runWithCache, withCache } from './activation-cache.js';
export type { RunWithCacheOptions, CachedRun } from './activation-cache.js';
export { toTensors, toHost, effectiveParams, effectiveHostParams } from './tensors.js';
export { WeightsSchema, CheckpointSchema, MODEL_CONFIG_KEY, weightsTable, checkpointTable, readWeightsTable, configFromTable } from './weights.js';
export type { Weights, Checkpoint, ReadWeights } from './weights.js';
export {
  importTransformerLens, exportTransformerLens, readTransformerLens, transformerLensFileConfig, TRANSFORMER_LENS_CONFIG_KEY, TRANSFORMER_LENS_UNSUPPORTED_KEY,
} from './transformer-lens.js';
export type { TransformerLensConfigOptions, TransformerLensFileConfig, TransformerLensImport, ExportTransformerLensOptions } from './transformer-lens.js';
export { toTransformerLensConfig, fromTransformerLensConfig, checkAgainstTransformerLens } from './transformer-lens-config.js';
export type { HookedTransformerConfig, FromTransformerLensOptions } from './transformer-lens-config.js';
