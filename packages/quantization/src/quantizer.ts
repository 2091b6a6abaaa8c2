import type { Tf } from '@bitlens/engine';
import type { Tensor } from '@tensorflow/tfjs-core';

/** Integer codes of a quantized tensor and its per-tensor scale: value = scale * codes. */
export interface QuantizedCodes {
  /** int32 tensor of the input's shape, values in `levels`. */
  readonly codes: Tensor;
  /** float32 scalar tensor. */
  readonly scale: Tensor;
}

/** The same quantization computed on the host in plain TypeScript (the reference oracle, and the input to packing). */
export interface HostQuantized {
  /** Q(w), row-major, the input's length. */
  readonly values: Float32Array;
  /** Integer codes (value = scale * code); absent for quantizers without codes (fp32). */
  readonly codes?: Int8Array;
  /** Per-tensor scale (1 for unscaled quantizers and for fp32). */
  readonly scale: number;
}

/**
 * A weight quantizer: a plug-in that maps a latent full-precision weight tensor to the value the forward pass uses.
 * Quantizers are per-tensor (one group) and stateless. Register your own with `createQuantizerRegistry().register(q)`.
 */
export interface WeightQuantizer {
  /** Stable id used in configs and weight tables, e.g. `ternary-absmean`. */
  readonly name: string;
  /** One line: what it computes and where it comes from. */
  readonly description: string;
  /** The integer codes Q can produce (e.g. [-1, 0, 1]); empty for identity / non-integer quantizers. */
  readonly levels: readonly number[];
  /** True when Q(w) = w (fp32): `steQuantize` returns `w` itself, untouched. */
  readonly identity: boolean;
  /** Forward value Q(w): float32, same shape as `w`. Backend-agnostic tfjs ops; cleans up its intermediates. */
  quantize(tf: Tf, w: Tensor): Tensor;
  /** Codes and scale with Q(w) = scale * codes (absent when the quantizer has no integer codes). */
  codes?(tf: Tf, w: Tensor): QuantizedCodes;
  /**
   * Q computed on the host (plain TypeScript). The built-ins use the formulas of @bitlens/kernels: float64-accumulated
   * statistics rounded once to float32, elementwise steps in float32 as an fp32 backend does them.
   */
  quantizeHost(w: Float32Array): HostQuantized;
}
