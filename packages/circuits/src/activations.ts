import type { Tf } from '@bitlens/engine';
import { BitlensError, defineStage, type Stage } from '@bitlens/core';
import { type HookName, MODEL_CONFIG_KEY, type ModelConfig, type Weights, WeightsSchema, configFromTable, hookPredicate } from '@bitlens/model';
import type { Data, Float32, List, Table } from 'apache-arrow';
import { Observable, concatMap } from 'rxjs';
import { float32ListFlat, int32, int32List, tableOf, utf8 } from './internal/arrow.js';
import { type WeightsColumn, loadModel, runGrid } from './model.js';
import { type Activations, ActivationsSchema } from './schemas.js';

/** Metadata key of an activations table saying whether `values` hold the last position only or all positions. */
export const POSITION_KEY = 'bitlens.position';

/** Options of the {@link activations} stage (JSON: they go into the cache key). */
export interface ActivationsOptions {
  /**
   * Regular expression (source) selecting hook names, e.g. `^blocks\\.0\\.mlp\\.hook_post$`; it must match a hook of
   * the model (INVALID_OPTION otherwise). Default: every hook. Not together with `names`.
   */
  readonly hooks?: string;
  /** The hooks to capture by name, typed; each must be a hook of the model (INVALID_OPTION naming it otherwise). */
  readonly names?: readonly HookName[];
  /** `last` (default): keep only the final position of position-indexed hooks; `all`: the whole sequence. */
  readonly position?: 'last' | 'all';
  /** Inputs per forward batch and per emitted table (default 2048). */
  readonly batchSize?: number;
  readonly column?: WeightsColumn;
  /** Grid rows (a * p + b) to run; default all p^2. */
  readonly rows?: readonly number[];
  /** Recorded for provenance only. */
  readonly backend?: string;
}

/**
 * Runs the model of each weights table over the input grid (default all p^2 pairs) and emits the activations at the
 * hooks selected by `hooks`, one table per batch (memory stays bounded by the batch size). Long format: one row per
 * (input, hook). Holds no state between tables.
 * @example weights$.pipe(activations(tf, { hooks: '^blocks\\.0\\.mlp\\.hook_post$|^logits$' }))
 */
export function activations(tf: Tf, options: ActivationsOptions = {}): Stage<Weights, Activations> {
  const name = 'circuits/activations';
  let re: RegExp;
  try {
    re = new RegExp(options.hooks ?? '.*');
  } catch (e) {
    throw new BitlensError('INVALID_OPTION', { stage: name, field: 'hooks', expected: 'a regular expression', found: JSON.stringify(options.hooks) }, undefined, { cause: e });
  }
  if (options.hooks !== undefined && options.names !== undefined) {
    throw new BitlensError('INVALID_OPTION', { stage: name, field: 'names', expected: 'either names or a hooks pattern', found: 'both' });
  }
  const position = options.position ?? 'last';
  return defineStage({
    name,
    // 2: TransformerLens values at ln_final.hook_scale / hook_normalized and -Infinity at masked attention scores.
    version: '2',
    options: { ...options },
    input: WeightsSchema,
    output: ActivationsSchema,
    apply: concatMap(
      (weights: Table<Weights>) =>
        new Observable<Table<Activations>>((sub) => {
          try {
            const model = loadModel(weights, options.column ?? 'effective', name);
            const { p } = model.config;
            const meta = new Map([
              [MODEL_CONFIG_KEY, JSON.stringify(model.config)],
              [POSITION_KEY, position],
            ]);
            const capture = options.names === undefined ? hookPredicate(model.config, re, { field: 'hooks', stage: name }) : hookPredicate(model.config, options.names, { field: 'names', stage: name });
            const gen = runGrid(tf, model, {
              capture,
              lastPosition: position === 'last',
              batchSize: options.batchSize ?? 2048,
              ...(options.rows === undefined ? {} : { rows: options.rows }),
            });
            for (const batch of gen) {
              if (sub.closed) return;
              const hooks = [...batch.acts.keys()].sort();
              const B = batch.rows.length;
              const rowCol: number[] = [];
              const hookCol: string[] = [];
              const shapes: number[][] = [];
              const lengths: number[] = [];
              let total = 0;
              for (const h of hooks) total += batch.acts.get(h)?.data.length ?? 0;
              const values = new Float32Array(total);
              let off = 0;
              for (let i = 0; i < B; i++) {
                for (const h of hooks) {
                  const t = batch.acts.get(h);
                  if (t === undefined) continue;
                  const f = t.data.length / B;
                  values.set(t.data.subarray(i * f, (i + 1) * f), off);
                  off += f;
                  rowCol.push(batch.rows[i] ?? 0);
                  hookCol.push(h);
                  shapes.push(t.shape.slice(1));
                  lengths.push(f);
                }
              }
              const cols: Data[] = [
                int32(rowCol),
                int32(rowCol.map((r) => Math.floor(r / p))),
                int32(rowCol.map((r) => r % p)),
                utf8(hookCol),
                int32List(shapes),
                float32ListFlat(values, lengths),
              ];
              sub.next(tableOf(ActivationsSchema, cols, meta));
            }
            sub.complete();
          } catch (e) {
            sub.error(e);
          }
        }),
    ),
  });
}

