import type { Tf } from '@bitlens/engine';
import { BitlensError, mulberry32 } from '@bitlens/core';
import type { HookName } from '@bitlens/model';
import type { Tensor } from '@tensorflow/tfjs-core';
import { sumDirections } from './fourier.js';
import { crossEntropy } from './loss.js';
import { type LoadedModel, gridOutputs, runGrid } from './model.js';

const STAGE = 'circuits/ablation';

/** What to ablate: one attention head (its `hook_z` slice), one MLP neuron (`hook_post`), or a Fourier direction. */
export type AblationTarget =
  | { readonly kind: 'head'; readonly head: number }
  | { readonly kind: 'neuron'; readonly neuron: number }
  /** The frequency-k sum directions u_cos(k), u_sin(k) over the p^2 inputs, removed from activation `hook` (every feature, every position). */
  | { readonly kind: 'fourier'; readonly hook: HookName; readonly k: number };

/** zero: replace by 0; mean: by its mean over all p^2 inputs; resample: by its value on another input (seeded permutation). */
export type AblationMode = 'zero' | 'mean' | 'resample';

/** Effect of one ablation over all p^2 inputs. */
export interface AblationResult {
  readonly target: AblationTarget;
  readonly mode: AblationMode;
  readonly baseLoss: number;
  readonly baseAccuracy: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly deltaLoss: number;
  readonly deltaAccuracy: number;
}

function targetHook(t: AblationTarget): HookName {
  return t.kind === 'head' ? 'blocks.0.attn.hook_z' : t.kind === 'neuron' ? 'blocks.0.mlp.hook_post' : t.hook;
}

/** A 0/1 mask over the feature axes of a `[B, ...]` activation that is 1 on the ablated slice. */
function sliceMask(tf: Tf, target: AblationTarget, shape: readonly number[]): Tensor {
  if (target.kind === 'head') {
    const [, pos, h, dh] = shape as [number, number, number, number];
    if (!(Number.isInteger(target.head) && target.head >= 0 && target.head < h)) {
      throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'head', expected: `0..${h - 1}`, found: String(target.head) });
    }
    const m = new Float32Array(pos * h * dh);
    for (let p = 0; p < pos; p++) for (let j = 0; j < dh; j++) m[(p * h + target.head) * dh + j] = 1;
    return tf.tensor(m, [1, pos, h, dh]);
  }
  if (target.kind === 'neuron') {
    const [, pos, n] = shape as [number, number, number];
    if (!(Number.isInteger(target.neuron) && target.neuron >= 0 && target.neuron < n)) {
      throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'neuron', expected: `0..${n - 1}`, found: String(target.neuron) });
    }
    const m = new Float32Array(pos * n);
    for (let p = 0; p < pos; p++) m[p * n + target.neuron] = 1;
    return tf.tensor(m, [1, pos, n]);
  }
  return tf.ones([1, ...shape.slice(1)]);
}

/** Seeded permutation of 0..n-1 (mulberry32 + Fisher-Yates). */
export function seededPermutation(n: number, seed: number): Int32Array {
  const rnd = mulberry32(seed);
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const x = perm[i] ?? 0;
    perm[i] = perm[j] ?? 0;
    perm[j] = x;
  }
  return perm;
}

/**
 * The unablated loss and accuracy over the grid (or the rows of `mask`), from the same hooked full forward that an
 * ablated run uses: a delta then measures the ablation alone, not the float rounding between the full forward and the
 * last-position fast path (which on wasm runs fused kernels).
 */
export function unablatedLoss(tf: Tf, model: LoadedModel, labels: ArrayLike<number>, options: { readonly batchSize?: number; readonly mask?: ArrayLike<boolean | number> } = {}): { readonly loss: number; readonly accuracy: number } {
  return crossEntropy(gridOutputs(tf, model, { batchSize: options.batchSize ?? 2048 }).logits, labels, model.config.dVocabOut, options.mask);
}

/**
 * Ablates one component and reports Δloss and Δaccuracy over all p^2 inputs (labels given per grid row), or over the
 * rows of `mask` (a task's domain: div leaves out b = 0; rows outside it carry label -1 and must be masked).
 * Mean ablation first averages the activation over all inputs; resample ablation runs each batch's permuted inputs
 * (seeded) to read the replacement. A Fourier direction is ablated by removing the projection of the activation onto
 * u_cos(k), u_sin(k) (zero), replacing it by its mean over inputs (mean; the directions have zero mean, so this equals
 * zero ablation) or by the projection at the permuted input (resample).
 */
