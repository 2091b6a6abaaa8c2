import type { Tf } from '@bitlens/engine';
import { BitlensError } from '@bitlens/core';
import { fakeQuantAsymmetric, quantizeActivationsInt8 } from '@bitlens/quantization';
import type { Tensor, Tensor1D } from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config.js';
import { inputRangeOf, isQuantized, quantizesActivations } from './config.js';
import { type HookName, type HookSelector, hookPredicate } from './hooks.js';
import { canGatherRows, fusedAttendLast, fusedMlp, gatherRows, hasFusedAttention, hasFusedMlp } from './internal/fast-ops.js';

/** Parameters as tfjs tensors by TransformerLens name: the EFFECTIVE weights (what the forward multiplies by). */
export type ParamTensors = ReadonlyMap<string, Tensor>;

/**
 * Hooks of a forward pass. Hook values and shapes (TransformerLens's where it has the hook; see docs/transformer-lens.md):
 * `hook_embed` and `hook_pos_embed` [B, pos, d_model], `blocks.<l>.hook_resid_pre`, `blocks.<l>.attn.hook_q|hook_k|hook_v`
 * [B, pos, head, d_head], `blocks.<l>.attn.hook_attn_scores` [B, head, q_pos, k_pos] (q·k / attn_scale, masked entries
 * -Infinity, before the softmax), `blocks.<l>.attn.hook_pattern` (the attention probabilities; for clipped softmax or
 * alpha != 1 the pattern the model uses), `blocks.<l>.attn.hook_gate` [B, pos, head] (gated attention),
 * `blocks.<l>.attn.hook_z` [B, pos, head, d_head], `blocks.<l>.attn.hook_result` [B, pos, head, d_model] (z_h W_O[h],
 * no bias), `blocks.<l>.hook_attn_out`, `blocks.<l>.hook_resid_mid`, `blocks.<l>.mlp.hook_pre|hook_post` [B, pos, d_mlp],
 * `blocks.<l>.hook_mlp_out`, `blocks.<l>.hook_resid_post`; with a final norm `ln_final.hook_scale` [B, pos, 1] =
 * sqrt(mean(x^2) + eps), `ln_final.hook_normalized` = x / scale (before the gain) and `ln_final.hook_out` = normalized *
 * ln_final.w (what the unembedding reads); `logits` [B, pos, d_vocab_out].
 */
export interface ForwardOptions {
  /**
   * Which activations to keep in the returned cache: hook names (checked against the config: an unknown name is an
   * INVALID_OPTION error, never an empty capture), a regular expression (must match a hook), or a predicate.
   */
  readonly capture?: HookSelector;
  /**
   * Replaces an activation during the forward pass (ablation, patching). Called for every hook, in order; return `t`
   * unchanged for hooks you do not touch. The replacement must have the same shape. Captured values are post-intervention.
   */
  readonly intervene?: (hook: HookName, t: Tensor) => Tensor;
  /**
   * Compute per-head attention outputs (`blocks.<l>.attn.hook_result`) and sum them into `hook_attn_out`, as
   * TransformerLens's `use_attn_result` does, so that `intervene` can edit one head's output. On by itself when a
   * `hook_result` is captured; otherwise off (one matMul for all heads, cheaper).
   */
  readonly attnResult?: boolean;
}

/** Output of {@link forwardFull}. */
export interface ForwardResult {
  /** [B, nCtx, dVocabOut]. */
  readonly logits: Tensor;
  /** Captured activations by hook name. */
  readonly cache: Map<HookName, Tensor>;
}

const STAGE = 'model/forward';
/**
 * Added to masked attention scores: -Infinity, the value TransformerLens puts there (its IGNORE buffer), so that
 * `hook_attn_scores` carries TransformerLens's values. Every query sees itself, so no softmax row is all -Infinity.
 */
const MASKED = -Infinity;
/** The final norm's epsilon under the mean: x / sqrt(mean(x^2) + eps) with eps = 1e-24 / d_model equals x / sqrt(sum(x^2) + 1e-24) * sqrt(d_model). */
const FINAL_NORM_EPS_SUM = 1e-24;

