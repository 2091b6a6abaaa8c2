import { describe, expect, it } from 'vitest';
import { fourierBasis } from './fourier.js';
import { packBinary, packI2S, packTernaryPlanes } from './packing.js';
import { roundHalfEven } from './quantizers.js';
import { popcount32, reference } from './reference.js';
import { createKernelRegistry } from './registry.js';
import { randomCodes, randomInt8, randomTensor, tensor, toFloat32 } from './tensor.js';

const registry = createKernelRegistry([reference]);

describe('reference backend', () => {
  it('multiplies 2x3 by 3x2 (and with transposeB)', async () => {
    const a = tensor('float32', [2, 3], [1, 2, 3, 4, 5, 6]), b = tensor('float32', [3, 2], [7, 8, 9, 10, 11, 12]);
    expect(Array.from((await registry.run('MatMul', { a, b }, { transposeB: false }, 'reference')).data)).toEqual([58, 64, 139, 154]);
    const bt = tensor('float32', [2, 3], [7, 9, 11, 8, 10, 12]);
    expect(Array.from((await registry.run('MatMul', { a, b: bt }, { transposeB: true }, 'reference')).data)).toEqual([58, 64, 139, 154]);
  });

  it('quantizes [[0.5, -0.05, 1.2, -0.9]] to b1.58 codes [1, 0, 1, -1] with gamma 0.6625 (docs/science.md#weight-quantizers)', async () => {
    const { codes, scale } = await registry.run('QuantizeTernary', { w: tensor('float32', [1, 4], [0.5, -0.05, 1.2, -0.9]) }, { eps: 1e-5 }, 'reference');
    expect(Array.from(codes.data)).toEqual([1, 0, 1, -1]);
    expect(scale.data[0]).toBeCloseTo(0.6625, 6);
  });

  it('TernaryMatMulA8 quantizes each activation row to int8 and dequantizes the exact product', async () => {
    // row 0: max 1 -> s = 127, codes [64, -127, 32, 0] (63.5 rounds to even 64); row 1: max 4 -> s = 31.75
    const x = tensor('float32', [2, 4], [0.5, -1, 0.25, 0, 4, 2, -1, 0.5]);
    const w = packI2S(tensor('int8', [2, 4], [1, 1, 0, -1, 0, -1, 1, 1]));
    const y = await registry.run('TernaryMatMulA8', { x, w }, { k: 4, scale: 0.5 }, 'reference');
    expect(y.shape).toEqual([2, 2]);
    // row 0 acc: [64 - 127, 127 + 32] = [-63, 159]; row 1 codes [127, 64, -32, 16]: acc [191 - 16, -64 - 32 + 16] = [175, -80]
    const f0 = Math.fround(0.5 / 127), f1 = Math.fround(0.5 / Math.fround(127 / 4));
    expect(Array.from(y.data)).toEqual([-63 * f0, 159 * f0, 175 * f1, -80 * f1].map(Math.fround));
  });

  it('rounds ties to even', () => {
    expect([0.5, 1.5, -0.5, 2.5, -1.5].map(roundHalfEven)).toEqual([0, 2, -0, 2, -2]);
  });

  it('binarizes around the mean with scale mean|w|', async () => {
    const { codes, scale } = await registry.run('QuantizeBinary', { w: tensor('float32', [4], [1, 2, 3, 6]) }, { center: true }, 'reference');
    expect(Array.from(codes.data)).toEqual([-1, -1, -1, 1]);
    expect(scale.data[0]).toBe(3);
  });

  it('dequantizes with one scale per row', async () => {
    const out = await registry.run('Dequantize', { codes: tensor('int8', [2, 2], [1, -1, 0, 1]), scale: tensor('float32', [2], [2, 3]) }, {}, 'reference');
    expect(Array.from(out.data)).toEqual([2, -2, 0, 3]);
  });

  it('clipped softmax with zeta 1, gamma 0 equals softmax; gamma -0.1 maps small entries to exactly 0 (docs/science.md#quantizable-attention-and-outlier-metrics)', async () => {
    const x = randomTensor([4, 7], { seed: 3 });
    const sm = await registry.run('Softmax', { x }, {}, 'reference');
    const same = await registry.run('ClippedSoftmax', { x }, { zeta: 1, gamma: 0 }, 'reference');
    expect(Array.from(same.data)).toEqual(Array.from(sm.data));
    const clipped = await registry.run('ClippedSoftmax', { x: tensor('float32', [1, 3], [0, 0, 5]) }, { zeta: 1, gamma: -0.1 }, 'reference');
    expect(clipped.data[0]).toBe(0);
    expect(clipped.data[2]).toBeLessThanOrEqual(1);
  });

  it.each([5, 59, 97, 113])('Fourier basis for p = %i is orthonormal to 1e-12 with const row 1/sqrt(p) (docs/science.md#fourier-basis)', (p) => {
    const f = fourierBasis(p);
    let worst = 0;
    for (let i = 0; i < p; i++) {
      for (let j = 0; j < p; j++) {
        let s = 0;
        for (let x = 0; x < p; x++) s += (f[i * p + x] ?? 0) * (f[j * p + x] ?? 0);
        worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
    expect(worst).toBeLessThan(1e-12);
    expect(f[3]).toBeCloseTo(1 / Math.sqrt(p), 15);
  });

  it('projects a one-hot column onto the basis column', async () => {
    const x = tensor('float32', [5, 1], [0, 0, 1, 0, 0]);
    const out = await registry.run('FourierProjection', { x }, { p: 5 }, 'reference');
    const f = fourierBasis(5);
    expect(Array.from(out.data)).toEqual(Array.from({ length: 5 }, (_, i) => Math.fround(f[i * 5 + 2] ?? 0)));
  });

  it('popcount32 counts bits of 0, 0xffffffff and 0x80000001', () => {
    expect([0, 0xffffffff, 0x80000001].map(popcount32)).toEqual([0, 32, 2]);
  });

  it('XNOR-popcount dot equals the float dot for {-1,+1} vectors of every length 1..200 and 1000', async () => {
    for (const k of [...Array.from({ length: 200 }, (_, i) => i + 1), 1000]) {
      const a = randomCodes([1, k], [-1, 1], { seed: k }), b = randomCodes([2, k], [-1, 1], { seed: k + 5000 });
      const packed = await registry.run('BinaryMatMul', { a: packBinary(a), b: packBinary(b) }, { k }, 'reference');
      const float = await registry.run('MatMul', { a: toFloat32(a), b: toFloat32(b) }, { transposeB: true }, 'reference');
      expect(Array.from(packed.data), `k = ${k}`).toEqual(Array.from(float.data));
    }
  });

  it.each([1, 33, 128, 129, 300])('ternary I2_S and two-plane products equal the float product (k = %i)', async (k) => {
    const codes = randomCodes([3, k], [-1, 0, 1], { seed: k }), x = randomTensor([2, k], { seed: k + 1 });
    const float = await registry.run('MatMul', { a: x, b: toFloat32(codes) }, { transposeB: true }, 'reference');
    for (const [format, w] of [['i2s', packI2S(codes)], ['planes', packTernaryPlanes(codes)]] as const) {
      const out = await registry.run('TernaryMatMul', { x, w }, { k, format, scale: 1 }, 'reference');
      expect(Array.from(out.data)).toEqual(Array.from(float.data));
    }
    const x8 = randomInt8([2, k], { seed: k + 2 });
    const int = await registry.run('TernaryMatMul', { x: x8, w: packI2S(codes) }, { k, format: 'i2s', scale: 1 }, 'reference');
    const viaInt8 = await registry.run('Int8MatMul', { a: x8, b: codes }, { transposeB: true }, 'reference');
    expect(Array.from(int.data)).toEqual(Array.from(viaInt8.data));
  });
});
