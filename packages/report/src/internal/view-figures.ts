import type { TopLevelSpec } from 'vega-lite';
import type { FrequencyEvolution, Matrix, ModelViews } from '../report-data.js';
import { escapeHtml as esc } from './format.js';
import { renderSvg } from './plots.js';
import { type RasterScale, extent, rasterUri, symmetricExtent } from './raster.js';
import { type HeatmapAxis, type PlanePoint, attentionBarsSpec, clockSpec, imageGridSpec, markedHeatmapSpec } from './view-specs.js';

/** Ids of the picture figures, in page order (a figure whose data no model has is left out). */
export const VIEW_FIGURES = [
  'plot-key-frequency-evolution',
  'plot-neuron-heatmaps',
  'plot-fourier-embed',
  'plot-fourier-neurons',
  'plot-fourier-logits',
  'plot-attention-mean',
  'plot-attention-a',
  'plot-clock',
] as const;

/** Id of a picture figure. */
export type ViewFigure = (typeof VIEW_FIGURES)[number];

/** One model as the picture figures see it. */
export interface ViewedModel {
  readonly name: string;
  readonly views?: ModelViews;
  readonly evolution?: FrequencyEvolution;
}

type Chart = { readonly model: string; readonly spec: TopLevelSpec };

const NEURON_PANEL = 84;
const NEURON_COLUMNS = 6;
const GRID_PANEL = 190;
const HEAD_PANEL = 96;
const CLOCK_PANEL = 128;

/** The a or b axis of an input grid (token values 0..p-1, one pixel each, centred on its value). */
const tokenAxis = (title: string, p: number): HeatmapAxis => ({ title, domain: [-0.5, p - 0.5] });
/** A Fourier-component axis in frequency units: component i covers [i/2, (i+1)/2), so cos k and sin k straddle k. */
const fourierAxis = (title: string, p: number): HeatmapAxis => ({ title, domain: [0, p / 2] });

function magnitude(values: ArrayLike<number>): RasterScale {
  return { scheme: 'viridis', domain: [0, extent(values)[1]] };
}

async function charts(id: ViewFigure, caption: string, list: readonly Chart[]): Promise<string> {
  const parts: string[] = [];
  for (const [i, c] of list.entries()) {
    parts.push(`<div class="model-view" data-model="${esc(c.model)}"><div class="model-name">${esc(c.model)}</div>${await renderSvg(c.spec, `${id}-${i}`)}</div>`);
  }
  return `<figure class="plot view" id="${id}"><figcaption>${esc(caption)}</figcaption><div class="model-views">${parts.join('')}</div></figure>`;
}

/** Per checkpoint, each frequency's share of the embedding's Fourier energy (sum over k of norm_k² = 1). */
function energyShares(e: FrequencyEvolution): number[][] {
  return e.norms.map((row) => {
    const total = row.reduce((s, v) => s + (Number.isFinite(v) ? v * v : 0), 0);
    return row.map((v) => (total > 0 && Number.isFinite(v) ? (v * v) / total : Number.NaN));
  });
}

/** Checkpoint i covers epochs [e_i, e_{i+1}); the last one a span as long as the one before it. */
function spans(epochs: readonly number[]): { readonly from: number; readonly to: number }[] {
  return epochs.map((e, i) => {
    const next = epochs[i + 1];
    const prev = epochs[i - 1];
    const step = next !== undefined ? next - e : prev !== undefined ? e - prev : 1;
    return { from: e, to: e + Math.max(step, 1) };
  });
}

function evolutionChart(e: FrequencyEvolution, vmax: number): TopLevelSpec {
  const shares = energyShares(e);
  const K = Math.max(0, ...e.norms.map((r) => r.length));
  const sp = spans(e.epoch);
  const x0 = sp[0]?.from ?? 0;
  const x1 = sp[sp.length - 1]?.to ?? 1;
  const W = 300;
  // A raster on a uniform epoch grid: pixel column c shows the checkpoint whose span holds its centre.
  const values = new Float64Array(K * W).fill(Number.NaN);
  for (let c = 0, i = 0; c < W; c++) {
    const t = x0 + ((c + 0.5) * (x1 - x0)) / W;
    while (i + 1 < sp.length && (sp[i + 1]?.from ?? Number.POSITIVE_INFINITY) <= t) i++;
    for (let k = 0; k < K; k++) values[k * W + c] = shares[i]?.[k] ?? Number.NaN;
  }
  const scale: RasterScale = { scheme: 'viridis', domain: [0, vmax] };
  const markers = e.keys.flatMap((ks, i) => ks.map((k) => ({ x: ((sp[i]?.from ?? 0) + (sp[i]?.to ?? 0)) / 2, y: k })));
  return markedHeatmapSpec({
    url: rasterUri(values, K, W, scale),
    width: W,
    height: Math.max(120, Math.min(260, 4 * K)),
    x: { title: 'epoch', domain: [x0, x1] },
    y: { title: 'frequency k', domain: [0.5, K + 0.5], values: [1, ...Array.from({ length: Math.floor(K / 5) }, (_, i) => 5 * (i + 1))] },
    legend: { title: 'share of W_E energy', scale },
    markers,
    markerLabel: 'key frequency at the checkpoint',
  });
}

