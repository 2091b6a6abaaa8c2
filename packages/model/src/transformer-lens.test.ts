import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createQuantizerRegistry } from '@bitlens/quantization';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '@bitlens/safetensors';
import { describe, expect, it } from 'vitest';
import { type ModelConfig, modelConfig } from './config.js';
import { initParams, type HostTensor } from './params.js';
import { effectiveHostParams } from './tensors.js';
import { TRANSFORMER_LENS_CONFIG_KEY, TRANSFORMER_LENS_UNSUPPORTED_KEY, exportTransformerLens, importTransformerLens, readTransformerLens, transformerLensFileConfig } from './transformer-lens.js';
import { fromTransformerLensConfig, toTransformerLensConfig } from './transformer-lens-config.js';
import { MODEL_CONFIG_KEY } from './weights.js';

/** The shared fixtures folder sits beside the repository (`<repo>/../shared`), as in CI's clone. */
const FIXTURE = fileURLToPath(new URL('../../../../shared/fixtures/progress_measures_p113_wd0.1_seed1.safetensors', import.meta.url));

/** The HookedTransformerConfig of TransformerLens's grokking demo (Nanda et al.), p = 113. */
const NANDA_TL = { n_layers: 1, n_heads: 4, d_model: 128, d_head: 32, d_mlp: 512, act_fn: 'relu', normalization_type: null, d_vocab: 114, d_vocab_out: 113, n_ctx: 3, init_weights: true, device: 'cpu', seed: 999 };

const bits = (t: HostTensor | undefined): Uint32Array => new Uint32Array((t?.data ?? new Float32Array()).slice().buffer);

