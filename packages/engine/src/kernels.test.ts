import { randomFloat32 as random } from '@bitlens/core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { configureEngine, initTfjsBackend, type Tf } from './index.js';

// bitlens's wasm kernels against tfjs's own (the cpu backend, plain JavaScript, is the reference), values and
// gradients. Tolerance: max |difference| / max |reference| (fp32 accumulation over k terms).
const TOL = 1e-5;

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs((a[i] ?? NaN) - (b[i] ?? 0)));
    den = Math.max(den, Math.abs(b[i] ?? 0));
  }
  return a.length === b.length ? num / Math.max(den, 1e-30) : Infinity;
}

const read = (ts: Tensor[]): Float32Array[] => ts.map((t) => Float32Array.from(t.dataSync() as Float32Array));

/** Runs `f` on cpu and on wasm with bitlens's kernels (threads 1 and 2); returns [cpu, wasm 1, wasm 2] results. */
async function onBackends(f: (tf: Tf) => Float32Array[]): Promise<[Float32Array[], Float32Array[], Float32Array[]]> {
  const cpu = f((await initTfjsBackend('cpu')).tf);
  const { tf } = await initTfjsBackend('wasm', { threads: 1 });
  const one = f(tf);
  await configureEngine(tf, { threads: 2 });
  const two = f(tf);
  await configureEngine(tf);
  return [cpu, one, two];
}

function expectSame([cpu, one, two]: [Float32Array[], Float32Array[], Float32Array[]], what: string): void {
  cpu.forEach((c, i) => expect(relErr(one[i] ?? new Float32Array(), c), `${what} #${i}`).toBeLessThan(TOL));
  // The GEMM gives the same bits on any number of threads.
  one.forEach((o, i) => expect(Buffer.from((two[i] ?? new Float32Array()).buffer).equals(Buffer.from(o.buffer)), `${what} #${i} threads`).toBe(true));
}

