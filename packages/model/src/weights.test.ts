import { fileURLToPath } from 'node:url';
import { initTfjsBackend, type Tf } from '@bitlens/engine';
import { assertSchema } from '@bitlens/core';
import { readSafetensors, writeSafetensors, type TensorEntry } from '@bitlens/safetensors';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelConfig } from './config.js';
import { forwardLast } from './forward.js';
import { initParams } from './params.js';
import { toTensors } from './tensors.js';
import { exportTransformerLens, importTransformerLens } from './transformer-lens.js';
import { CheckpointSchema, checkpointTable, readWeightsTable, weightsTable, WeightsSchema } from './weights.js';

/** The shared fixtures folder sits beside the repository (`<repo>/../shared`), as in CI's clone. */
const FIXTURE = fileURLToPath(new URL('../../../../shared/fixtures/progress_measures_p113_wd0.1_seed1.safetensors', import.meta.url));

let tf: Tf;
beforeAll(async () => {
  ({ tf } = await initTfjsBackend('wasm'));
});

describe('weights tables', () => {
  const cfg = modelConfig('li', 23, { dModel: 32, nHeads: 4, dMlp: 64, quantizer: 'binary-sign' });
  it('round-trip latent, effective, quantizer and config; pass their declared schemas', () => {
    const latent = initParams(cfg, 5);
    const effective = new Map([...latent].map(([n, t]) => [n, { shape: t.shape, data: t.data.map((x) => (n.startsWith('blocks') ? Math.sign(x) : x)) }]));
    const w = weightsTable(cfg, latent, effective);
    expect(() => assertSchema(WeightsSchema, w, { stage: 'test', side: 'output', exact: true })).not.toThrow();
    const back = readWeightsTable(w);
    expect(back.config).toEqual(cfg);
    expect(back.latent.get('blocks.0.mlp.W_in')?.data).toEqual(latent.get('blocks.0.mlp.W_in')?.data);
    expect(back.effective.get('blocks.0.mlp.W_in')?.data).toEqual(effective.get('blocks.0.mlp.W_in')?.data);
    expect(back.quantizer.get('blocks.0.attn.W_Q')).toBe('binary-sign');
    expect(back.quantizer.get('embed.W_E')).toBe('fp32');
    const ck = checkpointTable(cfg, 42, latent, effective);
    expect(() => assertSchema(CheckpointSchema, ck, { stage: 'test', side: 'output', exact: true })).not.toThrow();
    expect(readWeightsTable(ck).epoch).toBe(42);
  });
  it('rejects parameters that do not fit the config, naming the tensor', () => {
    const latent = initParams(cfg, 5);
    latent.set('unembed.W_U', { shape: [32, 22], data: new Float32Array(32 * 22) });
    expect(() => weightsTable(cfg, latent)).toThrow(/SHAPE_MISMATCH.*unembed\.W_U/);
  });
});

