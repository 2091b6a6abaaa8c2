import { mulberry32 } from '@bitlens/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createGemm, type Gemm } from './gemm.js';

function random(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => r() - 0.5);
}

/** float64 op(A) op(B) with the epilogue. */
function reference(A: Float32Array, B: Float32Array, m: number, n: number, k: number, tA: boolean, tB: boolean, bias?: Float32Array, relu?: boolean, mask?: Float32Array): Float64Array {
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const a = (tA ? A[p * m + i] : A[i * k + p]) ?? 0;
      for (let j = 0; j < n; j++) C[i * n + j] = (C[i * n + j] ?? 0) + a * ((tB ? B[j * k + p] : B[p * n + j]) ?? 0);
    }
  }
  for (let i = 0; i < m * n; i++) {
    let v = (C[i] ?? 0) + (bias?.[i % n] ?? 0);
    if (relu === true) v = Math.max(v, 0);
    if (mask !== undefined && !((mask[i] ?? 0) > 0)) v = 0;
    C[i] = v;
  }
  return C;
}

function product(g: Gemm, A: Float32Array, B: Float32Array, m: number, n: number, k: number, o: { tA?: boolean; tB?: boolean; bias?: Float32Array; relu?: boolean; mask?: Float32Array } = {}): Float32Array {
  const ar = g.arena();
  const a = ar.put(A);
  const b = ar.put(B);
  const c = ar.alloc(m * n);
  g.run({
    a, b, c, m, n, k, transA: o.tA === true, transB: o.tB === true, relu: o.relu === true,
    ...(o.bias === undefined ? {} : { bias: ar.put(o.bias) }),
    ...(o.mask === undefined ? {} : { mask: ar.put(o.mask) }),
  });
  return Float32Array.from(ar.view(c, m * n));
}

const gemms: Gemm[] = [];
afterAll(() => gemms.forEach((g) => g.close()));

describe.each(['auto', 'simd'] as const)('fp32 GEMM (%s build)', (simd) => {
  // Odd sizes exercise the edge tiles (rows < 4, columns < 8) and several k blocks (k > 256).
  const shapes: [number, number, number][] = [[5, 3, 7], [13, 17, 300], [66, 40, 513], [130, 9, 1], [7, 8, 0]];
  it('equals a float64 reference for every transpose combination and epilogue (|error| <= 1e-6 sqrt(k) of values ~0.5)', async () => {
    const g = await createGemm({ threads: 1, simd });
    gemms.push(g);
    if (simd === 'simd') expect(g.relaxed).toBe(false);
    for (const [m, n, k] of shapes) {
      const A = random(m * k, 1);
      const B = random(k * n, 2);
      const bias = random(n, 3);
      const mask = random(m * n, 4);
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          for (const epi of [{}, { bias, relu: true }, { mask }]) {
            const got = product(g, A, B, m, n, k, { tA, tB, ...epi });
            const want = reference(A, B, m, n, k, tA, tB, 'bias' in epi ? bias : undefined, 'relu' in epi, 'mask' in epi ? mask : undefined);
            let worst = 0;
            for (let i = 0; i < m * n; i++) worst = Math.max(worst, Math.abs((got[i] ?? NaN) - (want[i] ?? 0)));
            expect(worst, `${m}x${n}x${k} tA ${tA} tB ${tB} ${Object.keys(epi).join('+')}`).toBeLessThanOrEqual(1e-6 * Math.sqrt(k + 1));
          }
        }
      }
    }
  });

  it('gives bit-identical results on 1, 2 and 3 threads (rows or columns split, every element computed the same way)', async () => {
    const [one, two, three] = await Promise.all([1, 2, 3].map((threads) => createGemm({ threads, simd })));
    gemms.push(one as Gemm, two as Gemm, three as Gemm);
    for (const [m, n, k, tA, tB] of [[1000, 256, 300, false, false], [96, 520, 1100, true, false], [517, 64, 129, false, true]] as const) {
      const A = random(m * k, 5);
      const B = random(k * n, 6);
      const bytes = (g: Gemm): Buffer => Buffer.from(product(g, A, B, m, n, k, { tA, tB, relu: true }).buffer);
      const ref = bytes(one as Gemm);
      expect(bytes(two as Gemm).equals(ref)).toBe(true); // (toEqual on 10^5 floats is slow)
      expect(bytes(three as Gemm).equals(ref)).toBe(true);
    }
  });
});

describe('createGemm', () => {
  it('rejects a thread count that is not a positive integer', async () => {
    await expect(createGemm({ threads: 0 })).rejects.toThrow(/threads/);
  });
});
