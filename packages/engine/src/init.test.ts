import { BitlensError, randomFloat32 as random } from '@bitlens/core';
import { describe, expect, it } from 'vitest';
import { type TfjsBackendName, initTfjsBackend, probeTfjsBackend } from './index.js';

/** float64 plain-TS reference matmul. */
function matMul64(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) c[i * n + j] = (c[i * n + j] ?? 0) + (a[i * k + p] ?? 0) * (b[p * n + j] ?? 0);
  return c;
}

// Named tolerances: max |actual - expected| relative to sqrt(k) (fp32 accumulation error grows ~sqrt(k)).
const TOLERANCE: Record<Exclude<TfjsBackendName, 'tensorflow'>, number> = { cpu: 1e-6, wasm: 1e-6, webgpu: 1e-5 };
const CLAIMED = ['wasm', 'cpu', 'webgpu'] as const;
const inCi = process.env['CI'] === 'true';

describe.each(CLAIMED)('tfjs backend %s', (name) => {
  it('starts (in CI a backend that cannot start is a failure) and matches a float64 matmul', async (ctx) => {
    const probe = await probeTfjsBackend(name);
    if (!probe.available) {
      if (inCi) throw new Error(`backend ${name} is claimed but unavailable in CI: ${probe.reason}`);
      console.warn(`SKIPPED tfjs backend ${name} (not CI): ${probe.reason}`);
      ctx.skip();
    }
    const { tf, info } = await initTfjsBackend(name);
    expect(tf.getBackend()).toBe(name);
    expect(info.name).toBe(name);
    if (name === 'webgpu') expect(info.adapter?.vendor).toBeTypeOf('string');
    const [m, k, n] = [33, 257, 29]; // odd sizes: no tile-aligned shortcut
    const a = random(m * k, 1);
    const b = random(k * n, 2);
    const c = tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n]));
    const got = (await c.data()) as Float32Array;
    c.dispose();
    const want = matMul64(a, b, m, k, n);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs((got[i] ?? Number.NaN) - (want[i] ?? 0)));
    expect(worst).toBeLessThan(TOLERANCE[name] * Math.sqrt(k) * 8);
  });
});

describe('initTfjsBackend', () => {
  it('is idempotent: starting the active backend again keeps it', async () => {
    const first = await initTfjsBackend('cpu');
    const again = await initTfjsBackend('cpu');
    expect(again.tf).toBe(first.tf);
    expect(again.tf.getBackend()).toBe('cpu');
  });

  it('rejects an unknown backend name, listing the known ones', async () => {
    const e = await initTfjsBackend('cuda').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(BitlensError);
    expect((e as BitlensError).code).toBe('BACKEND_UNAVAILABLE');
    expect((e as BitlensError).message).toContain('wasm, cpu, webgpu, tensorflow');
  });

  it('tensorflow (tfjs-node) is used when installed, otherwise a clear error says what to install; no fallback', async () => {
    let installed = true;
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      installed = false;
    }
    const active = (await initTfjsBackend('wasm')).tf.getBackend();
    const result = await initTfjsBackend('tensorflow').catch((err: unknown) => err);
    if (installed) {
      expect((result as { info: { name: string } }).info.name).toBe('tensorflow');
    } else {
      expect(result).toBeInstanceOf(BitlensError);
      expect((result as BitlensError).message).toMatch(/npm install @tensorflow\/tfjs-node/);
      const { tf } = await initTfjsBackend('wasm');
      expect(tf.getBackend()).toBe(active); // nothing switched behind our back
    }
  });
});
