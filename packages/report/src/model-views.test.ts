import { inflateSync } from 'node:zlib';
import { ActivationsSchema, KeyFreqsSchema, NeuronFreqsSchema, fourierBasis } from '@bitlens/circuits';
import { BitlensError, bool, field, float32ListFlat, float64, float64List, int32, int32List, listOf, tableOf, utf8 } from '@bitlens/core';
import { MODEL_CONFIG_KEY, type ModelConfig, checkpointTable, initParams, modelConfig, weightsTable } from '@bitlens/model';
import { Int32, Schema, type Table } from 'apache-arrow';
import { lastValueFrom, of, toArray } from 'rxjs';
import { type Tf, initTfjsBackend } from '@bitlens/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { plantedEmbedding, plantedNeuron } from '../test/synthetic.js';
import { REPORT_HOOKS, embedSpectra, frequencyEvolution, modelViews, readModelViews } from './index.js';
import { fourier2dNormTf } from './internal/fourier-maps.js';
import { encodePalettePng } from './internal/png.js';
import { clockPlane, embedFourier, fourier2dNorm, lastPositionAttention, topNeurons } from './internal/view-math.js';

const P = 13;
let tf: Tf;
beforeAll(async () => {
  tf = (await initTfjsBackend('wasm')).tf;
});

