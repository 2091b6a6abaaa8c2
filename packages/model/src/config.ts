import { BitlensError } from '@bitlens/core';
import { FULL_PRECISION, isFullPrecision } from '@bitlens/quantization';

/** The two architecture presets: `li` (Li 2024) and `nanda` (Nanda et al. 2023); docs/science.md#models. */
export type ModelPreset = 'li' | 'nanda';

/** Layers whose weights can be quantized (TransformerLens names without the `blocks.<l>.` prefix). */
export const QUANTIZABLE_LAYERS = ['attn.W_Q', 'attn.W_K', 'attn.W_V', 'attn.W_O', 'mlp.W_in', 'mlp.W_out'] as const;
/** One quantizable layer name. */
export type QuantizableLayer = (typeof QUANTIZABLE_LAYERS)[number];

/** The attention variants (Bondarenko et al. 2023, "Quantizable Transformers"): one axis of the model config. */
export const ATTENTION_VARIANTS = ['vanilla', 'clipped', 'gated'] as const;
/** One attention variant name. */
export type AttentionVariant = (typeof ATTENTION_VARIANTS)[number];

/**
 * Clipped softmax defaults: zeta = 1 (no stretch) and gamma = -0.025, the value of the reference code's BERT runs.
 * Its other rule, gamma = -alpha / T (OPT: alpha = 12 over T = 512 tokens), gives gamma = -4 at our T = 3: every
 * probability below 0.8 would be clipped to exactly 0, a hard one-of-three attention instead of a softmax that can
 * reach an exact 0. With gamma = -0.025 a probability reaches 0 below 0.025 / 1.025 = 0.024 (a score 3.0 nats below
 * two equal keys), which is what the method needs: exact zeros from finite scores.
 */
export const CLIPPED_SOFTMAX_DEFAULTS = { zeta: 1, gamma: -0.025 } as const;
/** Gated attention default: initial gate probability pi_init = 0.25 (the reference code's OPT runs). */
export const GATED_ATTENTION_DEFAULTS = { piInit: 0.25 } as const;

/**
 * The attention of every block, with its parameters.
 * - `vanilla`: softmax(QK^T / attnScale).
 * - `clipped`: clip((zeta - gamma) * softmax + gamma, 0, 1) with zeta >= 1 (stretch) and gamma <= 0 (shift).
 * - `gated`: head h's output z_h at position t is multiplied by sigmoid(x_{t,h} · gate.W[h] + gate.b[h]), x_{t,h} the
 *   head's d_head slice of the block input; gate.b starts at logit(piInit).
 */
export type Attention =
  | { readonly kind: 'vanilla' }
  | { readonly kind: 'clipped'; readonly zeta: number; readonly gamma: number }
  | { readonly kind: 'gated'; readonly piInit: number };

/** How an override may name the attention: by variant name (defaults filled in) or with some parameters given. */
export type AttentionOverride =
  | AttentionVariant
  | { readonly kind: 'vanilla' }
  | { readonly kind: 'clipped'; readonly zeta?: number; readonly gamma?: number }
  | { readonly kind: 'gated'; readonly piInit?: number };

/** Block-layer names post-training quantization can cover, plus the embedding and the unembedding. */
export const PTQ_LAYERS = [...QUANTIZABLE_LAYERS, 'embed.W_E', 'unembed.W_U'] as const;
/** One layer name of {@link PTQ_LAYERS}. */
export type PtqLayer = (typeof PTQ_LAYERS)[number];

/**
 * Post-training quantization of a trained model (W8A8 and kin): the model's forward multiplies by weights quantized
 * symmetric per tensor to `weightBits` (they are in the weights table's `effective` column) and quantizes the input of
 * every listed linear layer asymmetric per tensor to `activationBits` with a static, calibrated range.
 */
export interface Ptq {
  /** Weight bits, 2..8: scale = max|W| / (2^(bits-1) - 1), codes in [-2^(bits-1), 2^(bits-1) - 1]. */
  readonly weightBits: number;
  /** Activation bits, 2..16: codes 0..2^bits - 1 with a zero point, over the static range of `inputRanges`. */
  readonly activationBits: number;
  /** Quantized layers (block names apply in every block). */
  readonly layers: readonly PtqLayer[];
  /**
   * Calibrated input range [min, max] (min <= 0 <= max, min < max unless both are 0) of each quantized linear, by full
   * weight name (`blocks.0.attn.W_Q`, `unembed.W_U`). `embed.W_E` has none: its input is one-hot, exact in any bits.
   */
  readonly inputRanges: Readonly<Record<string, readonly [number, number]>>;
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
  /** Attention variant of every block: vanilla, clipped softmax or gated (see {@link Attention}). */
  readonly attention: Attention;
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
  /** Post-training quantization (set by the W8A8 stage, with calibrated ranges); absent = none. */
  readonly ptq?: Ptq;
}

