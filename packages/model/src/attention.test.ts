import { withMetadata } from '@bitlens/core';
import { initTfjsBackend, type Tf } from '@bitlens/engine';
import { createQuantizerRegistry } from '@bitlens/quantization';
import type { Tensor } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIPPED_SOFTMAX_DEFAULTS, modelConfig, upgradeConfig, validateConfig, type AttentionVariant, type ModelConfig } from './config.js';
import { forwardFull, forwardLast } from './forward.js';
import { initParams, paramSpecs, type HostTensor } from './params.js';
import { effectiveHostParams, effectiveParams, toTensors } from './tensors.js';
import { MODEL_CONFIG_KEY, configFromTable, readWeightsTable, weightsTable } from './weights.js';

let tf: Tf;
beforeAll(async () => {
  ({ tf } = await initTfjsBackend('wasm'));
});

/** Matches a BitlensError with code INVALID_CONFIG naming `field`. */
const invalid = (field: string): unknown => expect.objectContaining({ code: 'INVALID_CONFIG', site: expect.objectContaining({ field }) });

describe('attention variant in the config', () => {
  it('defaults to vanilla; a variant name fills in its defaults; an object keeps what it gives', () => {
    expect(modelConfig('li', 23).attention).toEqual({ kind: 'vanilla' });
    expect(modelConfig('li', 23, { attention: 'clipped' }).attention).toEqual({ kind: 'clipped', ...CLIPPED_SOFTMAX_DEFAULTS });
    expect(modelConfig('li', 23, { attention: 'clipped' }).attention).toEqual({ kind: 'clipped', zeta: 1, gamma: -0.025 });
    expect(modelConfig('li', 23, { attention: 'gated' }).attention).toEqual({ kind: 'gated', piInit: 0.25 });
    expect(modelConfig('li', 23, { attention: { kind: 'clipped', gamma: -0.1 } }).attention).toEqual({ kind: 'clipped', zeta: 1, gamma: -0.1 });
  });

  it.each([
    [{ attention: 'sparse' as AttentionVariant }, 'attention'],
    [{ attention: { kind: 'clipped' as const, zeta: 0.9 } }, 'attention.zeta'],
    [{ attention: { kind: 'clipped' as const, gamma: 0.1 } }, 'attention.gamma'],
    [{ attention: { kind: 'clipped' as const, gamma: Number.NaN } }, 'attention.gamma'],
    [{ attention: { kind: 'gated' as const, piInit: 1 } }, 'attention.piInit'],
    [{ attention: { kind: 'gated' as const, piInit: 0.3, zeta: 1 } as unknown as 'gated' }, 'attention.zeta'],
  ])('rejects %j with INVALID_CONFIG naming %s', (over, field) => {
    expect(() => modelConfig('li', 23, over)).toThrow(invalid(field));
  });

  it('rejects the fields it replaced, and reads old weights tables through upgradeConfig', () => {
    const cfg = modelConfig('li', 7, { dModel: 8, nHeads: 2, dMlp: 16 });
    const legacy = { ...cfg, attention: undefined, clippedSoftmax: { zeta: 1, gamma: -0.1 }, gatedAttention: false, gateInit: 0.25 };
    expect(() => validateConfig({ ...cfg, gatedAttention: true } as unknown as ModelConfig)).toThrow(invalid('gatedAttention'));
    const { attention: _drop, ...old } = legacy;
    expect(upgradeConfig(old)).toEqual({ ...cfg, attention: { kind: 'clipped', zeta: 1, gamma: -0.1 } });
    expect(upgradeConfig({ ...old, clippedSoftmax: undefined, gatedAttention: true, gateInit: 0.4 })).toEqual({ ...cfg, attention: { kind: 'gated', piInit: 0.4 } });
    expect(() => upgradeConfig({ ...old, gatedAttention: true })).toThrow(invalid('attention'));
    // A table written before the attention field existed is read back with the variant it had.
    const { attention: _a, ...oldCfg } = cfg;
    const oldTable = withMetadata(weightsTable(cfg, initParams(cfg, 1)), new Map([[MODEL_CONFIG_KEY, JSON.stringify({ ...oldCfg, gatedAttention: true, gateInit: 0.25 })]]));
    expect(configFromTable(oldTable).attention).toEqual({ kind: 'gated', piInit: 0.25 });
    expect(() => readWeightsTable(oldTable)).toThrow(/NOT_FOUND.*gate/); // its tensors are checked against the upgraded config
    expect(configFromTable(withMetadata(oldTable, new Map([[MODEL_CONFIG_KEY, JSON.stringify({ ...oldCfg, gatedAttention: false, gateInit: 0.25 })]]))).attention).toEqual({ kind: 'vanilla' });
  });

  it('gated attention adds per-head gate tensors with bias logit(piInit); the other variants have the same tensors', () => {
    const over = { dModel: 32, nHeads: 4, dMlp: 64 };
    const names = (a: AttentionVariant): string[] => paramSpecs(modelConfig('li', 23, { ...over, attention: a })).map((s) => s.name);
    expect(names('clipped')).toEqual(names('vanilla'));
    expect(names('gated').filter((n) => !names('vanilla').includes(n))).toEqual(['blocks.0.attn.gate.W', 'blocks.0.attn.gate.b']);
    const g = initParams(modelConfig('li', 23, { ...over, attention: { kind: 'gated', piInit: 0.1 } }), 2);
    expect(g.get('blocks.0.attn.gate.W')?.shape).toEqual([4, 8]);
    for (const b of g.get('blocks.0.attn.gate.b')?.data ?? []) expect(b).toBeCloseTo(Math.log(0.1 / 0.9), 6);
  });
});

