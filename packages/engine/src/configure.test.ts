import { describe, expect, it } from 'vitest';
import { BITLENS_KERNELS, configureEngine, initTfjsBackend, type Tf } from './index.js';

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
    den = Math.max(den, Math.abs(b[i] ?? 0));
  }
  return num / Math.max(den, 1e-30);
}

const a = Array.from({ length: 2 * 5 * 7 }, (_, i) => Math.sin(i));
const b = Array.from({ length: 2 * 7 * 3 }, (_, i) => Math.cos(i));
const products = (tf: Tf): Float32Array[] =>
  [false, true].flatMap((ta) =>
    [false, true].map((tb) =>
      tf.tidy(() => {
        let A = tf.tensor3d(a, [2, 5, 7]);
        let B = tf.tensor3d(b, [2, 7, 3]);
        if (ta) A = tf.transpose(A, [0, 2, 1]);
        if (tb) B = tf.transpose(B, [0, 2, 1]);
        return tf.matMul(A, B, ta, tb);
      }).dataSync() as Float32Array,
    ),
  );

describe('configureEngine', () => {
  it("bitlens's wasm BatchMatMul (explicit transposes, small products) gives the cpu backend's products for every transpose combination", async () => {
    const ref = products((await initTfjsBackend('cpu')).tf);
    const { tf, info } = await initTfjsBackend('wasm');
    expect(info.config.kernels).toEqual(BITLENS_KERNELS);
    const got = products(tf);
    got.forEach((g, i) => expect(relErr(g, ref[i] ?? new Float32Array())).toBeLessThan(1e-6));
  });

  it("switches between tfjs's stock kernels and bitlens's, and back", async () => {
    const { tf } = await initTfjsBackend('wasm');
    const ours = tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc;
    expect(await configureEngine(tf, { kernels: 'tfjs' })).toEqual({ kernels: [], threads: 1 });
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeUndefined(); // tfjs-wasm's own set: no scatter-add
    const stock = tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc;
    expect(stock).not.toBe(ours);
    const stockProducts = products(tf);
    await configureEngine(tf, { kernels: ['explicit-transpose-matmul'] });
    expect(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc).not.toBe(stock);
    products(tf).forEach((g, i) => expect(relErr(g, stockProducts[i] ?? new Float32Array())).toBeLessThan(1e-6));
    await configureEngine(tf);
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeDefined();
    await expect(configureEngine(tf, { kernels: 'fast' as 'tfjs' })).rejects.toThrow(/'bitlens', 'tfjs' or a list/);
    await expect(configureEngine(tf, { threads: 0 })).rejects.toThrow(/threads/);
  });
});