/**
 * Fields a caller may override in {@link modelConfig}. `attention` may be a variant name (`'clipped'`), which fills in
 * that variant's defaults, or an object with some of its parameters.
 */
export type ModelConfigOverrides = Partial<Omit<ModelConfig, 'preset' | 'p' | 'attention'>> & { readonly attention?: AttentionOverride };

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
    attention: { kind: 'vanilla' },
    finalNorm: preset === 'li',
    biases: preset === 'nanda',
    quantizer: FULL_PRECISION,
    quantizedLayers: [...QUANTIZABLE_LAYERS],
    activationQuant: 'none',
  };
  const { attention, ...rest } = stripUndefined(overrides);
  const merged: ModelConfig = { ...base, ...rest, ...(attention === undefined ? {} : { attention: attentionOf(attention) }) };
  return validateConfig(merged);
}

function stripUndefined(o: ModelConfigOverrides): ModelConfigOverrides {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as ModelConfigOverrides;
}

/**
 * The full attention spec of an override: a variant name gets that variant's defaults; an object keeps the parameters
 * it gives and takes the defaults for the rest. Throws INVALID_CONFIG naming `attention` for an unknown variant.
 * @example attentionOf('clipped') // { kind: 'clipped', zeta: 1, gamma: -0.025 }
 */
export function attentionOf(a: AttentionOverride): Attention {
  const kind: unknown = typeof a === 'string' ? a : (a as { kind?: unknown } | null)?.kind;
  const given = typeof a === 'string' ? {} : a;
  // Extra keys are kept, so that validateConfig rejects them (e.g. a zeta on a gated attention) instead of dropping them.
  switch (kind) {
    case 'vanilla':
      return { ...given, kind };
    case 'clipped':
      return { ...CLIPPED_SOFTMAX_DEFAULTS, ...given, kind };
    case 'gated':
      return { ...GATED_ATTENTION_DEFAULTS, ...given, kind };
    default:
      return bad('attention', VARIANT_LIST, a);
  }
}

const VARIANT_LIST = `one of ${ATTENTION_VARIANTS.map((v) => `'${v}'`).join(', ')}`;

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
  validateAttention(c.attention);
  for (const l of c.quantizedLayers) {
    if (!(QUANTIZABLE_LAYERS as readonly string[]).includes(l)) bad('quantizedLayers', `names among ${QUANTIZABLE_LAYERS.join(', ')}`, l);
  }
  if (c.activationQuant !== 'none' && c.activationQuant !== 'int8') bad('activationQuant', "'none' or 'int8'", c.activationQuant);
  if (typeof c.quantizer !== 'string' || c.quantizer.length === 0) bad('quantizer', 'a quantizer name', c.quantizer);
  for (const k of LEGACY_KEYS) if (k in c) bad(k, "no such field (the attention variant is the 'attention' field)", Reflect.get(c, k));
  if (c.ptq !== undefined) validatePtq(c);
  return c;
}

/** Fields of earlier versions of the config, replaced by `attention` (see {@link upgradeConfig}). */
const LEGACY_KEYS = ['clippedSoftmax', 'gatedAttention', 'gateInit'] as const;

function exactKeys(field: string, o: object, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) bad(`${field}.${k}`, `only the fields ${keys.join(', ')}`, (o as Record<string, unknown>)[k]);
}

function validateAttention(a: Attention): void {
  if (typeof a !== 'object' || a === null) bad('attention', `an object with kind ${VARIANT_LIST}`, a);
  switch (a.kind) {
    case 'vanilla':
      exactKeys('attention', a, ['kind']);
      return;
    case 'clipped':
      exactKeys('attention', a, ['kind', 'zeta', 'gamma']);
      if (typeof a.zeta !== 'number' || !(a.zeta >= 1) || !Number.isFinite(a.zeta)) bad('attention.zeta', 'a finite number >= 1 (stretch)', a.zeta);
      if (typeof a.gamma !== 'number' || !(a.gamma <= 0) || !Number.isFinite(a.gamma)) bad('attention.gamma', 'a finite number <= 0 (shift)', a.gamma);
      return;
    case 'gated':
      exactKeys('attention', a, ['kind', 'piInit']);
      if (typeof a.piInit !== 'number' || !(a.piInit > 0 && a.piInit < 1)) bad('attention.piInit', 'a probability in (0, 1)', a.piInit);
      return;
    default:
      bad('attention.kind', VARIANT_LIST, (a as { kind?: unknown }).kind);
  }
}

