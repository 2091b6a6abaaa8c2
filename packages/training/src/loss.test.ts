import { initTfjsBackend, type Tf } from '@bitlens/engine';
import type { Tensor } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { safeCrossEntropy } from './loss.js';

let tf: Tf;
beforeAll(async () => {
  ({ tf } = await initTfjsBackend('wasm'));
});

function reference(logits: number[][], labels: number[]): number {
  let s = 0;
  for (let i = 0; i < logits.length; i++) {
    const row = logits[i] ?? [];
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, z) => a + Math.exp(z - m), 0));
    s += lse - (row[labels[i] ?? 0] ?? 0);
  }
  return s / logits.length;
}

describe('safeCrossEntropy', () => {
  it('equals a float64 reference on ordinary logits (to float32 precision)', () => {
    const logits = [[1, 2, 3, 0.5], [-1, 4, 0, 0], [2, 2, 2, 2]];
    const labels = [2, 0, 3];
    const v = tf.tidy(() => safeCrossEntropy(tf, tf.tensor2d(logits), tf.oneHot(tf.tensor1d(labels, 'int32'), 4).toFloat()).dataSync()[0] ?? NaN);
    expect(Math.abs(v - reference(logits, labels))).toBeLessThan(1e-6);
  });
  it('does not saturate: a margin of 25 gives loss ~3*exp(-25) (plain float32 log-softmax gives 0) and a non-zero gradient on the correct class', () => {
    const logits = [[25, 0, 0, 0]];
    const expected = 3 * Math.exp(-25); // 4.2e-11
    const [loss, plain, grad] = tf.tidy(() => {
      const z = tf.tensor2d(logits);
      const y = tf.oneHot(tf.tensor1d([0], 'int32'), 4).toFloat();
      const l = safeCrossEntropy(tf, z, y).dataSync()[0] ?? NaN;
      const p = tf.neg(tf.sum(tf.mul(tf.logSoftmax(z), y))).dataSync()[0] ?? NaN;
      const g = tf.grad((x: Tensor) => safeCrossEntropy(tf, x, y))(z).dataSync();
      return [l, p, Array.from(g)];
    });
    expect(Math.abs(loss - expected) / expected).toBeLessThan(1e-5);
    expect(Math.abs(plain)).toBe(0);
    expect(grad[0]).toBeLessThan(0);
    expect(Math.abs((grad[0] ?? 0) + expected) / expected).toBeLessThan(1e-5);
    expect(Math.abs((grad[1] ?? 0) - Math.exp(-25)) / Math.exp(-25)).toBeLessThan(1e-5);
  });
  it('is finite for confidently wrong rows (margin 200, no overflow)', () => {
    const v = tf.tidy(() => safeCrossEntropy(tf, tf.tensor2d([[0, 200, 0]]), tf.tensor2d([[1, 0, 0]])).dataSync()[0] ?? NaN);
    expect(Math.abs(v - 200) / 200).toBeLessThan(1e-6);
  });
});