describe('HookedTransformerConfig <-> ModelConfig', () => {
  it("TransformerLens's grokking config is the nanda preset at p = 113, and back", () => {
    const c = fromTransformerLensConfig(NANDA_TL);
    expect(c).toEqual(modelConfig('nanda', 113));
    expect(JSON.stringify(c)).toBe(JSON.stringify(modelConfig('nanda', 113))); // same key order: same cache keys downstream
    const tl = toTransformerLensConfig(c);
    expect(tl).toMatchObject({ n_layers: 1, d_model: 128, n_heads: 4, d_head: 32, d_mlp: 512, d_vocab: 114, d_vocab_out: 113, n_ctx: 3, act_fn: 'relu', normalization_type: null, attention_dir: 'causal', attn_only: false, positional_embedding_type: 'standard', use_attn_scale: true, final_rms: false });
    expect(tl.attn_scale).toBe(Math.sqrt(32));
    expect(fromTransformerLensConfig(tl)).toEqual(c);
  });

  it('maps every architecture field both ways: widths, layers, bidirectional attention, attn_scale, use_attn_scale, defaults', () => {
    const c = modelConfig('nanda', 31, { dModel: 64, nHeads: 8, dMlp: 100, nLayers: 2, causal: false, attnScale: 3.5, nCtx: 3 });
    const tl = toTransformerLensConfig(c);
    expect(tl).toMatchObject({ d_model: 64, n_heads: 8, d_head: 8, d_mlp: 100, n_layers: 2, attention_dir: 'bidirectional', attn_scale: 3.5, d_vocab: 32, d_vocab_out: 31 });
    expect(fromTransformerLensConfig(tl)).toEqual(c);
    // TransformerLens defaults: n_heads -1 = d_model / d_head, d_mlp null = 4 d_model, attn_scale -1 = sqrt(d_head), no d_vocab_out = d_vocab.
    const d = fromTransformerLensConfig({ n_layers: 1, d_model: 64, d_head: 16, n_heads: -1, d_mlp: null, n_ctx: 3, d_vocab: 12, d_vocab_out: 11, act_fn: 'relu', normalization_type: null, attn_scale: -1 });
    expect([d.nHeads, d.dMlp, d.attnScale, d.p]).toEqual([4, 256, 4, 11]);
    expect(fromTransformerLensConfig({ ...NANDA_TL, use_attn_scale: false }).attnScale).toBe(1);
    expect(fromTransformerLensConfig({ ...NANDA_TL, d_vocab_out: undefined }).dVocabOut).toBe(114);
    expect(fromTransformerLensConfig({ ...NANDA_TL, attention_dir: 'bidirectional' }).causal).toBe(false);
  });

  it('what TransformerLens cannot express is an INVALID_CONFIG error naming the field, never a silent drop', () => {
    expect(() => toTransformerLensConfig(modelConfig('li', 113))).toThrow(/INVALID_CONFIG.*'finalNorm'/);
    expect(() => toTransformerLensConfig(modelConfig('nanda', 113, { attention: 'clipped' }))).toThrow(/INVALID_CONFIG.*'attention'/);
    expect(() => toTransformerLensConfig(modelConfig('nanda', 113, { attention: 'gated' }))).toThrow(/INVALID_CONFIG.*'attention'/);
    expect(() => toTransformerLensConfig(modelConfig('nanda', 113, { alpha: 0.5 }))).toThrow(/INVALID_CONFIG.*'alpha'/);
    expect(() => toTransformerLensConfig(modelConfig('nanda', 113, { quantizer: 'ternary-centred', activationQuant: 'int8' }))).toThrow(/INVALID_CONFIG.*'activationQuant'/);
    // A weight quantizer is not architecture: the exported tensors are what TransformerLens multiplies by.
    expect(toTransformerLensConfig(modelConfig('nanda', 113, { quantizer: 'ternary-centred' })).d_model).toBe(128);
  });

  it('what bitlens cannot represent is an INVALID_CONFIG error naming the field', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...NANDA_TL, normalization_type: 'LN' }, /'normalization_type'.*LN/],
      [{ ...NANDA_TL, normalization_type: 'RMS' }, /'normalization_type'/],
      [(({ normalization_type: _n, ...rest }) => rest)(NANDA_TL), /'normalization_type'.*found LN/], // absent = TransformerLens's default LN
      [{ ...NANDA_TL, act_fn: 'gelu' }, /'act_fn'.*gelu/],
      [{ ...NANDA_TL, attn_only: true }, /'attn_only'/],
      [{ ...NANDA_TL, positional_embedding_type: 'rotary' }, /'positional_embedding_type'.*rotary/],
      [{ ...NANDA_TL, gated_mlp: true }, /'gated_mlp'/],
      [{ ...NANDA_TL, n_key_value_heads: 2 }, /'n_key_value_heads'/],
      [{ ...NANDA_TL, final_rms: true }, /'final_rms'/],
      [{ ...NANDA_TL, parallel_attn_mlp: true }, /'parallel_attn_mlp'/],
      [{ ...NANDA_TL, d_vocab: -1 }, /'d_vocab'/],
      [{ ...NANDA_TL, some_new_field: 1 }, /'some_new_field'.*unknown field/],
      [{ ...NANDA_TL, attention_dir: 'causal', causal: false }, /'causal'/],
    ];
    for (const [tl, re] of bad) expect(() => fromTransformerLensConfig(tl)).toThrow(re);
    for (const [tl] of bad) expect(() => fromTransformerLensConfig(tl)).toThrow(/INVALID_CONFIG/);
    expect(fromTransformerLensConfig({ ...NANDA_TL, some_new_field: 1 }, { ignoreFields: ['some_new_field'] }).p).toBe(113);
    expect(() => fromTransformerLensConfig(NANDA_TL, { p: 59 })).toThrow(/INVALID_CONFIG.*'p'.*113.*59 \(given\)/);
    expect(() => fromTransformerLensConfig(NANDA_TL, { preset: 'li' })).toThrow(/INVALID_CONFIG.*'preset'.*'nanda'.*'li' \(given\)/);
    expect(() => fromTransformerLensConfig('not a dict')).toThrow(/INVALID_CONFIG/);
  });
});

