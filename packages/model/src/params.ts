import { BitlensError } from '@bitlens/core';
import type { ModelConfig } from './config.js';
import { isQuantized, validateConfig } from './config.js';
import { mulberry32, normalSampler } from './internal/rng.js';

/** A host-side tensor: row-major float32 values and a shape. */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Host-side parameters by TransformerLens name. */
export type HostParams = ReadonlyMap<string, HostTensor>;

/** One parameter tensor of a config: its TransformerLens name, shape, whether it is quantized, how it is initialised. */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly quantized: boolean;
  /** Init: normal with this standard deviation, or a constant. */
  readonly init: { readonly kind: 'normal'; readonly std: number } | { readonly kind: 'constant'; readonly value: number };
}

/**
 * The parameter tensors of a config in a fixed order, with TransformerLens names and shapes
 * (`embed.W_E`, `pos_embed.W_pos`, `blocks.<l>.attn.W_Q` ... `unembed.W_U`, `unembed.b_U`; li adds `ln_final.w`;
 * gated attention adds `blocks.<l>.attn.gate.W` [nHeads, dHead] and `blocks.<l>.attn.gate.b` [nHeads]).
 * Init (docs/science.md#models): every weight matrix ~ N(0, 1/dModel) except W_U ~ N(0, 1/dVocab); biases 0; norm gain 1.
 * Gates: W ~ N(0, 1/(3 dHead)), the variance of PyTorch's default init of the reference code's per-head
 * nn.Linear(dHead, 1) (uniform in ±1/sqrt(dHead)), and bias logit(piInit).
 */
export function paramSpecs(config: ModelConfig): ParamSpec[] {
  const c = validateConfig(config);
  const std = 1 / Math.sqrt(c.dModel);
  const w = (name: string, shape: number[], s = std): ParamSpec => ({ name, shape, quantized: isQuantized(c, name), init: { kind: 'normal', std: s } });
  const k = (name: string, shape: number[], value = 0): ParamSpec => ({ name, shape, quantized: false, init: { kind: 'constant', value } });
  const specs: ParamSpec[] = [w('embed.W_E', [c.dVocab, c.dModel])];
  if (c.posEmbed) specs.push(w('pos_embed.W_pos', [c.nCtx, c.dModel]));
  for (let l = 0; l < c.nLayers; l++) {
    const b = `blocks.${l}`;
    specs.push(w(`${b}.attn.W_Q`, [c.nHeads, c.dModel, c.dHead]), w(`${b}.attn.W_K`, [c.nHeads, c.dModel, c.dHead]), w(`${b}.attn.W_V`, [c.nHeads, c.dModel, c.dHead]));
    specs.push(w(`${b}.attn.W_O`, [c.nHeads, c.dHead, c.dModel]));
    if (c.biases) specs.push(k(`${b}.attn.b_Q`, [c.nHeads, c.dHead]), k(`${b}.attn.b_K`, [c.nHeads, c.dHead]), k(`${b}.attn.b_V`, [c.nHeads, c.dHead]), k(`${b}.attn.b_O`, [c.dModel]));
    if (c.attention.kind === 'gated') {
      const pi = c.attention.piInit;
      specs.push(w(`${b}.attn.gate.W`, [c.nHeads, c.dHead], 1 / Math.sqrt(3 * c.dHead)));
      specs.push(k(`${b}.attn.gate.b`, [c.nHeads], Math.log(pi / (1 - pi))));
    }
    specs.push(w(`${b}.mlp.W_in`, [c.dModel, c.dMlp]));
    if (c.biases) specs.push(k(`${b}.mlp.b_in`, [c.dMlp]));
    specs.push(w(`${b}.mlp.W_out`, [c.dMlp, c.dModel]));
    if (c.biases) specs.push(k(`${b}.mlp.b_out`, [c.dModel]));
  }
  if (c.finalNorm) specs.push(k('ln_final.w', [c.dModel], 1));
  specs.push(w('unembed.W_U', [c.dModel, c.dVocabOut], 1 / Math.sqrt(c.dVocab)));
  if (c.biases) specs.push(k('unembed.b_U', [c.dVocabOut]));
  return specs;
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Total trainable parameter count of a config (li at p = 113: 225,792). */
export function paramCount(config: ModelConfig): number {
  return paramSpecs(config).reduce((n, s) => n + sizeOf(s.shape), 0);
}

/**
 * Seeded initial parameters on the host (identical on every backend and platform: mulberry32 + Box-Muller in
 * float64, rounded to float32). Tensors are drawn in {@link paramSpecs} order.
 */
export function initParams(config: ModelConfig, seed: number): Map<string, HostTensor> {
  if (!Number.isInteger(seed)) throw new BitlensError('INVALID_OPTION', { stage: 'model/params', field: 'seed', expected: 'an integer', found: String(seed) });
  const normal = normalSampler(mulberry32(seed));
  const out = new Map<string, HostTensor>();
  for (const s of paramSpecs(config)) {
    const data = new Float32Array(sizeOf(s.shape));
    if (s.init.kind === 'normal') {
      for (let i = 0; i < data.length; i++) data[i] = normal() * s.init.std;
    } else if (s.init.value !== 0) {
      data.fill(s.init.value);
    }
    out.set(s.name, { shape: [...s.shape], data });
  }
  return out;
}

/** Throws SHAPE_MISMATCH / NOT_FOUND unless `params` holds exactly the tensors of `config` with the right shapes. */
export function checkParams(config: ModelConfig, params: ReadonlyMap<string, { readonly shape: readonly number[] }>, stage = 'model/params'): void {
  const specs = paramSpecs(config);
  for (const s of specs) {
    const t = params.get(s.name);
    if (t === undefined) throw new BitlensError('NOT_FOUND', { stage, field: s.name, expected: `a tensor of shape [${s.shape.join(', ')}]`, found: 'nothing' });
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw new BitlensError('SHAPE_MISMATCH', { stage, field: s.name, expected: `[${s.shape.join(', ')}]`, found: `[${t.shape.join(', ')}]` });
    }
  }
  const known = new Set(specs.map((s) => s.name));
  for (const name of params.keys()) {
    if (!known.has(name)) throw new BitlensError('SHAPE_MISMATCH', { stage, field: name, expected: `only the tensors of the ${config.preset} config`, found: 'an extra tensor' });
  }
}
