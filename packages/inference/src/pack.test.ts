import { errorOf } from '@bitlens/core/testing';
import { createKernelRegistry, reference, tensor, unpackI2S } from '@bitlens/kernels';
import { effectiveHostParams, initParams, modelConfig, readWeightsTable, weightsTable } from '@bitlens/model';
import { createQuantizerRegistry } from '@bitlens/quantization';
import { describe, expect, it } from 'vitest';
import { randomWeights } from '../test/fixtures.js';
import { checkPackable, packModel } from './index.js';
import { linearMatrix } from './internal/layout.js';

describe('packModel', () => {
  it('packs the six quantized layers of a ternary li model as I2_S rows [out, in] with their effective codes and scales', () => {
    const t = randomWeights('li', 11, { quantizer: 'ternary-absmean' });
    const m = packModel(t), eff = readWeightsTable(t).effective;
    expect(m.precision).toBe('ternary');
    expect([...m.linears.keys()]).toEqual(['blocks.0.attn.W_Q', 'blocks.0.attn.W_K', 'blocks.0.attn.W_V', 'blocks.0.attn.W_O', 'blocks.0.mlp.W_in', 'blocks.0.mlp.W_out']);
    expect([...m.linears.values()].map((l) => [l.outDim, l.inDim])).toEqual([[128, 128], [128, 128], [128, 128], [128, 128], [512, 128], [128, 512]]);
    for (const l of m.linears.values()) {
      const e = eff.get(l.name);
      if (e === undefined) throw new Error(l.name);
      // codes * scale, transposed back, is the effective matrix y = x W uses
      const mat = linearMatrix(m.config, l.name, e);
      expect(Array.from(unpackI2S(l.packed, l.inDim).data)).toEqual(Array.from(l.codes));
      for (let o = 0; o < l.outDim; o += 17) for (let i = 0; i < l.inDim; i += 13) expect(Math.fround((l.codes[o * l.inDim + i] ?? 0) * l.scale)).toBe(mat.matrix[i * l.outDim + o]);
      expect(l.formulaMismatches).toBe(0);
      expect(new Set(l.codes)).toEqual(new Set([-1, 0, 1]));
    }
  });
  it('orients W_Q [h, d, dh] as the [d, h*dh] matrix of y = x W (head h, column e -> output h * dh + e)', async () => {
    const t = randomWeights('nanda', 7, { quantizer: 'binary-scaled', dModel: 16, nHeads: 2 });
    const m = packModel(t), l = m.linears.get('blocks.0.attn.W_Q'), w = readWeightsTable(t).effective.get('blocks.0.attn.W_Q');
    if (l === undefined || w === undefined) throw new Error('missing W_Q');
    const x = tensor('float32', [1, 16], Array.from({ length: 16 }, (_, i) => (i % 5) - 2));
    const y = await createKernelRegistry([reference]).run('TernaryMatMul', { x, w: l.packed }, { k: 16, format: 'i2s', scale: l.scale }, 'reference');
    for (let h = 0; h < 2; h++) {
      for (let e = 0; e < 8; e++) {
        let s = 0;
        for (let i = 0; i < 16; i++) s += (x.data[i] ?? 0) * (w.data[(h * 16 + i) * 8 + e] ?? 0);
        expect(y.data[h * 8 + e]).toBeCloseTo(s, 5);
      }
    }
    expect(new Set(l.codes)).toEqual(new Set([-1, 1]));
  });
  it('packs only the layers the config quantizes', () => {
    const m = packModel(randomWeights('li', 11, { quantizer: 'binary-sign', quantizedLayers: ['mlp.W_in', 'mlp.W_out'] }));
    expect([...m.linears.keys()]).toEqual(['blocks.0.mlp.W_in', 'blocks.0.mlp.W_out']);
    expect([...m.linears.values()].map((l) => l.scale)).toEqual([1, 1]);
  });
});

describe('bad input: a checkpoint whose precision cannot be packed is a typed error naming the field, before any work', () => {
  it('rejects an fp32 checkpoint, also for the binary kernels', () => {
    const t = randomWeights('li', 11, {});
    for (const options of [{}, { precision: 'binary' as const }]) {
      const e = errorOf(() => packModel(t, options));
      expect([e.code, e.site.stage, e.site.field]).toEqual(['INVALID_OPTION', 'inference/pack', 'quantizer']);
      expect(e.site.found).toContain('"fp32"');
    }
    expect(errorOf(() => checkPackable(modelConfig('li', 11))).site.field).toBe('quantizer');
  });
  it('rejects a ternary checkpoint for the binary kernels (its codes include 0) and an unknown precision', () => {
    const cfg = modelConfig('li', 11, { quantizer: 'ternary-centred' });
    expect(checkPackable(cfg)).toEqual({ quantizer: 'ternary-centred', precision: 'ternary' });
    const e = errorOf(() => checkPackable(cfg, { precision: 'binary' }));
    expect([e.code, e.site.field, e.site.found]).toEqual(['INVALID_OPTION', 'quantizer', 'ternary-centred (ternary codes include 0)']);
    expect(checkPackable(modelConfig('li', 11, { quantizer: 'binary-scaled' }), { precision: 'ternary' }).precision).toBe('ternary'); // ±1 fits the ternary kernels
    expect(errorOf(() => checkPackable(cfg, { precision: 'int4' as never })).site.field).toBe('precision');
  });
  it('rejects an effective tensor that is not per-tensor ternary (INVALID_DATA naming the tensor)', () => {
    const cfg = modelConfig('li', 11, { quantizer: 'ternary-absmean' });
    const latent = initParams(cfg, 2), eff = effectiveHostParams(cfg, latent, createQuantizerRegistry());
    const wq = eff.get('blocks.0.attn.W_K');
    if (wq === undefined) throw new Error('W_K');
    const bad = Float32Array.from(wq.data);
    bad[5] = Math.max(...Array.from(bad, Math.abs)) / 2; // below the scale: the scale stays, one value is off-grid
    eff.set('blocks.0.attn.W_K', { shape: wq.shape, data: bad });
    const e = errorOf(() => packModel(weightsTable(cfg, latent, eff)));
    expect([e.code, e.site.field]).toEqual(['INVALID_DATA', 'blocks.0.attn.W_K.effective']);
    expect(e.site.found).toContain('flat index 5');
  });
});
