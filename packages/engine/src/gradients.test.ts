import { randomFloat32 as random } from '@bitlens/core';
import { describe, expect, it } from 'vitest';
import { type Tf, initTfjsBackend, probeTfjsBackend } from './index.js';

// tfjs-core registers no gradient by itself: the engine loads them (dist/tfjs-gradients.js). Each case below is an op
// bitlens differentiates through in training, with its gradient in closed form (float64, plain TS), on every backend.
const CLAIMED = ['cpu', 'wasm', 'webgpu'] as const;
const inCi = process.env['CI'] === 'true';
// Named tolerance: max |tfjs - closed form| (fp32; webgpu on lavapipe rounds its exp/log a little differently).
const TOLERANCE = { cpu: 1e-5, wasm: 1e-5, webgpu: 1e-4 } as const;

interface Case {
  readonly name: string;
  readonly x: Float32Array;
  readonly shape: readonly [number, number];
  /** The function to differentiate (returns a scalar). */
  readonly f: (tf: Tf, x: ReturnType<Tf['tensor2d']>) => ReturnType<Tf['sum']>;
  /** d f / d x in closed form. */
  readonly grad: (x: Float32Array) => Float64Array;
}

const [R, C] = [3, 5];
const positive = random(R * C, 3).map((v) => 0.5 + Math.abs(v));
const b = random(C * 4, 4);
const labels = [1, 4, 0];
const rowSumsOfB = Array.from({ length: C }, (_, j) => b.slice(j * 4, j * 4 + 4).reduce((s, v) => s + v, 0));

function softmaxCrossEntropyGrad(x: Float32Array): Float64Array {
  const g = new Float64Array(x.length);
  for (let r = 0; r < R; r++) {
    const row = Array.from(x.slice(r * C, r * C + C));
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const z = e.reduce((s, v) => s + v, 0);
    for (let c = 0; c < C; c++) g[r * C + c] = (e[c]! / z - (labels[r] === c ? 1 : 0)) / R; // mean over the batch
  }
  return g;
}

const CASES: readonly Case[] = [
  { name: 'square + sum', x: random(R * C, 1), shape: [R, C], f: (tf, x) => tf.sum(tf.square(x)), grad: (x) => Float64Array.from(x, (v) => 2 * v) },
  { name: 'exp + mean', x: random(R * C, 2), shape: [R, C], f: (tf, x) => tf.mean(tf.exp(x)), grad: (x) => Float64Array.from(x, (v) => Math.exp(v) / x.length) },
  { name: 'sqrt, div (norms)', x: positive, shape: [R, C], f: (tf, x) => tf.sum(tf.div(tf.sqrt(x), 2)), grad: (x) => Float64Array.from(x, (v) => 0.25 / Math.sqrt(v)) },
  { name: 'relu', x: random(R * C, 5), shape: [R, C], f: (tf, x) => tf.sum(tf.relu(x)), grad: (x) => Float64Array.from(x, (v) => (v > 0 ? 1 : 0)) },
  {
    name: 'matMul (a · b)', x: random(R * C, 6), shape: [R, C],
    f: (tf, x) => tf.sum(tf.matMul(x, tf.tensor2d(b, [C, 4]))),
    grad: (x) => Float64Array.from(x, (_, i) => rowSumsOfB[i % C]!),
  },
  {
    name: 'transpose + reshape (chained ops)', x: random(R * C, 7), shape: [R, C],
    f: (tf, x) => tf.sum(tf.mul(x.transpose().reshape([C * R]), tf.range(0, C * R))),
    grad: (x) => Float64Array.from(x, (_, i) => (i % C) * R + Math.floor(i / C)), // x[r, c] lands at c * R + r
  },
  {
    name: 'softmax cross-entropy (the training loss)', x: random(R * C, 8), shape: [R, C],
    f: (tf, x) => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), C), x),
    grad: softmaxCrossEntropyGrad,
  },
];

describe.each(CLAIMED)('gradients on tfjs %s', (name) => {
  it.for(CASES)('$name matches its closed form', async (c, ctx) => {
    const probe = await probeTfjsBackend(name);
    if (!probe.available) {
      if (inCi) throw new Error(`backend ${name} is claimed but unavailable in CI: ${probe.reason}`);
      console.warn(`SKIPPED gradients on ${name} (not CI): ${probe.reason}`);
      ctx.skip();
    }
    const { tf } = await initTfjsBackend(name);
    const dx = tf.grad((x) => c.f(tf, x as ReturnType<Tf['tensor2d']>))(tf.tensor2d(c.x, [...c.shape]));
    const got = (await dx.data()) as Float32Array;
    dx.dispose();
    const want = c.grad(c.x);
    expect(got.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs((got[i] ?? Number.NaN) - want[i]!));
    expect(worst).toBeLessThan(TOLERANCE[name]);
  });
});
