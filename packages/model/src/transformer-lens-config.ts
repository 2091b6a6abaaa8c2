import { BitlensError } from '@bitlens/core';
import type { ModelConfig, ModelPreset } from './config.js';
import { modelConfig, quantizesActivations, validateConfig } from './config.js';

/**
 * The fields of TransformerLens's `HookedTransformerConfig` (as `cfg.to_dict()` writes them, JSON) that decide what a
 * HookedTransformer computes for models like ours. Every other TransformerLens field is accepted on import when it
 * does not change the computation (names, devices, seeds, init, tokenizer, hook-only flags) or when it is at its
 * default; see docs/transformer-lens.md for the table.
 */
export interface HookedTransformerConfig {
  readonly n_layers: number;
  readonly d_model: number;
  readonly n_ctx: number;
  readonly d_head: number;
  readonly n_heads: number;
  readonly d_mlp: number;
  readonly d_vocab: number;
  readonly d_vocab_out: number;
  readonly act_fn: string;
  /** null: no norms anywhere ('LN', 'LNPre', 'RMS', 'RMSPre' norm every block too: not representable here). */
  readonly normalization_type: string | null;
  readonly attention_dir: 'causal' | 'bidirectional';
  readonly attn_only: boolean;
  readonly positional_embedding_type: string;
  readonly use_attn_scale: boolean;
  /** Attention scores are divided by this (TransformerLens default sqrt(d_head)). */
  readonly attn_scale: number;
  readonly final_rms: boolean;
  readonly model_name: string;
  readonly [field: string]: unknown;
}

const TO = 'model/to-transformer-lens-config';
const FROM = 'model/from-transformer-lens-config';

function unsupported(stage: string, field: string, expected: string, found: unknown, detail?: string): BitlensError {
  return new BitlensError('INVALID_CONFIG', { stage, field, expected, found: typeof found === 'string' ? found : JSON.stringify(found) }, detail);
}

/**
 * The HookedTransformerConfig that computes what `config` computes, given this package's tensors (for a config without
 * positional embedding or biases, with their all-zero tensors: `exportTransformerLens(…, { zeroFill: true })`).
 * Throws INVALID_CONFIG naming the field TransformerLens cannot express: a final norm without block norms (li; every
 * TransformerLens normalization_type normalises the blocks' inputs too), clipped softmax or gated attention, alpha != 1,
 * quantized activations (`activationQuant`, `ptq`). A weight quantizer is not part of the architecture: the exported
 * tensors are what TransformerLens multiplies by, so export the effective weights to get the quantized model.
 * @example toTransformerLensConfig(modelConfig('nanda', 113)).attn_scale // Math.sqrt(32)
 */
export function toTransformerLensConfig(config: ModelConfig): HookedTransformerConfig {
  const c = validateConfig(config);
  if (c.finalNorm) {
    throw unsupported(TO, 'finalNorm', 'no final norm (TransformerLens has no norm before the unembedding alone: its normalization_type also normalises every block input)', 'true', 'TransformerLens cannot express this model');
  }
  if (c.attention.kind !== 'vanilla') throw unsupported(TO, 'attention', "'vanilla' (TransformerLens has no clipped softmax or attention gates)", c.attention.kind, 'TransformerLens cannot express this model');
  if (c.alpha !== 1) throw unsupported(TO, 'alpha', '1 (TransformerLens has no attention rate)', c.alpha, 'TransformerLens cannot express this model');
  if (quantizesActivations(c)) {
    throw unsupported(TO, c.ptq === undefined ? 'activationQuant' : 'ptq', 'no activation quantization (TransformerLens computes in floating point)', c.ptq === undefined ? c.activationQuant : 'set', 'TransformerLens cannot express this model');
  }
  return {
    model_name: `bitlens-${c.preset}-p${c.p}`,
    n_layers: c.nLayers,
    d_model: c.dModel,
    n_ctx: c.nCtx,
    d_head: c.dHead,
    n_heads: c.nHeads,
    d_mlp: c.dMlp,
    d_vocab: c.dVocab,
    d_vocab_out: c.dVocabOut,
    act_fn: 'relu',
    normalization_type: null,
    attention_dir: c.causal ? 'causal' : 'bidirectional',
    attn_only: false,
    // No positional embedding = a standard one whose W_pos is all zeros (exact).
    positional_embedding_type: 'standard',
    use_attn_scale: true,
    attn_scale: c.attnScale,
    final_rms: false,
  };
}

