import type { Tf } from '@bitlens/engine';
import { BitlensError, reportProgress } from '@bitlens/core';
import { type HookName, type HookSelector, type HostTensor, type ModelConfig, type ParamTensors, forwardFull, forwardLast, readWeightsTable, toTensors } from '@bitlens/model';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { Table } from 'apache-arrow';

/** Which weights column an analysis reads: what the forward uses (`effective`, default) or the latent FP weights. */
export type WeightsColumn = 'effective' | 'latent';

/** A model read from a weights table: its config and the chosen column's tensors. */
export interface LoadedModel {
  readonly config: ModelConfig;
  readonly params: ReadonlyMap<string, HostTensor>;
  readonly column: WeightsColumn;
}

/**
 * Reads a weights (or checkpoint) table into host tensors, checking names and shapes against the config in its
 * metadata (NOT_FOUND / SHAPE_MISMATCH naming the tensor, from @bitlens/model) and that every value is finite
 * (INVALID_DATA naming the tensor and the first bad index).
 */
export function loadModel(table: Table, column: WeightsColumn = 'effective', stage = 'circuits/weights'): LoadedModel {
  if (column !== 'effective' && column !== 'latent') {
    throw new BitlensError('INVALID_OPTION', { stage, field: 'column', expected: "'effective' or 'latent'", found: JSON.stringify(column) });
  }
  const read = readWeightsTable(table);
  const params = read[column];
  for (const [name, t] of params) {
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i] ?? 0)) {
        throw new BitlensError('INVALID_DATA', { stage, field: `${name}.${column}`, expected: 'finite values', found: `${t.data[i]} at index ${i}` });
      }
    }
  }
  if (read.config.nLayers !== 1) {
    throw new BitlensError('INVALID_CONFIG', { stage, field: 'nLayers', expected: '1 (the analyses assume a one-layer model)', found: String(read.config.nLayers) });
  }
  return { config: read.config, params, column };
}

/** Host tensor by name or NOT_FOUND naming it. */
export function tensorOf(model: LoadedModel, name: string, stage = 'circuits/weights'): HostTensor {
  const t = model.params.get(name);
  if (t === undefined) throw new BitlensError('NOT_FOUND', { stage, field: name, expected: 'a parameter tensor', found: 'nothing' });
  return t;
}

/** Tokens `[a, b, =]` (= is token p) of grid rows `rows` (row r = a * p + b), int32 `[rows.length, 3]`. */
export function gridTokens(p: number, rows: ArrayLike<number>): Int32Array {
  const out = new Int32Array(rows.length * 3);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] ?? 0;
    out[i * 3] = Math.floor(r / p);
    out[i * 3 + 1] = r % p;
    out[i * 3 + 2] = p;
  }
  return out;
}

/** One batch of a grid run: the grid rows, last-position logits and captured activations (host copies). */
export interface GridBatch {
  readonly rows: Int32Array;
  /** `[rows.length, dVocabOut]` logits at the last position. */
  readonly logits: Float32Array;
  /** Captured activations by hook: full shape `[B, ...]` (all positions) or `[B, ...]` at the last position. */
  readonly acts: ReadonlyMap<HookName, HostTensor>;
}

/** Options of {@link runGrid}. */
export interface GridRunOptions {
  /** Grid rows to run (default all p^2, in order). */
  readonly rows?: ArrayLike<number>;
  readonly batchSize?: number;
  /** Hooks to capture: names (checked against the model: an unknown one is INVALID_OPTION), a regular expression, or a predicate. */
  readonly capture?: HookSelector;
  /** Keep only the last position of captured activations that have a position axis (axis 1, length nCtx). */
  readonly lastPosition?: boolean;
  /** Intervention for the batch whose rows are given. */
  readonly intervene?: (hook: HookName, t: Tensor, rows: Int32Array) => Tensor;
}

/** Hooks whose axis 1 is the position axis (all but attention scores/patterns, whose axis 1 is the head). */
function hasPositionAxis(hook: HookName): boolean {
  return !/hook_(attn_scores|pattern)$/.test(hook) && hook !== 'hook_pos_embed';
}

/**
 * Runs the model over grid inputs in batches (default 2048) and yields one host batch at a time, so memory stays
 * bounded. Uploads the parameters once; disposes every tensor it makes.
 */
