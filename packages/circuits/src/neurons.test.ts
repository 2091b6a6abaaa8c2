import { initTfjsBackend } from '@bitlens/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tf } from '@bitlens/engine';
import { clusterNeurons, neuronFrequencyFve, varianceExplainedBy } from './neurons.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await initTfjsBackend('wasm')).tf;
});

describe('neuron-frequency clustering (docs/science.md#neuron-frequencies-and-clusters)', () => {
  it('ReLU(cos(w_k a) + cos(w_k b)) has argmax frequency k and FVE 0.962 (p = 113, k = 14)', () => {
    const p = 113;
    const n = 3;
    const acts = new Float32Array(p * p * n);
    for (let a = 0; a < p; a++)
      for (let b = 0; b < p; b++) {
        const r = a * p + b;
        acts[r * n] = Math.max(0, Math.cos((2 * Math.PI * 14 * a) / p) + Math.cos((2 * Math.PI * 14 * b) / p));
        acts[r * n + 1] = Math.max(0, Math.cos((2 * Math.PI * 41 * a) / p + 0.3) + Math.cos((2 * Math.PI * 41 * b) / p + 0.3));
        acts[r * n + 2] = 0.5; // dead (constant) neuron
      }
    const nf = neuronFrequencyFve(tf, acts, p, n);
    expect(nf.freq[0]).toBe(14);
    expect(nf.maxFve[0]).toBeGreaterThan(0.9);
    expect(nf.maxFve[0]).toBeCloseTo(0.962, 3);
    expect(nf.freq[1]).toBe(41);
    expect(nf.alive[2]).toBe(0);
    const cl = clusterNeurons(nf, 0.9, 1);
    expect(cl.nAlive).toBe(2);
    expect(cl.nClustered).toBe(2);
    expect(cl.keys).toEqual([14, 41]);
    expect(varianceExplainedBy(nf, [14, 41])).toBeGreaterThan(0.95);
    expect(varianceExplainedBy(nf, [14])).toBeLessThan(0.6);
  });
});
