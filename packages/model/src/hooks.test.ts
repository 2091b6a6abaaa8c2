import { initTfjsBackend, type Tf } from '@bitlens/engine';
import { mulberry32 } from '@bitlens/core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { runWithCache, withCache } from './activation-cache.js';
import { type ModelConfig, modelConfig } from './config.js';
import { forwardFull, type ForwardOptions } from './forward.js';
import { type HookName, actName, hookNames, isHookName } from './hooks.js';
import { type HostTensor, initParams } from './params.js';
import { toTensors } from './tensors.js';

let tf: Tf;
beforeAll(async () => {
  ({ tf } = await initTfjsBackend('wasm'));
});

/** Row-major float64 values and a shape. */
interface Ref {
  readonly shape: number[];
  readonly data: Float64Array;
}

function make(shape: number[], f: (...ix: number[]) => number): Ref {
  const data = new Float64Array(shape.reduce((a, x) => a * x, 1));
  const ix = new Array<number>(shape.length).fill(0);
  for (let q = 0; q < data.length; q++) {
    let r = q;
    for (let a = shape.length - 1; a >= 0; a--) {
      const s = shape[a] ?? 1;
      ix[a] = r % s;
      r = Math.floor(r / s);
    }
    data[q] = f(...ix);
  }
  return { shape, data };
}

function at(r: Ref, ...ix: number[]): number {
  let q = 0;
  for (let a = 0; a < ix.length; a++) q = q * (r.shape[a] ?? 1) + (ix[a] ?? 0);
  return r.data[q] ?? NaN;
}

/** Parameter lookup for the reference forward: a weight by name, and a bias entry (0 for a config without biases). */
interface RefParams {
  readonly W: (name: string) => Float32Array;
  readonly bias: (name: string, i: number) => number;
}

function refParams(c: ModelConfig, P: ReadonlyMap<string, HostTensor>): RefParams {
  const W = (n: string): Float32Array => {
    const t = P.get(n);
    if (t === undefined) throw new Error(`no ${n}`);
    return t.data;
  };
  return { W, bias: (n, i) => (c.biases ? (W(n)[i] ?? 0) : 0) };
}

/** TransformerLens's attention of block `pre` on resid [B, n, d]: q, k, v, scores (masked -inf), pattern, z, result, attn_out. */
function tlAttention(c: ModelConfig, { W, bias }: RefParams, pre: string, resid: Ref): Map<string, Ref> {
  const { dModel: d, nHeads: H, dHead: E, nCtx: n } = c;
  const B = resid.shape[0] ?? 0;
  const proj = (w: string, bn: string): Ref =>
    make([B, n, H, E], (b, p, h, e) => {
      let s = bias(`${pre}.attn.${bn}`, h * E + e);
      for (let j = 0; j < d; j++) s += at(resid, b, p, j) * (W(`${pre}.attn.${w}`)[(h * d + j) * E + e] ?? 0);
      return s;
    });
  const q = proj('W_Q', 'b_Q');
  const k = proj('W_K', 'b_K');
  const v = proj('W_V', 'b_V');
  const scores = make([B, H, n, n], (b, h, i, j) => {
    if (c.causal && j > i) return -Infinity;
    let s = 0;
    for (let e = 0; e < E; e++) s += at(q, b, i, h, e) * at(k, b, j, h, e);
    return s / c.attnScale;
  });
  const pattern = make([B, H, n, n], (b, h, i, j) => {
    let mx = -Infinity;
    for (let t = 0; t < n; t++) mx = Math.max(mx, at(scores, b, h, i, t));
    let z = 0;
    for (let t = 0; t < n; t++) z += Math.exp(at(scores, b, h, i, t) - mx);
    return Math.exp(at(scores, b, h, i, j) - mx) / z;
  });
  const z = make([B, n, H, E], (b, p, h, e) => {
    let s = 0;
    for (let j = 0; j < n; j++) s += at(pattern, b, h, p, j) * at(v, b, j, h, e);
    return s;
  });
  const result = make([B, n, H, d], (b, p, h, j) => {
    let s = 0;
    for (let e = 0; e < E; e++) s += at(z, b, p, h, e) * (W(`${pre}.attn.W_O`)[(h * E + e) * d + j] ?? 0);
    return s;
  });
  const attnOut = make([B, n, d], (b, p, j) => {
    let s = bias(`${pre}.attn.b_O`, j);
    for (let h = 0; h < H; h++) s += at(result, b, p, h, j);
    return s;
  });
  return new Map([['attn.hook_q', q], ['attn.hook_k', k], ['attn.hook_v', v], ['attn.hook_attn_scores', scores], ['attn.hook_pattern', pattern], ['attn.hook_z', z], ['attn.hook_result', result], ['hook_attn_out', attnOut]]);
}