/** Called at every hook point; `attnResult` asks the blocks for per-head outputs. */
type HookFn = ((name: HookName, t: Tensor) => Tensor) & { readonly attnResult?: boolean };

function param(P: ParamTensors, name: string): Tensor {
  const t = P.get(name);
  if (t === undefined) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: name, expected: 'a parameter tensor', found: 'nothing' });
  return t;
}

function optParam(c: ModelConfig, P: ParamTensors, name: string): Tensor | undefined {
  return c.biases ? param(P, name) : undefined;
}

function checkTokens(c: ModelConfig, tokens: Tensor): void {
  if (tokens.rank !== 2 || tokens.shape[1] !== c.nCtx || tokens.dtype !== 'int32') {
    throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'tokens', expected: `int32 [B, ${c.nCtx}]`, found: `${tokens.dtype} [${tokens.shape.join(', ')}]` });
  }
}

/**
 * y = x2d @ W (+ b), with the input quantized when the config says so: asymmetric per-tensor fake quantization over
 * the layer's calibrated static range when post-training quantization lists it (`ptq`), else int8 per-token absmax
 * (STE) when the layer is quantized and activationQuant is 'int8'.
 */
function linear(tf: Tf, c: ModelConfig, x2d: Tensor, w2d: Tensor, b: Tensor | undefined, layerName: string): Tensor {
  const y = tf.matMul(linearInput(tf, c, x2d, layerName), w2d);
  return b === undefined ? y : tf.add(y, b);
}

/** The input of linear `layerName` as the layer multiplies it: quantized when the config says so (see {@link linear}). */
function linearInput(tf: Tf, c: ModelConfig, x2d: Tensor, layerName: string): Tensor {
  const range = inputRangeOf(c, layerName);
  return range !== undefined && c.ptq !== undefined
    ? fakeQuantAsymmetric(tf, x2d, range, c.ptq.activationBits)
    : c.activationQuant === 'int8' && isQuantized(c, layerName)
      ? quantizeActivationsInt8(tf, x2d)
      : x2d;
}

/** Embedding by one-hot matMul (tf.gather's gradient kernel is missing on wasm). Returns [B, n, d]. */
function embed(tf: Tf, c: ModelConfig, P: ParamTensors, tokens: Tensor): Tensor {
  const [B, n] = tokens.shape as [number, number];
  const oh = tf.cast(tf.oneHot(tf.reshape(tokens, [B * n]), c.dVocab), 'float32');
  return tf.reshape(tf.matMul(oh, param(P, 'embed.W_E')), [B, n, c.dModel]);
}

/**
 * One transformer block. `last` = compute queries, attention output and MLP only at the last position (keys and values
 * at all positions): exact for the last position's output. Returns [B, nq, d] with nq = n or 1.
 */
/** Queries, keys, values and the query-side block input, already computed (the token-table fast path). */
interface BlockInputs {
  readonly q: Tensor; // [B, nq, h, dh] in `block`; [B, h*dh] from `tokenTableInputs`
  readonly k: Tensor; // [B, n, h, dh] in `block`; [B*n, h*dh] from `tokenTableInputs` (a table [V, h*dh] with `ids`)
  readonly v: Tensor; // like k
  readonly xq: Tensor; // [B * nq, d]
  /** From `tokenTableInputs` with `tables`: k and v are token tables and key j of row b is their row ids[b*n + j]. */
  readonly ids?: Tensor1D;
}

/** W [h, d, dh] → [d, h*dh], so that one matMul computes every head. */
function headsMatrix(tf: Tf, c: ModelConfig, P: ParamTensors, name: string): Tensor {
  return tf.reshape(tf.transpose(param(P, name), [1, 0, 2]), [c.dModel, c.nHeads * c.dHead]);
}

function headsBias(tf: Tf, c: ModelConfig, P: ParamTensors, name: string): Tensor | undefined {
  const t = optParam(c, P, name);
  return t === undefined ? undefined : tf.reshape(t, [c.nHeads * c.dHead]);
}

