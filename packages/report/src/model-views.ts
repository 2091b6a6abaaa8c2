import type { Tf } from '@bitlens/engine';
import { ActivationsSchema, type KeyFreqs, KeyFreqsSchema, type NeuronFreqs, NeuronFreqsSchema, activationMatrix, fourierBasis, type WeightsColumn, type Activations } from '@bitlens/circuits';
import { BitlensError, type JoinStage, defineJoin, field, float32List, float64, int32, int32List, listOf, numbers, strings, booleans, tableOf, utf8 } from '@bitlens/core';
import { MODEL_CONFIG_KEY, type ModelConfig, type Weights, WeightsSchema, readWeightsTable } from '@bitlens/model';
import { Float32, Float64, Int32, type List, Schema, type Table, Utf8 } from 'apache-arrow';
import { forkJoin, map, toArray } from 'rxjs';
import { fourier2dNormTf } from './internal/fourier-maps.js';
import { clockPlane, embedFourier, lastPositionAttention, topNeurons } from './internal/view-math.js';

const STAGE = 'report/model-views';
const MLP_POST = 'blocks.0.mlp.hook_post';
const LOGITS = 'logits';
const PATTERN = 'blocks.0.attn.hook_pattern';

/**
 * Hooks the report's views read besides the mechanism chain's: the attention pattern. Pass them to the mechanism
 * subgraph of @bitlens/circuits (`extraHooks`), so that its `activations` node carries them.
 */
export const REPORT_HOOKS = [PATTERN] as const;

/** What each row of a views table holds (the `view` column). */
export const VIEW_KINDS = ['neuron', 'fourier-embed', 'fourier-neurons', 'fourier-logits', 'attention-mean', 'attention-first', 'clock'] as const;

/** One kind of view. */
export type ViewKind = (typeof VIEW_KINDS)[number];

/**
 * The pictures of one model, one row per picture: `view` (a {@link ViewKind}), `freq` (the frequency it belongs to, 0
 * if none), `index` (neuron or head, -1 if none), `score` (neuron: FVE of `freq`; clock: share of the embedding in
 * the plane; else 0), `shape` and `values` (row-major Float32):
 * - `neuron` [p, p]: the MLP activation (`blocks.0.mlp.hook_post` at the last position) over inputs (a, b);
 * - `fourier-embed` [p, d_model]: F W_E, the embedding in the Fourier basis (rows const, cos 1, sin 1, ...);
 * - `fourier-neurons` / `fourier-logits` [p, p]: the norm over neurons / output logits of the 2-D Fourier transform
 *   of the centred activations (row: component of a, column: of b);
 * - `attention-mean` [nCtx]: per head, the mean attention from the last position to each position;
 * - `attention-first` [p, p]: per head, the attention from the last position to position 0 (token a) over (a, b);
 * - `clock` [p, 2]: tokens 0..p-1 in the (cos, sin) plane of a key frequency, (x, y) per token.
 * The model config is in schema metadata `bitlens.model_config`.
 */
export type ModelViewsRow = { view: Utf8; freq: Int32; index: Int32; score: Float64; shape: List<Int32>; values: List<Float32> };

/** Schema of {@link ModelViewsRow}. */
export const ModelViewsSchema = new Schema<ModelViewsRow>([
  field('view', new Utf8()),
  field('freq', new Int32()),
  field('index', new Int32()),
  field('score', new Float64()),
  field('shape', listOf(new Int32())),
  field('values', listOf(new Float32())),
]);

/** Options of {@link modelViews} (JSON: they go into the cache key). */
export interface ModelViewsOptions {
  /** Neurons shown per frequency (default 3). */
  readonly topNeurons?: number;
  /** At most this many frequencies get neuron heatmaps and a clock plane (the highest-scoring keys; default 8). */
  readonly maxFrequencies?: number;
  /** Read the attention pattern (default true; it must be among the captured hooks, see {@link REPORT_HOOKS}). */
  readonly attention?: boolean;
  /** Which weights the embedding views read (default `effective`). */
  readonly column?: WeightsColumn;
}