/** Activations of one hook gathered from activation tables into a dense `[rows, features]` matrix. */
export interface ActivationMatrix {
  readonly config: ModelConfig;
  readonly hook: HookName;
  /** Grid rows present, in the order of `data`'s rows, sorted ascending. */
  readonly rows: Int32Array;
  /** Per-input shape (after taking the last position when the table held all positions). */
  readonly shape: number[];
  readonly data: Float32Array;
}

/**
 * Gathers one hook's activations from activation tables (several batches) into a dense matrix ordered by grid row.
 * With `lastPosition`, a table that holds all positions is reduced to the final one. Throws NOT_FOUND when the hook is
 * absent, SHAPE_MISMATCH when `requireGrid` and some of the p^2 inputs are missing.
 */
export function activationMatrix(tables: readonly Table[], hook: HookName, options: { readonly lastPosition?: boolean; readonly requireGrid?: boolean; readonly stage?: string } = {}): ActivationMatrix {
  const stage = options.stage ?? 'circuits/activations';
  const first = tables[0];
  if (first === undefined) throw new BitlensError('NOT_FOUND', { stage, field: 'activations', expected: 'at least one activations table', found: 'an empty stream' });
  const config = configFromTable(first);
  const pairs: { row: number; values: Float32Array }[] = [];
  let shape: number[] | undefined;
  for (const t of tables) {
    const all = t.schema.metadata.get(POSITION_KEY) === 'all';
    for (const batch of t.batches) {
      const hooks = batch.getChild('hook');
      const rowsV = batch.getChild('row');
      const shapeV = batch.getChild('shape');
      const valuesV = batch.getChild('values');
      if (hooks === null || rowsV === null || shapeV === null || valuesV === null) continue;
      const vd = valuesV.data[0] as Data<List<Float32>> | undefined;
      const childValues = vd?.children[0]?.values as Float32Array | undefined;
      const offsets = vd?.valueOffsets;
      let batchShape: number[] | undefined;
      for (let i = 0; i < batch.numRows; i++) {
        if (hooks.get(i) !== hook) continue;
        // Every row of one hook has the same per-input shape: read it once per batch.
        const s = (batchShape ??= Array.from((shapeV.get(i) as { toArray(): Int32Array }).toArray()));
        const o = vd?.offset ?? 0;
        const start = offsets?.[o + i] ?? 0;
        const end = offsets?.[o + i + 1] ?? 0;
        let v = childValues === undefined ? new Float32Array(0) : childValues.subarray(start, end);
        let sh = s;
        if (all && options.lastPosition === true && s.length >= 2 && s[0] === config.nCtx && !/hook_(attn_scores|pattern)$/.test(hook)) {
          const f = v.length / config.nCtx;
          v = v.subarray((config.nCtx - 1) * f, config.nCtx * f);
          sh = s.slice(1);
        }
        shape ??= sh;
        pairs.push({ row: Number(rowsV.get(i)), values: v });
      }
    }
  }
  if (shape === undefined) throw new BitlensError('NOT_FOUND', { stage, field: hook, expected: 'activations of this hook', found: 'none in the tables' });
  pairs.sort((x, y) => x.row - y.row);
  const f = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(pairs.length * f);
  pairs.forEach((pr, i) => data.set(pr.values, i * f));
  const rows = Int32Array.from(pairs, (pr) => pr.row);
  if (options.requireGrid === true) {
    const n = config.p * config.p;
    if (rows.length !== n || rows.some((r, i) => r !== i)) {
      throw new BitlensError('SHAPE_MISMATCH', { stage, field: hook, expected: `activations for all ${n} inputs`, found: `${rows.length} rows` });
    }
  }
  return { config, hook, rows, shape, data };
}

