import { BitlensError } from '@bitlens/core';
import { tensor } from '@bitlens/kernels';
import type { BackendName, KernelRegistry } from '@bitlens/kernels';
import type { ModelConfig } from '@bitlens/model';
import { attend } from './internal/attention.js';
import { addBias, addInto, finalNorm, relu } from './internal/host-ops.js';
import { linearMatrix } from './internal/layout.js';
import type { PackedModel } from './pack.js';

const STAGE = 'inference/forward';

/**
 * Activations at the input of each packed layer: `int8` = per-token absmax int8 (BitNet b1.58's W1.58A8, the op
 * `TernaryMatMulA8`: the arithmetic of `quantizeActivationsInt8`, then the exact int8 x ternary GEMM); `fp32` = float32
 * activations times the packed weights (`TernaryMatMul`; no activation quantization, so the packed forward computes
 * the trained model's function).
 */
export type ActivationMode = 'int8' | 'fp32';

/** Where {@link packedForwardLast} runs its ops. */
export interface PackedForwardOptions {
  readonly registry: KernelRegistry;
  /** Backend of `TernaryMatMul` (the packed layers), e.g. `wasm-packed` or `tfjs-webgpu`. */
  readonly backend: BackendName;
  /** Backend of the full-precision `MatMul`s (the unembedding, and any layer the config leaves unquantized). */
  readonly denseBackend: BackendName;
  /** Default `int8`. */
  readonly activations?: ActivationMode;
}

/** Multiply-accumulates a forward performed, by kind. */
export interface ForwardWork {
  /** In packed layers (`TernaryMatMul`). */
  readonly packedMacs: number;
  /** In full-precision matrix products (`MatMul`). */
  readonly denseMacs: number;
}

/** Output of {@link packedForwardLast}. */
export interface PackedForwardResult {
  /** [batch, dVocabOut], the last position's logits. */
  readonly logits: Float32Array;
  readonly batch: number;
  readonly work: ForwardWork;
}

interface Ctx {
  readonly m: PackedModel;
  readonly o: PackedForwardOptions;
  readonly mode: ActivationMode;
  packedMacs: number;
  denseMacs: number;
}

function param(m: PackedModel, name: string): Float32Array {
  const t = m.effective.get(name);
  if (t === undefined) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: name, expected: 'a parameter tensor', found: 'nothing' });
  return t.data;
}
const bias = (m: PackedModel, name: string): Float32Array | undefined => (m.config.biases ? param(m, name) : undefined);

/** y = x W (+ b) for `rows` rows of x: on the packed kernel when the layer is packed, else a dense MatMul. */
async function linear(ctx: Ctx, name: string, x: Float32Array, rows: number, b?: Float32Array): Promise<Float32Array> {
  const { registry, backend, denseBackend } = ctx.o;
  const lin = ctx.m.linears.get(name);
  if (lin === undefined) {
    const w = linearMatrix(ctx.m.config, name, { shape: ctx.m.effective.get(name)?.shape ?? [], data: param(ctx.m, name) });
    ctx.denseMacs += rows * w.inDim * w.outDim;
    const y = await registry.run('MatMul', { a: tensor('float32', [rows, w.inDim], x), b: tensor('float32', [w.inDim, w.outDim], w.matrix) }, { transposeB: false }, denseBackend);
    return addBias(y.data, w.outDim, b);
  }
  const { inDim: k, outDim: n, packed, scale } = lin;
  ctx.packedMacs += rows * k * n;
  if (ctx.mode === 'fp32') {
    const y = await registry.run('TernaryMatMul', { x: tensor('float32', [rows, k], x), w: packed }, { k, format: 'i2s', scale }, backend);
    return addBias(y.data instanceof Float32Array ? y.data : Float32Array.from(y.data), n, b);
  }
  const y = await registry.run('TernaryMatMulA8', { x: tensor('float32', [rows, k], x), w: packed }, { k, scale }, backend);
  return addBias(y.data, n, b);
}

/** Rows `ids` of a [*, w] matrix, gathered into a new [ids.length, w] matrix. */
function gather(t: Float32Array, w: number, ids: ArrayLike<number>): Float32Array {
  const out = new Float32Array(ids.length * w);
  for (let r = 0; r < ids.length; r++) out.set(t.subarray((ids[r] ?? 0) * w, ((ids[r] ?? 0) + 1) * w), r * w);
  return out;
}

/**
 * The first block's input takes only dVocab (x nCtx with a positional embedding) distinct values, W_E[token] (+
 * W_pos[t]); its rows and, per (batch row, position), which of them it is. Every per-row operation of the first
 * projections (int8 quantization included) is therefore computed once per distinct row and gathered: exact, and the
 * same saving the tfjs forward makes with its token table.
 */
function embedding(c: ModelConfig, m: PackedModel, tokens: Int32Array, batch: number): { readonly table: Float32Array; readonly ids: Int32Array } {
  const E = param(m, 'embed.W_E'), d = c.dModel, n = c.nCtx, perPos = c.posEmbed ? n : 1;
  const table = new Float32Array(c.dVocab * perPos * d);
  const pos = c.posEmbed ? param(m, 'pos_embed.W_pos') : undefined;
  for (let t = 0; t < c.dVocab; t++) {
    for (let i = 0; i < perPos; i++) {
      for (let e = 0; e < d; e++) table[(t * perPos + i) * d + e] = (E[t * d + e] ?? 0) + (pos === undefined ? 0 : (pos[i * d + e] ?? 0));
    }
  }
  const ids = new Int32Array(batch * n);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < n; i++) {
      const tok = tokens[b * n + i] ?? -1;
      if (!(tok >= 0 && tok < c.dVocab)) throw new BitlensError('INVALID_DATA', { stage: STAGE, field: 'tokens', expected: `token ids in [0, ${c.dVocab})`, found: `${tok} at row ${b}, position ${i}` });
      ids[b * n + i] = tok * perPos + (c.posEmbed ? i : 0);
    }
  }
  return { table, ids };
}

