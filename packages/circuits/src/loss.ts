import { BitlensError } from '@bitlens/core';
import { checkModulus, sumDirections } from './fourier.js';
import { type TaskBasis, basisDirections, taskBasis } from './task-basis.js';

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
 * the first maximum. A selected row whose label is not a class (e.g. -1 outside a task's domain) throws `INVALID_DATA`.
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
    const label = labels[r] ?? -1;
    if (!(label >= 0 && label < classes)) {
      // A row outside the task's domain (label -1) must be masked out, never scored against some class.
      throw new BitlensError('INVALID_DATA', { stage: STAGE, field: 'labels', expected: `labels in 0..${classes - 1} on every selected row`, found: `${label} at row ${r}` });
    }
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
  /** The model's loss over the rows the restricted loss averages over (the basis rows within `restrictedOn`). */
  readonly full: LossAccuracy;
  /** Restricted loss over the basis rows within `restrictedOn` (default: every basis row). */
  readonly restricted: LossAccuracy;
  /** Excluded loss over the basis rows within `excludedOn` (default: every basis row). */
  readonly excluded: LossAccuracy;
  /** Per key frequency: restricted to that frequency alone and excluded with only that frequency removed. */
  readonly perKey: readonly { readonly k: number; readonly restricted: LossAccuracy; readonly excluded: LossAccuracy }[];
}

/** Options of {@link frequencyLosses}. */
export interface FrequencyLossOptions {
  /** Row mask over the p^2 grid rows for the restricted (and full) loss. */
  readonly restrictedOn?: ArrayLike<boolean | number>;
  /** Row mask over the p^2 grid rows for the excluded loss. */
  readonly excludedOn?: ArrayLike<boolean | number>;
  /** Also one key at a time (default true). */
  readonly perKey?: boolean;
  /**
   * The directions to project onto (see {@link taskBasis}): those of the label's combination. Default: the basis of
   * `add` (s = a + b over all p^2 rows), i.e. Nanda's u_cos(k), u_sin(k).
   */
  readonly basis?: TaskBasis;
}

/** Per-class coefficients of the logits on each key's directions over the basis rows. */
function keyCoefficients(logits: ArrayLike<number>, p: number, basis: TaskBasis, keys: readonly number[]) {
  const rows = basis.rows;
  const dirs = new Map(keys.map((k) => [k, basisDirections(basis, k)]));
  const coef = new Map<number, { cos: Float64Array; sin: Float64Array | undefined }>();
  for (const [k, d] of dirs) {
    const cc = new Float64Array(p);
    const cs = d.sin === undefined ? undefined : new Float64Array(p);
    for (let i = 0; i < rows.length; i++) {
      const o = (rows[i] ?? 0) * p;
      const uc = d.cos[i] ?? 0;
      const us = d.sin?.[i] ?? 0;
      for (let c = 0; c < p; c++) {
        const v = logits[o + c] ?? 0;
        cc[c] = (cc[c] ?? 0) + uc * v;
        if (cs !== undefined) cs[c] = (cs[c] ?? 0) + us * v;
      }
    }
    coef.set(k, { cos: cc, sin: cs });
  }
  return { dirs, coef };
}

/**
 * Restricted and excluded loss (docs/science.md#restricted-and-excluded-loss) of grid logits `[p^2, p]` for the given
 * key frequencies, in the directions of `options.basis` (default: a + b). Only the basis rows are scored: for a
 * multiplicative task those with a, b != 0. `restrictedOn` / `excludedOn` are row masks over the p^2 grid rows;
 * `perKey` (default true) also computes one key at a time. `full` is the plain loss over the restricted loss's rows,
 * so the two compare like with like.
 */
export function frequencyLosses(logits: ArrayLike<number>, labels: ArrayLike<number>, p: number, keys: readonly number[], options: FrequencyLossOptions = {}): FrequencyLosses {
  checkGridLogits(logits, p);
  const basis = options.basis ?? addBasis(p);
  if (basis.p !== p) throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'basis', expected: `a basis mod ${p}`, found: `mod ${basis.p}` });
  const rows = basis.rows;
  const R = rows.length;
  // Each key's directions have zero mean over the basis rows, so the restricted logits' bias correction is just the
  // per-class mean of L over those rows.
  const { dirs, coef } = keyCoefficients(logits, p, basis, keys);
  const classMean = new Float64Array(p);
  for (let i = 0; i < R; i++) for (let c = 0; c < p; c++) classMean[c] = (classMean[c] ?? 0) + (logits[(rows[i] ?? 0) * p + c] ?? 0) / R;
  const row = new Float64Array(p);
  const evaluate = (ks: readonly number[], kind: 'restricted' | 'excluded' | 'full', mask: ArrayLike<boolean | number> | undefined): LossAccuracy => {
    let loss = 0;
    let correct = 0;
    let count = 0;
    for (let i = 0; i < R; i++) {
      const r = rows[i] ?? 0;
      if (mask !== undefined && !mask[r]) continue;
      row.fill(0);
      for (const k of kind === 'full' ? [] : ks) {
        const d = dirs.get(k);
        const cf = coef.get(k);
        if (d === undefined || cf === undefined) continue;
        const uc = d.cos[i] ?? 0;
        const us = d.sin?.[i] ?? 0;
        for (let c = 0; c < p; c++) row[c] = (row[c] ?? 0) + uc * (cf.cos[c] ?? 0) + us * (cf.sin?.[c] ?? 0);
      }
      for (let c = 0; c < p; c++) {
        const v = logits[r * p + c] ?? 0;
        row[c] = kind === 'restricted' ? (row[c] ?? 0) + (classMean[c] ?? 0) : v - (row[c] ?? 0);
      }
      const one = crossEntropy(row, [labels[r] ?? -1], p);
      loss += one.loss;
      correct += one.accuracy;
      count++;
    }
    if (count === 0) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'mask', expected: 'at least one selected row in the basis', found: '0' });
    return { loss: loss / count, accuracy: correct / count, count };
  };
  const full = R === p * p ? crossEntropy(logits, labels, p, options.restrictedOn) : evaluate([], 'full', options.restrictedOn);
  const restricted = evaluate(keys, 'restricted', options.restrictedOn);
  const excluded = evaluate(keys, 'excluded', options.excludedOn);
  const perKey =
    options.perKey === false
      ? []
      : keys.map((k) => ({ k, restricted: evaluate([k], 'restricted', options.restrictedOn), excluded: evaluate([k], 'excluded', options.excludedOn) }));
  return { full, restricted, excluded, perKey };
}

/** The basis of `add` mod p (s = a + b on every pair). */
function addBasis(p: number): TaskBasis {
  const b = taskBasis('add', p);
  if (b === undefined) throw new BitlensError('INTERNAL', { stage: STAGE, field: 'basis' }, 'add has no basis');
  return b;
}
