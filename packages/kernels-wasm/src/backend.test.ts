import { describe, expect, it } from 'vitest';
import { createKernelRegistry, packBinary, packI2S, packTernaryPlanes, randomCodes, randomInt8, randomTensor, reference, toFloat32 } from '@bitlens/kernels';
import { createWasmPackedBackend, wasmPacked } from './backend.js';
import { measurePeakF32, measurePeakI8 } from './peak.js';

const registry = createKernelRegistry([reference, wasmPacked]);
const plain = createKernelRegistry([createWasmPackedBackend({ simd: 'simd' })]);

describe('wasm-packed', () => {
  it('is available (the module is built)', async () => {
    expect(await wasmPacked.isAvailable()).toBe(true);
  });

  // sizes that exercise the 4 x 2-block tile and its edges (m % 4, an odd number of 16-row blocks, n % 16), k not a
  // multiple of 32 or 128, and more than one 63-nibble chunk of byte counters (k > 252)
  it.each([[1, 1, 1], [3, 5, 33], [2, 4, 128], [7, 9, 1000], [5, 6, 4100], [4, 32, 64], [6, 40, 300], [9, 33, 1000], [8, 64, 4100]])(
    'BinaryMatMul m=%i n=%i k=%i equals the float product exactly (both builds)', async (m, n, k) => {
      const a = randomCodes([m, k], [-1, 1], { seed: m * k }), b = randomCodes([n, k], [-1, 1], { seed: n * k + 1 });
      const float = await registry.run('MatMul', { a: toFloat32(a), b: toFloat32(b) }, { transposeB: true }, 'reference');
      for (const r of [registry, plain]) {
        const out = await r.run('BinaryMatMul', { a: packBinary(a), b: packBinary(b) }, { k }, 'wasm-packed');
        expect(out.shape).toEqual([m, n]);
        expect(Array.from(out.data)).toEqual(Array.from(float.data));
      }
    });

  it.each([[1, 1, 1], [4, 2, 64], [5, 3, 129], [9, 7, 1000], [4, 2, 2200], [6, 5, 1100], [8, 130, 200]])('TernaryMatMul int8 m=%i n=%i k=%i equals Int8MatMul exactly', async (m, n, k) => {
    const codes = randomCodes([n, k], [-1, 0, 1], { seed: k }), x = randomInt8([m, k], { seed: k + 1, lo: -128, hi: 127 });
    const exact = await registry.run('Int8MatMul', { a: x, b: codes }, { transposeB: true }, 'reference');
    // both builds: relaxed SIMD (the default where available) and plain SIMD
    for (const r of [registry, plain]) {
      const out = await r.run('TernaryMatMul', { x, w: packI2S(codes) }, { k, format: 'i2s', scale: 1 }, 'wasm-packed');
      expect(Array.from(out.data)).toEqual(Array.from(exact.data));
    }
  });

  it.each([[1, 1, 3], [6, 5, 130], [4, 4, 512]])('TernaryMatMul float32 m=%i n=%i k=%i matches to fp32 rounding', async (m, n, k) => {
    const codes = randomCodes([n, k], [-1, 0, 1], { seed: k }), x = randomTensor([m, k], { seed: k + 1 });
    const out = await registry.run('TernaryMatMul', { x, w: packI2S(codes) }, { k, format: 'i2s', scale: 0.5 }, 'wasm-packed');
    const ref = await registry.run('TernaryMatMul', { x, w: packI2S(codes) }, { k, format: 'i2s', scale: 0.5 }, 'reference');
    out.data.forEach((v, i) => expect(Math.abs(v - (ref.data[i] ?? 0))).toBeLessThanOrEqual(1e-5 * Math.sqrt(k)));
  });

  it.each([[1, 1, 3], [6, 5, 130], [9, 33, 512], [5, 4, 1100]])('TernaryMatMulA8 m=%i n=%i k=%i equals the reference exactly (both builds)', async (m, n, k) => {
    const codes = randomCodes([n, k], [-1, 0, 1], { seed: k + 7 }), x = randomTensor([m, k], { seed: k + 8 });
    // row 0 has max 1 (values are in [-1, 1)), so s = 127 and 0.5 * 127 = 63.5 is an exact tie (rounds to even 64); and a zero
    x.data[0] = 1; x.data[1] = 0.5; x.data[2] = 0;
    const want = await registry.run('TernaryMatMulA8', { x, w: packI2S(codes) }, { k, scale: 0.37 }, 'reference');
    for (const r of [registry, plain]) {
      const out = await r.run('TernaryMatMulA8', { x, w: packI2S(codes) }, { k, scale: 0.37 }, 'wasm-packed');
      expect(Array.from(out.data)).toEqual(Array.from(want.data));
      const neg = await r.run('TernaryMatMulA8', { x, w: packI2S(codes) }, { k, scale: -0.37 }, 'wasm-packed'); // any finite scale
      expect(Array.from(neg.data)).toEqual(Array.from(want.data, (v) => -v));
    }
  });

  it('declares the two-plane layout a gap (KERNEL_NOT_FOUND), not a silent fallback', async () => {
    const codes = randomCodes([2, 40], [-1, 0, 1], { seed: 1 });
    await expect(registry.run('TernaryMatMul', { x: randomTensor([1, 40], { seed: 2 }), w: packTernaryPlanes(codes) }, { k: 40, format: 'planes', scale: 1 }, 'wasm-packed'))
      .rejects.toMatchObject({ code: 'KERNEL_NOT_FOUND' });
    await expect(registry.run('Softmax', { x: randomTensor([1, 4], { seed: 2 }) }, {}, 'wasm-packed')).rejects.toMatchObject({ code: 'KERNEL_NOT_FOUND' });
  });

  it('says which instruction set it runs', async () => {
    await wasmPacked.setup();
    expect(wasmPacked.info().description).toMatch(/WebAssembly SIMD/);
  });

  it('measures positive fp32 and int8 SIMD ceilings', async () => {
    expect(await measurePeakF32({ iters: 10_000, repeats: 1 })).toBeGreaterThan(0);
    expect(await measurePeakI8({ iters: 10_000, repeats: 1 })).toBeGreaterThan(0);
  });
});