interface Picture {
  readonly view: ViewKind;
  readonly freq: number;
  readonly index: number;
  readonly score: number;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

function checkOptions(o: ModelViewsOptions): void {
  for (const [k, v] of [['topNeurons', o.topNeurons], ['maxFrequencies', o.maxFrequencies]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: k, expected: 'an integer >= 1', found: String(v) });
  }
}

/** Key frequencies of one method, the highest-scoring `max` of them, ascending. */
function keysByScore(keys: Table<KeyFreqs>, method: 'embed' | 'neurons', max: number): number[] {
  const m = strings(keys, 'method');
  const f = numbers(keys, 'freq');
  const s = numbers(keys, 'score');
  const k = booleans(keys, 'is_key');
  const rows = f.map((freq, i) => ({ freq, score: s[i] ?? 0, ok: m[i] === method && k[i] === true })).filter((r) => r.ok);
  rows.sort((u, v) => v.score - u.score || u.freq - v.freq);
  return rows.slice(0, max).map((r) => r.freq).sort((u, v) => u - v);
}

function neuronPictures(tf: Tf, acts: readonly Table<Activations>[], neurons: Table<NeuronFreqs>, freqs: readonly number[], top: number, p: number): Picture[] {
  const post = activationMatrix(acts, MLP_POST, { lastPosition: true, requireGrid: true, stage: STAGE });
  const n = post.shape.reduce((a, b) => a * b, 1);
  const K = (p - 1) / 2;
  const fve = new Float64Array(n * K).fill(Number.NaN);
  const fveCol = neurons.getChild('fve');
  const ids = numbers(neurons, 'neuron');
  const energy = new Float64Array(n);
  const energies = numbers(neurons, 'energy');
  ids.forEach((id, i) => {
    const row = fveCol?.get(i) as { toArray(): Float64Array } | null | undefined;
    if (row !== null && row !== undefined && id >= 0 && id < n) fve.set(row.toArray().subarray(0, K), id * K);
    energy[id] = energies[i] ?? 0;
  });
  const out: Picture[] = [];
  for (const k of freqs) {
    for (const { neuron, fve: score } of topNeurons({ nNeurons: n, K, fve, energy }, k, top)) {
      const values = Float32Array.from({ length: p * p }, (_, r) => post.data[r * n + neuron] ?? Number.NaN);
      out.push({ view: 'neuron', freq: k, index: neuron, score, shape: [p, p], values });
    }
  }
  out.push({ view: 'fourier-neurons', freq: 0, index: -1, score: 0, shape: [p, p], values: fourier2dNormTf(tf, post.data, p, n) });
  return out;
}

function attentionPictures(acts: readonly Table<Activations>[], c: ModelConfig): Picture[] {
  let pattern: ReturnType<typeof activationMatrix>;
  try {
    pattern = activationMatrix(acts, PATTERN, { requireGrid: true, stage: STAGE });
  } catch (e) {
    if (e instanceof BitlensError && e.code === 'NOT_FOUND') {
      throw new BitlensError('NOT_FOUND', { stage: STAGE, field: PATTERN, expected: 'the attention pattern in the activations (capture REPORT_HOOKS, or set attention: false)', found: 'not captured' }, undefined, { cause: e });
    }
    throw e;
  }
  const { nHeads: heads, nCtx, p } = c;
  const { mean, toFirst } = lastPositionAttention(pattern.data, p * p, heads, nCtx);
  return [
    ...mean.map((m, h) => ({ view: 'attention-mean' as const, freq: 0, index: h, score: 0, shape: [nCtx], values: Float32Array.from(m) })),
    ...toFirst.map((t, h) => ({ view: 'attention-first' as const, freq: 0, index: h, score: 0, shape: [p, p], values: t })),
  ];
}