/** TransformerLens's MLP of block `pre` on resid_mid: pre, post = relu(pre), mlp_out. */
function tlMlp(c: ModelConfig, { W, bias }: RefParams, pre: string, mid: Ref): Map<string, Ref> {
  const { dModel: d, dMlp: M, nCtx: n } = c;
  const B = mid.shape[0] ?? 0;
  const mlpPre = make([B, n, M], (b, p, m) => {
    let s = bias(`${pre}.mlp.b_in`, m);
    for (let j = 0; j < d; j++) s += at(mid, b, p, j) * (W(`${pre}.mlp.W_in`)[j * M + m] ?? 0);
    return s;
  });
  const post = make([B, n, M], (b, p, m) => Math.max(0, at(mlpPre, b, p, m)));
  const mlpOut = make([B, n, d], (b, p, j) => {
    let s = bias(`${pre}.mlp.b_out`, j);
    for (let m = 0; m < M; m++) s += at(post, b, p, m) * (W(`${pre}.mlp.W_out`)[m * d + j] ?? 0);
    return s;
  });
  return new Map([['mlp.hook_pre', mlpPre], ['mlp.hook_post', post], ['hook_mlp_out', mlpOut]]);
}

/** TransformerLens's RMSNorm (components/rms_norm.py) on x: scale = sqrt(mean(x^2) + eps), normalized = x / scale, out = normalized * w. */
function tlRmsNorm(w: Float32Array, x: Ref, eps: number): { scale: Ref; normalized: Ref; out: Ref } {
  const [B = 0, n = 0, d = 0] = x.shape;
  const scale = make([B, n, 1], (b, p) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += at(x, b, p, j) ** 2;
    return Math.sqrt(s / d + eps);
  });
  const normalized = make([B, n, d], (b, p, j) => at(x, b, p, j) / at(scale, b, p, 0));
  return { scale, normalized, out: make([B, n, d], (b, p, j) => at(normalized, b, p, j) * (w[j] ?? 0)) };
}

/**
 * TransformerLens's HookedTransformer forward for our configs, written from its definitions (components/embed.py,
 * pos_embed.py, abstract_attention.py, mlps/mlp.py, rms_norm.py, unembed.py), in float64 on the host, hook by hook:
 * q = x W_Q + b_Q; scores = q·k / attn_scale with masked entries -inf (IGNORE) before the softmax; z = pattern·v;
 * result = z_h W_O[h]; attn_out = sum_h result + b_O; pre = x W_in + b_in; post = relu(pre); RMSNorm:
 * scale = sqrt(mean(x^2) + eps), normalized = x / scale, output normalized * w.
 */
function tlForward(c: ModelConfig, P: ReadonlyMap<string, HostTensor>, toks: number[][]): Map<string, Ref> {
  const R = refParams(c, P);
  const { dModel: d, dVocabOut: O, nCtx: n } = c;
  const B = toks.length;
  const out = new Map<string, Ref>();
  const embed = make([B, n, d], (b, p, j) => R.W('embed.W_E')[(toks[b]?.[p] ?? 0) * d + j] ?? 0);
  out.set('hook_embed', embed);
  let x = embed;
  if (c.posEmbed) {
    const pos = make([B, n, d], (_b, p, j) => R.W('pos_embed.W_pos')[p * d + j] ?? 0);
    out.set('hook_pos_embed', pos);
    x = make([B, n, d], (b, p, j) => at(embed, b, p, j) + at(pos, b, p, j));
  }
  for (let l = 0; l < c.nLayers; l++) {
    const pre = `blocks.${l}`;
    const resid = x;
    out.set(`${pre}.hook_resid_pre`, resid);
    const attn = tlAttention(c, R, pre, resid);
    const attnOut = attn.get('hook_attn_out') as Ref;
    const mid = make([B, n, d], (b, p, j) => at(resid, b, p, j) + at(attnOut, b, p, j));
    const mlp = tlMlp(c, R, pre, mid);
    const mlpOut = mlp.get('hook_mlp_out') as Ref;
    x = make([B, n, d], (b, p, j) => at(mid, b, p, j) + at(mlpOut, b, p, j));
    for (const [h, r] of [...attn, ['hook_resid_mid', mid] as const, ...mlp, ['hook_resid_post', x] as const]) out.set(`${pre}.${h}`, r);
  }
  let u = x;
  if (c.finalNorm) {
    const norm = tlRmsNorm(R.W('ln_final.w'), x, 1e-24 / d); // bitlens's final norm, as an RMSNorm eps (see the forward)
    out.set('ln_final.hook_scale', norm.scale).set('ln_final.hook_normalized', norm.normalized).set('ln_final.hook_out', norm.out);
    u = norm.out;
  }
  const fin = u;
  out.set('logits', make([B, n, O], (b, p, o) => {
    let s = R.bias('unembed.b_U', o);
    for (let j = 0; j < d; j++) s += at(fin, b, p, j) * (R.W('unembed.W_U')[j * O + o] ?? 0);
    return s;
  }));
  return out;
}