function neuronChart(v: ModelViews): TopLevelSpec {
  const p = v.p;
  const panels = v.neurons.map((n) => ({ title: `k ${n.freq} · #${n.neuron} · ${n.fve.toFixed(2)}`, url: rasterUri(n.values, p, p, { scheme: 'viridis', domain: extent(n.values) }) }));
  return imageGridSpec({ panels, width: NEURON_PANEL, height: NEURON_PANEL, columns: NEURON_COLUMNS, x: tokenAxis('b', p), y: tokenAxis('a', p) });
}

function fourierChart(m: Matrix, p: number, kind: 'embed' | 'map', title: string): TopLevelSpec {
  if (kind === 'embed') {
    const scale: RasterScale = { scheme: 'redblue', reverse: true, domain: symmetricExtent(m.data) };
    const height = Math.max(120, Math.min(240, 3 * p));
    return imageGridSpec({ panels: [{ title, url: rasterUri(m.data, m.rows, m.cols, scale) }], width: 256, height, columns: 1, x: { title: 'residual dimension', domain: [0, m.cols] }, y: fourierAxis('frequency k (const, then cos k, sin k)', p), legend: { title: 'coefficient', scale } });
  }
  const scale = magnitude(m.data);
  return imageGridSpec({ panels: [{ title, url: rasterUri(m.data, m.rows, m.cols, scale) }], width: GRID_PANEL, height: GRID_PANEL, columns: 1, x: fourierAxis('b: frequency k', p), y: fourierAxis('a: frequency k', p), legend: { title: 'norm', scale } });
}

function attentionCharts(v: ModelViews): { mean: TopLevelSpec; toA: TopLevelSpec } | undefined {
  const a = v.attention;
  if (a === undefined) return undefined;
  const bars = a.mean.flatMap((row, h) => row.map((value, i) => ({ head: `head ${h}`, position: a.positions[i] ?? `pos ${i}`, value })));
  const scale: RasterScale = { scheme: 'viridis', domain: [0, 1] };
  const panels = a.toFirst.map((t, h) => ({ title: `head ${h}`, url: rasterUri(t, v.p, v.p, scale) }));
  return {
    mean: attentionBarsSpec({ bars, positions: a.positions }),
    toA: imageGridSpec({ panels, width: HEAD_PANEL, height: HEAD_PANEL, columns: Math.max(1, panels.length), x: tokenAxis('b', v.p), y: tokenAxis('a', v.p), legend: { title: 'attention to a', scale } }),
  };
}

function clockChart(v: ModelViews): TopLevelSpec {
  const panels = v.clock.map((c) => `k ${c.freq} (${(100 * c.share).toFixed(0)}% of W_E)`);
  const points: PlanePoint[] = v.clock.flatMap((c, i) => {
    let r = 0;
    for (let a = 0; a < v.p; a++) r = Math.max(r, Math.hypot(c.x[a] ?? 0, c.y[a] ?? 0));
    const s = r > 0 ? 1 / r : 1;
    return Array.from({ length: v.p }, (_, a) => ({ panel: panels[i] ?? '', token: a, x: (c.x[a] ?? 0) * s, y: (c.y[a] ?? 0) * s }));
  });
  return clockSpec({ points, panels, p: v.p, columns: 4, size: CLOCK_PANEL });
}

/**
 * `plot-key-frequency-evolution` over the models that have checkpoints (one heatmap each, one colour scale for all);
 * undefined when none has.
 */
