import type { Tf } from '@bitlens/engine';
import { BitlensError, mulberry32 } from '@bitlens/core';
import { type HookName, type ModelConfig, forwardFull, toTensors } from '@bitlens/model';
import type { Tensor } from '@tensorflow/tfjs-core';
import { meanCosine } from './clock-pizza.js';
import { type LoadedModel, gridOutputs, gridTokens, tensorOf } from './model.js';

/** Direct logit attribution of the residual components at the last position. */
export interface DirectLogitAttribution {
  /** Component names: `embed`, `pos_embed`, `head.<h>`, `attn.b_O`, `mlp`, `mlp.b_out`, `unembed.b_U` (those present). */
  readonly components: string[];
  /** Grid rows analysed. */
  readonly rows: Int32Array;
  /** Per component, `[rows, dVocabOut]` float64 contributions to every logit. */
  readonly contributions: Float64Array[];
  /** The model's last-position logits, `[rows, dVocabOut]`. */
  readonly logits: Float32Array;
  /** True when the attribution is exact (no final norm); li's final norm is linearised with the cached scale. */
  readonly exact: boolean;
}

/**
 * Direct logit attribution (docs/science.md#attribution-ablation-patching-acdc): each residual component at the last position times W_U (divided by the
 * cached norm scale `ln_final.hook_scale` = sqrt(mean(x^2) + eps) and multiplied by ln_final.w for li, which is exact
 * for that input since the scale is fixed). The products with W_U run as tfjs matMuls (`precision: 'float32'`, default, fast over all p^2
 * inputs) or in float64 on the host (`'float64'`: then the components sum to the float64 residual's logits to ~1e-12).
 */
export function directLogitAttribution(tf: Tf, model: LoadedModel, rows?: ArrayLike<number>, options: { readonly precision?: 'float32' | 'float64' } = {}): DirectLogitAttribution {
  const { p } = model.config;
  const r = Int32Array.from(rows ?? Array.from({ length: p * p }, (_, i) => i));
  const hooks = dlaHooks(model.config);
  const out = gridOutputs(tf, model, { rows: r, capture: (x) => hooks.includes(x) });
  return directLogitAttributionFrom(tf, model, out.acts, out.logits, r, options);
}

/** Hooks (last position) that {@link directLogitAttributionFrom} reads. */
export function dlaHooks(config: ModelConfig): HookName[] {
  return ['hook_embed', 'blocks.0.attn.hook_z', 'blocks.0.mlp.hook_post', ...(config.finalNorm ? (['ln_final.hook_scale'] as const) : [])];
}

/**
 * Direct logit attribution from already captured last-position activations (`acts` by hook, rows aligned with `rows`)
 * and the model's last-position `logits`; see {@link directLogitAttribution}.
 */
