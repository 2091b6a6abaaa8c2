import { initTfjsBackend, type Tf } from '@bitlens/engine';
import { mulberry32 } from '@bitlens/core';
import type { Scalar, Tensor } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '@bitlens/core/testing';
import {
  activationInt8Codes, binaryCodes, binaryScaled, binarySign, BUILTIN_QUANTIZERS, createQuantizerRegistry, fp32,
  quantizeActivationsInt8, steQuantize, ternaryAbsmean, ternaryCentred, ternaryCodes, type WeightQuantizer,
} from './index.js';

const rng = mulberry32;
function randomMatrix(n: number, seed: number, scale = 1, shift = 0): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale + shift);
}

describe('host quantizers (hand checks of docs/science.md#weight-quantizers)', () => {
  it('binarize([[0.3,-0.1],[0.2,0.0]]) uses alpha = 0.1 -> [[+1,-1],[+1,-1]]', () => {
    const w = new Float32Array([0.3, -0.1, 0.2, 0.0]);
    expect(Array.from(binarySign.quantizeHost(w).values)).toEqual([1, -1, 1, -1]);
    const scaled = binaryScaled.quantizeHost(w);
    expect(Array.from(scaled.codes ?? [])).toEqual([1, -1, 1, -1]);
    expect(scaled.scale).toBeCloseTo(0.15, 7); // mean|W| = 0.6 / 4
  });

  it('b1.58 quantize([[0.5,-0.05,1.2,-0.9]]): gamma = 0.6625, codes [1,0,1,-1]', () => {
    const { codes, scale } = ternaryCodes(new Float32Array([0.5, -0.05, 1.2, -0.9]), 'absmean');
    expect(Array.from(codes)).toEqual([1, 0, 1, -1]);
    expect(scale).toBeCloseTo(0.6625, 7);
  });

  it('ternary-centred values lie in {-s, 0, s} with s = mean|W - mean W|', () => {
    const w = randomMatrix(64, 3, 1, 0.4); // shifted: centring matters
    const r = ternaryCentred.quantizeHost(w);
    const m = w.reduce((a, b) => a + b, 0) / w.length;
    const s = w.reduce((a, b) => a + Math.abs(b - m), 0) / w.length;
    expect(r.scale).toBeCloseTo(s, 6);
    const distinct = new Set(Array.from(r.values));
    expect(distinct).toEqual(new Set([Math.fround(-s), 0, Math.fround(s)]));
    // without the centring, a shifted matrix would give a very different code histogram
    const uncentred = ternaryAbsmean.quantizeHost(w).codes ?? new Int8Array(0);
    expect(Array.from(uncentred)).not.toEqual(Array.from(r.codes ?? []));
  });

  it('binary codes are always +-1 (Sign(0) = -1) and round half to even matches tf.round', () => {
    expect(Array.from(binaryCodes(new Float32Array([1, 1, 1, 1]), 'sign').codes)).toEqual([-1, -1, -1, -1]);
    // x / (gamma + eps) = +-0.5 exactly is impossible with eps; use centred: W' / s = 0.5 -> 0, 1.5 -> 2 -> clip 1
    const w = new Float32Array([-1.5, -0.5, 0.5, 1.5]); // mean 0, s = 1
    expect(Array.from(ternaryCentred.quantizeHost(w).codes ?? [])).toEqual([-1, 0, 0, 1]);
  });
});