/** Fields that do not change what the model computes (naming, devices, seeds, init, tokenizer, hooks, loading). */
const NEUTRAL_FIELDS = new Set([
  'model_name', 'use_attn_result', 'use_split_qkv_input', 'use_hook_mlp_in', 'use_attn_in', 'use_hook_tokens', 'ungroup_grouped_query_attention',
  'original_architecture', 'from_checkpoint', 'checkpoint_index', 'checkpoint_label_type', 'checkpoint_value', 'tokenizer_name', 'tokenizer_prepends_bos',
  'default_prepend_bos', 'init_mode', 'init_weights', 'initializer_range', 'seed', 'device', 'n_devices', 'n_params', 'dtype', 'trust_remote_code',
  'load_in_4bit', 'decoder_start_token_id', 'tie_word_embeddings', 'eps',
  // Only read with rotary embeddings / local attention, which are refused below.
  'rotary_dim', 'rotary_base', 'rotary_adjacent_pairs', 'NTK_by_parts_low_freq_factor', 'NTK_by_parts_high_freq_factor', 'NTK_by_parts_factor', 'NTK_original_ctx_len', 'window_size', 'attn_types',
]);

/** Fields that change the computation: accepted only at these values (TransformerLens's defaults: the feature off). */
const OFF_FIELDS: Readonly<Record<string, readonly unknown[]>> = {
  attn_only: [false],
  gated_mlp: [false],
  parallel_attn_mlp: [false],
  use_local_attn: [false],
  post_embedding_ln: [false],
  use_normalization_before_and_after: [false],
  use_NTK_by_parts_rope: [false],
  num_experts: [null],
  experts_per_token: [null],
  relative_attention_max_distance: [null],
  relative_attention_num_buckets: [null],
  attn_scores_soft_cap: [-1],
  output_logits_soft_cap: [-1],
  final_rms: [false],
};

/** Fields read for the architecture. */
const MAPPED_FIELDS = new Set([
  'n_layers', 'd_model', 'n_ctx', 'd_head', 'n_heads', 'd_mlp', 'd_vocab', 'd_vocab_out', 'act_fn', 'normalization_type', 'attention_dir',
  'positional_embedding_type', 'use_attn_scale', 'attn_scale', 'scale_attn_by_inverse_layer_idx', 'n_key_value_heads',
  // Not TransformerLens fields, but written by converted checkpoints (the Nanda fixture has `causal`): checked for agreement.
  'causal', 'p',
]);

/** Options of {@link fromTransformerLensConfig}. */
export interface FromTransformerLensOptions {
  /** The preset label of the result (default `nanda`); a preset whose architecture disagrees with the file is an error. */
  readonly preset?: ModelPreset;
  /** The modulus; default d_vocab - 1 (tokens 0..p-1 and `=`). A different value is an error naming both. */
  readonly p?: number;
  /** More fields to accept and ignore (e.g. ones a newer TransformerLens adds that do not change the computation). */
  readonly ignoreFields?: readonly string[];
}