/**
 * One transformer block. `last` = compute queries, attention output and MLP only at the last position (keys and values
 * at all positions): exact for the last position's output. Returns [B, nq, d] with nq = n or 1. `given` supplies q, k, v
 * and the query-side input directly (then `x` is only used for its shape).
 */
function block(tf: Tf, c: ModelConfig, P: ParamTensors, l: number, x: Tensor, last: boolean, hook: HookFn, given?: BlockInputs): Tensor {
  const b = `blocks.${l}` as const;
  const [B, n] = x.shape as [number, number, number];
  const { nHeads: h, dHead: dh, dModel: d } = c;
  const nq = last ? 1 : n;
  let q: Tensor;
  let k: Tensor;
  let v: Tensor;
  let xq: Tensor;
  if (given !== undefined) {
    ({ q, k, v, xq } = given);
  } else {
    const x2 = tf.reshape(x, [B * n, d]);
    xq = last ? tf.reshape(tf.slice(x, [0, n - 1, 0], [B, 1, d]), [B, d]) : x2;
    const proj = (input: Tensor, w: string, bias: string, rows: number): Tensor =>
      tf.reshape(linear(tf, c, input, headsMatrix(tf, c, P, `${b}.attn.${w}`), headsBias(tf, c, P, `${b}.attn.${bias}`), `${b}.attn.${w}`), [B, rows, h, dh]);
    q = hook(`${b}.attn.hook_q`, proj(xq, 'W_Q', 'b_Q', nq));
    k = hook(`${b}.attn.hook_k`, proj(x2, 'W_K', 'b_K', n));
    v = hook(`${b}.attn.hook_v`, proj(x2, 'W_V', 'b_V', n));
  }
  // [B, h, pos, dh]. The sequence is tiny (3): broadcast-multiply-and-sum beats thousands of 3x3 batched matMuls.
  const qT = tf.transpose(q, [0, 2, 1, 3]);
  const kT = tf.transpose(k, [0, 2, 1, 3]);
  const vT = tf.transpose(v, [0, 2, 1, 3]);
  let scores = tf.div(tf.sum(tf.mul(tf.expandDims(qT, 3), tf.expandDims(kT, 2)), -1), c.attnScale); // [B, h, nq, n]
  // Query positions: all, or only the last. Causal: key j visible from query i iff j <= i.
  const qpos = last ? [n - 1] : Array.from({ length: n }, (_, i) => i);
  const visible = qpos.map((i) => Array.from({ length: n }, (_, j) => (!c.causal || j <= i ? 1 : 0)));
  if (c.causal && !last) scores = tf.add(scores, tf.tensor2d(visible.map((r) => r.map((m) => (m === 1 ? 0 : MASKED))), [nq, n]));
  scores = hook(`${b}.attn.hook_attn_scores`, scores);
  let pattern = tf.softmax(scores, -1);
  if (c.attention.kind === 'clipped') {
    // Bondarenko: clip((zeta - gamma) * softmax + gamma, 0, 1); an exact 0 (or 1) is reached from finite scores, and
    // clipped entries pass no gradient, so nothing keeps pushing the scores to extremes.
    const { zeta, gamma } = c.attention;
    pattern = tf.clipByValue(tf.add(tf.mul(pattern, zeta - gamma), gamma), 0, 1);
  }
  if (c.alpha !== 1) {
    // Zhong: alpha * softmax + (1 - alpha) * ones; under a causal mask the ones are masked too.
    pattern = tf.add(tf.mul(pattern, c.alpha), tf.mul(tf.tensor2d(visible, [nq, n]), 1 - c.alpha));
  }
  pattern = hook(`${b}.attn.hook_pattern`, pattern);
  let z = tf.sum(tf.mul(tf.expandDims(pattern, 4), tf.expandDims(vT, 2)), 3); // [B, h, nq, dh]
  z = tf.transpose(z, [0, 2, 1, 3]); // [B, nq, h, dh]
  if (c.attention.kind === 'gated') {
    // Bondarenko: gate_{h,t} = sigmoid(x_{t,h} · G_h + g_h), x_{t,h} = the head's d_head slice of the block input.
    const xh = tf.reshape(xq, [B, nq, h, dh]);
    const logit = tf.add(tf.sum(tf.mul(xh, param(P, `${b}.attn.gate.W`)), -1), param(P, `${b}.attn.gate.b`));
    const gate = hook(`${b}.attn.hook_gate`, tf.sigmoid(logit)); // [B, nq, h]
    z = tf.mul(z, tf.expandDims(gate, -1));
  }
  z = hook(`${b}.attn.hook_z`, z);
  const attnOut = hook(`${b}.hook_attn_out`, hook.attnResult === true ? attnOutByHead(tf, c, P, l, z, hook) : attnOutput(tf, c, P, l, z));
  const xres = last ? tf.reshape(xq, [B, 1, d]) : x;
  const mid = hook(`${b}.hook_resid_mid`, tf.add(xres, attnOut));
  const mlpOut = mlp(tf, c, P, l, mid, hook);
  return hook(`${b}.hook_resid_post`, tf.add(mid, mlpOut));
}