const VARIANTS: readonly AttentionVariant[] = ['vanilla', 'clipped', 'gated'];
const PRECISIONS = ['fp32', 'ternary-absmean', 'binary-scaled'] as const;
const CASES = VARIANTS.flatMap((a) => PRECISIONS.map((q) => [a, q] as const));

/** Latent parameters; `qk` scales queries and keys up (sharper attention, e.g. so that a clipped softmax clips). */
function latentParams(cfg: ModelConfig, seed: number, qk = 4): Map<string, HostTensor> {
  const host = initParams(cfg, seed);
  for (const [name, k] of [['blocks.0.attn.W_Q', qk], ['blocks.0.attn.W_K', qk]] as const) {
    const w = host.get(name);
    if (w !== undefined) host.set(name, { shape: w.shape, data: w.data.map((x) => k * x) });
  }
  return host;
}

function tokenBatch(tfx: Tf, p: number, n: number): Tensor {
  const rows: number[] = [];
  for (let i = 0; i < n; i++) rows.push((7 * i + 3) % p, (11 * i + 5) % p, p);
  return tfx.tensor2d(rows, [n, 3], 'int32');
}

describe.each(CASES)('gradients: %s attention, %s weights', (variant, quantizer) => {
  // The clipped case shifts harder than the default (gamma -0.25: probabilities below 0.2 become 0) so that entries
  // are clipped at this init and the check covers the clipped region too.
  const attention = variant === 'clipped' ? { kind: 'clipped' as const, gamma: -0.25 } : variant;
  const cfg = modelConfig('li', 23, { dModel: 32, nHeads: 4, dMlp: 64, attention, quantizer });
  const registry = createQuantizerRegistry();
  const B = 40;
  const lastOf = (logits: Tensor): Tensor => tf.reshape(tf.slice(logits, [0, 2, 0], [B, 1, cfg.p]), [B, cfg.p]);

  it('the fast path (forwardLast) has the values and latent-weight gradients of forwardFull', () => {
    const latent = toTensors(tf, latentParams(cfg, 5));
    const names = [...latent.keys()];
    const t = tokenBatch(tf, cfg.p, B);
    const w = tf.randomNormal([B, cfg.p], 0, 1, 'float32', 9);
    const objective = (fast: boolean) => (...xs: Tensor[]): Tensor => {
      const eff = effectiveParams(tf, cfg, new Map(names.map((n, i) => [n, xs[i] as Tensor])), registry);
      const out = fast ? forwardLast(tf, cfg, eff, t) : lastOf(forwardFull(tf, cfg, eff, t).logits);
      return tf.sum(tf.mul(out, w));
    };
    const [gFull, gLast] = [tf.grads(objective(false))(names.map((n) => latent.get(n) as Tensor)), tf.grads(objective(true))(names.map((n) => latent.get(n) as Tensor))];
    const maxAbs = (x: Float32Array): number => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const largest = Math.max(...gFull.map((g) => maxAbs(g.dataSync() as Float32Array)));
    expect(largest).toBeGreaterThan(0);
    names.forEach((n, i) => {
      const a = (gFull[i] as Tensor).dataSync() as Float32Array;
      const b = (gLast[i] as Tensor).dataSync() as Float32Array;
      let d = 0;
      a.forEach((v, j) => (d = Math.max(d, Math.abs(v - (b[j] ?? 0)))));
      expect(d / Math.max(maxAbs(a), 0.01 * largest), n).toBeLessThan(1e-4);
    });
    tf.dispose([...gFull, ...gLast, t, w, ...latent.values()]);
  });

  it('the straight-through latent gradient matches central finite differences of the forward at the effective weights', () => {
    const host = latentParams(cfg, 5, variant === 'clipped' ? 8 : 1);
    const eff = effectiveHostParams(cfg, host, registry);
    const names = [...host.keys()];
    const t = tokenBatch(tf, cfg.p, B);
    const labels = tf.oneHot(tf.tensor1d(Array.from({ length: B }, (_, i) => ((7 * i + 3 + 11 * i + 5) % cfg.p)), 'int32'), cfg.p);
    // The training objective, summed cross-entropy at the last position, of the forward at given (effective) weights.
    const f = (P: ReadonlyMap<string, Tensor>): Tensor => tf.neg(tf.sum(tf.mul(tf.logSoftmax(lastOf(forwardFull(tf, cfg, P, t).logits)), labels)));
    const latent = toTensors(tf, host);
    const grads = tf.grads((...xs: Tensor[]) => f(effectiveParams(tf, cfg, new Map(names.map((n, i) => [n, xs[i] as Tensor])), registry)))(names.map((n) => latent.get(n) as Tensor));
    const value = (P: Map<string, HostTensor>): number => {
      const T = toTensors(tf, P);
      const v = tf.tidy(() => f(T).dataSync()[0] ?? Number.NaN);
      tf.dispose([...T.values()]);
      return v;
    };
    // One directional derivative per tensor, along a seeded random direction scaled to the tensor's RMS. The step is
    // chosen so that f moves by about 0.02 (thousands of float32 ulps of f, so rounding stays small), capped at 5% of
    // the RMS so that the central difference stays in the linear regime.
    let seed = 17;
    const f0 = value(new Map(eff));
    const ulp = 2 ** (Math.floor(Math.log2(Math.abs(f0))) - 23);
    names.forEach((n, i) => {
      const e = eff.get(n) as HostTensor;
      const rms = Math.sqrt(e.data.reduce((s, x) => s + x * x, 0) / e.data.length) || 1;
      const dir = Float32Array.from(e.data, () => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return (seed / 2147483648 - 0.5) * 2 * rms;
      });
      const g = (grads[i] as Tensor).dataSync() as Float32Array;
      const analytic = g.reduce((a, x, j) => a + x * (dir[j] ?? 0), 0);
      const scale = g.reduce((a, x, j) => a + Math.abs(x * (dir[j] ?? 0)), 0);
      const eps = Math.min(0.05, Math.max(1e-4, 0.02 / scale));
      const moved = (sign: number): Map<string, HostTensor> => new Map([...eff, [n, { shape: e.shape, data: Float32Array.from(e.data, (x, j) => x + sign * eps * (dir[j] ?? 0)) }]]);
      const fd = (value(moved(1)) - value(moved(-1))) / (2 * eps);
      expect(Math.abs(fd - analytic), n).toBeLessThan(2e-2 * Math.abs(analytic) + 2e-3 * scale + (8 * ulp) / (2 * eps));
    });
    if (variant === 'clipped') {
      // The check covers the clipping: some attention entries are exactly 0 (their gradient is 0).
      const P = toTensors(tf, eff);
      const zeros = tf.tidy(() => (forwardFull(tf, cfg, P, t, { capture: (h) => h.endsWith('hook_pattern') }).cache.get('blocks.0.attn.hook_pattern')?.dataSync() as Float32Array).filter((x) => x === 0).length);
      tf.dispose([...P.values()]);
      expect(zeros).toBeGreaterThan(0);
    }
    tf.dispose([...grads, t, labels, ...latent.values()]);
  });
});