export function directLogitAttributionFrom(
  tf: Tf,
  model: LoadedModel,
  acts: ReadonlyMap<HookName, { readonly data: Float32Array }>,
  logits: Float32Array,
  rows: Int32Array,
  options: { readonly precision?: 'float32' | 'float64' } = {},
): DirectLogitAttribution {
  const c = model.config;
  const { dModel: d, dVocabOut: o, nHeads: h, dHead: dh } = c;
  const r = rows;
  const out = { acts, logits };
  const get = (name: HookName): Float32Array => {
    const t = out.acts.get(name);
    if (t === undefined) throw new BitlensError('NOT_FOUND', { stage: 'circuits/dla', field: name, expected: 'a captured hook', found: 'nothing' });
    return t.data;
  };
  const n = r.length;
  const W_U = tensorOf(model, 'unembed.W_U').data;
  const W_O = tensorOf(model, 'blocks.0.attn.W_O').data; // [h, dh, d]
  const W_out = tensorOf(model, 'blocks.0.mlp.W_out').data; // [dMlp, d]
  const dMlp = c.dMlp;
  const scale = c.finalNorm ? get('ln_final.hook_scale') : undefined;
  const gain = c.finalNorm ? tensorOf(model, 'ln_final.w').data : undefined;
  // Residual vector of each component for each row, then one product with W_U (with the norm factor folded in).
  const resid: { name: string; vec: (i: number, out: Float64Array) => void; tensor: (t: Tf) => Tensor; constant?: ArrayLike<number> }[] = [];
  const rowsOfVector = (t: Tf, vec: ArrayLike<number>): Tensor => t.tile(t.tensor2d(Float32Array.from(vec), [1, d]), [n, 1]);
  const emb = get('hook_embed');
  resid.push({ name: 'embed', vec: (i, v) => { for (let j = 0; j < d; j++) v[j] = emb[i * d + j] ?? 0; }, tensor: (t) => t.tensor2d(emb, [n, d]) });
  if (c.posEmbed) {
    const pos = tensorOf(model, 'pos_embed.W_pos').data;
    resid.push({ name: 'pos_embed', vec: (_i, v) => { for (let j = 0; j < d; j++) v[j] = pos[(c.nCtx - 1) * d + j] ?? 0; }, tensor: (t) => rowsOfVector(t, pos.subarray((c.nCtx - 1) * d, c.nCtx * d)), constant: pos.subarray((c.nCtx - 1) * d, c.nCtx * d) });
  }
  const z = get('blocks.0.attn.hook_z'); // [n, h, dh] at the last position
  for (let hh = 0; hh < h; hh++) {
    resid.push({
      name: `head.${hh}`,
      tensor: (t) => t.matMul(t.reshape(t.slice(t.tensor3d(z, [n, h, dh]), [0, hh, 0], [n, 1, dh]), [n, dh]), t.tensor2d(W_O.subarray(hh * dh * d, (hh + 1) * dh * d), [dh, d])),
      vec: (i, v) => {
        v.fill(0);
        for (let k = 0; k < dh; k++) {
          const zk = z[(i * h + hh) * dh + k] ?? 0;
          if (zk === 0) continue;
          for (let j = 0; j < d; j++) v[j] = (v[j] ?? 0) + zk * (W_O[(hh * dh + k) * d + j] ?? 0);
        }
      },
    });
  }
  const bias = (name: string, label: string): void => {
    const t = model.params.get(name);
    if (t !== undefined) resid.push({ name: label, vec: (_i, v) => { for (let j = 0; j < d; j++) v[j] = t.data[j] ?? 0; }, tensor: (tt) => rowsOfVector(tt, t.data), constant: t.data });
  };
  if (c.biases) bias('blocks.0.attn.b_O', 'attn.b_O');
  const post = get('blocks.0.mlp.hook_post');
  resid.push({
    name: 'mlp',
    tensor: (t) => t.matMul(t.tensor2d(post, [n, dMlp]), t.tensor2d(W_out, [dMlp, d])),
    vec: (i, v) => {
      v.fill(0);
      for (let m = 0; m < dMlp; m++) {
        const a = post[i * dMlp + m] ?? 0;
        if (a === 0) continue;
        for (let j = 0; j < d; j++) v[j] = (v[j] ?? 0) + a * (W_out[m * d + j] ?? 0);
      }
    },
  });
  if (c.biases) bias('blocks.0.mlp.b_out', 'mlp.b_out');
  const contributions: Float64Array[] = [];
  const precision = options.precision ?? 'float32';
  // The final norm at a fixed scale is linear: x -> x / scale * ln_final.w (scale: TransformerLens's RMS, per input).
  const normFactor = (i: number, j: number): number => (scale !== undefined ? 1 / (scale[i] ?? 1) : 1) * (gain === undefined ? 1 : (gain[j] ?? 0));
  if (precision === 'float32') {
    // Every component's residual vectors as tfjs products, then one product with W_U each.
    const norm = scale === undefined ? undefined : Float32Array.from({ length: n * d }, (_, q) => normFactor(Math.floor(q / d), q % d));
    for (const comp of resid) {
      if (comp.constant !== undefined && norm === undefined) {
        // The same vector for every input: one row, repeated.
        const row = new Float64Array(o);
        for (let j = 0; j < d; j++) for (let k = 0; k < o; k++) row[k] = (row[k] ?? 0) + (comp.constant[j] ?? 0) * (W_U[j * o + k] ?? 0);
        const contrib = new Float64Array(n * o);
        for (let i = 0; i < n; i++) contrib.set(row, i * o);
        contributions.push(contrib);
        continue;
      }
      const out = tf.tidy(() => {
        const R = comp.tensor(tf);
        const Rn = norm === undefined ? R : tf.mul(R, tf.tensor2d(norm, [n, d]));
        return tf.matMul(Rn, tf.tensor2d(W_U, [d, o]));
      });
      contributions.push(Float64Array.from(out.dataSync()));
      out.dispose();
    }
  } else {
    const v = new Float64Array(d);
    for (const comp of resid) {
      const contrib = new Float64Array(n * o);
      for (let i = 0; i < n; i++) {
        comp.vec(i, v);
        for (let j = 0; j < d; j++) {
          const x = (v[j] ?? 0) * normFactor(i, j);
          if (x === 0) continue;
          for (let k = 0; k < o; k++) contrib[i * o + k] = (contrib[i * o + k] ?? 0) + x * (W_U[j * o + k] ?? 0);
        }
      }
      contributions.push(contrib);
    }
  }
  const components = resid.map((x) => x.name);
  const bU = model.params.get('unembed.b_U');
  if (c.biases && bU !== undefined) {
    const contrib = new Float64Array(n * o);
    for (let i = 0; i < n; i++) for (let k = 0; k < o; k++) contrib[i * o + k] = bU.data[k] ?? 0;
    contributions.push(contrib);
    components.push('unembed.b_U');
  }
  return { components, rows: r, contributions, logits: out.logits, exact: !c.finalNorm };
}

