import { initTfjsBackend, type Tf } from '@bitlens/engine';
import { createQuantizerRegistry } from '@bitlens/quantization';
import type { Tensor } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelConfig } from './config.js';
import { initParams, type HostTensor } from './params.js';
import { effectiveHostParams, effectiveParams, toHost, toTensors } from './tensors.js';

let tf: Tf;
beforeAll(async () => {
  ({ tf } = await initTfjsBackend('wasm'));
});

describe('effective weights', () => {
  const cfg = modelConfig('li', 23, { dModel: 32, nHeads: 4, dMlp: 64, quantizer: 'ternary-centred' });
  const registry = createQuantizerRegistry();
  it('quantizes only the block layers, with three levels, and agrees with the host computation', () => {
    const host = initParams(cfg, 4);
    const P = toTensors(tf, host);
    let eff = new Map<string, HostTensor>();
    tf.tidy(() => {
      eff = toHost(effectiveParams(tf, cfg, P, registry));
    });
    const effHost = effectiveHostParams(cfg, host, registry);
    const win = eff.get('blocks.0.mlp.W_in')?.data ?? new Float32Array();
    expect(new Set(win).size).toBe(3);
    expect(eff.get('embed.W_E')?.data).toEqual(host.get('embed.W_E')?.data);
    const hw = effHost.get('blocks.0.mlp.W_in')?.data ?? new Float32Array();
    expect(Math.max(...win.map((x, i) => Math.abs(x - (hw[i] ?? 0))))).toBeLessThan(1e-6);
    tf.dispose([...P.values()]);
  });
  it('passes the gradient straight through to the latent weight', () => {
    const P = toTensors(tf, initParams(cfg, 4));
    const w = P.get('blocks.0.attn.W_V') as Tensor;
    const g = tf.tidy(() => {
      const G = tf.randomNormal(w.shape, 0, 1, 'float32', 3);
      const grad = tf.grad((x: Tensor) => tf.sum(tf.mul(effectiveParams(tf, cfg, new Map([['blocks.0.attn.W_V', x]]), registry).get('blocks.0.attn.W_V') as Tensor, G)))(w);
      return tf.max(tf.abs(tf.sub(grad, G))).dataSync()[0];
    });
    expect(g).toBe(0);
    tf.dispose([...P.values()]);
  });
});
