import { type Tf, initTfjsBackend } from '@bitlens/engine';
import { type HostTensor, initParams, modelConfig, weightsTable } from '@bitlens/model';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeModel, loadModel } from './index.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await initTfjsBackend('wasm')).tf;
});

describe('analyzeModel on both presets and quantized weights', () => {
  it('runs every analysis on a li model and reads the effective (quantized) or latent column as asked', () => {
    const cfg = modelConfig('li', 11, { dModel: 8, nHeads: 2, dMlp: 16, quantizer: 'ternary-centred' });
    const latent = initParams(cfg, 1);
    // A stand-in ternary quantization of the block weights: sign(w) * mean|w| (the analyses only read the values).
    const effective = new Map<string, HostTensor>();
    for (const [n, t] of latent) {
      if (!n.startsWith('blocks.')) {
        effective.set(n, t);
        continue;
      }
      const s = t.data.reduce((a, v) => a + Math.abs(v), 0) / t.data.length;
      effective.set(n, { shape: t.shape, data: t.data.map((v) => Math.sign(v) * s) });
    }
    const table = weightsTable(cfg, latent, effective);
    const eff = loadModel(table);
    const lat = loadModel(table, 'latent');
    expect(eff.params.get('blocks.0.mlp.W_in')?.data[0]).not.toBe(lat.params.get('blocks.0.mlp.W_in')?.data[0]);
    const a = analyzeModel(tf, eff, { train: Array.from({ length: 121 }, (_, i) => i % 3 === 0) });
    const b = analyzeModel(tf, lat, { gradientSymmetricity: false });
    expect(a.preset).toBe('li');
    expect(a.column).toBe('effective');
    expect(a.neurons.nNeurons).toBe(16);
    expect(a.train?.count).toBe(41);
    expect(a.frequency?.perKey.length).toBe(a.lossKeys.length);
    expect(a.clockPizza.gradientSymmetricity).toBeGreaterThan(-1);
    expect(b.clockPizza.gradientSymmetricity).toBeUndefined();
    expect(a.all.loss).not.toBeCloseTo(b.all.loss, 6);
  });

  it('runs on a nanda model with explicit loss keys', () => {
    const cfg = modelConfig('nanda', 11, { dModel: 8, nHeads: 2, dMlp: 16 });
    const r = analyzeModel(tf, loadModel(weightsTable(cfg, initParams(cfg, 2))), { lossKeys: [1, 3], gradientSymmetricity: false });
    expect(r.lossKeys).toEqual([1, 3]);
    expect(r.frequency?.perKey.map((x) => x.k)).toEqual([1, 3]);
    expect(r.embed.rowNorms.length).toBe(11);
  });
});