/**
 * Gradient symmetricity (Zhong et al., docs/science.md#clock-vs-pizza) of any differentiable map from the two token embeddings to output
 * logits: for each triple (a, b, c), the gradients of logit c with respect to E_a and E_b, then the mean cosine.
 * `logitFn(ea, eb)` takes `[B, d]` embeddings and returns `[B, classes]` logits.
 */
export function gradientSymmetricityOf(tf: Tf, logitFn: (ea: Tensor, eb: Tensor) => Tensor, ea: Tensor, eb: Tensor, classes: ArrayLike<number>): number {
  const d = ea.shape[1] ?? 0;
  const cls = tf.tensor1d(Int32Array.from(classes), 'int32');
  const grads = tf.grads((x: Tensor, y: Tensor) => {
    const logits = logitFn(x, y);
    return tf.sum(tf.mul(logits, tf.oneHot(cls, logits.shape[1] ?? 0)));
  });
  const [ga, gb] = grads([ea, eb]) as [Tensor, Tensor];
  const s = meanCosine(ga.dataSync(), gb.dataSync(), d);
  tf.dispose([cls, ga, gb]);
  return s;
}

/** Triples (a, b, c) sampled with a seeded RNG (mulberry32; Zhong's code samples with numpy seed 42, which we do not reproduce). */
export function sampleTriples(p: number, count: number, seed: number): { a: Int32Array; b: Int32Array; c: Int32Array } {
  const rnd = mulberry32(seed);
  const pick = (): number => Math.floor(rnd() * p);
  const a = new Int32Array(count);
  const b = new Int32Array(count);
  const c = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    a[i] = pick();
    b[i] = pick();
    c[i] = pick();
  }
  return { a, b, c };
}

/**
 * Gradient symmetricity of a model (docs/science.md#clock-vs-pizza): 100 triples (seeded), gradients of logit c with respect to the token
 * embeddings of a and b (before the positional embedding) through the full forward, mean cosine.
 */
export function gradientSymmetricity(tf: Tf, model: LoadedModel, options: { readonly samples?: number; readonly seed?: number } = {}): number {
  const { p, dModel: d } = model.config;
  const { a, b, c } = sampleTriples(p, options.samples ?? 100, options.seed ?? 42);
  const B = a.length;
  const W_E = tensorOf(model, 'embed.W_E').data;
  const rowsOf = (tok: Int32Array): Float32Array => {
    const out = new Float32Array(B * d);
    for (let i = 0; i < B; i++) out.set(W_E.subarray((tok[i] ?? 0) * d, ((tok[i] ?? 0) + 1) * d), i * d);
    return out;
  };
  const params = toTensors(tf, model.params);
  try {
    const eq = tf.tensor(W_E.slice(p * d, (p + 1) * d), [1, 1, d]);
    const tokens = tf.tensor2d(gridTokens(p, Int32Array.from({ length: B }, (_, i) => (a[i] ?? 0) * p + (b[i] ?? 0))), [B, 3], 'int32');
    const ea = tf.tensor2d(rowsOf(a), [B, d]);
    const eb = tf.tensor2d(rowsOf(b), [B, d]);
    const fn = (x: Tensor, y: Tensor): Tensor => {
      const emb = tf.concat([tf.reshape(x, [B, 1, d]), tf.reshape(y, [B, 1, d]), tf.tile(eq, [B, 1, 1])], 1);
      const { logits } = forwardFull(tf, model.config, params, tokens, { intervene: (h, t) => (h === 'hook_embed' ? emb : t) });
      return tf.reshape(tf.slice(logits, [0, 2, 0], [B, 1, model.config.dVocabOut]), [B, model.config.dVocabOut]);
    };
    const s = gradientSymmetricityOf(tf, fn, ea, eb, c);
    tf.dispose([eq, tokens, ea, eb]);
    return s;
  } finally {
    tf.dispose([...params.values()]);
  }
}