export async function evolutionFigure(models: readonly ViewedModel[]): Promise<string | undefined> {
  const withEvolution = models.flatMap((m) => (m.evolution === undefined ? [] : [{ name: m.name, e: m.evolution }]));
  if (withEvolution.length === 0) return undefined;
  const vmax = Math.max(1e-12, ...withEvolution.flatMap(({ e }) => energyShares(e).flat().filter((x) => Number.isFinite(x))));
  return charts(
    'plot-key-frequency-evolution',
    'Key-frequency evolution: per checkpoint (x) and frequency k (y), the share of the embedding W_E’s Fourier energy in k (n_cos² + n_sin², divided by the sum over k); open circles: the checkpoint’s key frequencies (those the progress measures used).',
    withEvolution.map(({ name, e }) => ({ model: name, spec: evolutionChart(e, vmax) })),
  );
}

/**
 * The picture figures of the given models' final weights: neuron heatmaps, Fourier maps of the embedding, the neurons
 * and the logits, attention from `=`, and the clock planes. Returns the HTML and what no model had.
 */
export async function modelViewFigures(models: readonly ViewedModel[]): Promise<{ readonly html: string; readonly missing: string[] }> {
  const withViews = models.flatMap((m) => (m.views === undefined ? [] : [{ name: m.name, v: m.views }]));
  const out: string[] = [];
  const missing: string[] = [];
  if (withViews.length === 0) return { html: '', missing: ['neuron heatmaps, Fourier maps, attention patterns and clock planes (no model views)'] };
  const withNeurons = withViews.filter(({ v }) => v.neurons.length > 0);
  if (withNeurons.length > 0) {
    out.push(await charts('plot-neuron-heatmaps', 'Neuron activation heatmaps: the MLP activation (after ReLU, at the last position) over all inputs (a, b) of the neurons that carry most of each key frequency k (ranked by FVE_k × variance). Panel title: k · neuron · FVE_k; each panel coloured from its own minimum (dark) to its maximum (yellow).', withNeurons.map(({ name, v }) => ({ model: name, spec: neuronChart(v) }))));
  } else missing.push('neuron heatmaps (no key frequencies)');
  out.push(await charts('plot-fourier-embed', 'The embedding in the Fourier basis: F W_E, one row per basis component (const, then cos k and sin k of each frequency k), one column per residual dimension. A clean model has a few bright row pairs: its key frequencies.', withViews.map(({ name, v }) => ({ model: name, spec: fourierChart(v.fourierEmbed, v.p, 'embed', 'F W_E') }))));
  out.push(await charts('plot-fourier-neurons', 'Neurons in the 2-D Fourier basis: the norm over all MLP neurons of F A F^T, A the neuron’s centred activation over (a, b); row: component of a, column: of b (const, cos k, sin k of each k). Mass at (const, k), (k, const) and (k, k) blocks of the key frequencies is the Fourier-multiplication algorithm.', withViews.map(({ name, v }) => ({ model: name, spec: fourierChart(v.fourierNeurons, v.p, 'map', 'neurons') }))));
  out.push(await charts('plot-fourier-logits', 'Logits in the 2-D Fourier basis: the norm over the p output logits of F L F^T, L the logit’s centred value over (a, b). Key frequencies appear as bright (k, k) blocks: cos(w_k(a+b-c)) expands into products of cos/sin of a and b.', withViews.map(({ name, v }) => ({ model: name, spec: fourierChart(v.fourierLogits, v.p, 'map', 'logits') }))));
  const att = withViews.flatMap(({ name, v }) => {
    const a = attentionCharts(v);
    return a === undefined ? [] : [{ name, ...a }];
  });
  if (att.length > 0) {
    out.push(await charts('plot-attention-mean', 'Attention from the last position (=) per head: the mean over all p² inputs of the attention to a, b and = (each head’s three bars sum to 1).', att.map((a) => ({ model: a.name, spec: a.mean }))));
    out.push(await charts('plot-attention-a', 'Attention from = to a, per head, over all inputs (a, b) (attention to b is 1 minus this minus the attention to =).', att.map((a) => ({ model: a.name, spec: a.toA }))));
  } else missing.push('attention patterns (not captured)');
  const clocks = withViews.filter(({ v }) => v.clock.length > 0);
  if (clocks.length > 0) {
    out.push(await charts('plot-clock', 'Clock / pizza picture: each token a’s embedding in the plane of a key frequency k (the span of F W_E’s cos k and sin k rows), centred and scaled to the farthest token; points labelled and coloured by a. A clock puts the tokens on a circle in the order k·a mod p.', clocks.map(({ name, v }) => ({ model: name, spec: clockChart(v) }))));
  } else missing.push('clock planes (no embedding key frequencies)');
  return { html: out.join('\n'), missing };
}