const registry = createQuantizerRegistry();
const small = { dModel: 32, nHeads: 4, dMlp: 64 } as const;
const ROUND_TRIPS: [string, ModelConfig, boolean][] = [
  ['li fp32', modelConfig('li', 23, small), false],
  ['nanda fp32', modelConfig('nanda', 23, small), true],
  ['li ternary (effective weights)', modelConfig('li', 23, { ...small, quantizer: 'ternary-centred' }), false],
  ['nanda binary (effective weights)', modelConfig('nanda', 23, { ...small, quantizer: 'binary-sign' }), true],
];

describe.each(ROUND_TRIPS)('round trip export -> read back: %s', (_label, cfg, tlExpressible) => {
  const latent = initParams(cfg, 9);
  const params = cfg.quantizer === 'fp32' ? latent : effectiveHostParams(cfg, latent, registry);
  const bytes = exportTransformerLens(cfg, params, { zeroFill: true });

  it('the same config and the same tensors, bit for bit', () => {
    const back = readTransformerLens(bytes);
    expect(back.source).toBe('bitlens');
    expect(back.config).toEqual(cfg);
    expect(JSON.stringify(back.config)).toBe(JSON.stringify(cfg));
    expect([...back.params.keys()].sort()).toEqual([...params.keys()].sort());
    for (const [n, t] of params) {
      expect(back.params.get(n)?.shape, n).toEqual(t.shape);
      expect(bits(back.params.get(n)), n).toEqual(bits(t));
    }
    if (cfg.quantizer !== 'fp32') expect(new Set(back.params.get('blocks.0.mlp.W_in')?.data).size).toBeLessThanOrEqual(3); // the quantized values went out
  });

  it(tlExpressible ? 'carries a HookedTransformerConfig that alone gives back the architecture' : 'says in the file why it carries no HookedTransformerConfig', () => {
    const meta = readSafetensorsHeader(bytes).metadata;
    expect(meta['format']).toBe('pt');
    expect(meta[MODEL_CONFIG_KEY]).toBe(JSON.stringify(cfg));
    if (!tlExpressible) {
      expect(meta[TRANSFORMER_LENS_CONFIG_KEY]).toBeUndefined();
      expect(meta[TRANSFORMER_LENS_UNSUPPORTED_KEY]).toMatch(/finalNorm/);
      expect(() => exportTransformerLens(cfg, params, { transformerLensConfig: 'required' })).toThrow(/INVALID_CONFIG.*'finalNorm'/);
      return;
    }
    expect(JSON.parse(meta[TRANSFORMER_LENS_CONFIG_KEY] ?? 'null')).toEqual(toTransformerLensConfig(cfg));
    // Without the bitlens config, the TransformerLens one gives the same model (a quantizer is not architecture: fp32).
    const { [MODEL_CONFIG_KEY]: _ours, ...tlOnly } = meta;
    const stripped = writeSafetensors(readSafetensors(bytes).tensors, tlOnly);
    const back = readTransformerLens(stripped);
    expect(back.source).toBe('transformer-lens');
    expect(back.config).toEqual({ ...cfg, quantizer: 'fp32' });
    for (const [n, t] of params) expect(bits(back.params.get(n)), n).toEqual(bits(t));
  });
});

