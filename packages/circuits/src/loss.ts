import { BitlensError } from '@bitlens/core';
import { checkModulus, sumDirections } from './fourier.js';

const STAGE = 'circuits/loss';

/** Loss and accuracy of a set of logits. */
export interface LossAccuracy {
  /** Mean cross-entropy (natural log), computed in float64. */
  readonly loss: number;
  readonly accuracy: number;
  readonly count: number;
}

/**
 * Mean cross-entropy (float64 log-softmax, docs/science.md#conventions) and argmax accuracy of row-major logits `[n, classes]`.
 * `mask` (optional, length n) selects the rows to average over. Ties in argmax count as wrong unless the label is
 * the first maximum.
 */
export function crossEntropy(logits: ArrayLike<number>, labels: ArrayLike<number>, classes: number, mask?: ArrayLike<boolean | number>): LossAccuracy {
  const n = labels.length;
  if (logits.length !== n * classes) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'logits', expected: `${n} x ${classes} values`, found: String(logits.length) });
  }
  let loss = 0;
  let correct = 0;
  let count = 0;
  for (let r = 0; r < n; r++) {
    if (mask !== undefined && !mask[r]) continue;
    const o = r * classes;
    let max = Number.NEGATIVE_INFINITY;
    let arg = 0;
    for (let c = 0; c < classes; c++) {
      const v = logits[o + c] ?? 0;
      if (v > max) {
        max = v;
        arg = c;
      }
    }
    // log-sum-exp = max + log1p(sum over the other classes): keeps losses far below 1e-16 exact.
    let rest = 0;
    for (let c = 0; c < classes; c++) if (c !== arg) rest += Math.exp((logits[o + c] ?? 0) - max);
    const label = labels[r] ?? 0;
    loss += Math.log1p(rest) + (max - (logits[o + label] ?? 0));
    if (arg === label) correct++;
    count++;
  }
  if (count === 0) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'mask', expected: 'at least one selected row', found: '0' });
  return { loss: loss / count, accuracy: correct / count, count };
}

function checkGridLogits(logits: ArrayLike<number>, p: number): void {
  checkModulus(p, STAGE);
  if (logits.length !== p * p * p) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'logits', expected: `p^2 x p = ${p * p * p} values (all inputs, a-major)`, found: String(logits.length) });
  }
}

/**
 * Projection of grid logits `[p^2, p]` (row a * p + b) onto span{u_cos(k), u_sin(k) : k in keys} along the input
 * axis, column by column (docs/science.md#restricted-and-excluded-loss). Returns `P L` in float64.
 */
export function projectOntoSumFrequencies(logits: ArrayLike<number>, p: number, keys: readonly number[]): Float64Array {
  checkGridLogits(logits, p);
  const n = p * p;
  const out = new Float64Array(n * p);
  const coef = new Float64Array(p);
  for (const k of keys) {
    const dirs = sumDirections(p, k);
    for (const u of [dirs.cos, dirs.sin]) {
      coef.fill(0);
      for (let r = 0; r < n; r++) {
        const ur = u[r] ?? 0;
        const o = r * p;
        for (let c = 0; c < p; c++) coef[c] = (coef[c] ?? 0) + ur * (logits[o + c] ?? 0);
      }
      for (let r = 0; r < n; r++) {
        const ur = u[r] ?? 0;
        const o = r * p;
        for (let c = 0; c < p; c++) out[o + c] = (out[o + c] ?? 0) + ur * (coef[c] ?? 0);
      }
    }
  }
  return out;
}

/**
 * Restricted logits (Nanda's `trig_loss`): keep only the key-frequency projection, then add back the per-class mean
 * over inputs of what was removed (bias correction).
 */
export function restrictedLogits(logits: ArrayLike<number>, p: number, keys: readonly number[]): Float64Array {
  const proj = projectOntoSumFrequencies(logits, p, keys);
  const n = p * p;
  const mean = new Float64Array(p);
  for (let r = 0; r < n; r++) for (let c = 0; c < p; c++) mean[c] = (mean[c] ?? 0) + ((logits[r * p + c] ?? 0) - (proj[r * p + c] ?? 0)) / n;
  for (let r = 0; r < n; r++) for (let c = 0; c < p; c++) proj[r * p + c] = (proj[r * p + c] ?? 0) + (mean[c] ?? 0);
  return proj;
}