export function ablate(
  tf: Tf,
  model: LoadedModel,
  labels: ArrayLike<number>,
  target: AblationTarget,
  mode: AblationMode,
  options: { readonly seed?: number; readonly batchSize?: number; readonly base?: { readonly loss: number; readonly accuracy: number }; readonly mask?: ArrayLike<boolean | number> } = {},
): AblationResult {
  const { p, dVocabOut } = model.config;
  const n = p * p;
  if (labels.length !== n) throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'labels', expected: `${n} labels (all inputs)`, found: String(labels.length) });
  if (!['zero', 'mean', 'resample'].includes(mode)) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'mode', expected: 'zero | mean | resample', found: JSON.stringify(mode) });
  const hook = targetHook(target);
  const bs = options.batchSize ?? 2048;
  // The unablated loss (see unablatedLoss); pass `base` when ablating many targets of one model.
  const base = options.base ?? unablatedLoss(tf, model, labels, { batchSize: bs, ...(options.mask === undefined ? {} : { mask: options.mask }) });
  const perm = seededPermutation(n, options.seed ?? 0);

  // Per-feature mean (mean mode) or Fourier coefficients (fourier target): one capture pass over the grid.
  let mean: Float32Array | undefined;
  let coef: { cos: Float64Array; sin: Float64Array; ucos: Float64Array; usin: Float64Array } | undefined;
  const needPass = mode === 'mean' || target.kind === 'fourier';
  if (needPass) {
    let sum: Float64Array | undefined;
    const dirs = target.kind === 'fourier' ? sumDirections(p, target.k) : undefined;
    let cc: Float64Array | undefined;
    let cs: Float64Array | undefined;
    for (const batch of runGrid(tf, model, { batchSize: bs, capture: [hook] })) {
      const t = batch.acts.get(hook);
      if (t === undefined) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: hook, expected: 'a hook of the model', found: 'nothing captured' });
      const f = t.data.length / batch.rows.length;
      sum ??= new Float64Array(f);
      cc ??= new Float64Array(f);
      cs ??= new Float64Array(f);
      for (let i = 0; i < batch.rows.length; i++) {
        const r = batch.rows[i] ?? 0;
        const uc = dirs?.cos[r] ?? 0;
        const us = dirs?.sin[r] ?? 0;
        for (let j = 0; j < f; j++) {
          const v = t.data[i * f + j] ?? 0;
          sum[j] = (sum[j] ?? 0) + v;
          cc[j] = (cc[j] ?? 0) + uc * v;
          cs[j] = (cs[j] ?? 0) + us * v;
        }
      }
    }
    if (sum !== undefined) mean = Float32Array.from(sum, (v) => v / n);
    if (dirs !== undefined && cc !== undefined && cs !== undefined) coef = { cos: cc, sin: cs, ucos: dirs.cos, usin: dirs.sin };
  }

  // Resample: activations of the permuted inputs, batch by batch (same batching as the ablated run).
  const intervene = (h: HookName, t: Tensor, rows: Int32Array): Tensor => {
    if (h !== hook) return t;
    const B = rows.length;
    const feat = t.shape.slice(1);
    const f = feat.reduce((a, b) => a * b, 1);
    if (target.kind === 'fourier' && coef !== undefined) {
      // x_r - (u_cos[r] c_cos + u_sin[r] c_sin) (+ the same at the permuted row for resample).
      const w = new Float32Array(B * 2);
      for (let i = 0; i < B; i++) {
        const r = rows[i] ?? 0;
        const src = perm[r] ?? 0;
        w[2 * i] = -(coef.ucos[r] ?? 0) + (mode === 'resample' ? (coef.ucos[src] ?? 0) : 0);
        w[2 * i + 1] = -(coef.usin[r] ?? 0) + (mode === 'resample' ? (coef.usin[src] ?? 0) : 0);
      }
      const C = new Float32Array(2 * f);
      C.set(Float32Array.from(coef.cos), 0);
      C.set(Float32Array.from(coef.sin), f);
      const delta = tf.matMul(tf.tensor2d(w, [B, 2]), tf.tensor2d(C, [2, f]));
      return tf.add(t, tf.reshape(delta, t.shape));
    }
    const m = sliceMask(tf, target, t.shape);
    let repl: Tensor;
    if (mode === 'zero') repl = tf.zerosLike(t);
    else if (mode === 'mean') repl = tf.broadcastTo(tf.tensor(mean ?? new Float32Array(f), [1, ...feat]), t.shape);
    else repl = resampled(tf, model, hook, rows, perm);
    return tf.add(tf.mul(t, tf.sub(1, m)), tf.mul(repl, m));
  };
  const ablated = crossEntropy(gridOutputs(tf, model, { batchSize: bs, intervene }).logits, labels, dVocabOut, options.mask);
  return {
    target,
    mode,
    baseLoss: base.loss,
    baseAccuracy: base.accuracy,
    loss: ablated.loss,
    accuracy: ablated.accuracy,
    deltaLoss: ablated.loss - base.loss,
    deltaAccuracy: ablated.accuracy - base.accuracy,
  };
}