describe('reading configs from the file', () => {
  it.skipIf(!existsSync(FIXTURE))('the Nanda checkpoint: its TransformerLens config gives the nanda preset at p = 113 (no p needed)', () => {
    const bytes = new Uint8Array(readFileSync(FIXTURE));
    const file = transformerLensFileConfig(bytes);
    expect(file.source).toBe('transformer-lens');
    expect(JSON.stringify(file.config)).toBe(JSON.stringify(modelConfig('nanda', 113)));
    expect(file.transformerLens?.['causal']).toBe(true);
    const read = readTransformerLens(bytes);
    const given = importTransformerLens(bytes, modelConfig('nanda', 113));
    for (const [n, t] of given) expect(bits(read.params.get(n)), n).toEqual(bits(t));
    expect(transformerLensFileConfig(bytes, { p: 113, preset: 'nanda' }).config).toEqual(file.config);
    expect(() => transformerLensFileConfig(bytes, { p: 59 })).toThrow(/INVALID_CONFIG.*'p'.*113.*59 \(given\)/);
    expect(() => transformerLensFileConfig(bytes, { preset: 'li' })).toThrow(/INVALID_CONFIG.*'preset'.*"nanda".*"li" \(given\)/);
    expect(() => importTransformerLens(bytes, modelConfig('li', 113))).toThrow(/INVALID_CONFIG.*"li" \(given\)|INVALID_CONFIG.*'causal'/);
  });

  it('a given value that disagrees with the bitlens config is an error naming both; no config at all needs p', () => {
    const cfg = modelConfig('li', 23, small);
    const bytes = exportTransformerLens(cfg, initParams(cfg, 1));
    expect(() => transformerLensFileConfig(bytes, { p: 29 })).toThrow(/INVALID_CONFIG.*'p'.*23 \(the file's bitlens config\).*29 \(given\)/);
    expect(() => transformerLensFileConfig(bytes, { preset: 'nanda' })).toThrow(/'preset'.*"li".*"nanda" \(given\)/);
    expect(() => importTransformerLens(bytes, modelConfig('li', 23, { ...small, dMlp: 128 }))).toThrow(/INVALID_CONFIG.*'dMlp'.*64.*128 \(given\)/);
    // Non-architecture fields of a given config are the caller's (e.g. training a quantized model from fp32 weights).
    expect(transformerLensFileConfig(bytes, { config: { ...cfg, quantizer: 'ternary-centred' } }).config.quantizer).toBe('ternary-centred');
    const bare = writeSafetensors(readSafetensors(bytes).tensors, { format: 'pt' });
    expect(() => transformerLensFileConfig(bare)).toThrow(/INVALID_CONFIG.*'p'.*no model config/);
    expect(transformerLensFileConfig(bare, { p: 23, preset: 'li' })).toMatchObject({ source: 'given', config: modelConfig('li', 23) });
  });

  it('a file whose two configs disagree is rejected, naming the field', () => {
    const cfg = modelConfig('nanda', 23, small);
    const bytes = exportTransformerLens(cfg, initParams(cfg, 1));
    const meta = { ...readSafetensorsHeader(bytes).metadata };
    meta[TRANSFORMER_LENS_CONFIG_KEY] = JSON.stringify({ ...toTransformerLensConfig(cfg), d_mlp: 128 });
    expect(() => transformerLensFileConfig(writeSafetensors(readSafetensors(bytes).tensors, meta))).toThrow(/INVALID_CONFIG.*'dMlp'.*128.*64 \(the file's bitlens config\)/);
    meta[TRANSFORMER_LENS_CONFIG_KEY] = '{not json';
    expect(() => transformerLensFileConfig(writeSafetensors(readSafetensors(bytes).tensors, meta))).toThrow(/INVALID_CONFIG.*__metadata__\.config/);
  });

  it('zero-filled tensors a config lacks are accepted when zero, rejected otherwise (W_pos without a positional embedding)', () => {
    const cfg = modelConfig('nanda', 23, { ...small, posEmbed: false });
    const bytes = exportTransformerLens(cfg, initParams(cfg, 1), { zeroFill: true });
    expect(readSafetensors(bytes).tensors.get('pos_embed.W_pos')?.shape).toEqual([3, 32]);
    expect(readTransformerLens(bytes).params.has('pos_embed.W_pos')).toBe(false);
    const tensors = new Map(readSafetensors(bytes).tensors);
    tensors.set('pos_embed.W_pos', { dtype: 'F32', shape: [3, 32], data: new Float32Array(96).fill(0.5) });
    expect(() => readTransformerLens(writeSafetensors(tensors, readSafetensorsHeader(bytes).metadata))).toThrow(/SCHEMA_MISMATCH.*pos_embed\.W_pos.*positional embedding/);
  });
});