function int(tl: Record<string, unknown>, field: string): number {
  const v = tl[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw unsupported(FROM, field, 'a positive integer', v === undefined ? 'nothing' : v);
  return v;
}

function checkFields(tl: Record<string, unknown>, ignore: ReadonlySet<string>): void {
  for (const [k, v] of Object.entries(tl)) {
    if (MAPPED_FIELDS.has(k) || NEUTRAL_FIELDS.has(k) || ignore.has(k)) continue;
    const off = OFF_FIELDS[k];
    if (off === undefined) throw unsupported(FROM, k, 'a HookedTransformerConfig field bitlens knows (pass it in ignoreFields if it does not change the computation)', v, 'unknown field');
    if (!off.some((x) => x === v)) throw unsupported(FROM, k, `${off.map((x) => JSON.stringify(x)).join(' or ')} (bitlens has no such feature)`, v, 'not representable');
  }
}

/** The architecture fields that TransformerLens decides, from its config (its defaults where a field is absent). */
function architectureOf(tl: Record<string, unknown>) {
  const d_model = int(tl, 'd_model');
  const d_head = int(tl, 'd_head');
  // TransformerLens's default n_heads = -1 means d_model // d_head.
  const n_heads = tl['n_heads'] === undefined || tl['n_heads'] === -1 ? int({ n_heads: d_model / d_head }, 'n_heads') : int(tl, 'n_heads');
  const norm = 'normalization_type' in tl ? tl['normalization_type'] : 'LN'; // TransformerLens's default
  if (norm !== null) throw unsupported(FROM, 'normalization_type', "null (LN, LNPre, RMS and RMSPre also normalise every block input; bitlens models have no block norms)", norm, 'not representable');
  const act = tl['act_fn'];
  if (act !== 'relu') throw unsupported(FROM, 'act_fn', "'relu'", act === undefined ? 'nothing' : act, 'not representable');
  const pos = tl['positional_embedding_type'] ?? 'standard';
  if (pos !== 'standard') throw unsupported(FROM, 'positional_embedding_type', "'standard' (a learned W_pos)", pos, 'not representable');
  const kv = tl['n_key_value_heads'];
  if (kv !== undefined && kv !== null && kv !== n_heads) throw unsupported(FROM, 'n_key_value_heads', `null or n_heads (${n_heads}): no grouped-query attention`, kv, 'not representable');
  const dir = tl['attention_dir'] ?? (tl['causal'] === false ? 'bidirectional' : 'causal');
  if (dir !== 'causal' && dir !== 'bidirectional') throw unsupported(FROM, 'attention_dir', "'causal' or 'bidirectional'", dir);
  if (typeof tl['causal'] === 'boolean' && tl['causal'] !== (dir === 'causal')) throw unsupported(FROM, 'causal', `${dir === 'causal'} (attention_dir is '${dir}')`, tl['causal'], 'contradicts attention_dir');
  const n_layers = int(tl, 'n_layers');
  if (tl['scale_attn_by_inverse_layer_idx'] === true && n_layers > 1) throw unsupported(FROM, 'scale_attn_by_inverse_layer_idx', 'false (bitlens has one attention scale for every layer)', true, 'not representable');
  const useScale = tl['use_attn_scale'] ?? true;
  const given = tl['attn_scale'];
  const attnScale = useScale === false ? 1 : given === undefined || given === -1 ? Math.sqrt(d_head) : given;
  if (typeof attnScale !== 'number' || !(attnScale > 0)) throw unsupported(FROM, 'attn_scale', 'a positive number (or -1: sqrt(d_head))', given);
  const d_vocab = int(tl, 'd_vocab');
  const d_vocab_out = tl['d_vocab_out'] === undefined || tl['d_vocab_out'] === -1 ? d_vocab : int(tl, 'd_vocab_out');
  const d_mlp = tl['d_mlp'] === undefined || tl['d_mlp'] === null ? 4 * d_model : int(tl, 'd_mlp'); // TransformerLens's default
  return { n_layers, d_model, d_head, n_heads, d_mlp, n_ctx: int(tl, 'n_ctx'), d_vocab, d_vocab_out, causal: dir === 'causal', attnScale };
}

/**
 * The ModelConfig of a TransformerLens `HookedTransformerConfig` dict (as JSON-parsed; TransformerLens's defaults apply
 * to absent fields, as in `HookedTransformerConfig(**d)`). p is d_vocab - 1 (tokens 0..p-1 and `=`); the result has
 * biases and a positional embedding (TransformerLens always has both), no final norm, vanilla attention, fp32.
 * Throws INVALID_CONFIG naming the field for what bitlens cannot represent (LayerNorm or RMSNorm, GELU and other
 * activations, attn_only, rotary or other positional embeddings, gated MLPs, grouped-query attention, …), for an unknown
 * field, and for a `preset` or `p` option that disagrees with the file (naming both values). Never drops a field silently.
 * @example fromTransformerLensConfig({ n_layers: 1, d_model: 128, d_head: 32, n_heads: 4, d_mlp: 512, d_vocab: 114, d_vocab_out: 113, n_ctx: 3, act_fn: 'relu', normalization_type: null })
 */
export function fromTransformerLensConfig(tl: unknown, options: FromTransformerLensOptions = {}): ModelConfig {
  if (typeof tl !== 'object' || tl === null || Array.isArray(tl)) throw unsupported(FROM, 'config', 'a HookedTransformerConfig dict (a JSON object)', tl);
  const rec = tl as Record<string, unknown>;
  checkFields(rec, new Set(options.ignoreFields ?? []));
  const a = architectureOf(rec);
  const p = a.d_vocab - 1;
  if (rec['p'] !== undefined && rec['p'] !== p) throw unsupported(FROM, 'p', `${p} (d_vocab - 1 = ${a.d_vocab} - 1)`, rec['p'], "contradicts the file's d_vocab");
  if (options.p !== undefined && options.p !== p) {
    throw unsupported(FROM, 'p', `${p} (the file's TransformerLens config: d_vocab = ${a.d_vocab} = p + 1)`, `${options.p} (given)`, 'the given p disagrees with the weights file');
  }
  const preset = options.preset ?? 'nanda';
  if (preset !== 'nanda') {
    throw unsupported(FROM, 'preset', "'nanda' (the file's TransformerLens config has no final norm, a positional embedding and biases)", `'${preset}' (given)`, 'the given preset disagrees with the weights file');
  }
  return modelConfig(preset, p, {
    dVocab: a.d_vocab,
    dVocabOut: a.d_vocab_out,
    nCtx: a.n_ctx,
    nLayers: a.n_layers,
    dModel: a.d_model,
    nHeads: a.n_heads,
    dHead: a.d_head,
    dMlp: a.d_mlp,
    causal: a.causal,
    attnScale: a.attnScale,
    posEmbed: true,
    biases: true,
    finalNorm: false,
  });
}

/** The ModelConfig fields a HookedTransformerConfig decides; the rest (quantizer, preset label) it does not carry. */
const TL_DECIDED = ['p', 'dVocab', 'dVocabOut', 'nCtx', 'nLayers', 'dModel', 'nHeads', 'dHead', 'dMlp', 'causal', 'attnScale'] as const;

/**
 * Checks that `config` is the model the TransformerLens config `tl` describes (the fields TransformerLens decides);
 * a config without positional embedding or biases matches one with all-zero tensors. Throws INVALID_CONFIG naming the
 * first field that differs, with both values (`where` says whose config `config` is, e.g. "the file's bitlens config").
 */
export function checkAgainstTransformerLens(config: ModelConfig, tl: unknown, where: string, stage = FROM): void {
  try {
    toTransformerLensConfig(config);
  } catch (e) {
    const field = e instanceof BitlensError ? (e.site.field ?? 'config') : 'config';
    throw new BitlensError('INVALID_CONFIG', { stage, field, expected: `a model TransformerLens can express (${where} says otherwise, yet the file carries a TransformerLens config)` , found: e instanceof Error ? e.message : String(e) }, 'the two configs disagree', { cause: e });
  }
  const fromTl = fromTransformerLensConfig(tl, { preset: 'nanda' });
  for (const f of TL_DECIDED) {
    if (config[f] !== fromTl[f]) {
      throw new BitlensError('INVALID_CONFIG', { stage, field: f, expected: `${JSON.stringify(fromTl[f])} (the file's TransformerLens config)`, found: `${JSON.stringify(config[f])} (${where})` }, 'the two configs disagree');
    }
  }
}