async function block(ctx: Ctx, l: number, x: Float32Array | undefined, emb: { readonly table: Float32Array; readonly ids: Int32Array }, batch: number): Promise<Float32Array> {
  const c = ctx.m.config, m = ctx.m, b = `blocks.${l}`, d = c.dModel, n = c.nCtx;
  const last = l === c.nLayers - 1, qpos = last ? [n - 1] : Array.from({ length: n }, (_, i) => i), nq = qpos.length;
  const qrows = Int32Array.from({ length: batch * nq }, (_, r) => Math.floor(r / nq) * n + (qpos[r % nq] ?? 0)); // rows of [B*n] at the query positions
  let k: Float32Array, v: Float32Array, q: Float32Array, xq: Float32Array, kvRows: Int32Array | undefined, qRows: Int32Array | undefined;
  if (x === undefined) { // first block: project the distinct embedding rows, then gather
    const rows = emb.table.length / d;
    const [kt, vt, qt] = [await linear(ctx, `${b}.attn.W_K`, emb.table, rows, bias(m, `${b}.attn.b_K`)), await linear(ctx, `${b}.attn.W_V`, emb.table, rows, bias(m, `${b}.attn.b_V`)),
      await linear(ctx, `${b}.attn.W_Q`, emb.table, rows, bias(m, `${b}.attn.b_Q`))];
    k = kt; v = vt; kvRows = emb.ids; // keys and values are read through the ids (no [B*n, h*dh] gather)
    const qids = Int32Array.from(qrows, (r) => emb.ids[r] ?? 0);
    q = qt; qRows = qids; xq = gather(emb.table, d, qids); // queries too are read through their table rows
  } else {
    k = await linear(ctx, `${b}.attn.W_K`, x, batch * n, bias(m, `${b}.attn.b_K`));
    v = await linear(ctx, `${b}.attn.W_V`, x, batch * n, bias(m, `${b}.attn.b_V`));
    xq = gather(x, d, qrows);
    q = await linear(ctx, `${b}.attn.W_Q`, xq, batch * nq, bias(m, `${b}.attn.b_Q`));
  }
  const gates = c.attention.kind === 'gated' ? { gateW: param(m, `${b}.attn.gate.W`), gateB: param(m, `${b}.attn.gate.b`) } : {};
  const z = attend(c, { q, k, v, xq, batch, qpos, ...gates, ...(kvRows === undefined || qRows === undefined ? {} : { kvRows, qRows }) });
  // the residual adds go into the ops' fresh outputs (no further arrays): mid = attn_out + x, resid = mlp_out + mid
  const mid = addInto(await linear(ctx, `${b}.attn.W_O`, z, batch * nq, bias(m, `${b}.attn.b_O`)), xq);
  const post = relu(await linear(ctx, `${b}.mlp.W_in`, mid, batch * nq, bias(m, `${b}.mlp.b_in`)));
  return addInto(await linear(ctx, `${b}.mlp.W_out`, post, batch * nq, bias(m, `${b}.mlp.b_out`)), mid);
}

/**
 * The last position's logits of a packed model for `tokens` ([batch, nCtx] int32, row-major): the model's forward
 * (as `forwardLast` of @bitlens/model computes it) with every packed layer on `TernaryMatMulA8` (int8 activations) or
 * `TernaryMatMul` (fp32) of `options.backend`,
 * the unembedding on `MatMul` of `options.denseBackend`, and the rest (embedding, attention over the 3 positions,
 * ReLU, residuals, final norm) on host arrays. Stateless; runs one op at a time.
 * @example const { logits } = await packedForwardLast(model, tokens, { registry, backend: 'wasm-packed', denseBackend: 'tfjs-wasm' });
 */
export async function packedForwardLast(model: PackedModel, tokens: Int32Array, options: PackedForwardOptions): Promise<PackedForwardResult> {
  const c = model.config, n = c.nCtx;
  if (tokens.length % n !== 0 || tokens.length === 0) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'tokens', expected: `[batch, ${n}] int32, row-major`, found: `${tokens.length} values` });
  }
  const mode = options.activations ?? 'int8';
  if (mode !== 'int8' && mode !== 'fp32') throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'activations', expected: "'int8' or 'fp32'", found: JSON.stringify(mode) });
  const batch = tokens.length / n, ctx: Ctx = { m: model, o: options, mode, packedMacs: 0, denseMacs: 0 };
  const emb = embedding(c, model, tokens, batch);
  let x: Float32Array | undefined;
  for (let l = 0; l < c.nLayers; l++) x = await block(ctx, l, x, emb, batch);
  const resid = x ?? new Float32Array(0);
  const y = c.finalNorm ? finalNorm(resid, batch, c.dModel, param(model, 'ln_final.w')) : resid;
  ctx.denseMacs += batch * c.dModel * c.dVocabOut;
  const u = await options.registry.run('MatMul', { a: tensor('float32', [batch, c.dModel], y), b: tensor('float32', [c.dModel, c.dVocabOut], param(model, 'unembed.W_U')) }, { transposeB: false }, options.denseBackend);
  const logits = addBias(Float32Array.from(u.data), c.dVocabOut, bias(model, 'unembed.b_U'));
  return { logits, batch, work: { packedMacs: ctx.packedMacs, denseMacs: ctx.denseMacs } };
}