describe.each(['cpu', 'wasm'] as const)('tfjs quantizers on %s', (backend) => {
  let tf: Tf;
  beforeAll(async () => {
    tf = (await initTfjsBackend(backend)).tf;
    expect(tf.getBackend()).toBe(backend);
  });

  const read = (t: Tensor): number[] => Array.from(t.dataSync());

  it('reproduce the hand checks', () => {
    tf.tidy(() => {
      const w = tf.tensor2d([[0.3, -0.1], [0.2, 0.0]]);
      expect(read(binarySign.quantize(tf, w))).toEqual([1, -1, 1, -1]);
      const b = binaryScaled.codes?.(tf, w);
      expect(b === undefined ? [] : read(b.codes)).toEqual([1, -1, 1, -1]);
      const t = ternaryAbsmean.codes?.(tf, tf.tensor2d([[0.5, -0.05, 1.2, -0.9]]));
      expect(t === undefined ? [] : read(t.codes)).toEqual([1, 0, 1, -1]);
      expect(t?.codes.dtype).toBe('int32');
      expect(t === undefined ? 0 : t.scale.dataSync()[0]).toBeCloseTo(0.6625, 6);
      const v = read(ternaryAbsmean.quantize(tf, tf.tensor2d([[0.5, -0.05, 1.2, -0.9]])));
      expect(v.map((x) => x / 0.6625)).toEqual([1, 0, 1, -1].map((c) => expect.closeTo(c, 5)));
      expect(read(ternaryCentred.quantize(tf, tf.tensor1d([-1.5, -0.5, 0.5, 1.5])))).toEqual([-1, 0, 0, 1]);
    });
  });

  it.each(BUILTIN_QUANTIZERS.map((q) => [q.name, q] as const))('%s agrees with its host reference', (_name, q: WeightQuantizer) => {
    const host = randomMatrix(32 * 48, 11, 0.2, 0.03);
    tf.tidy(() => {
      const w = tf.tensor2d(host, [32, 48]);
      const out = q.quantize(tf, w);
      expect(out.shape).toEqual([32, 48]);
      expect(out.dtype).toBe('float32');
      const ref = q.quantizeHost(host);
      const got = out.dataSync();
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs((got[i] ?? 0) - (ref.values[i] ?? 0)));
      expect(worst).toBeLessThan(1e-6); // float32 vs float64 statistics; no code flips for this seed
      if (q.codes !== undefined) {
        const { codes, scale } = q.codes(tf, w);
        expect(Array.from(codes.dataSync())).toEqual(Array.from(ref.codes ?? []));
        expect(scale.dataSync()[0]).toBeCloseTo(ref.scale, 6);
        expect(new Set(Array.from(codes.dataSync())).size).toBe(q.levels.length);
      }
    });
  });

  it('ternary-absmean codes are idempotent: codes(Q(W)) = codes(W)', () => {
    tf.tidy(() => {
      const w = tf.tensor1d(randomMatrix(200, 5));
      const c1 = ternaryAbsmean.codes?.(tf, w).codes;
      const c2 = ternaryAbsmean.codes?.(tf, ternaryAbsmean.quantize(tf, w)).codes;
      expect(c1 === undefined || c2 === undefined ? [0] : read(c2)).toEqual(c1 === undefined ? [] : read(c1));
    });
  });

  it.each(BUILTIN_QUANTIZERS.map((q) => [q.name, q] as const))('STE: d/dW sum(Q(W) * G) = G exactly for %s', (_name, q: WeightQuantizer) => {
    tf.tidy(() => {
      const w = tf.tensor2d(randomMatrix(6 * 10, 21), [6, 10]);
      const g = tf.tensor2d(randomMatrix(6 * 10, 22, 3), [6, 10]);
      const dw = tf.grad((x: Tensor) => tf.sum(tf.mul(steQuantize(tf, q, x), g)))(w);
      expect(Array.from(dw.dataSync())).toEqual(Array.from(g.dataSync()));
      // the value is Q(W), not W
      const value = read(steQuantize(tf, q, w));
      expect(value).toEqual(read(q.quantize(tf, w)));
    });
  });

  it("STE with gradient 'centred' (Li's code) gives G - mean(G), and works with variables and an optimizer", () => {
    tf.tidy(() => {
      const w = tf.tensor2d(randomMatrix(4 * 5, 31), [4, 5]);
      const g = tf.tensor2d(randomMatrix(4 * 5, 32), [4, 5]);
      const dw = tf.grad((x: Tensor) => tf.sum(tf.mul(steQuantize(tf, ternaryCentred, x, { gradient: 'centred' }), g)))(w);
      const expected = tf.sub(g, tf.mean(g)).dataSync();
      read(dw).forEach((x, i) => expect(x).toBeCloseTo(expected[i] ?? NaN, 6));
    });
    const v = tf.variable(tf.tensor1d(randomMatrix(16, 41)));
    const before = Array.from(v.dataSync());
    const opt = tf.train.sgd(0.1);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(steQuantize(tf, binaryScaled, v), tf.range(0, 16))) as Scalar);
    expect(read(grads[v.name] ?? tf.scalar(0))).toEqual(Array.from({ length: 16 }, (_, i) => i));
    opt.applyGradients(grads);
    expect(Array.from(v.dataSync())).toEqual(before.map((x, i) => expect.closeTo(x - 0.1 * i, 5)));
    tf.dispose([v, ...Object.values(grads)]);
    opt.dispose();
  });

  it('does not leak tensors', () => {
    const w = tf.tensor2d(randomMatrix(12, 51), [3, 4]);
    const n0 = tf.memory().numTensors;
    for (const q of BUILTIN_QUANTIZERS) {
      const out = q.quantize(tf, w);
      const grads = tf.grad((x: Tensor) => tf.sum(steQuantize(tf, q, x)))(w);
      tf.dispose([out, grads]);
      if (q.codes !== undefined) {
        const c = q.codes(tf, w);
        tf.dispose([c.codes, c.scale]);
      }
    }
    const a = quantizeActivationsInt8(tf, w);
    a.dispose();
    expect(tf.memory().numTensors).toBe(n0);
    w.dispose();
  });

  it('int8 per-token absmax: error <= max|x_token| / 254, codes in [-128, 127], max maps to +-127, STE gradient', () => {
    tf.tidy(() => {
      // tokens of very different magnitudes, one all-zero token
      const host = randomMatrix(2 * 3 * 16, 61);
      for (let i = 0; i < 16; i++) host[16 + i] = (host[16 + i] ?? 0) * 1000;
      for (let i = 0; i < 16; i++) host[32 + i] = 0;
      const x = tf.tensor3d(host, [2, 3, 16]);
      const y = quantizeActivationsInt8(tf, x).dataSync();
      for (let t = 0; t < 6; t++) {
        const tok = host.subarray(16 * t, 16 * t + 16);
        const bound = Math.max(...Array.from(tok, Math.abs)) / 254;
        for (let i = 0; i < 16; i++) expect(Math.abs((y[16 * t + i] ?? NaN) - (tok[i] ?? 0))).toBeLessThanOrEqual(bound * (1 + 1e-5) + 1e-12);
      }
      const { codes, scale } = activationInt8Codes(tf, x);
      expect(scale.shape).toEqual([2, 3, 1]);
      const c = Array.from(codes.dataSync());
      expect(Math.min(...c)).toBeGreaterThanOrEqual(-128);
      expect(Math.max(...c)).toBeLessThanOrEqual(127);
      for (let t = 0; t < 6; t++) {
        const tc = c.slice(16 * t, 16 * t + 16).map(Math.abs);
        expect(Math.max(...tc)).toBe(t === 2 ? 0 : 127);
      }
      // the error is real (not an identity) for a generic token
      expect(Array.from(y.subarray(0, 16))).not.toEqual(Array.from(host.subarray(0, 16)).map(Math.fround));
      const gx = tf.tensor3d(randomMatrix(96, 62), [2, 3, 16]);
      const dx = tf.grad((z: Tensor) => tf.sum(tf.mul(quantizeActivationsInt8(tf, z), gx)))(x);
      expect(read(dx)).toEqual(read(gx));
    });
  });
});