/** z [B, nq, h, dh] → the attention output [B, nq, d]: one matMul over all heads, + b_O. */
function attnOutput(tf: Tf, c: ModelConfig, P: ParamTensors, l: number, z: Tensor): Tensor {
  const [B, nq] = z.shape as [number, number, number, number];
  const { nHeads: h, dHead: dh, dModel: d } = c;
  const wO = tf.reshape(param(P, `blocks.${l}.attn.W_O`), [h * dh, d]);
  return tf.reshape(linear(tf, c, tf.reshape(z, [B * nq, h * dh]), wO, optParam(c, P, `blocks.${l}.attn.b_O`), `blocks.${l}.attn.W_O`), [B, nq, d]);
}

/**
 * TransformerLens's `use_attn_result`: per-head outputs z_h W_O[h] ([B, nq, h, d], `attn.hook_result`, no bias), summed
 * over heads, + b_O. The input is quantized as a whole, as in {@link attnOutput}, then split by head.
 */
function attnOutByHead(tf: Tf, c: ModelConfig, P: ParamTensors, l: number, z: Tensor, hook: HookFn): Tensor {
  const b = `blocks.${l}` as const;
  const [B, nq] = z.shape as [number, number, number, number];
  const { nHeads: h, dHead: dh, dModel: d } = c;
  const zin = linearInput(tf, c, tf.reshape(z, [B * nq, h * dh]), `${b}.attn.W_O`);
  const perHead = tf.matMul(tf.transpose(tf.reshape(zin, [B * nq, h, dh]), [1, 0, 2]), param(P, `${b}.attn.W_O`)); // [h, B*nq, d]
  const result = hook(`${b}.attn.hook_result`, tf.reshape(tf.transpose(perHead, [1, 0, 2]), [B, nq, h, d]));
  const sum = tf.sum(result, 2);
  const bO = optParam(c, P, `${b}.attn.b_O`);
  return bO === undefined ? sum : tf.add(sum, bO);
}

/** The MLP of block l on x [B, nq, d] (or [B, d] for the fused path, whose hook is the identity): W_out relu(W_in x + b_in) + b_out. */
function mlp(tf: Tf, c: ModelConfig, P: ParamTensors, l: number, x: Tensor, hook: HookFn): Tensor {
  const b = `blocks.${l}` as const;
  const lead = x.shape.slice(0, -1);
  const rows = lead.reduce((a, v) => a * v, 1);
  const x2 = x.rank === 2 ? x : tf.reshape(x, [rows, c.dModel]);
  const shaped = (t: Tensor, width: number): Tensor => (x.rank === 2 ? t : tf.reshape(t, [...lead, width]));
  const pre = hook(`${b}.mlp.hook_pre`, shaped(linear(tf, c, x2, param(P, `${b}.mlp.W_in`), optParam(c, P, `${b}.mlp.b_in`), `${b}.mlp.W_in`), c.dMlp));
  const post = hook(`${b}.mlp.hook_post`, tf.relu(pre));
  const post2 = x.rank === 2 ? post : tf.reshape(post, [rows, c.dMlp]);
  return hook(`${b}.hook_mlp_out`, shaped(linear(tf, c, post2, param(P, `${b}.mlp.W_out`), optParam(c, P, `${b}.mlp.b_out`), `${b}.mlp.W_out`), c.dModel));
}

