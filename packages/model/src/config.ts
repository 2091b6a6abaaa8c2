import { BitlensError } from '@bitlens/core';

/** The two architecture presets (docs/science.md#models). */
export type ModelPreset = 'li' | 'nanda';

/** Layers whose weights can be quantized (TransformerLens names without the `blocks.<l>.` prefix). */
export const QUANTIZABLE_LAYERS = ['attn.W_Q', 'attn.W_K', 'attn.W_V', 'attn.W_O', 'mlp.W_in', 'mlp.W_out'] as const;
/** One quantizable layer name. */
export type QuantizableLayer = (typeof QUANTIZABLE_LAYERS)[number];

/** Clipped softmax parameters (Bondarenko 2023): clip((zeta - gamma) * softmax + gamma, 0, 1). */
export interface ClippedSoftmax {
  /** Stretch, >= 1. */
  readonly zeta: number;
  /** Shift, <= 0. */
  readonly gamma: number;
}

/**
 * Everything that fixes the architecture of the one-layer (or n-layer) modular-arithmetic transformer.
 * JSON-serialisable: it travels in weights tables (schema metadata `bitlens.model_config`) and cache keys.
 */
export interface ModelConfig {
  readonly preset: ModelPreset;
  /** Prime modulus; input tokens are 0..p-1 and `=` is token p. */
  readonly p: number;
  /** Input vocabulary (p + 1: the numbers and `=`). */
  readonly dVocab: number;
  /** Output classes (p). */
  readonly dVocabOut: number;
  /** Sequence length ([a, b, =] → 3). */
  readonly nCtx: number;
  readonly nLayers: number;
  readonly dModel: number;
  readonly nHeads: number;
  readonly dHead: number;
  readonly dMlp: number;
  /** Learned positional embedding `pos_embed.W_pos` (nanda) or none (li). */
  readonly posEmbed: boolean;
  /** Causal attention mask (nanda) or bidirectional (li, Zhong). */
  readonly causal: boolean;
  /** Attention scores are divided by this: sqrt(dHead) (nanda) or sqrt(dModel) (li). */
  readonly attnScale: number;
  /** Zhong's attention rate: pattern = alpha * softmax + (1 - alpha) * ones (ones under the causal mask when causal). */
  readonly alpha: number;
  /** Clipped softmax (Bondarenko 2023 §6); absent = plain softmax. */
  readonly clippedSoftmax?: ClippedSoftmax;
  /** Gated attention (Bondarenko 2023 §6): per head and position, sigmoid(x_head · gate.W[h] + gate.b[h]) scales z. */
  readonly gatedAttention: boolean;
  /** Initial gate probability (the gate bias is initialised to logit(gateInit)). */
  readonly gateInit: number;
  /** Final RMS-style norm x / ||x|| * sqrt(dModel) * ln_final.w before the unembedding (li). */
  readonly finalNorm: boolean;
  /** Whether bias tensors exist (nanda: yes, zero-initialised; li: none). */
  readonly biases: boolean;
  /** Quantizer name looked up in the quantizer registry for the quantized layers ('fp32' = none). */
  readonly quantizer: string;
  /** Which layers are quantized (applies in every block). Empty or quantizer 'fp32' = full precision. */
  readonly quantizedLayers: readonly QuantizableLayer[];
  /** Activation quantization of the inputs of quantized layers: 'int8' = per-token absmax with STE. */
  readonly activationQuant: 'none' | 'int8';
}

/** Fields a caller may override in {@link modelConfig}. */
export type ModelConfigOverrides = Partial<Omit<ModelConfig, 'preset' | 'p'>>;

const STAGE = 'model/config';

/**
 * Builds a validated config from a preset and the modulus p, with optional overrides.
 * - `li`: no positional embedding, bidirectional, scores / sqrt(dModel), final RMS-style norm, no biases.
 * - `nanda`: learned positional embedding, causal, scores / sqrt(dHead), no norm, zero biases.
 * The default quantizer is 'fp32' with all six block layers listed as quantizable; set `quantizer` to quantize them.
 * @example const cfg = modelConfig('li', 113, { quantizer: 'ternary-centred' });
 */