function embedPictures(wE: Float32Array, c: ModelConfig, clockFreqs: readonly number[]): Picture[] {
  const { p, dModel } = c;
  const fourier = embedFourier(wE, fourierBasis(p), dModel);
  const out: Picture[] = [{ view: 'fourier-embed', freq: 0, index: -1, score: 0, shape: [p, dModel], values: Float32Array.from(fourier) }];
  for (const k of clockFreqs) {
    const pl = clockPlane(wE, fourier, p, dModel, k);
    const xy = new Float32Array(2 * p);
    for (let a = 0; a < p; a++) {
      xy[2 * a] = pl.x[a] ?? 0;
      xy[2 * a + 1] = pl.y[a] ?? 0;
    }
    out.push({ view: 'clock', freq: k, index: -1, score: pl.share, shape: [p, 2], values: xy });
  }
  return out;
}

function only<T>(tables: readonly T[], port: string): T {
  if (tables.length !== 1 || tables[0] === undefined) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: port, expected: 'exactly one table (one model)', found: `${tables.length} tables` });
  return tables[0];
}

/**
 * The data of the report's pictures of one model (see {@link ModelViewsRow}): neuron activation heatmaps of the top
 * neurons of each key frequency (by neurons; by embedding when no frequency has clustered neurons), 2-D Fourier maps
 * of the embedding, the neurons and the logits, the attention from `=`, and the clock planes of the embedding key
 * frequencies. Inputs: `weights` (one model), `activations` (all p² inputs, last position, with
 * `blocks.0.mlp.hook_post`, `logits` and, unless `attention: false`, `blocks.0.attn.hook_pattern`), `neurons` and
 * `keys` of the mechanism subgraph. The 2-D transforms run on `tf` (the engine the pipeline started). Reduces its
 * inputs, then emits one table. Pure.
 * @example g.join('views', modelViews(tf), { weights: 'final', activations: 'activations', neurons: 'neurons', keys: 'keys' })
 */
export function modelViews(tf: Tf, options: ModelViewsOptions = {}): JoinStage<{ weights: Weights; activations: Activations; neurons: NeuronFreqs; keys: KeyFreqs }, ModelViewsRow> {
  checkOptions(options);
  const top = options.topNeurons ?? 3;
  const maxFreqs = options.maxFrequencies ?? 8;
  return defineJoin({
    name: STAGE,
    version: '1',
    options: { ...options },
    inputs: { weights: WeightsSchema, activations: ActivationsSchema, neurons: NeuronFreqsSchema, keys: KeyFreqsSchema },
    output: ModelViewsSchema,
    apply: (ins) =>
      forkJoin({ w: ins.weights.pipe(toArray()), acts: ins.activations.pipe(toArray()), n: ins.neurons.pipe(toArray()), k: ins.keys.pipe(toArray()) }).pipe(
        map(({ w, acts, n, k }) => {
          const weights = readWeightsTable(only(w, 'weights'));
          const c = weights.config;
          const keys = only(k, 'keys');
          const byNeurons = keysByScore(keys, 'neurons', maxFreqs);
          const embedKeys = keysByScore(keys, 'embed', maxFreqs);
          const wE = weights[options.column ?? 'effective'].get('embed.W_E')?.data;
          if (wE === undefined) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: 'embed.W_E', expected: 'the token embedding in the weights', found: 'nothing' });
          const logits = activationMatrix(acts, LOGITS, { lastPosition: true, requireGrid: true, stage: STAGE });
          const pictures = [
            ...neuronPictures(tf, acts, only(n, 'neurons'), byNeurons.length > 0 ? byNeurons : embedKeys, top, c.p),
            { view: 'fourier-logits' as const, freq: 0, index: -1, score: 0, shape: [c.p, c.p], values: fourier2dNormTf(tf, logits.data, c.p, logits.data.length / (c.p * c.p)) },
            ...embedPictures(wE, c, embedKeys),
            ...(options.attention === false ? [] : attentionPictures(acts, c)),
          ];
          return tableOf(
            ModelViewsSchema,
            [
              utf8(pictures.map((x) => x.view)),
              int32(pictures.map((x) => x.freq)),
              int32(pictures.map((x) => x.index)),
              float64(pictures.map((x) => x.score)),
              int32List(pictures.map((x) => x.shape)),
              float32List(pictures.map((x) => x.values)),
            ],
            new Map([[MODEL_CONFIG_KEY, JSON.stringify(c)]]),
          );
        }),
      ),
  });
}