/**
 * Final norm (li) and unembedding of x [B, nq, d] → logits [B, nq, dVocabOut], for the unhooked fast paths (`_hook` is
 * their identity). The norm is x / ||x||_2 * (sqrt(d_model) * g): the function of {@link readoutHooked} in one op fewer,
 * and bit for bit what training has always computed. The 1e-24 under the root only guards an all-zero vector
 * (F.normalize's eps 1e-12 on the norm).
 */
function readout(tf: Tf, c: ModelConfig, P: ParamTensors, x: Tensor, _hook: HookFn): Tensor {
  const d = c.dModel;
  const y = c.finalNorm ? tf.mul(tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), -1, true), FINAL_NORM_EPS_SUM))), tf.mul(param(P, 'ln_final.w'), Math.sqrt(d))) : x;
  return unembed(tf, c, P, y);
}

/**
 * {@link forwardFull}'s readout: the final norm as TransformerLens's RMSNorm computes it, through its hooks —
 * `ln_final.hook_scale` = sqrt(mean(x^2) + eps) [B, nq, 1] (eps = 1e-24 / d_model), `ln_final.hook_normalized` = x / scale,
 * then bitlens's `ln_final.hook_out` = normalized * ln_final.w — and the unembedding. Interventions on any of the three
 * flow downstream.
 */
function readoutHooked(tf: Tf, c: ModelConfig, P: ParamTensors, x: Tensor, hook: HookFn): Tensor {
  if (!c.finalNorm) return unembed(tf, c, P, x);
  const scale = hook('ln_final.hook_scale', tf.sqrt(tf.add(tf.mean(tf.square(x), -1, true), FINAL_NORM_EPS_SUM / c.dModel)));
  const normalized = hook('ln_final.hook_normalized', tf.div(x, scale));
  return unembed(tf, c, P, hook('ln_final.hook_out', tf.mul(normalized, param(P, 'ln_final.w'))));
}

/** y [B, nq, d] @ W_U (+ b_U) → [B, nq, dVocabOut]. */
function unembed(tf: Tf, c: ModelConfig, P: ParamTensors, y: Tensor): Tensor {
  const [B, nq, d] = y.shape as [number, number, number];
  const logits = linear(tf, c, tf.reshape(y, [B * nq, d]), param(P, 'unembed.W_U'), optParam(c, P, 'unembed.b_U'), 'unembed.W_U');
  return tf.reshape(logits, [B, nq, c.dVocabOut]);
}

function residPre(tf: Tf, c: ModelConfig, P: ParamTensors, tokens: Tensor, hook: HookFn): Tensor {
  let x = hook('hook_embed', embed(tf, c, P, tokens));
  if (c.posEmbed) {
    const [B, n] = tokens.shape as [number, number];
    // [B, pos, d_model] as in TransformerLens (W_pos[:n] broadcast over the batch).
    // Broadcast by adding to zeros, not tf.broadcastTo: that is Tile, whose gradient is one slice per repetition (B).
    const pos = hook('hook_pos_embed', tf.add(tf.zeros([B, n, c.dModel]), tf.slice(param(P, 'pos_embed.W_pos'), [0, 0], [n, c.dModel])));
    x = tf.add(x, pos);
  }
  return x;
}

/**
 * Full forward pass over every position, with TransformerLens hooks (see {@link ForwardOptions} for their values).
 * `params` are the effective weights (see {@link effectiveParams} for turning latent weights into them). Allocates its
 * intermediates in the caller's scope: call it inside `tf.tidy` (or `tf.variableGrads`) and return / `tf.keep` what you
 * need, or use {@link runWithCache}, which does that. Throws INVALID_OPTION for a captured name the model lacks.
 * @example const { logits, cache } = forwardFull(tf, cfg, params, tokens, { capture: ['blocks.0.attn.hook_pattern'] });
 */
