import { activations, frequencyLossesStage, gridDataset, gridLogits, crossEntropy, keyFrequencies, loadModel, neuronFrequencies } from '@bitlens/circuits';
import { initTfjsBackend, type Tf } from '@bitlens/engine';
import { type HookName, type ModelConfig, effectiveHostParams, forwardFull, initParams, modelConfig, readWeightsTable, toTensors, weightsTable } from '@bitlens/model';
import { createQuantizerRegistry, symmetricQuantizer } from '@bitlens/quantization';
import type { Table } from 'apache-arrow';
import { type Observable, lastValueFrom, of, shareReplay, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { PTQ_CALIBRATION_KEY, calibrationSites, w8a8Quantize, w8a8Report } from './index.js';

let tf: Tf;
beforeAll(async () => {
  ({ tf } = await initTfjsBackend('wasm'));
});

const P = 11;
const OVER = { dModel: 16, nHeads: 2, dMlp: 32 };
const registry = createQuantizerRegistry();
const grid = gridDataset({ p: P, split: { fraction: 0.5, seed: 3, shuffle: 'mulberry32' } });

function sourceTable(cfg: ModelConfig, seed = 4): Table {
  const latent = initParams(cfg, seed);
  return weightsTable(cfg, latent, effectiveHostParams(cfg, latent, registry));
}

async function quantize(source: Table, options: Parameters<typeof w8a8Quantize>[1] = {}): Promise<Table> {
  return lastValueFrom(w8a8Quantize(tf, options)({ weights: of(source), dataset: grid() }));
}

const invalid = (field: string): unknown => expect.objectContaining({ code: 'INVALID_OPTION', site: expect.objectContaining({ field }) });

describe('W8A8 options and calibration sites', () => {
  it('rejects bad options when the stage is built, naming the field', () => {
    expect(() => w8a8Quantize(tf, { calibrationBatches: 0 })).toThrow(invalid('calibrationBatches'));
    expect(() => w8a8Quantize(tf, { calibrationBatches: 2.5 })).toThrow(invalid('calibrationBatches'));
    expect(() => w8a8Quantize(tf, { calibrationBatchSize: 0 })).toThrow(invalid('calibrationBatchSize'));
    expect(() => w8a8Quantize(tf, { weightBits: 9 })).toThrow(invalid('weightBits'));
    expect(() => w8a8Quantize(tf, { estimator: 'percentile' as 'minmax' })).toThrow(invalid('estimator'));
    expect(() => w8a8Quantize(tf, { momentum: 1 })).toThrow(invalid('momentum'));
    expect(() => w8a8Quantize(tf, { calibration: 16 } as never)).toThrow(invalid('calibration'));
  });

  it('visits the linear inputs in forward order; the unembedding reads the final norm (li) or resid_post (nanda)', () => {
    const li = modelConfig('li', P, OVER);
    expect(calibrationSites(li, ['attn.W_Q', 'attn.W_K', 'attn.W_V', 'attn.W_O', 'mlp.W_in', 'mlp.W_out', 'unembed.W_U']).map((s) => s.hook)).toEqual([
      'blocks.0.hook_resid_pre', 'blocks.0.attn.hook_z', 'blocks.0.hook_resid_mid', 'blocks.0.mlp.hook_post', 'ln_final.hook_out',
    ]);
    expect(calibrationSites(modelConfig('nanda', P, OVER), ['mlp.W_in', 'unembed.W_U']).map((s) => [s.hook, s.layers])).toEqual([
      ['blocks.0.hook_resid_mid', ['blocks.0.mlp.W_in']], ['blocks.0.hook_resid_post', ['unembed.W_U']],
    ]);
  });
});

describe('w8a8Quantize', () => {
  const cfg = modelConfig('li', P, { ...OVER, quantizer: 'ternary-absmean', attention: 'gated' });
  const source = sourceTable(cfg);

  it('emits an ordinary weights table: latent kept, effective = int8 of the trained effective weights, ranges in the config', async () => {
    const q = await quantize(source);
    const back = readWeightsTable(q);
    const src = readWeightsTable(source);
    const ptq = back.config.ptq;
    expect(ptq?.layers).toEqual(['attn.W_Q', 'attn.W_K', 'attn.W_V', 'attn.W_O', 'mlp.W_in', 'mlp.W_out', 'embed.W_E', 'unembed.W_U']);
    expect(Object.keys(ptq?.inputRanges ?? {}).sort()).toEqual(['blocks.0.attn.W_K', 'blocks.0.attn.W_O', 'blocks.0.attn.W_Q', 'blocks.0.attn.W_V', 'blocks.0.mlp.W_in', 'blocks.0.mlp.W_out', 'unembed.W_U']);
    for (const [lo, hi] of Object.values(ptq?.inputRanges ?? {})) expect(lo <= 0 && hi >= 0 && hi > lo).toBe(true);
    expect(ptq?.inputRanges['blocks.0.attn.W_Q']).toEqual(ptq?.inputRanges['blocks.0.attn.W_K']);
    expect(back.config.attention).toEqual(cfg.attention);
    expect(back.latent.get('blocks.0.mlp.W_in')?.data).toEqual(src.latent.get('blocks.0.mlp.W_in')?.data);
    // Ternary block weights are on the int8 grid already (kept exactly); the embedding is rounded; the gate is not quantized.
    expect(back.effective.get('blocks.0.mlp.W_in')?.data).toEqual(src.effective.get('blocks.0.mlp.W_in')?.data);
    expect(back.effective.get('embed.W_E')?.data).toEqual(symmetricQuantizer(8).quantizeHost(src.effective.get('embed.W_E')?.data ?? new Float32Array()).values);
    expect(back.effective.get('blocks.0.attn.gate.W')?.data).toEqual(src.effective.get('blocks.0.attn.gate.W')?.data);
    // The effective column is what the config says: the training quantizer, then int8.
    const again = effectiveHostParams(back.config, back.latent, registry);
    for (const [n, t] of back.effective) expect(again.get(n)?.data, n).toEqual(t.data);
    const cal = JSON.parse(q.schema.metadata.get(PTQ_CALIBRATION_KEY) ?? '{}') as Record<string, unknown>;
    expect(cal).toEqual({ batches: 16, batchSize: Math.ceil(Math.floor(0.5 * P * P) / 16), trainRows: Math.floor(0.5 * P * P), estimator: 'running-minmax', momentum: 0.9, seed: 0 });
    expect(await quantize(source)).toBeDefined();
    expect(readWeightsTable(await quantize(source)).config).toEqual(back.config); // deterministic
  });

  it('calibrates in forward order on the training rows: each input range is seen with the weights and the earlier inputs quantized', async () => {
    // One batch holding every training row, min-max estimator: the ranges are plain extremes and can be recomputed.
    const fp = modelConfig('li', P, OVER);
    const src = sourceTable(fp);
    const q = readWeightsTable(await quantize(src, { calibrationBatches: 1, estimator: 'minmax' }));
    const ranges = q.config.ptq?.inputRanges ?? {};
    const train: number[] = [];
    const g = (await lastValueFrom(grid())).getChild('train');
    for (let r = 0; r < P * P; r++) if (g?.get(r) === true) train.push(r);
    const tokens = (): ReturnType<Tf['tensor2d']> => tf.tensor2d(train.flatMap((r) => [Math.floor(r / P), r % P, P]), [train.length, 3], 'int32');
    const extremes = (c: ModelConfig, hook: HookName): [number, number] => {
      const Pt = toTensors(tf, q.effective);
      const out = tf.tidy(() => {
        const x = forwardFull(tf, c, Pt, tokens(), { capture: (h) => h === hook }).cache.get(hook);
        return [x === undefined ? NaN : (tf.min(x).dataSync()[0] ?? NaN), x === undefined ? NaN : (tf.max(x).dataSync()[0] ?? NaN)] as [number, number];
      });
      tf.dispose([...Pt.values()]);
      return [Math.min(out[0], 0), Math.max(out[1], 0)];
    };
    expect(extremes(fp, 'blocks.0.hook_resid_pre')).toEqual(ranges['blocks.0.attn.W_Q']);
    // z depends on the quantized Q/K/V inputs: recompute it with only that range in place.
    const qkv = { weightBits: 8, activationBits: 8, layers: ['attn.W_Q', 'attn.W_K', 'attn.W_V'] as const, inputRanges: { 'blocks.0.attn.W_Q': ranges['blocks.0.attn.W_Q'] ?? [0, 0], 'blocks.0.attn.W_K': ranges['blocks.0.attn.W_K'] ?? [0, 0], 'blocks.0.attn.W_V': ranges['blocks.0.attn.W_V'] ?? [0, 0] } };
    const withQkv: ModelConfig = { ...fp, ptq: { ...qkv, layers: [...qkv.layers] } };
    expect(extremes(withQkv, 'blocks.0.attn.hook_z')).toEqual(ranges['blocks.0.attn.W_O']);
    expect(extremes(fp, 'blocks.0.attn.hook_z')).not.toEqual(ranges['blocks.0.attn.W_O']);
  });

  it('embed / unembed are options; a model already quantized, or without training rows, is rejected', async () => {
    const q = readWeightsTable(await quantize(sourceTable(modelConfig('nanda', P, OVER)), { embed: false, unembed: false, calibrationBatches: 2 }));
    expect(q.config.ptq?.layers).not.toContain('embed.W_E');
    expect(q.config.ptq?.inputRanges['unembed.W_U']).toBeUndefined();
    const twice = await quantize(sourceTable(modelConfig('li', P, OVER)));
    await expect(quantize(twice)).rejects.toThrow(/INVALID_CONFIG.*'ptq'/);
    const noSplit = gridDataset({ p: P });
    await expect(lastValueFrom(w8a8Quantize(tf)({ weights: of(sourceTable(modelConfig('li', P, OVER))), dataset: noSplit() }))).rejects.toThrow(/INVALID_DATA.*dataset.train/);
  });
});

describe('w8a8Report', () => {
  /** The circuits chain of one model: activations → neurons → keys → restricted/excluded losses. */
  function analysis(w: Table): { keys: Observable<Table>; losses: Observable<Table> } {
    const acts = of(w).pipe(activations(tf, { hooks: '^(blocks\\.0\\.mlp\\.hook_(pre|post)|logits)$' }), shareReplay());
    const neurons = acts.pipe(neuronFrequencies(tf, { minCount: 1 }), shareReplay());
    const keys = keyFrequencies({ rule: { kind: 'gap', maxKeys: 5 } })({ weights: of(w), neurons }).pipe(shareReplay());
    const losses = frequencyLossesStage({ keys: 'embed' })({ keys, activations: acts, dataset: grid() });
    return { keys, losses };
  }

  it('reports accuracy before/after, per-layer SQNR and circuit fidelity against the reference analysis', async () => {
    const cfg = modelConfig('li', P, { ...OVER, quantizer: 'ternary-absmean' });
    const ref = sourceTable(cfg);
    const q = await quantize(ref);
    const a = analysis(ref);
    const b = analysis(q);
    const [out] = await lastValueFrom(
      w8a8Report(tf, { model: 'ternary' })({ reference: of(ref), quantized: of(q), dataset: grid(), referenceLosses: a.losses, quantizedLosses: b.losses, referenceKeys: a.keys, quantizedKeys: b.keys }).pipe(toArray()),
    );
    const row: Table | undefined = out;
    const num = (c: string): number => Number(row?.getChild(c)?.get(0));
    const list = (c: string): unknown[] => Array.from((row?.getChild(c)?.get(0) as { toArray(): ArrayLike<unknown> }).toArray());
    expect(row?.getChild('model')?.get(0)).toBe('ternary');
    expect(row?.getChild('quantizer')?.get(0)).toBe('ternary-absmean');
    expect(num('calibration_batches')).toBe(16);
    // Loss before = the reference model's own loss over all inputs (an independent path: the fast forward).
    const labels = Int32Array.from({ length: P * P }, (_, r) => (Math.floor(r / P) + (r % P)) % P);
    expect(num('loss_before')).toBeCloseTo(crossEntropy(gridLogits(tf, loadModel(ref)), labels, P).loss, 5);
    expect(num('loss_after')).toBeCloseTo(crossEntropy(gridLogits(tf, loadModel(q)), labels, P).loss, 5);
    expect(num('loss_after')).not.toBe(num('loss_before'));
    expect(num('prediction_agreement')).toBeGreaterThan(0.5);
    const layers = list('sqnr_layers');
    expect(layers).toEqual(['embed.W_E', 'blocks.0.attn.W_Q', 'blocks.0.attn.W_K', 'blocks.0.attn.W_V', 'blocks.0.attn.W_O', 'blocks.0.mlp.W_in', 'blocks.0.mlp.W_out', 'unembed.W_U']);
    const wdb = list('weight_sqnr_db') as number[];
    expect(wdb[layers.indexOf('blocks.0.mlp.W_in')]).toBe(Number.POSITIVE_INFINITY); // ternary weights: exact
    expect(wdb[layers.indexOf('embed.W_E')]).toBeGreaterThan(30);
    expect(wdb[layers.indexOf('embed.W_E')]).toBeLessThan(60);
    const odb = list('output_sqnr_db') as number[];
    expect(odb.every((x) => Number.isFinite(x) && x > 10)).toBe(true); // activations are quantized everywhere: never exact
    expect(num('min_output_sqnr_db')).toBe(Math.min(...odb));
    expect(Number.isFinite(num('restricted_loss_after'))).toBe(true);
    expect(num('embed_key_jaccard')).toBeGreaterThanOrEqual(0);
    expect(num('embed_key_jaccard')).toBeLessThanOrEqual(1);
  });

  it('rejects a quantized table that is not the reference model quantized', async () => {
    const ref = sourceTable(modelConfig('li', P, OVER));
    const other = await quantize(sourceTable(modelConfig('li', P, { ...OVER, attention: 'clipped' })));
    const a = analysis(ref);
    const run = lastValueFrom(w8a8Report(tf)({ reference: of(ref), quantized: of(other), dataset: grid(), referenceLosses: a.losses, quantizedLosses: a.losses, referenceKeys: a.keys, quantizedKeys: a.keys }));
    await expect(run).rejects.toThrow(/INVALID_CONFIG.*'quantized'/);
    await expect(lastValueFrom(w8a8Report(tf)({ reference: of(ref), quantized: of(ref), dataset: grid(), referenceLosses: a.losses, quantizedLosses: a.losses, referenceKeys: a.keys, quantizedKeys: a.keys }))).rejects.toThrow(/quantized\.ptq/);
  });
});