/** Excluded logits: the logits minus their key-frequency projection. */
export function excludedLogits(logits: ArrayLike<number>, p: number, keys: readonly number[]): Float64Array {
  const proj = projectOntoSumFrequencies(logits, p, keys);
  for (let i = 0; i < proj.length; i++) proj[i] = (logits[i] ?? 0) - (proj[i] ?? 0);
  return proj;
}

/** Restricted and excluded loss with all keys together and one key at a time. */
export interface FrequencyLosses {
  readonly full: LossAccuracy;
  /** Restricted loss over the `restrictedOn` rows (default: all inputs). */
  readonly restricted: LossAccuracy;
  /** Excluded loss over the `excludedOn` rows (default: train rows when a mask is given, else all). */
  readonly excluded: LossAccuracy;
  /** Per key frequency: restricted to that frequency alone and excluded with only that frequency removed. */
  readonly perKey: readonly { readonly k: number; readonly restricted: LossAccuracy; readonly excluded: LossAccuracy }[];
}

/**
 * Restricted and excluded loss (docs/science.md#restricted-and-excluded-loss) of grid logits `[p^2, p]` for the given key frequencies.
 * `restrictedOn` / `excludedOn` are row masks (length p^2). `perKey` (default true) also computes one key at a time.
 */
export function frequencyLosses(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  p: number,
  keys: readonly number[],
  options: { readonly restrictedOn?: ArrayLike<boolean | number>; readonly excludedOn?: ArrayLike<boolean | number>; readonly perKey?: boolean } = {},
): FrequencyLosses {
  checkGridLogits(logits, p);
  const m = p * p;
  // Coefficients of each key's two directions per class: the projection of row r is sum_u u[r] coef_u (u has zero
  // mean over the grid, so the restricted logits' bias correction is just the per-class mean of L).
  const dirs = new Map(keys.map((k) => [k, sumDirections(p, k)]));
  const coef = new Map<number, { cos: Float64Array; sin: Float64Array }>();
  const classMean = new Float64Array(p);
  for (let r = 0; r < m; r++) for (let c = 0; c < p; c++) classMean[c] = (classMean[c] ?? 0) + (logits[r * p + c] ?? 0) / m;
  for (const [k, d] of dirs) {
    const cc = new Float64Array(p);
    const cs = new Float64Array(p);
    for (let r = 0; r < m; r++) {
      const uc = d.cos[r] ?? 0;
      const us = d.sin[r] ?? 0;
      for (let c = 0; c < p; c++) {
        const v = logits[r * p + c] ?? 0;
        cc[c] = (cc[c] ?? 0) + uc * v;
        cs[c] = (cs[c] ?? 0) + us * v;
      }
    }
    coef.set(k, { cos: cc, sin: cs });
  }
  const row = new Float64Array(p);
  const evaluate = (ks: readonly number[], kind: 'restricted' | 'excluded', mask: ArrayLike<boolean | number> | undefined): LossAccuracy => {
    let loss = 0;
    let correct = 0;
    let count = 0;
    for (let r = 0; r < m; r++) {
      if (mask !== undefined && !mask[r]) continue;
      row.fill(0);
      for (const k of ks) {
        const d = dirs.get(k);
        const cf = coef.get(k);
        if (d === undefined || cf === undefined) continue;
        const uc = d.cos[r] ?? 0;
        const us = d.sin[r] ?? 0;
        for (let c = 0; c < p; c++) row[c] = (row[c] ?? 0) + uc * (cf.cos[c] ?? 0) + us * (cf.sin[c] ?? 0);
      }
      for (let c = 0; c < p; c++) row[c] = kind === 'restricted' ? (row[c] ?? 0) + (classMean[c] ?? 0) : (logits[r * p + c] ?? 0) - (row[c] ?? 0);
      const one = crossEntropy(row, [labels[r] ?? 0], p);
      loss += one.loss;
      correct += one.accuracy;
      count++;
    }
    if (count === 0) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'mask', expected: 'at least one selected row', found: '0' });
    return { loss: loss / count, accuracy: correct / count, count };
  };
  const full = crossEntropy(logits, labels, p, options.restrictedOn);
  const restricted = evaluate(keys, 'restricted', options.restrictedOn);
  const excluded = evaluate(keys, 'excluded', options.excludedOn);
  const perKey =
    options.perKey === false
      ? []
      : keys.map((k) => ({ k, restricted: evaluate([k], 'restricted', options.restrictedOn), excluded: evaluate([k], 'excluded', options.excludedOn) }));
  return { full, restricted, excluded, perKey };
}