export function* runGrid(tf: Tf, model: LoadedModel, options: GridRunOptions = {}): Generator<GridBatch> {
  const { p, nCtx } = model.config;
  const all = options.rows ?? Int32Array.from({ length: p * p }, (_, i) => i);
  const bs = options.batchSize ?? 2048;
  if (!Number.isInteger(bs) || bs < 1) throw new BitlensError('INVALID_OPTION', { stage: 'circuits/run-grid', field: 'batchSize', expected: 'a positive integer', found: String(bs) });
  const params: ParamTensors = toTensors(tf, model.params);
  try {
    for (let start = 0; start < all.length; start += bs) {
      const rows = Int32Array.from({ length: Math.min(bs, all.length - start) }, (_, i) => all[start + i] ?? 0);
      const B = rows.length;
      const kept: [HookName, Tensor][] = [];
      const logitsT = tf.tidy(() => {
        const tokens = tf.tensor2d(gridTokens(p, rows), [B, 3], 'int32');
        const intervene = options.intervene;
        const res = forwardFull(tf, model.config, params, tokens, {
          capture: options.capture ?? ((): boolean => false),
          ...(intervene === undefined ? {} : { intervene: (h: HookName, t: Tensor): Tensor => intervene(h, t, rows) }),
        });
        for (const [h, t] of res.cache) {
          let v = t;
          if (options.lastPosition === true && hasPositionAxis(h) && t.rank >= 2 && t.shape[1] === nCtx) {
            const begin = t.shape.map((_, i) => (i === 1 ? nCtx - 1 : 0));
            const size = t.shape.map((s, i) => (i === 1 ? 1 : s));
            v = tf.squeeze(tf.slice(t, begin, size), [1]);
          }
          kept.push([h, tf.keep(v)]);
        }
        const [, n, c] = res.logits.shape as [number, number, number];
        return tf.reshape(tf.slice(res.logits, [0, n - 1, 0], [B, 1, c]), [B, c]);
      });
      const logits = logitsT.dataSync() as Float32Array;
      const acts = new Map<HookName, HostTensor>();
      for (const [h, t] of kept) acts.set(h, { shape: [...t.shape], data: t.dataSync() as Float32Array });
      tf.dispose([logitsT, ...kept.map(([, t]) => t)]);
      // Every grid pass of every stage (activations, losses, ablations, ...) shows as progress over the inputs.
      reportProgress({ done: start + B, total: all.length, label: 'inputs (grid)' });
      yield { rows, logits, acts };
    }
  } finally {
    tf.dispose([...params.values()]);
  }
}

/** Last-position logits over grid rows (default all p^2), `[rows, dVocabOut]`, plus captured last-position activations concatenated. */
export function gridOutputs(tf: Tf, model: LoadedModel, options: Omit<GridRunOptions, 'lastPosition'> = {}): { logits: Float32Array; acts: Map<HookName, HostTensor> } {
  const { p, dVocabOut } = model.config;
  const n = options.rows?.length ?? p * p;
  const logits = new Float32Array(n * dVocabOut);
  const parts = new Map<HookName, { shape: number[]; chunks: Float32Array[] }>();
  let off = 0;
  for (const batch of runGrid(tf, model, { ...options, lastPosition: true })) {
    logits.set(batch.logits, off * dVocabOut);
    off += batch.rows.length;
    for (const [h, t] of batch.acts) {
      const e = parts.get(h) ?? { shape: [...t.shape.slice(1)], chunks: [] };
      e.chunks.push(t.data);
      parts.set(h, e);
    }
  }
  const acts = new Map<HookName, HostTensor>();
  for (const [h, e] of parts) {
    const data = new Float32Array(e.chunks.reduce((s, c) => s + c.length, 0));
    let o = 0;
    for (const c of e.chunks) {
      data.set(c, o);
      o += c.length;
    }
    acts.set(h, { shape: [n, ...e.shape], data });
  }
  return { logits, acts };
}

/**
 * Last-position logits over grid rows (default all p^2), `[rows, dVocabOut]`, through the model's exact last-position
 * fast path (`forwardLast`, about 3x cheaper than the full forward; no hooks).
 */
export function gridLogits(tf: Tf, model: LoadedModel, options: { readonly rows?: ArrayLike<number>; readonly batchSize?: number } = {}): Float32Array {
  const { p, dVocabOut } = model.config;
  const all = options.rows ?? Int32Array.from({ length: p * p }, (_, i) => i);
  const bs = options.batchSize ?? 4096;
  const out = new Float32Array(all.length * dVocabOut);
  const params: ParamTensors = toTensors(tf, model.params);
  try {
    for (let start = 0; start < all.length; start += bs) {
      const rows = Int32Array.from({ length: Math.min(bs, all.length - start) }, (_, i) => all[start + i] ?? 0);
      const t = tf.tidy(() => forwardLast(tf, model.config, params, tf.tensor2d(gridTokens(p, rows), [rows.length, 3], 'int32')));
      out.set(t.dataSync() as Float32Array, start * dVocabOut);
      t.dispose();
    }
  } finally {
    tf.dispose([...params.values()]);
  }
  return out;
}