describe('quantizer registry', () => {
  const custom: WeightQuantizer = {
    name: 'ternary-fixed',
    description: 'codes at fixed threshold 0.1',
    levels: [-1, 0, 1],
    identity: false,
    quantize: (tf, w) => tf.tidy(() => tf.sign(tf.mul(tf.cast(tf.greater(tf.abs(w), 0.1), 'float32'), w))),
    quantizeHost: (w) => ({ values: Float32Array.from(w, (x) => (Math.abs(x) > 0.1 ? Math.sign(x) : 0)), scale: 1 }),
  };

  it('has the built-ins and accepts a user quantizer', () => {
    const r = createQuantizerRegistry();
    expect(r.names()).toEqual(['fp32', 'ternary-absmean', 'ternary-centred', 'binary-scaled', 'binary-sign']);
    expect(r.get('fp32')).toBe(fp32);
    r.register(custom);
    expect(r.get('ternary-fixed')).toBe(custom);
    expect(r.has('ternary-fixed')).toBe(true);
    expect(createQuantizerRegistry().has('ternary-fixed')).toBe(false); // registries are independent
    expect(createQuantizerRegistry([custom]).names()).toHaveLength(6);
  });

  it('rejects a name clash and an unknown name with typed errors', () => {
    const r = createQuantizerRegistry([custom]);
    const clash = errorOf(() => r.register({ ...custom }));
    expect([clash.code, clash.site.field, clash.site.found]).toEqual(['INVALID_OPTION', 'name', 'ternary-fixed']);
    const unknown = errorOf(() => r.get('ternary'));
    expect([unknown.code, unknown.site.field]).toEqual(['INVALID_OPTION', 'quantizer']);
    expect(unknown.message).toContain('ternary-absmean, ternary-centred, binary-scaled, binary-sign, ternary-fixed');
  });
});