/** Parameters with non-zero biases and a non-trivial norm gain, so that every term of the definitions shows. */
function params(c: ModelConfig, seed: number): Map<string, HostTensor> {
  const P = initParams(c, seed);
  const rnd = mulberry32(seed + 100);
  for (const [n, t] of P) if (/\.b_|ln_final\.w/.test(n)) P.set(n, { shape: t.shape, data: t.data.map((v) => v + 0.3 * (rnd() - 0.5)) });
  return P;
}

const small = { dModel: 16, nHeads: 2, dMlp: 24 } as const;
const CONFIGS: [string, ModelConfig][] = [
  ['nanda (causal, positional embedding, biases), 2 layers', modelConfig('nanda', 7, { ...small, nLayers: 2 })],
  ['li (bidirectional, final norm, scores / sqrt(d_model))', modelConfig('li', 7, small)],
];
const TOKENS = [[0, 1, 7], [6, 3, 7], [2, 2, 7], [5, 0, 7]];

describe.each(CONFIGS)('every hook carries the value of its TransformerLens definition: %s', (_label, cfg) => {
  it('each captured hook equals the float64 TransformerLens forward (1e-5 relative to its largest entry; masked scores are -Infinity)', () => {
    const host = params(cfg, 3);
    const ref = tlForward(cfg, host, TOKENS);
    const P = toTensors(tf, host);
    const got = withCache(tf, cfg, P, TOKENS, {}, (run) => run.cache.toHost());
    tf.dispose([...P.values()]);
    expect([...got.keys()]).toEqual(hookNames(cfg));
    for (const name of hookNames(cfg)) {
      const r = ref.get(name);
      const g = got.get(name);
      expect(r, name).toBeDefined();
      expect(g?.shape, name).toEqual(r?.shape);
      const rd = r?.data ?? new Float64Array();
      const gd = g?.data ?? new Float32Array();
      let big = 0;
      for (const v of rd) if (Number.isFinite(v)) big = Math.max(big, Math.abs(v));
      for (let i = 0; i < rd.length; i++) {
        const want = rd[i] ?? NaN;
        const have = gd[i] ?? NaN;
        if (!Number.isFinite(want)) expect(have, `${name}[${i}]`).toBe(want);
        else expect(Math.abs(have - want), `${name}[${i}]`).toBeLessThanOrEqual(1e-5 * Math.max(big, 1e-6));
      }
    }
    if (cfg.causal) expect(got.get('blocks.0.attn.hook_attn_scores')?.data[1]).toBe(-Infinity); // query 0, key 1
  });

  it('the logits do not depend on whether per-head results are computed (one matMul over heads, or TransformerLens use_attn_result)', () => {
    const P = toTensors(tf, params(cfg, 4));
    const t = tf.tensor2d(TOKENS, [TOKENS.length, 3], 'int32');
    const [a, b] = tf.tidy(() => [forwardFull(tf, cfg, P, t).logits.dataSync(), forwardFull(tf, cfg, P, t, { attnResult: true }).logits.dataSync()]);
    tf.dispose([t, ...P.values()]);
    for (let i = 0; i < (a?.length ?? 0); i++) expect(Math.abs((a?.[i] ?? 0) - (b?.[i] ?? 0))).toBeLessThan(1e-4);
  });
});