export function forwardFull(tf: Tf, config: ModelConfig, params: ParamTensors, tokens: Tensor, options: ForwardOptions = {}): ForwardResult {
  checkTokens(config, tokens);
  const cache = new Map<HookName, Tensor>();
  const { intervene } = options;
  const capture = options.capture === undefined ? undefined : hookPredicate(config, options.capture, { field: 'capture', stage: STAGE });
  const wantsResult = capture !== undefined && Array.from({ length: config.nLayers }, (_, l) => capture(`blocks.${l}.attn.hook_result`)).some((x) => x);
  const fn = (name: HookName, t: Tensor): Tensor => {
    let out = t;
    if (intervene !== undefined) {
      out = intervene(name, t);
      if (out.shape.length !== t.shape.length || out.shape.some((s, i) => s !== t.shape[i])) {
        throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: name, expected: `an intervention of shape [${t.shape.join(', ')}]`, found: `[${out.shape.join(', ')}]` });
      }
    }
    if (capture?.(name) === true) cache.set(name, out);
    return out;
  };
  const hook: HookFn = Object.assign(fn, { attnResult: options.attnResult === true || wantsResult });
  let x = hook('blocks.0.hook_resid_pre', residPre(tf, config, params, tokens, hook));
  for (let l = 0; l < config.nLayers; l++) {
    if (l > 0) x = hook(`blocks.${l}.hook_resid_pre`, x);
    x = block(tf, config, params, l, x, false, hook);
  }
  const logits = hook('logits', readoutHooked(tf, config, params, x, hook));
  return { logits, cache };
}

/**
 * Logits at the last position only, [B, dVocabOut]: keys and values at every position, everything else (query,
 * attention output, MLP, norm, unembedding) only at the last position of the last block. Exact (equals
 * `forwardFull(...).logits[:, -1]`), about 3x cheaper; the training fast path. No hooks. Call inside `tf.tidy`.
 */
export function forwardLast(tf: Tf, config: ModelConfig, params: ParamTensors, tokens: Tensor): Tensor {
  checkTokens(config, tokens);
  const none: HookFn = (_n, t) => t;
  const [B] = tokens.shape as [number, number];
  if (config.nLayers === 1 && !quantizesActivations(config)) {
    const fused = config.alpha === 1 && config.attention.kind === 'vanilla';
    const inputs = tokenTableInputs(tf, config, params, tokens, fused && hasFusedAttention(tf));
    if (fused) return fusedLast(tf, config, params, inputs, B);
    const x = tf.zeros([B, config.nCtx, 1]); // shape carrier only
    const four: BlockInputs = { ...inputs, q: tf.reshape(inputs.q, [B, 1, config.nHeads, config.dHead]), k: tf.reshape(inputs.k, [B, config.nCtx, config.nHeads, config.dHead]), v: tf.reshape(inputs.v, [B, config.nCtx, config.nHeads, config.dHead]) };
    const y = block(tf, config, params, 0, x, true, none, four);
    return tf.reshape(readout(tf, config, params, y, none), [B, config.dVocabOut]);
  }
  let x = residPre(tf, config, params, tokens, none);
  for (let l = 0; l < config.nLayers; l++) x = block(tf, config, params, l, x, l === config.nLayers - 1, none);
  return tf.reshape(readout(tf, config, params, x, none), [B, config.dVocabOut]);
}

/**
 * The first block's input at position i is W_E[token] + W_pos[i], and Q/K/V are linear in it, so
 * K[b, i] = (W_E W_K)[token] + (W_pos[i] W_K + b_K): a row of a [d_vocab, h*d_head] table plus a per-position row (the
 * same for V, and for Q and the residual at the last position). Exact up to float32 rounding (tested against
 * `forwardFull`): the [B*n, d_model] embedding and the Q/K/V projections of every row become table lookups. Rows are
 * gathered (gradient: a scatter-add into the table) where the backend has a scatter-add kernel; otherwise picked by
 * one-hot products ([B*n, d_vocab] x [d_vocab, h*d_head], most of whose multiply-adds are by zero). Used for
 * one-layer models without activation quantization (that is non-linear per row).
 */
