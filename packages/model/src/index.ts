export {
  modelConfig, validateConfig, upgradeConfig, isQuantized, isPtqQuantized, inputRangeOf, quantizesActivations, attentionOf, ptqRangeNames,
  QUANTIZABLE_LAYERS, PTQ_LAYERS, ATTENTION_VARIANTS, CLIPPED_SOFTMAX_DEFAULTS, GATED_ATTENTION_DEFAULTS,
} from './config.js';
export type { ModelConfig, ModelConfigOverrides, ModelPreset, QuantizableLayer, Attention, AttentionVariant, AttentionOverride, Ptq, PtqLayer } from './config.js';
export { paramSpecs, paramCount, initParams, checkParams, sizeOf } from './params.js';
export type { ParamSpec, HostTensor, HostParams } from './params.js';
export { forwardFull, forwardLast } from './forward.js';
export type { ParamTensors, HookName, ForwardOptions, ForwardResult } from './forward.js';
export { toTensors, toHost, effectiveParams, effectiveHostParams } from './tensors.js';
export { WeightsSchema, CheckpointSchema, MODEL_CONFIG_KEY, weightsTable, checkpointTable, readWeightsTable, configFromTable } from './weights.js';
export type { Weights, Checkpoint, ReadWeights } from './weights.js';
export { importTransformerLens, exportTransformerLens } from './transformer-lens.js';