describe('interventions on the TransformerLens-valued hooks flow downstream', () => {
  const li = modelConfig('li', 7, small);
  it('scaling ln_final.hook_normalized by 2 doubles the logits (b_U aside: li has none); patching one head via hook_result changes hook_attn_out by exactly that head', () => {
    const P = toTensors(tf, params(li, 5));
    const toks = tf.tensor2d(TOKENS, [TOKENS.length, 3], 'int32');
    const base = runWithCache(tf, li, P, toks, { names: ['logits', 'blocks.0.hook_attn_out', 'blocks.0.attn.hook_result'] });
    const doubled = runWithCache(tf, li, P, toks, { names: ['logits'], intervene: (h, x) => (h === 'ln_final.hook_normalized' ? tf.mul(x, 2) : x) });
    const a = base.logits.dataSync();
    const b = doubled.logits.dataSync();
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(2 * (a[i] ?? 0), 4);
    // Zero head 1's result: attn_out loses exactly head 1's term.
    const zeroHead1 = (h: HookName, x: Tensor): Tensor => (h === 'blocks.0.attn.hook_result' ? tf.mul(x, tf.tensor4d([1, 0], [1, 1, 2, 1])) : x);
    const patched = runWithCache(tf, li, P, toks, { names: ['blocks.0.hook_attn_out'], intervene: zeroHead1, attnResult: true });
    const res = base.cache.get('result', 0).dataSync();
    const out0 = base.cache.get('attn_out', 0).dataSync();
    const out1 = patched.cache.get('blocks.0.hook_attn_out').dataSync();
    const d = li.dModel;
    for (let r = 0; r < out0.length / d; r++) for (let j = 0; j < d; j++) expect(out1[r * d + j]).toBeCloseTo((out0[r * d + j] ?? 0) - (res[(r * 2 + 1) * d + j] ?? 0), 5);
    for (const x of [base, doubled, patched]) x.dispose();
    tf.dispose([toks, ...P.values()]);
  });
});

describe('hook names are typed and checked', () => {
  const nanda = modelConfig('nanda', 7, small);
  it('lists the hooks of a config in forward order, leaving out what the config lacks', () => {
    const n = hookNames(nanda);
    expect(n[0]).toBe('hook_embed');
    expect(n).toContain('hook_pos_embed');
    expect(n).not.toContain('ln_final.hook_scale');
    expect(n).not.toContain('blocks.0.attn.hook_gate');
    expect(n.at(-1)).toBe('logits');
    expect(hookNames(modelConfig('li', 7, small))).toContain('ln_final.hook_out');
    expect(hookNames(modelConfig('nanda', 7, { ...small, attention: 'gated' }))).toContain('blocks.0.attn.hook_gate');
    expect(isHookName('blocks.12.mlp.hook_post')).toBe(true);
    expect(isHookName('blocks.0.mlp.hook_psot')).toBe(false);
    expect(isHookName('blocks.01.hook_resid_pre')).toBe(false);
  });

  it('a misspelt hook name is a type error', () => {
    expectTypeOf<'blocks.0.mlp.hook_post'>().toExtend<HookName>();
    expectTypeOf<'blocks.3.attn.hook_result'>().toExtend<HookName>();
    expectTypeOf<'blocks.0.mlp.hook_psot'>().not.toExtend<HookName>();
    expectTypeOf<'ln_final.hook_scal'>().not.toExtend<HookName>();
    // @ts-expect-error: not a hook name
    const bad: ForwardOptions = { capture: ['blocks.0.mlp.hook_psot'] };
    expect(bad.capture).toBeDefined();
  });

  it('at run time an unknown name (or one this config lacks) is INVALID_OPTION naming it, never an empty capture', () => {
    const P = toTensors(tf, initParams(nanda, 1));
    const toks = [[1, 2, 7]];
    const typo = JSON.parse('["blocks.0.mlp.hook_psot"]') as HookName[]; // e.g. from a config file
    expect(() => runWithCache(tf, nanda, P, toks, { names: typo })).toThrow(/INVALID_OPTION.*'names'.*blocks\.0\.mlp\.hook_psot/);
    expect(() => runWithCache(tf, nanda, P, toks, { names: ['ln_final.hook_scale'] })).toThrow(/INVALID_OPTION.*has no such hook/);
    expect(() => runWithCache(tf, nanda, P, toks, { names: ['blocks.1.hook_resid_pre'] })).toThrow(/INVALID_OPTION.*blocks\.1\.hook_resid_pre/);
    expect(() => runWithCache(tf, nanda, P, toks, { names: /hook_nothing/ })).toThrow(/INVALID_OPTION.*matches no hook/);
    const t = tf.tensor2d(toks, [1, 3], 'int32');
    expect(() => tf.tidy(() => forwardFull(tf, nanda, P, t, { capture: typo }).logits)).toThrow(/INVALID_OPTION.*'capture'/);
    tf.dispose([t, ...P.values()]);
  });

  it('TransformerLens short names resolve as utils.get_act_name does', () => {
    expect(actName('resid_pre', 0)).toBe('blocks.0.hook_resid_pre');
    expect(actName('pattern', 1)).toBe('blocks.1.attn.hook_pattern');
    expect(actName('attn', 1)).toBe('blocks.1.attn.hook_pattern');
    expect(actName('post', 0)).toBe('blocks.0.mlp.hook_post');
    expect(actName('attn_out', 2)).toBe('blocks.2.hook_attn_out');
    expect(actName('embed')).toBe('hook_embed');
    expect(actName('scale')).toBe('ln_final.hook_scale');
    expect(actName('blocks.0.hook_resid_mid')).toBe('blocks.0.hook_resid_mid');
    expect(() => actName('pattern')).toThrow(/INVALID_OPTION.*'layer'/);
    expect(() => actName('embed', 0)).toThrow(/INVALID_OPTION.*'layer'/);
  });
});