function tokenTableInputs(tf: Tf, c: ModelConfig, P: ParamTensors, tokens: Tensor, tables = false): BlockInputs {
  const [B, n] = tokens.shape as [number, number];
  const { dModel: d, dVocab: V } = c;
  const E = param(P, 'embed.W_E');
  const pos = c.posEmbed ? tf.slice(param(P, 'pos_embed.W_pos'), [0, 0], [n, d]) : undefined; // [n, d]
  const allIds = tf.reshape(tokens, [B * n]) as Tensor1D;
  // The last position's ids from the last token column (slicing a [B, n, V] one-hot along an inner axis runs in
  // JavaScript on wasm: 2.5% of a training step at p = 59, CPU profile).
  const lastIds = tf.reshape(tf.slice(tokens, [0, n - 1], [B, 1]), [B]) as Tensor1D;
  let pick: (table: Tensor, last: boolean) => Tensor;
  if (canGatherRows(tf)) {
    pick = (table, last) => gatherRows(tf, table, last ? lastIds : allIds);
  } else {
    const oh2 = tf.cast(tf.oneHot(allIds, V), 'float32'); // [B*n, V]
    const ohLast = tf.cast(tf.oneHot(lastIds, V), 'float32'); // [B, V]
    pick = (table, last) => tf.matMul(last ? ohLast : oh2, table);
  }
  // Per-position additive rows: W_pos[i] W + b ([n, h*dh]), or just b, or nothing.
  const offset = (w: Tensor, bias: Tensor | undefined, rows: Tensor | undefined): Tensor | undefined => {
    const fromPos = rows === undefined ? undefined : tf.matMul(rows, w);
    return fromPos === undefined ? bias : bias === undefined ? fromPos : tf.add(fromPos, bias);
  };
  const plus = (t: Tensor, off: Tensor | undefined): Tensor => (off === undefined ? t : tf.add(t, off));
  const kv = (w: string, bias: string): Tensor => {
    const W = headsMatrix(tf, c, P, `blocks.0.attn.${w}`);
    const picked = pick(tf.matMul(E, W), false); // [B*n, h*dh]
    const off = offset(W, headsBias(tf, c, P, `blocks.0.attn.${bias}`), pos);
    // A per-position offset [n, h*dh] broadcasts over [B, n, h*dh] (tf.tile's gradient is one slice per repetition).
    return pos === undefined ? plus(picked, off) : tf.reshape(plus(tf.reshape(picked, [B, n, c.nHeads * c.dHead]), off), [B * n, c.nHeads * c.dHead]);
  };
  // Without per-position rows or biases, key j of row b is row tokens[b, j] of E W_K (and E W_V): the fused
  // attention reads those tables by id, so no [B*n, h*dh] copies are gathered (nor scatter-added in the backward).
  // (K and V come before Q either way: the order of the ops on the tape is the order in which the backward adds up
  // E's gradient, so it decides the float rounding of training.)
  const byIds = tables && pos === undefined && !c.biases;
  const table = (w: string): Tensor => tf.matMul(E, headsMatrix(tf, c, P, `blocks.0.attn.${w}`));
  const k = byIds ? table('W_K') : kv('W_K', 'b_K');
  const v = byIds ? table('W_V') : kv('W_V', 'b_V');
  const posLast = pos === undefined ? undefined : tf.slice(pos, [n - 1, 0], [1, d]);
  const WQ = headsMatrix(tf, c, P, 'blocks.0.attn.W_Q');
  const q = plus(pick(tf.matMul(E, WQ), true), offset(WQ, headsBias(tf, c, P, 'blocks.0.attn.b_Q'), posLast)); // [B, h*dh]
  const xq = plus(pick(E, true), posLast); // [B, d]
  return { q, k, v, xq, ...(byIds ? { ids: allIds } : {}) };
}

/**
 * The last position's output of a one-layer model without clipped softmax, alpha or gates: attention by
 * {@link attendLast}, then W_O, the residual, the MLP (one fused op where the backend has its kernels) and the readout,
 * on 2-D tensors. Exact (tested against `forwardFull`, values and gradients).
 */
