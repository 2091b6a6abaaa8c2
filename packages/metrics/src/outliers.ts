import { BitlensError, type Stage, defineStage } from '@bitlens/core';
import { ActivationsSchema, type Activations } from '@bitlens/circuits';
import { Float64, Int32, Schema, type Table, Utf8 } from 'apache-arrow';
import { type Observable, map, reduce } from 'rxjs';
import { field, float64, int32, tableOf, utf8 } from './internal/arrow.js';

/** Infinity norm max |x| of a vector. */
export function infNorm(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] ?? 0));
  return m;
}

/**
 * Kurtosis as in Bondarenko et al.'s code (docs/science.md#quantizable-attention-and-outlier-metrics): E[(x - mu)^4] / (sigma^4 + 1e-6), non-excess, with sigma the
 * unbiased (n - 1) standard deviation. One 100 among 999 zeros gives 996.0; a standard normal sample about 3.
 */
export function kurtosis(x: ArrayLike<number>): number {
  const n = x.length;
  if (n < 2) throw new BitlensError('INVALID_OPTION', { stage: 'metrics/outliers', field: 'x', expected: 'at least 2 values', found: String(n) });
  let mu = 0;
  for (let i = 0; i < n; i++) mu += x[i] ?? 0;
  mu /= n;
  let m2 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = (x[i] ?? 0) - mu;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  const variance = m2 / (n - 1);
  return m4 / n / (variance * variance + 1e-6);
}

/** Outlier statistics per hook; a final row with hook `*` summarises over hooks. */
export type Outliers = { hook: Utf8; samples: Int32; mean_inf_norm: Float64; max_inf_norm: Float64; mean_kurtosis: Float64; max_kurtosis: Float64 };
/** Schema of {@link Outliers}. */
export const OutliersSchema = new Schema<Outliers>([
  field('hook', new Utf8()),
  field('samples', new Int32()),
  field('mean_inf_norm', new Float64()),
  field('max_inf_norm', new Float64()),
  field('mean_kurtosis', new Float64()),
  field('max_kurtosis', new Float64()),
]);

interface Acc {
  n: number;
  sumInf: number;
  maxInf: number;
  sumKurt: number;
  maxKurt: number;
}

/**
 * Outlier metrics over activation tables (docs/science.md#quantizable-attention-and-outlier-metrics): for every (input, hook) row, the flattened activation's infinity
 * norm and kurtosis; averaged (and maxed) over inputs per hook. A reduction over the whole stream (`reduce`): emits
 * one table at the end, with one row per hook plus a `*` row: max infinity norm over hooks, mean of the per-hook mean
 * kurtosis ("average kurtosis over layers") and the max per-hook mean kurtosis.
 * @example activations$.pipe(outlierMetrics({ hooks: 'hook_(attn_out|mlp_out|resid_post)$' }))
 */
export function outlierMetrics(options: { readonly hooks?: string } = {}): Stage<Activations, Outliers> {
  const name = 'metrics/outliers';
  let re: RegExp;
  try {
    re = new RegExp(options.hooks ?? '.*');
  } catch (e) {
    throw new BitlensError('INVALID_OPTION', { stage: name, field: 'hooks', expected: 'a regular expression', found: JSON.stringify(options.hooks) }, undefined, { cause: e });
  }
  return defineStage({
    name,
    version: '1',
    options: { ...options },
    input: ActivationsSchema,
    output: OutliersSchema,
    apply: (src: Observable<Table<Activations>>) =>
      src.pipe(
        reduce((acc: Map<string, Acc>, t: Table<Activations>) => {
          const hooks = t.getChild('hook');
          const values = t.getChild('values');
          if (hooks === null || values === null) return acc;
          for (let i = 0; i < t.numRows; i++) {
            const h = String(hooks.get(i));
            if (!re.test(h)) continue;
            const x = (values.get(i) as { toArray(): Float32Array }).toArray();
            const a = acc.get(h) ?? { n: 0, sumInf: 0, maxInf: 0, sumKurt: 0, maxKurt: 0 };
            const inf = infNorm(x);
            const k = x.length >= 2 ? kurtosis(x) : 0;
            a.n++;
            a.sumInf += inf;
            a.maxInf = Math.max(a.maxInf, inf);
            a.sumKurt += k;
            a.maxKurt = Math.max(a.maxKurt, k);
            acc.set(h, a);
          }
          return acc;
        }, new Map<string, Acc>()),
        map((acc) => {
          const hooks = [...acc.keys()].sort();
          const rows = hooks.map((h) => {
            const a = acc.get(h) as Acc;
            return { hook: h, n: a.n, meanInf: a.sumInf / a.n, maxInf: a.maxInf, meanKurt: a.sumKurt / a.n, maxKurt: a.maxKurt };
          });
          if (rows.length > 0) {
            rows.push({
              hook: '*',
              n: rows.reduce((s, r) => s + r.n, 0),
              meanInf: rows.reduce((s, r) => s + r.meanInf, 0) / rows.length,
              maxInf: Math.max(...rows.map((r) => r.maxInf)),
              meanKurt: rows.reduce((s, r) => s + r.meanKurt, 0) / rows.length,
              maxKurt: Math.max(...rows.map((r) => r.meanKurt)),
            });
          }
          return tableOf(OutliersSchema, [
            utf8(rows.map((r) => r.hook)),
            int32(rows.map((r) => r.n)),
            float64(rows.map((r) => r.meanInf)),
            float64(rows.map((r) => r.maxInf)),
            float64(rows.map((r) => r.meanKurt)),
            float64(rows.map((r) => r.maxKurt)),
          ]);
        }),
      ),
  });
}