describe('view maths', () => {
  it('the 2-D Fourier norm of a frequency-k neuron sits on the {const, cos k, sin k}² block (centred: no const-const term)', () => {
    const basis = fourierBasis(P);
    const k = 4;
    const map = fourier2dNorm(plantedNeuron(P, k, 0.3), basis, 1);
    const rows = [0, 2 * k - 1, 2 * k];
    let inBlock = 0;
    let all = 0;
    map.forEach((v, i) => {
      all += v * v;
      if (rows.includes(Math.floor(i / P)) && rows.includes(i % P)) inBlock += v * v;
    });
    expect(inBlock / all).toBeGreaterThan(0.9);
    expect(map[0]).toBeLessThan(1e-9);
  });

  it('the 2-D Fourier norm over channels is the root of the sum of the per-channel squares', () => {
    const basis = fourierBasis(P);
    const a = plantedNeuron(P, 2, 0);
    const b = plantedNeuron(P, 5, 1);
    const both = new Float32Array(2 * P * P);
    for (let r = 0; r < P * P; r++) {
      both[2 * r] = a[r] ?? 0;
      both[2 * r + 1] = b[r] ?? 0;
    }
    const ma = fourier2dNorm(a, basis, 1);
    const mb = fourier2dNorm(b, basis, 1);
    const m = fourier2dNorm(both, basis, 2);
    m.forEach((v, i) => expect(v).toBeCloseTo(Math.hypot(ma[i] ?? 0, mb[i] ?? 0), 9));
  });

  it('the tfjs 2-D Fourier norm equals the float64 plain one (the oracle) to float32 precision', () => {
    const C = 5;
    const acts = Float32Array.from({ length: P * P * C }, (_, i) => Math.sin(0.37 * i) + (i % C));
    const want = fourier2dNorm(acts, fourierBasis(P), C);
    const got = fourier2dNormTf(tf, acts, P, C);
    const scale = Math.max(...want);
    got.forEach((v, i) => expect(Math.abs(v - (want[i] ?? 0)) / scale).toBeLessThan(1e-5));
  });

  it('a Fourier embedding puts the tokens on a circle in the order k·a mod p (the clock)', () => {
    const d = 8;
    const wE = plantedEmbedding(P, d, [3, 5], 1);
    const fourier = embedFourier(wE, fourierBasis(P), d);
    const pl = clockPlane(wE, fourier, P, d, 3);
    const r = Array.from({ length: P }, (_, a) => Math.hypot(pl.x[a] ?? 0, pl.y[a] ?? 0));
    for (const v of r) expect(v / (r[0] ?? 1)).toBeCloseTo(1, 1);
    const angle = (a: number): number => Math.atan2(pl.y[a] ?? 0, pl.x[a] ?? 0);
    // Token a and token a' with k·a' = k·a + 1 (mod p) are neighbours: the angle steps by 2π/p.
    const step = Math.abs(((angle(1) - angle(0) + 3 * Math.PI) % (2 * Math.PI)) - Math.PI);
    expect(step).toBeCloseTo(((2 * Math.PI) / P) * 3, 1);
    expect(pl.share).toBeGreaterThan(0.45); // two planted frequencies share the embedding about equally
    expect(pl.share).toBeLessThan(0.55);
  });

  it('ranks neurons by the variance a frequency explains, never a dead one', () => {
    const K = 3;
    const fve = Float64Array.from([0.9, 0.05, 0.05, 0.5, 0.5, 0, Number.NaN, Number.NaN, Number.NaN, 0.95, 0, 0.05]);
    const energy = Float64Array.from([1, 10, 0, 0.1]);
    expect(topNeurons({ nNeurons: 4, K, fve, energy }, 1, 2)).toEqual([{ neuron: 1, fve: 0.5 }, { neuron: 0, fve: 0.9 }]);
    expect(topNeurons({ nNeurons: 4, K, fve, energy }, 1, 10).map((x) => x.neuron)).not.toContain(2);
  });

  it('reads the attention from the last position out of [inputs, heads, q, k] patterns', () => {
    // Two inputs, one head, nCtx 2: last-position rows [0.25, 0.75] and [0.75, 0.25].
    const pattern = Float32Array.from([1, 0, 0.25, 0.75, 1, 0, 0.75, 0.25]);
    const { mean, toFirst } = lastPositionAttention(pattern, 2, 1, 2);
    expect(mean).toEqual([[0.5, 0.5]]);
    expect(Array.from(toFirst[0] ?? [])).toEqual([0.25, 0.75]);
  });

  it('encodes palette PNGs whose pixels read back, byte-identical for the same input', () => {
    const idx = Uint8Array.from([0, 1, 2, 1, 0, 2]);
    const png = encodePalettePng(3, 2, idx, [[0, 0, 0], [255, 0, 0], [0, 0, 255]]);
    expect(Array.from(png.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    const idatAt = Buffer.from(png).indexOf('IDAT');
    const len = new DataView(png.buffer).getUint32(idatAt - 4);
    const raw = inflateSync(png.subarray(idatAt + 4, idatAt + 4 + len));
    expect(Array.from(raw)).toEqual([0, 0, 1, 2, 0, 1, 0, 2]);
    expect(encodePalettePng(3, 2, idx, [[0, 0, 0], [255, 0, 0], [0, 0, 255]])).toEqual(png);
  });
});

/** A tiny li model (d_model 8, 2 heads, 6 neurons) whose embedding carries frequencies 3 and 5. */
function model(): { config: ModelConfig; weights: Table } {
  const config = modelConfig('li', P, { dModel: 8, nHeads: 2, dMlp: 6 });
  const params = initParams(config, 0);
  const wE = params.get('embed.W_E');
  if (wE === undefined) throw new Error('fixture');
  params.set('embed.W_E', { shape: wE.shape, data: plantedEmbedding(P, 8, [3, 5], 2) });
  return { config, weights: weightsTable(config, params) };
}

/** Activations over the grid: neurons 0-2 of frequency 3, 3-5 of frequency 5; logits; a 2-head pattern. */
function activationsTable(config: ModelConfig, withPattern: boolean): Table {
  const n = P * P;
  const hooks = ['blocks.0.mlp.hook_post', 'logits', ...(withPattern ? REPORT_HOOKS : [])];
  const neurons = [0, 1, 2, 3, 4, 5].map((i) => plantedNeuron(P, i < 3 ? 3 : 5, i));
  const rows: number[] = [];
  const names: string[] = [];
  const shapes: number[][] = [];
  const values: number[] = [];
  const lengths: number[] = [];
  for (let r = 0; r < n; r++) {
    const per = {
      'blocks.0.mlp.hook_post': { shape: [6], v: neurons.map((x) => x[r] ?? 0) },
      logits: { shape: [P], v: Array.from({ length: P }, (_, c) => Math.cos((2 * Math.PI * 3 * (Math.floor(r / P) + (r % P) - c)) / P)) },
      'blocks.0.attn.hook_pattern': { shape: [2, 3, 3], v: Array.from({ length: 18 }, (_, i) => (i % 9 >= 6 ? [0.6, 0.3, 0.1][i % 3] ?? 0 : 1 / 3)) },
    } as const;
    for (const h of hooks) {
      const e = per[h as keyof typeof per];
      rows.push(r);
      names.push(h);
      shapes.push([...e.shape]);
      values.push(...e.v);
      lengths.push(e.v.length);
    }
  }
  const meta = new Map([[MODEL_CONFIG_KEY, JSON.stringify(config)], ['bitlens.position', 'last']]);
  return tableOf(ActivationsSchema, [int32(rows), int32(rows.map((r) => Math.floor(r / P))), int32(rows.map((r) => r % P)), utf8(names), int32List(shapes), float32ListFlat(Float32Array.from(values), lengths)], meta);
}

function neuronTable(): Table {
  const K = (P - 1) / 2;
  const fve = [0, 1, 2, 3, 4, 5].map((i) => Float64Array.from({ length: K }, (_, k) => (k + 1 === (i < 3 ? 3 : 5) ? 0.9 - 0.1 * (i % 3) : 0.01)));
  return tableOf(NeuronFreqsSchema, [int32([0, 1, 2, 3, 4, 5]), int32([3, 3, 3, 5, 5, 5]), float64(fve.map((f) => Math.max(...f))), float64([1, 2, 3, 1, 1, 1]), bool(new Array(6).fill(true)), bool(new Array(6).fill(true)), float64List(fve)]);
}

function keyTable(): Table {
  return tableOf(KeyFreqsSchema, [utf8(['embed', 'embed', 'embed', 'neurons', 'neurons']), int32([3, 5, 1, 3, 5]), float64([5, 5, 0.1, 3, 3]), bool([true, true, false, true, true])]);
}

async function runViews(withPattern = true, options = {}): Promise<Table[]> {
  const { config, weights } = model();
  return lastValueFrom(modelViews(tf, options)({ weights: of(weights), activations: of(activationsTable(config, withPattern)), neurons: of(neuronTable()), keys: of(keyTable()) }).pipe(toArray()));
}

describe('modelViews stage', () => {
  it('emits every picture of one model, and readModelViews reads them back', async () => {
    const tables = await runViews();
    expect(tables).toHaveLength(1);
    const v = readModelViews(tables);
    expect(v.p).toBe(P);
    // Three neurons per neuron key frequency (3 and 5), best first: neuron 2 has the most energy of frequency 3.
    expect(v.neurons.map((n) => [n.freq, n.neuron])).toEqual([[3, 2], [3, 1], [3, 0], [5, 3], [5, 4], [5, 5]]);
    expect(v.neurons[0]?.values.length).toBe(P * P);
    expect(Array.from(v.neurons[0]?.values ?? []).slice(0, 5)).toEqual(Array.from(plantedNeuron(P, 3, 2).slice(0, 5)));
    expect([v.fourierEmbed.rows, v.fourierEmbed.cols]).toEqual([P, 8]);
    expect([v.fourierNeurons.rows, v.fourierNeurons.cols, v.fourierLogits.rows]).toEqual([P, P, P]);
    // Logits cos(w_3 (a + b - c)): their 2-D map lives on the (3, 3) block.
    const at = (i: number, j: number): number => v.fourierLogits.data[i * P + j] ?? 0;
    expect(at(5, 5) + at(6, 6)).toBeGreaterThan(100 * (at(1, 1) + at(9, 9)));
    expect(v.attention?.positions).toEqual(['a', 'b', '=']);
    expect(v.attention?.mean.map((m) => m.map((x) => Number(x.toFixed(4))))).toEqual([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1]]);
    expect(v.clock.map((c) => c.freq)).toEqual([3, 5]);
    expect(v.clock[0]?.x.length).toBe(P);
  });

  it('caps neurons and frequencies by its options, and leaves attention out when asked', async () => {
    const v = readModelViews(await runViews(false, { topNeurons: 1, maxFrequencies: 1, attention: false }));
    expect(v.neurons.map((n) => n.neuron)).toEqual([2]);
    expect(v.clock).toHaveLength(1);
    expect(v.attention).toBeUndefined();
  });

  it('fails with a typed error naming the hook when the attention pattern was not captured', async () => {
    await expect(runViews(false)).rejects.toMatchObject({ code: 'NOT_FOUND', site: { field: 'blocks.0.attn.hook_pattern' } });
  });

  it('rejects bad options before any work', () => {
    expect(() => modelViews(tf, { topNeurons: 0 })).toThrow(BitlensError);
    expect(() => modelViews(tf, { maxFrequencies: 1.5 })).toThrow(/maxFrequencies/);
  });
});

describe('embedSpectra stage and the key-frequency evolution', () => {
  it('gives one norm per frequency and checkpoint, largest at the planted keys', async () => {
    const { config } = model();
    const params = initParams(config, 1);
    const wE = params.get('embed.W_E');
    if (wE === undefined) throw new Error('fixture');
    const at = (epoch: number, keys: number[]) => {
      const ps = new Map(params);
      ps.set('embed.W_E', { shape: wE.shape, data: plantedEmbedding(P, 8, keys, epoch) });
      return checkpointTable(config, epoch, ps);
    };
    const spectra = await lastValueFrom(of(at(100, [2]), at(0, [4])).pipe(embedSpectra(), toArray()));
    expect(spectra.map((t) => t.numRows)).toEqual([6, 6]);
    // The progress measures' rows carry each checkpoint's key frequencies.
    const progress = tableOf(new Schema([field('epoch', new Int32()), field('key_freqs', listOf(new Int32()))]), [int32([100, 0]), int32List([[2], []])]);
    const e = frequencyEvolution(spectra, [progress]);
    expect(e?.epoch).toEqual([0, 100]);
    const argmax = (row: readonly number[]): number => row.indexOf(Math.max(...row)) + 1;
    expect(e?.norms.map(argmax)).toEqual([4, 2]);
    expect(e?.keys).toEqual([[], [2]]);
    expect(frequencyEvolution([])).toBeUndefined();
  });
});
