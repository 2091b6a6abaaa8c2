import { BitlensError, type Stage, defineStage, nullable } from '@bitlens/core';
import { type LoadedModel, type WeightsColumn, loadModel, runGrid } from '@bitlens/circuits';
import type { Tf } from '@bitlens/engine';
import { MODEL_CONFIG_KEY, type ModelConfig, type Weights, WeightsSchema } from '@bitlens/model';
import { type Data, Float64, Int32, type List, Schema, type Table, Utf8, vectorFromArray } from 'apache-arrow';
import { concatMap, from, map } from 'rxjs';
import { splitByEpoch } from './internal/checkpoints.js';
import { field, float64, float64List, int32, listOf, tableOf, utf8, utf8List } from './internal/arrow.js';

const STAGE = 'metrics/outliers';

/** Infinity norm max |x| of a vector. */
export function infNorm(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] ?? 0));
  return m;
}

/**
 * Kurtosis as in Bondarenko et al.'s reference code (docs/quantizable-attention.md): E[(x - mu)^4] / (sigma^4 + 1e-6), non-excess, with sigma the
 * unbiased (n - 1) standard deviation. One 100 among 999 zeros gives 996.0 (998.0 with the biased std); a standard
 * normal sample about 3. Computed in float64.
 */
export function kurtosis(x: ArrayLike<number>): number {
  const n = x.length;
  if (n < 2) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'x', expected: 'at least 2 values', found: String(n) });
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

/**
 * The hooks tracked by default (the outputs Bondarenko et al. track, in TransformerLens names): per block the attention
 * output (after W_O), resid_mid, the MLP pre- and post-activation, the MLP output and resid_post, and the final norm's
 * output where the model has one (`ln_final.hook_out`: gain applied, what the unembedding reads).
 */
export const OUTLIER_HOOKS = '^(blocks\\.\\d+\\.(hook_attn_out|hook_resid_mid|mlp\\.hook_pre|mlp\\.hook_post|hook_mlp_out|hook_resid_post)|ln_final\\.hook_out)$';

/**
 * One row per model (or per checkpoint): the outlier summary and, aligned with `hooks`, the per-hook numbers.
 * `inf_norm[h]` is the infinity norm of hook h's output (per input, flattened over positions and features), maxed
 * over an evaluation batch and averaged over batches; `kurtosis[h]` the per-input kurtosis averaged over the batch,
 * then over batches. `max_inf_norm` and `max_kurtosis` are the largest over hooks, `mean_kurtosis` the mean over hooks.
 */
export type Outliers = {
  epoch: Int32;
  samples: Int32;
  batches: Int32;
  max_inf_norm: Float64;
  max_inf_norm_hook: Utf8;
  mean_kurtosis: Float64;
  max_kurtosis: Float64;
  max_kurtosis_hook: Utf8;
  hooks: List<Utf8>;
  inf_norm: List<Float64>;
  kurtosis: List<Float64>;
};
/** Schema of {@link Outliers}; `epoch` is null for a weights table that is not a checkpoint. The config is in metadata. */
export const OutliersSchema = new Schema<Outliers>([
  nullable(field('epoch', new Int32())),
  field('samples', new Int32()),
  field('batches', new Int32()),
  field('max_inf_norm', new Float64()),
  field('max_inf_norm_hook', new Utf8()),
  field('mean_kurtosis', new Float64()),
  field('max_kurtosis', new Float64()),
  field('max_kurtosis_hook', new Utf8()),
  field('hooks', listOf(new Utf8())),
  field('inf_norm', listOf(new Float64())),
  field('kurtosis', listOf(new Float64())),
]);

/** Options of {@link activationOutliers} (JSON: they go into the cache key). */
export interface OutlierOptions {
  /** Regular expression (source) selecting the tracked hooks; default {@link OUTLIER_HOOKS}. */
  readonly hooks?: string;
  /**
   * Inputs per evaluation batch (consecutive grid rows a * p + b). Default: all p^2 inputs in one batch, so the
   * infinity norm is the largest over every input and the kurtosis the mean over every input.
   */
  readonly batchSize?: number;
  /** Weights the forward uses (default `effective`). */
  readonly column?: WeightsColumn;
}

/** Per-hook accumulators over evaluation batches. */
interface HookStats {
  batchMax: number[];
  batchKurtSum: number[];
  batchCount: number[];
}