function resampled(tf: Tf, model: LoadedModel, hook: HookName, rows: Int32Array, perm: Int32Array): Tensor {
  const src = Int32Array.from(rows, (r) => perm[r] ?? 0);
  for (const b of runGrid(tf, model, { rows: src, batchSize: src.length, capture: [hook] })) {
    const t = b.acts.get(hook);
    if (t !== undefined) return tf.tensor(t.data, [...t.shape]);
  }
  throw new BitlensError('NOT_FOUND', { stage: STAGE, field: hook, expected: 'a hook of the model', found: 'nothing captured' });
}

/** One activation-patching measurement. */
export interface PatchResult {
  readonly clean: readonly [number, number];
  readonly corrupt: readonly [number, number];
  readonly hook: HookName;
  /** logit[clean label] - logit[corrupt label] at the last position, on the clean, corrupted and patched runs. */
  readonly cleanDiff: number;
  readonly corruptDiff: number;
  readonly patchedDiff: number;
  /** (patched - corrupt) / (clean - corrupt): 1 = the patch restores the clean behaviour fully. */
  readonly restored: number;
}

/**
 * Activation patching (docs/science.md#attribution-ablation-patching-acdc): run the clean input (a, b) capturing `hook`, then the corrupted input (a', b')
 * with `hook` replaced by the clean value (optionally only one head / neuron slice); metric = fraction of the logit
 * difference restored. Labels come from `label(a, b)`.
 */
export function patchActivation(
  tf: Tf,
  model: LoadedModel,
  pairs: readonly { readonly clean: readonly [number, number]; readonly corrupt: readonly [number, number] }[],
  hook: HookName,
  label: (a: number, b: number) => number,
  slice?: AblationTarget,
): PatchResult[] {
  const { p, dVocabOut } = model.config;
  const rowOf = ([a, b]: readonly [number, number]): number => {
    if (!(Number.isInteger(a) && Number.isInteger(b) && a >= 0 && b >= 0 && a < p && b < p)) {
      throw new BitlensError('INVALID_OPTION', { stage: 'circuits/patching', field: 'pairs', expected: `inputs in 0..${p - 1}`, found: `(${a}, ${b})` });
    }
    return a * p + b;
  };
  const cleanRows = Int32Array.from(pairs, (x) => rowOf(x.clean));
  const corruptRows = Int32Array.from(pairs, (x) => rowOf(x.corrupt));
  const clean = gridOutputs(tf, model, { rows: cleanRows, batchSize: cleanRows.length, capture: [hook] });
  const corrupt = gridOutputs(tf, model, { rows: corruptRows, batchSize: corruptRows.length });
  // Full-position clean activations for the patch.
  let cleanAct: { shape: readonly number[]; data: Float32Array } | undefined;
  for (const b of runGrid(tf, model, { rows: cleanRows, batchSize: cleanRows.length, capture: [hook] })) cleanAct = b.acts.get(hook);
  if (cleanAct === undefined) throw new BitlensError('NOT_FOUND', { stage: 'circuits/patching', field: hook, expected: 'a hook of the model', found: 'nothing captured' });
  const ca = cleanAct;
  const patched = gridOutputs(tf, model, {
    rows: corruptRows,
    batchSize: corruptRows.length,
    intervene: (h, t) => {
      if (h !== hook) return t;
      const src = tf.tensor(ca.data, [...ca.shape]);
      if (slice === undefined || slice.kind === 'fourier') return src;
      const m = sliceMask(tf, slice, t.shape);
      return tf.add(tf.mul(t, tf.sub(1, m)), tf.mul(src, m));
    },
  });
  return pairs.map((pr, i) => {
    const lc = label(pr.clean[0], pr.clean[1]);
    const lx = label(pr.corrupt[0], pr.corrupt[1]);
    const diff = (l: Float32Array): number => (l[i * dVocabOut + lc] ?? 0) - (l[i * dVocabOut + lx] ?? 0);
    const cd = diff(clean.logits);
    const xd = diff(corrupt.logits);
    const pd = diff(patched.logits);
    return { clean: pr.clean, corrupt: pr.corrupt, hook, cleanDiff: cd, corruptDiff: xd, patchedDiff: pd, restored: cd === xd ? Number.NaN : (pd - xd) / (cd - xd) };
  });
}