describe('runWithCache and ActivationCache', () => {
  const cfg = modelConfig('nanda', 7, { ...small, nLayers: 2 });
  it('gets by name or by short name and layer, lists names in forward order, copies to the host', () => {
    const P = toTensors(tf, initParams(cfg, 2));
    const run = runWithCache(tf, cfg, P, TOKENS, { names: ['blocks.1.attn.hook_pattern', 'hook_embed', 'logits'] });
    expect(run.cache.names()).toEqual(['hook_embed', 'blocks.1.attn.hook_pattern', 'logits']);
    expect(run.cache.get('pattern', 1)).toBe(run.cache.get('blocks.1.attn.hook_pattern'));
    expect(run.cache.get('pattern', 1).shape).toEqual([4, 2, 3, 3]);
    expect(run.cache.has('pattern', 0)).toBe(false);
    expect(() => run.cache.get('pattern', 0)).toThrow(/NOT_FOUND.*blocks\.0\.attn\.hook_pattern/);
    const host = run.cache.toHost();
    expect(host.get('logits')?.data).toEqual(run.logits.dataSync());
    expect(run.cache.get('logits')).not.toBe(run.logits); // its own copy: either can be disposed alone
    run.dispose();
    expect(run.cache.disposed).toBe(true);
    expect(() => run.cache.get('hook_embed')).toThrow(/NOT_FOUND.*disposed/);
    tf.dispose([...P.values()]);
  });

  it('leaks no tensor: dispose(), `using`, withCache (also when fn throws), a failed name check', async () => {
    const P = toTensors(tf, initParams(cfg, 2));
    const tokens = tf.tensor2d(TOKENS, [4, 3], 'int32');
    const before = tf.memory().numTensors;
    runWithCache(tf, cfg, P, tokens).dispose(); // every hook (the resid_post / next resid_pre tensor is shared)
    expect(tf.memory().numTensors).toBe(before);
    {
      using run = runWithCache(tf, cfg, P, tokens, { names: /hook_resid_/ });
      expect(run.cache.size).toBe(6);
      expect(tf.memory().numTensors).toBeGreaterThan(before);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(withCache(tf, cfg, P, tokens, { names: ['blocks.0.mlp.hook_post'] }, ({ cache }) => cache.get('post', 0).shape)).toEqual([4, 3, 24]);
    expect(() => withCache(tf, cfg, P, tokens, {}, () => { throw new Error('boom'); })).toThrow('boom');
    await expect(withCache(tf, cfg, P, tokens, {}, async ({ cache }) => { await Promise.resolve(); return cache.size; })).resolves.toBe(hookNames(cfg).length);
    expect(() => runWithCache(tf, cfg, P, tokens, { names: ['ln_final.hook_out'] })).toThrow(/INVALID_OPTION/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([tokens, ...P.values()]);
  });
});