function accumulate(stats: Map<string, HookStats>, hook: string, data: Float32Array, rows: number, firstRow: number, evalBatch: number): void {
  const s = stats.get(hook) ?? { batchMax: [], batchKurtSum: [], batchCount: [] };
  stats.set(hook, s);
  const f = data.length / rows;
  for (let i = 0; i < rows; i++) {
    const x = data.subarray(i * f, (i + 1) * f);
    const b = Math.floor((firstRow + i) / evalBatch);
    s.batchMax[b] = Math.max(s.batchMax[b] ?? 0, infNorm(x));
    s.batchKurtSum[b] = (s.batchKurtSum[b] ?? 0) + kurtosis(x);
    s.batchCount[b] = (s.batchCount[b] ?? 0) + 1;
  }
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * The per-hook outlier numbers of one model over all p^2 inputs (see {@link Outliers}): one forward pass over the grid
 * (batched), every tracked hook's output per input flattened over positions and features. Throws NOT_FOUND when `hooks`
 * selects no hook of the model.
 */
export function outlierStats(tf: Tf, model: LoadedModel, options: { readonly hooks?: string; readonly batchSize?: number } = {}): { hooks: string[]; infNorm: number[]; kurtosis: number[]; samples: number; batches: number } {
  const re = hookPattern(options.hooks);
  const n = model.config.p * model.config.p;
  const evalBatch = options.batchSize ?? n;
  const stats = new Map<string, HookStats>();
  let row = 0;
  for (const batch of runGrid(tf, model, { capture: (h) => re.test(h), batchSize: Math.min(evalBatch, 2048) })) {
    for (const [h, t] of batch.acts) accumulate(stats, h, t.data, batch.rows.length, row, evalBatch);
    row += batch.rows.length;
  }
  const hooks = [...stats.keys()].sort();
  if (hooks.length === 0) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: 'hooks', expected: `hooks of the model matching /${re.source}/`, found: 'none' });
  const per = hooks.map((h) => stats.get(h) as HookStats);
  return {
    hooks,
    infNorm: per.map((s) => mean(s.batchMax)),
    kurtosis: per.map((s) => mean(s.batchKurtSum.map((k, b) => k / (s.batchCount[b] ?? 1)))),
    samples: n,
    batches: Math.ceil(n / evalBatch),
  };
}

function hookPattern(hooks: string | undefined): RegExp {
  try {
    return new RegExp(hooks ?? OUTLIER_HOOKS);
  } catch (e) {
    throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'hooks', expected: 'a regular expression', found: JSON.stringify(hooks) }, undefined, { cause: e });
  }
}

function argMax(xs: readonly number[]): number {
  let best = 0;
  xs.forEach((x, i) => {
    if (x > (xs[best] ?? Number.NEGATIVE_INFINITY)) best = i;
  });
  return best;
}

function outlierRow(config: ModelConfig, epoch: number | undefined, s: ReturnType<typeof outlierStats>): Table<Outliers> {
  const iInf = argMax(s.infNorm);
  const iKurt = argMax(s.kurtosis);
  return tableOf(
    OutliersSchema,
    [
      vectorFromArray([epoch ?? null], new Int32()).data[0] as Data<Int32>,
      int32([s.samples]),
      int32([s.batches]),
      float64([s.infNorm[iInf] ?? Number.NaN]),
      utf8([s.hooks[iInf] ?? '']),
      float64([mean(s.kurtosis)]),
      float64([s.kurtosis[iKurt] ?? Number.NaN]),
      utf8([s.hooks[iKurt] ?? '']),
      utf8List([s.hooks]),
      float64List([s.infNorm]),
      float64List([s.kurtosis]),
    ],
    new Map([[MODEL_CONFIG_KEY, JSON.stringify(config)]]),
  );
}

/**
 * Activation outlier metrics of trained models (Bondarenko et al. 2023): for each weights table — a final model, or
 * each checkpoint of a checkpoint stream as it arrives (a table holding several epochs gives one row per epoch) — runs
 * the model over all p^2 inputs and emits one {@link Outliers} row: per tracked hook the infinity norm and the
 * kurtosis (non-excess, unbiased std, per input flattened over positions and features, as the reference code does per
 * sequence), then the max infinity norm over hooks, and the mean and max kurtosis over hooks. Holds no state between
 * tables. Options are checked when the stage is built (INVALID_OPTION naming the field).
 * @example checkpoints$.pipe(activationOutliers(tf)) // one row per checkpoint: outliers over training
 */
export function activationOutliers(tf: Tf, options: OutlierOptions = {}): Stage<Weights, Outliers> {
  hookPattern(options.hooks);
  const bs = options.batchSize;
  if (bs !== undefined && !(Number.isInteger(bs) && bs >= 1)) {
    throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'batchSize', expected: 'a positive integer', found: JSON.stringify(bs) });
  }
  return defineStage({
    name: STAGE,
    // 3: the final norm's output is tracked as ln_final.hook_out (ln_final.hook_normalized is now TransformerLens's, before the gain).
    version: '3',
    options: { ...options },
    input: WeightsSchema,
    output: OutliersSchema,
    apply: concatMap((t: Table<Weights>) =>
      from(splitByEpoch(t)).pipe(
        map((part) => {
          const model = loadModel(part, options.column ?? 'effective', STAGE);
          const ep = (part as Table).getChild('epoch');
          const epoch = ep === null || part.numRows === 0 ? undefined : Number(ep.get(0));
          return outlierRow(model.config, epoch, outlierStats(tf, model, { ...(options.hooks === undefined ? {} : { hooks: options.hooks }), ...(bs === undefined ? {} : { batchSize: bs }) }));
        }),
      ),
    ),
  });
}