function fusedLast(tf: Tf, c: ModelConfig, P: ParamTensors, t: BlockInputs, B: number): Tensor {
  const none: HookFn = (_n, x) => x;
  const { nHeads: h, dHead: dh, dModel: d, nCtx: n } = c;
  const z = attendLast(tf, t.q, t.k, t.v, B, n, h, dh, c.attnScale, t.ids); // [B, h*dh]
  const attnOut = linear(tf, c, z, tf.reshape(param(P, 'blocks.0.attn.W_O'), [h * dh, d]), optParam(c, P, 'blocks.0.attn.b_O'), 'blocks.0.attn.W_O');
  const mid = tf.add(t.xq, attnOut);
  const mlpOut = hasFusedMlp(tf)
    ? fusedMlp(tf, mid, param(P, 'blocks.0.mlp.W_in'), optParam(c, P, 'blocks.0.mlp.b_in'), param(P, 'blocks.0.mlp.W_out'), optParam(c, P, 'blocks.0.mlp.b_out'))
    : mlp(tf, c, P, 0, mid, none);
  const resid = tf.add(mid, mlpOut);
  return tf.reshape(readout(tf, c, P, tf.reshape(resid, [B, 1, d]), none), [B, c.dVocabOut]);
}

/**
 * Softmax attention of one query per row over n keys, as one op with a hand-written gradient: q [B, h*dh],
 * k and v [B*n, h*dh] (rows b*n + j) → z [B, h*dh]. Written out by tfjs's autodiff, the broadcast products, sums and
 * reshapes of this step clone every saved input and fill all-ones arrays in JavaScript for each Sum gradient: about
 * 15% of a training step at p = 59 (CPU profile). Here the backward is
 * dA = dz·v, dv = a dz, ds = a (dA - sum(a dA)), dq = sum_j ds k / scale, dk = ds q / scale.
 */
function attendLast(tf: Tf, q2: Tensor, k2: Tensor, v2: Tensor, B: number, n: number, h: number, dh: number, scale: number, ids?: Tensor1D): Tensor {
  if (hasFusedAttention(tf)) return fusedAttendLast(tf, q2, k2, v2, B, n, h, dh, scale, ids); // the same math as one kernel pair
  if (ids !== undefined) throw new BitlensError('INTERNAL', { stage: 'model/forward', field: 'ids', expected: 'token tables only where the fused attention kernels are registered' });
  const f = tf.customGrad((...args) => {
    const [qIn, kIn, vIn] = args as [Tensor, Tensor, Tensor];
    const save = args[3] as unknown as (ts: Tensor[]) => void;
    const q = tf.reshape(qIn, [B, h, 1, dh]);
    const kT = tf.transpose(tf.reshape(kIn, [B, n, h, dh]), [0, 2, 1, 3]); // [B, h, n, dh]
    const vT = tf.transpose(tf.reshape(vIn, [B, n, h, dh]), [0, 2, 1, 3]);
    const a = tf.softmax(tf.div(tf.sum(tf.mul(q, kT), -1), scale), -1); // [B, h, n]
    const z = tf.reshape(tf.sum(tf.mul(tf.expandDims(a, -1), vT), 2), [B, h * dh]);
    save([q, kT, vT, a]);
    return {
      value: z,
      gradFunc: (dz2: Tensor, saved: Tensor[]) => {
        const [sq, sk, sv, sa] = saved as [Tensor, Tensor, Tensor, Tensor];
        const dz = tf.reshape(dz2, [B, h, 1, dh]);
        const dA = tf.sum(tf.mul(dz, sv), -1); // [B, h, n]
        const dvT = tf.mul(tf.expandDims(sa, -1), dz); // [B, h, n, dh]
        const ds = tf.div(tf.mul(sa, tf.sub(dA, tf.sum(tf.mul(sa, dA), -1, true))), scale);
        const dsE = tf.expandDims(ds, -1); // [B, h, n, 1]
        const dq = tf.reshape(tf.sum(tf.mul(dsE, sk), 2), [B, h * dh]);
        const back = (t: Tensor): Tensor => tf.reshape(tf.transpose(t, [0, 2, 1, 3]), [B * n, h * dh]);
        return [dq, back(tf.mul(dsE, sq)), back(dvT)];
      },
    };
  });
  return f(q2, k2, v2);
}