export function modelConfig(preset: ModelPreset, p: number, overrides: ModelConfigOverrides = {}): ModelConfig {
  if (preset !== 'li' && preset !== 'nanda') {
    throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: 'preset', expected: "'li' or 'nanda'", found: JSON.stringify(preset) });
  }
  const dModel = overrides.dModel ?? 128;
  const nHeads = overrides.nHeads ?? 4;
  const dHead = overrides.dHead ?? dModel / nHeads;
  const base: ModelConfig = {
    preset,
    p,
    dVocab: p + 1,
    dVocabOut: p,
    nCtx: 3,
    nLayers: 1,
    dModel,
    nHeads,
    dHead,
    dMlp: 4 * dModel,
    posEmbed: preset === 'nanda',
    causal: preset === 'nanda',
    attnScale: preset === 'nanda' ? Math.sqrt(dHead) : Math.sqrt(dModel),
    alpha: 1,
    gatedAttention: false,
    gateInit: 0.25,
    finalNorm: preset === 'li',
    biases: preset === 'nanda',
    quantizer: 'fp32',
    quantizedLayers: [...QUANTIZABLE_LAYERS],
    activationQuant: 'none',
  };
  const merged: ModelConfig = { ...base, ...stripUndefined(overrides) };
  return validateConfig(merged);
}

function stripUndefined(o: ModelConfigOverrides): ModelConfigOverrides {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as ModelConfigOverrides;
}

function bad(field: string, expected: string, found: unknown): never {
  throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field, expected, found: JSON.stringify(found) });
}

function posInt(c: ModelConfig, field: keyof ModelConfig): void {
  const v = c[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) bad(field, 'a positive integer', v);
}

/** Checks a config (e.g. one read from a weights table) and returns it; throws INVALID_CONFIG naming the field. */
export function validateConfig(c: ModelConfig): ModelConfig {
  if (c.preset !== 'li' && c.preset !== 'nanda') bad('preset', "'li' or 'nanda'", c.preset);
  for (const f of ['p', 'dVocab', 'dVocabOut', 'nCtx', 'nLayers', 'dModel', 'nHeads', 'dHead', 'dMlp'] as const) posInt(c, f);
  if (c.p < 2) bad('p', 'p >= 2', c.p);
  if (c.nHeads * c.dHead !== c.dModel) bad('dHead', `nHeads * dHead == dModel (${c.dModel})`, c.dHead);
  if (!(c.attnScale > 0)) bad('attnScale', 'a positive divisor', c.attnScale);
  if (!(c.alpha >= 0 && c.alpha <= 1)) bad('alpha', 'a number in [0, 1]', c.alpha);
  if (c.clippedSoftmax !== undefined && c.clippedSoftmax !== null) {
    if (!(c.clippedSoftmax.zeta >= 1)) bad('clippedSoftmax.zeta', 'zeta >= 1', c.clippedSoftmax.zeta);
    if (!(c.clippedSoftmax.gamma <= 0)) bad('clippedSoftmax.gamma', 'gamma <= 0', c.clippedSoftmax.gamma);
  }
  if (!(c.gateInit > 0 && c.gateInit < 1)) bad('gateInit', 'a probability in (0, 1)', c.gateInit);
  for (const l of c.quantizedLayers) {
    if (!(QUANTIZABLE_LAYERS as readonly string[]).includes(l)) bad('quantizedLayers', `names among ${QUANTIZABLE_LAYERS.join(', ')}`, l);
  }
  if (c.activationQuant !== 'none' && c.activationQuant !== 'int8') bad('activationQuant', "'none' or 'int8'", c.activationQuant);
  if (typeof c.quantizer !== 'string' || c.quantizer.length === 0) bad('quantizer', 'a quantizer name', c.quantizer);
  return c;
}

/** True when parameter `name` (a TransformerLens name) is quantized under `config`. */
export function isQuantized(config: ModelConfig, name: string): boolean {
  if (config.quantizer === 'fp32') return false;
  const m = /^blocks\.\d+\.(.+)$/.exec(name);
  return m !== null && (config.quantizedLayers as readonly string[]).includes(m[1] ?? '');
}