/** The full weight names a PTQ config needs an input range for: every listed linear of every block, and the unembedding. */
export function ptqRangeNames(c: Pick<ModelConfig, 'nLayers'>, layers: readonly PtqLayer[]): string[] {
  const names: string[] = [];
  for (let l = 0; l < c.nLayers; l++) for (const q of QUANTIZABLE_LAYERS) if (layers.includes(q)) names.push(`blocks.${l}.${q}`);
  if (layers.includes('unembed.W_U')) names.push('unembed.W_U');
  return names;
}

function validatePtq(c: ModelConfig): void {
  const q = c.ptq as Ptq;
  exactKeys('ptq', q, ['weightBits', 'activationBits', 'layers', 'inputRanges']);
  if (!Number.isInteger(q.weightBits) || q.weightBits < 2 || q.weightBits > 8) bad('ptq.weightBits', 'an integer in 2..8', q.weightBits);
  if (!Number.isInteger(q.activationBits) || q.activationBits < 2 || q.activationBits > 16) bad('ptq.activationBits', 'an integer in 2..16', q.activationBits);
  if (c.activationQuant !== 'none') bad('activationQuant', "'none' when ptq is set (its static ranges replace per-token quantization)", c.activationQuant);
  if (!Array.isArray(q.layers) || q.layers.length === 0) bad('ptq.layers', `a non-empty list of ${PTQ_LAYERS.join(', ')}`, q.layers);
  for (const l of q.layers) if (!(PTQ_LAYERS as readonly string[]).includes(l)) bad('ptq.layers', `names among ${PTQ_LAYERS.join(', ')}`, l);
  if (new Set(q.layers).size !== q.layers.length) bad('ptq.layers', 'distinct names', q.layers);
  const need = ptqRangeNames(c, q.layers);
  const ranges = q.inputRanges ?? {};
  for (const n of Object.keys(ranges)) if (!need.includes(n)) bad(`ptq.inputRanges.${n}`, `ranges only for ${need.join(', ') || 'no layer'}`, ranges[n]);
  for (const n of need) {
    const r = ranges[n];
    const ok = Array.isArray(r) && r.length === 2 && r.every((v) => typeof v === 'number' && Number.isFinite(v)) && r[0] <= 0 && r[1] >= 0 && (r[0] < r[1] || (r[0] === 0 && r[1] === 0));
    if (!ok) bad(`ptq.inputRanges.${n}`, 'a finite [min, max] with min <= 0 <= max', r);
  }
}

/**
 * Brings a config written by an earlier bitlens up to date (for weights tables read back): `clippedSoftmax` and
 * `gatedAttention` / `gateInit` become the `attention` field. Anything else is returned as it is; `validateConfig`
 * then checks it. Throws INVALID_CONFIG when the old config had both clipped softmax and gates (one variant now).
 */
export function upgradeConfig(json: unknown): unknown {
  if (typeof json !== 'object' || json === null || 'attention' in json) return json;
  const { clippedSoftmax, gatedAttention, gateInit, ...rest } = json as Record<string, unknown>;
  const clipped = clippedSoftmax !== undefined && clippedSoftmax !== null;
  const gated = gatedAttention === true;
  if (clipped && gated) bad('attention', 'one attention variant (clipped softmax and gates together are no longer a config)', { clippedSoftmax, gatedAttention });
  const attention = clipped ? { kind: 'clipped', ...(clippedSoftmax as object) } : gated ? { kind: 'gated', piInit: gateInit ?? GATED_ATTENTION_DEFAULTS.piInit } : { kind: 'vanilla' };
  return { ...rest, attention };
}

/** True when the forward quantizes activations (per-token int8, or PTQ static ranges): the token-table fast path is then inexact. */
export function quantizesActivations(config: ModelConfig): boolean {
  return config.activationQuant !== 'none' || config.ptq !== undefined;
}

/** True when PTQ quantizes parameter `name` (a TransformerLens name) under `config`. */
export function isPtqQuantized(config: ModelConfig, name: string): boolean {
  if (config.ptq === undefined) return false;
  const m = /^blocks\.\d+\.(.+)$/.exec(name);
  return (config.ptq.layers as readonly string[]).includes(m === null ? name : (m[1] ?? ''));
}

/** The calibrated PTQ input range of linear `layerName` (a full weight name), or undefined when its input is not quantized. */
export function inputRangeOf(config: ModelConfig, layerName: string): readonly [number, number] | undefined {
  return config.ptq?.inputRanges[layerName];
}

/** True when parameter `name` (a TransformerLens name) is quantized under `config`. */
export function isQuantized(config: ModelConfig, name: string): boolean {
  if (isFullPrecision(config.quantizer)) return false;
  const m = /^blocks\.\d+\.(.+)$/.exec(name);
  return m !== null && (config.quantizedLayers as readonly string[]).includes(m[1] ?? '');
}