describe('TransformerLens import / export', () => {
  it('reads the real progress-measures checkpoint and gets accuracy 1.0 over all p^2 pairs (loss ~3.5e-7)', () => {
    const cfg = modelConfig('nanda', 113);
    const params = importTransformerLens(new Uint8Array(readFileSync(FIXTURE)), cfg);
    const P = toTensors(tf, params);
    const p = 113;
    let correct = 0;
    let lossSum = 0;
    const batch = 4096;
    for (let start = 0; start < p * p; start += batch) {
      const n = Math.min(batch, p * p - start);
      const toks = new Int32Array(n * 3);
      for (let i = 0; i < n; i++) {
        toks[3 * i] = Math.floor((start + i) / p);
        toks[3 * i + 1] = (start + i) % p;
        toks[3 * i + 2] = p;
      }
      const logits = tf.tidy(() => forwardLast(tf, cfg, P, tf.tensor2d(toks, [n, 3], 'int32')));
      const L = logits.dataSync() as Float32Array;
      logits.dispose();
      for (let i = 0; i < n; i++) {
        const label = ((toks[3 * i] ?? 0) + (toks[3 * i + 1] ?? 0)) % p;
        let max = -Infinity;
        let arg = -1;
        for (let c = 0; c < p; c++) {
          const v = L[i * p + c] ?? 0;
          if (v > max) [max, arg] = [v, c];
        }
        let se = 0;
        for (let c = 0; c < p; c++) se += Math.exp((L[i * p + c] ?? 0) - max); // float64 log-sum-exp
        lossSum += Math.log(se) - ((L[i * p + label] ?? 0) - max);
        if (arg === label) correct++;
      }
    }
    tf.dispose([...P.values()]);
    expect(correct / (p * p)).toBe(1);
    const loss = lossSum / (p * p);
    expect(Math.abs(loss - 3.5197e-7) / 3.5197e-7).toBeLessThan(0.05);
    // expected.json: loss_all 3.52e-7 (float32 forward, float64 loss); the float32 sums differ slightly in order
  });

  const cfg = modelConfig('nanda', 23, { dModel: 32, nHeads: 4, dMlp: 64 });
  const base = (): Map<string, TensorEntry> => new Map([...initParams(cfg, 1)].map(([n, t]) => [n, { dtype: 'F32', shape: t.shape, data: t.data } as TensorEntry]));

  it('ignores TransformerLens buffers and round-trips through export', () => {
    const m = base();
    m.set('blocks.0.attn.mask', { dtype: 'BOOL', shape: [3, 3], data: new Uint8Array(9) });
    m.set('blocks.0.attn.IGNORE', { dtype: 'F32', shape: [], data: new Float32Array([-1e5]) });
    const params = importTransformerLens(writeSafetensors(m), cfg);
    expect(params.get('embed.W_E')?.data).toEqual(m.get('embed.W_E')?.data);
    const again = importTransformerLens(exportTransformerLens(cfg, params), cfg);
    expect(again.get('blocks.0.mlp.W_out')?.data).toEqual(params.get('blocks.0.mlp.W_out')?.data);
  });
  it('throws typed errors naming the tensor: missing, wrong shape, wrong dtype, unknown', () => {
    const missing = base();
    missing.delete('blocks.0.attn.W_K');
    expect(() => importTransformerLens(writeSafetensors(missing), cfg)).toThrow(/NOT_FOUND.*blocks\.0\.attn\.W_K/);
    const shape = base();
    shape.set('embed.W_E', { dtype: 'F32', shape: [23, 32], data: new Float32Array(23 * 32) });
    expect(() => importTransformerLens(writeSafetensors(shape), cfg)).toThrow(/SHAPE_MISMATCH.*embed\.W_E/);
    const dtype = base();
    dtype.set('unembed.b_U', { dtype: 'I32', shape: [23], data: new Int32Array(23) });
    expect(() => importTransformerLens(writeSafetensors(dtype), cfg)).toThrow(/SCHEMA_MISMATCH.*unembed\.b_U/);
    const extra = base();
    extra.set('blocks.1.attn.W_Q', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    expect(() => importTransformerLens(writeSafetensors(extra), cfg)).toThrow(/SCHEMA_MISMATCH.*blocks\.1\.attn\.W_Q/);
  });
  it('li: accepts all-zero TransformerLens biases, rejects non-zero ones; ln_final.w is read', () => {
    const li = modelConfig('li', 23, { dModel: 32, nHeads: 4, dMlp: 64 });
    const params = initParams(li, 2);
    params.set('ln_final.w', { shape: [32], data: new Float32Array(32).fill(1.5) });
    const bytes = exportTransformerLens(li, params, { zeroBiases: true });
    expect(readSafetensors(bytes).tensors.has('blocks.0.attn.b_Q')).toBe(true);
    expect(importTransformerLens(bytes, li).get('ln_final.w')?.data[0]).toBe(1.5);
    const file = readSafetensors(bytes).tensors as Map<string, TensorEntry>;
    file.set('blocks.0.mlp.b_in', { dtype: 'F32', shape: [64], data: new Float32Array(64).fill(0.1) });
    expect(() => importTransformerLens(writeSafetensors(file), li)).toThrow(/SCHEMA_MISMATCH.*blocks\.0\.mlp\.b_in/);
  });
});