describe("bitlens's wasm kernels match tfjs's (cpu backend)", () => {
  it('GEMM BatchMatMul: every transpose combination, values and gradients of both operands', async () => {
    const [m, k, n] = [203, 301, 67]; // above the GEMM threshold, odd sizes: edge tiles
    const a = random(m * k, 1);
    const b = random(k * n, 2);
    const r = await onBackends((tf) =>
      [false, true].flatMap((tA) =>
        [false, true].flatMap((tB) =>
          tf.tidy(() => {
            const A = tA ? tf.transpose(tf.tensor2d(a, [m, k])) : tf.tensor2d(a, [m, k]);
            const B = tB ? tf.transpose(tf.tensor2d(b, [k, n])) : tf.tensor2d(b, [k, n]);
            const w = tf.tensor2d(random(m * n, 3), [m, n]);
            const f = (x: Tensor, y: Tensor): Tensor => tf.sum(tf.mul(tf.matMul(x, y, tA, tB), w));
            return read([tf.matMul(A, B, tA, tB), ...tf.grads(f)([A, B])]);
          }),
        ),
      ),
    );
    expectSame(r, 'matMul');
  });

  it('gather of rows and its gradient (a scatter-add, tfjs-wasm has none), repeated ids included', async () => {
    const [V, w, R] = [37, 130, 1000];
    const table = random(V * w, 4);
    const ids = Int32Array.from({ length: R }, (_, i) => (i * 7919) % V);
    const r = await onBackends((tf) =>
      tf.tidy(() => {
        const T = tf.tensor2d(table, [V, w]);
        const I = tf.tensor1d(ids, 'int32');
        const g = tf.grad((t: Tensor) => tf.sum(tf.mul(tf.gather(t, I), tf.tensor2d(random(R * w, 5), [R, w]))))(T);
        return read([tf.gather(T, I), g, tf.unsortedSegmentSum(tf.tensor2d(random(R * w, 6), [R, w]), I, V)]);
      }),
    );
    expectSame(r, 'gather');
  });

  it('fused MLP block: forward and backward equal relu(x W1 + b1) W2 + b2 by tfjs ops and autodiff', async () => {
    const [B, d, h] = [301, 40, 96];
    const x = random(B * d, 7);
    const w1 = random(d * h, 8);
    const w2 = random(h * d, 9);
    const b1 = random(h, 10);
    const b2 = random(d, 11);
    const dy = random(B * d, 12);
    const composite = (tf: Tf): Float32Array[] =>
      tf.tidy(() => {
        const ins = [tf.tensor2d(x, [B, d]), tf.tensor2d(w1, [d, h]), tf.tensor2d(w2, [h, d]), tf.tensor1d(b1), tf.tensor1d(b2)];
        const f = (X: Tensor, W1: Tensor, W2: Tensor, B1: Tensor, B2: Tensor): Tensor => tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(X, W1), B1)), W2), B2);
        const out = f(...(ins as [Tensor, Tensor, Tensor, Tensor, Tensor]));
        const grads = tf.grads((...t: Tensor[]) => tf.sum(tf.mul(f(...(t as [Tensor, Tensor, Tensor, Tensor, Tensor])), tf.tensor2d(dy, [B, d]))))(ins);
        return read([out, ...grads]);
      });
    const fused = (tf: Tf): Float32Array[] =>
      tf.tidy(() => {
        const X = tf.tensor2d(x, [B, d]);
        const W1 = tf.tensor2d(w1, [d, h]);
        const W2 = tf.tensor2d(w2, [h, d]);
        const [out, post] = tf.engine().runKernel('BitlensFusedMlp', { x: X, wIn: W1, wOut: W2, bIn: tf.tensor1d(b1), bOut: tf.tensor1d(b2) }) as Tensor[] as [Tensor, Tensor];
        const grads = tf.engine().runKernel('BitlensFusedMlpGrad', { dy: tf.tensor2d(dy, [B, d]), x: X, post, wIn: W1, wOut: W2 }, { biasIn: true, biasOut: true }) as Tensor[];
        return read([out, ...grads]);
      });
    const cpu = composite((await initTfjsBackend('cpu')).tf);
    const { tf } = await initTfjsBackend('wasm', { threads: 1 });
    const one = fused(tf);
    await configureEngine(tf, { threads: 2 });
    const two = fused(tf);
    await configureEngine(tf);
    // outputs: out; then dx, dW1, dW2, db1, db2 (the composite's gradients come in its input order: x, W1, W2, b1, b2)
    expectSame([cpu, one, two], 'fused MLP');
    expect(Math.max(...(one[2] ?? []).map(Math.abs))).toBeGreaterThan(1e-3); // the weight gradient is not trivially zero
  });

  it('last-position attention: forward and backward equal softmax(q k / scale) v by tfjs ops and autodiff', async () => {
    const [B, n, h, dh, scale] = [97, 3, 4, 8, Math.sqrt(32)];
    const q = random(B * h * dh, 13);
    const k = random(B * n * h * dh, 14);
    const v = random(B * n * h * dh, 15);
    const dz = random(B * h * dh, 16);
    const composite = (tf: Tf): Float32Array[] =>
      tf.tidy(() => {
        const f = (Q: Tensor, K: Tensor, V: Tensor): Tensor => {
          const kT = tf.transpose(tf.reshape(K, [B, n, h, dh]), [0, 2, 1, 3]);
          const vT = tf.transpose(tf.reshape(V, [B, n, h, dh]), [0, 2, 1, 3]);
          const a = tf.softmax(tf.div(tf.sum(tf.mul(tf.reshape(Q, [B, h, 1, dh]), kT), -1), scale), -1);
          return tf.reshape(tf.sum(tf.mul(tf.expandDims(a, -1), vT), 2), [B, h * dh]);
        };
        const ins = [tf.tensor2d(q, [B, h * dh]), tf.tensor2d(k, [B * n, h * dh]), tf.tensor2d(v, [B * n, h * dh])] as [Tensor, Tensor, Tensor];
        const grads = tf.grads((...t: Tensor[]) => tf.sum(tf.mul(f(...(t as [Tensor, Tensor, Tensor])), tf.tensor2d(dz, [B, h * dh]))))(ins);
        return read([f(...ins), ...grads]);
      });
    const fused = (tf: Tf): Float32Array[] =>
      tf.tidy(() => {
        const attrs = { batch: B, keys: n, heads: h, headDim: dh, scale };
        const ins = { q: tf.tensor2d(q, [B, h * dh]), k: tf.tensor2d(k, [B * n, h * dh]), v: tf.tensor2d(v, [B * n, h * dh]) };
        const [z, a] = tf.engine().runKernel('BitlensAttendLast', ins, attrs) as Tensor[] as [Tensor, Tensor];
        const grads = tf.engine().runKernel('BitlensAttendLastGrad', { dz: tf.tensor2d(dz, [B, h * dh]), ...ins, a }, attrs) as Tensor[];
        return read([z, ...grads]);
      });
    const cpu = composite((await initTfjsBackend('cpu')).tf);
    const ours = fused((await initTfjsBackend('wasm')).tf);
    cpu.forEach((c, i) => expect(relErr(ours[i] ?? new Float32Array(), c), `attention #${i}`).toBeLessThan(TOL));
    expect(Math.max(...(ours[2] ?? []).map(Math.abs))).toBeGreaterThan(1e-3);
  });

  it('last-position attention over token tables by ids: the same floats as gathering the rows, the kernel, and a scatter-add of their gradients', async () => {
    const [B, n, h, dh, scale, V] = [61, 3, 4, 8, Math.sqrt(32), 23];
    const q = random(B * h * dh, 21);
    const kt = random(V * h * dh, 22);
    const vt = random(V * h * dh, 23);
    const dz = random(B * h * dh, 24);
    const ids = Int32Array.from({ length: B * n }, (_, r) => (r * 7 + (r % 5) * 3) % V);
    const { tf } = await initTfjsBackend('wasm');
    const attrs = { batch: B, keys: n, heads: h, headDim: dh, scale };
    const [byIds, gathered] = tf.tidy(() => {
      const Q = tf.tensor2d(q, [B, h * dh]), K = tf.tensor2d(kt, [V, h * dh]), Vt = tf.tensor2d(vt, [V, h * dh]), I = tf.tensor1d(ids, 'int32'), DZ = tf.tensor2d(dz, [B, h * dh]);
      const [z1, a1] = tf.engine().runKernel('BitlensAttendLast', { q: Q, k: K, v: Vt, ids: I }, attrs) as Tensor[] as [Tensor, Tensor];
      const g1 = tf.engine().runKernel('BitlensAttendLastGrad', { dz: DZ, q: Q, k: K, v: Vt, a: a1, ids: I }, attrs) as Tensor[];
      const kRows = tf.gather(K, I), vRows = tf.gather(Vt, I);
      const [z2, a2] = tf.engine().runKernel('BitlensAttendLast', { q: Q, k: kRows, v: vRows }, attrs) as Tensor[] as [Tensor, Tensor];
      const [dq, dk, dv] = tf.engine().runKernel('BitlensAttendLastGrad', { dz: DZ, q: Q, k: kRows, v: vRows, a: a2 }, attrs) as Tensor[] as [Tensor, Tensor, Tensor];
      return [read([z1, a1, ...g1]), read([z2, a2, dq, tf.unsortedSegmentSum(dk, I, V), tf.unsortedSegmentSum(dv, I, V)])];
    });
    expect(byIds.map((x) => x.length)).toEqual([B * h * dh, B * h * n, B * h * dh, V * h * dh, V * h * dh]);
    byIds.forEach((x, i) => expect(Array.from(x), `output #${i}`).toEqual(Array.from(gathered[i] ?? [])));
    expect(Math.max(...(byIds[3] ?? []).map(Math.abs))).toBeGreaterThan(1e-3); // the table gradient is not trivially zero
    // an id outside the tables is refused, naming the field
    const bad = Int32Array.from(ids);
    bad[5] = V;
    expect(() => tf.tidy(() => tf.engine().runKernel('BitlensAttendLast', { q: tf.tensor2d(q, [B, h * dh]), k: tf.tensor2d(kt, [V, h * dh]), v: tf.tensor2d(vt, [V, h * dh]), ids: tf.tensor1d(bad, 'int32') }, attrs))).toThrow(/ids.*\[0, 23\).*23 at 5/);
  });

  it("Identity shares its input's data on wasm (no copy), and the data lives until the last tensor on it is disposed", async () => {
    const { tf } = await initTfjsBackend('wasm');
    const buffersOfClone = (): { grown: number; values: number[]; after: number } => {
      const a = tf.tensor1d([1, 2, 3]);
      const base = tf.memory().numDataBuffers;
      const b = tf.clone(a); // the Identity kernel
      const grown = tf.memory().numDataBuffers - base;
      a.dispose();
      const values = Array.from(b.dataSync());
      b.dispose();
      return { grown, values, after: tf.memory().numDataBuffers - base };
    };
    expect(buffersOfClone()).toEqual({ grown: 0, values: [1, 2, 3], after: -1 }); // one buffer, freed with the last tensor
    await configureEngine(tf, { kernels: 'tfjs' });
    try {
      expect(buffersOfClone().grown).toBe(1); // tfjs-wasm's own Identity copies into a new buffer
    } finally {
      await configureEngine(tf);
    }
  });
});
