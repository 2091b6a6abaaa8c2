import type { Tf } from '@bitlens/engine';
import { isFullPrecision, steQuantize, symmetricQuantizer, type QuantizerRegistry, type SteOptions, type WeightQuantizer } from '@bitlens/quantization';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config.js';
import { isPtqQuantized, isQuantized } from './config.js';
import type { ParamTensors } from './forward.js';
import type { HostParams, HostTensor } from './params.js';

/** Uploads host parameters as tfjs tensors (caller disposes them, e.g. with `tf.dispose([...m.values()])`). */
export function toTensors(tf: Tf, params: HostParams): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, t] of params) out.set(name, tf.tensor(t.data, [...t.shape], 'float32'));
  return out;
}

/** Downloads tensors to host parameters (synchronous readback). */
export function toHost(params: ParamTensors): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of params) out.set(name, { shape: [...t.shape], data: Float32Array.from(t.dataSync() as Float32Array) });
  return out;
}

/**
 * Effective weights from latent ones: each quantized layer of `config` goes through
 * `steQuantize(tf, registry.get(config.quantizer), w)` (value Q(w), straight-through gradient to w); all other
 * tensors pass through unchanged. A post-training-quantized config (`ptq`) then quantizes its layers' weights
 * symmetric per tensor to `ptq.weightBits`, also straight-through. The registry is passed in (never imported
 * globally), so plug-in quantizers work. Call inside `tf.tidy` / the gradient function.
 * @example const eff = effectiveParams(tf, cfg, latentVars, createQuantizerRegistry()); const logits = forwardLast(tf, cfg, eff, tokens);
 */
export function effectiveParams(tf: Tf, config: ModelConfig, latent: ParamTensors, registry: QuantizerRegistry, options: SteOptions = {}): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const q = isFullPrecision(config.quantizer) ? undefined : registry.get(config.quantizer);
  const ptq = ptqQuantizer(config);
  for (const [name, w] of latent) {
    const trained = q !== undefined && isQuantized(config, name) ? steQuantize(tf, q, w, options) : w;
    out.set(name, ptq !== undefined && isPtqQuantized(config, name) ? steQuantize(tf, ptq, trained) : trained);
  }
  return out;
}

/**
 * Host-side effective weights (what a weights table's `effective` column holds): `quantizeHost` of the config's
 * quantizer on each quantized layer, the latent tensor itself elsewhere; then, for a post-training-quantized config,
 * the symmetric `ptq.weightBits` quantizer on each of its layers.
 */
export function effectiveHostParams(config: ModelConfig, latent: HostParams, registry: QuantizerRegistry): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const q = isFullPrecision(config.quantizer) ? undefined : registry.get(config.quantizer);
  const ptq = ptqQuantizer(config);
  for (const [name, t] of latent) {
    const trained = q !== undefined && isQuantized(config, name) ? { shape: t.shape, data: q.quantizeHost(t.data).values } : t;
    out.set(name, ptq !== undefined && isPtqQuantized(config, name) ? { shape: t.shape, data: ptq.quantizeHost(trained.data).values } : trained);
  }
  return out;
}

/** The weight quantizer of a post-training-quantized config, or undefined. */
function ptqQuantizer(config: ModelConfig): WeightQuantizer | undefined {
  return config.ptq === undefined ? undefined : symmetricQuantizer(config.ptq.weightBits);
}
