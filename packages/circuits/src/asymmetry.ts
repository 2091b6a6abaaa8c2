import { BitlensError } from '@bitlens/core';
import { checkModulus } from './fourier.js';

const STAGE = 'circuits/asymmetry';

/** Rows r = a * p + b of the pairs whose swap (b, a) is also in the domain (`valid`, default every pair). */
function swappable(p: number, valid?: ArrayLike<boolean | number>): number[] {
  const out: number[] = [];
  for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) if (valid === undefined || (valid[a * p + b] && valid[b * p + a])) out.push(a * p + b);
  return out;
}

/**
 * Logit asymmetry between (a, b) and (b, a): A = ||L − Lᵀ||_F / (||L||_F + ||Lᵀ||_F), where L[a, b, :] is the logit
 * vector of input (a, b) centred over the classes (the softmax ignores a per-input shift) and Lᵀ[a, b, :] = L[b, a, :],
 * over the pairs whose swap is also in the domain (`valid`). Range [0, 1] (triangle inequality): 0 when the model
 * computes a symmetric function of its operands (a trained add or mul model ≈ 0), 1 when swapping the operands negates
 * the centred logits. A model that solves sub has A ≈ 0.7 (its logits for (a, b) and (b, a) peak at different classes
 * and are nearly orthogonal: ||x − y|| ≈ √2 ||x||), so this says whether the function is symmetric; the attention
 * asymmetry says how. 0 for an all-zero table. `logits` is `[p^2, classes]`, row a * p + b.
 */
export function logitAsymmetry(logits: ArrayLike<number>, p: number, classes: number, valid?: ArrayLike<boolean | number>): number {
  checkModulus(p, STAGE);
  if (logits.length !== p * p * classes) throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'logits', expected: `${p * p} x ${classes} values`, found: String(logits.length) });
  const centred = (r: number, out: Float64Array): void => {
    let m = 0;
    for (let c = 0; c < classes; c++) m += logits[r * classes + c] ?? 0;
    m /= classes;
    for (let c = 0; c < classes; c++) out[c] = (logits[r * classes + c] ?? 0) - m;
  };
  const x = new Float64Array(classes);
  const y = new Float64Array(classes);
  let diff = 0;
  let norm = 0;
  for (const r of swappable(p, valid)) {
    const a = Math.floor(r / p);
    const b = r % p;
    centred(r, x);
    centred(b * p + a, y);
    for (let c = 0; c < classes; c++) {
      diff += ((x[c] ?? 0) - (y[c] ?? 0)) ** 2;
      norm += (x[c] ?? 0) ** 2;
    }
  }
  // Over a swap-closed set of pairs ||Lᵀ||_F = ||L||_F.
  return norm === 0 ? 0 : Math.sqrt(diff) / (2 * Math.sqrt(norm));
}

/**
 * Attention asymmetry of the `=` position: with P_h(a, b)[t] the attention weight of head h from the last position to
 * position t on input (a, b), a model that treats its operands alike gives token a the same weight wherever it stands:
 * P_h(a, b)[0] = P_h(b, a)[1]. A = Σ_h Σ_(a,b) |P_h(a, b)[0] − P_h(b, a)[1]| / Σ_h Σ_(a,b) (P_h(a, b)[0] + P_h(b, a)[1])
 * over the swappable pairs. Range [0, 1]: 0 when attention to an operand does not depend on its position (always for
 * the `li` preset, which has no positional embedding and bidirectional attention), 1 when the heads attend by position
 * alone (all weight on a's slot and none on b's). Attention to `=` itself does not count. 0 when no head attends to
 * the operands. `pattern` is the attention pattern at the last query position, `[p^2, heads, nKeys]` row-major (or the
 * whole `[p^2, heads, nQueries, nKeys]` pattern: pass `queries`), row a * p + b.
 */
export function attentionAsymmetry(pattern: ArrayLike<number>, p: number, heads: number, nKeys: number, options: { readonly queries?: number; readonly valid?: ArrayLike<boolean | number> } = {}): number {
  checkModulus(p, STAGE);
  const nq = options.queries ?? 1;
  const per = heads * nq * nKeys;
  if (nKeys < 2 || pattern.length !== p * p * per) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'pattern', expected: `${p * p} x ${heads} x ${nq} x ${nKeys} values (nKeys >= 2)`, found: String(pattern.length) });
  }
  // Weight from the last query to key position t of head h on grid row r.
  const at = (r: number, h: number, t: number): number => pattern[r * per + (h * nq + nq - 1) * nKeys + t] ?? 0;
  let diff = 0;
  let mass = 0;
  for (const r of swappable(p, options.valid)) {
    const a = Math.floor(r / p);
    const b = r % p;
    const swapped = b * p + a;
    for (let h = 0; h < heads; h++) {
      const x = at(r, h, 0);
      const y = at(swapped, h, 1);
      diff += Math.abs(x - y);
      mass += x + y;
    }
  }
  return mass === 0 ? 0 : diff / mass;
}
