import { BitlensError } from '@bitlens/core';
import type { Tf } from '@bitlens/engine';
import type { GradSaveFunc, Tensor } from '@tensorflow/tfjs-core';
import { roundHalfEven } from '@bitlens/kernels';
import type { HostQuantized, QuantizedCodes, WeightQuantizer } from './quantizer.js';

// Uniform (integer-grid) quantizers of post-training quantization, after the reference code of Bondarenko et al. 2023
// (Qualcomm's symmetric and asymmetric uniform quantizers): weights symmetric per tensor with a min-max scale,
// activations asymmetric per tensor with a zero point and a static range.

const STAGE = 'quantization/uniform';

function checkBits(field: string, bits: number, max: number): void {
  if (!Number.isInteger(bits) || bits < 2 || bits > max) {
    throw new BitlensError('INVALID_OPTION', { stage: STAGE, field, expected: `an integer in 2..${max}`, found: String(bits) });
  }
}

/** Largest positive code of a signed `bits`-bit grid: 2^(bits-1) - 1 (127 for 8 bits). */
export function symmetricMaxCode(bits: number): number {
  return 2 ** (bits - 1) - 1;
}

function symmetricCodesTf(tf: Tf, w: Tensor, bits: number): QuantizedCodes {
  const qmax = symmetricMaxCode(bits);
  return tf.tidy(() => {
    const maxAbs = tf.max(tf.abs(w));
    // An all-zero tensor has scale 0; divide by 1 instead (every code is 0 either way).
    const scale = tf.div(maxAbs, qmax);
    const safe = tf.where(tf.greater(scale, 0), scale, tf.onesLike(scale));
    const codes = tf.cast(tf.clipByValue(tf.round(tf.div(w, safe)), -qmax - 1, qmax), 'int32');
    return { codes, scale: safe };
  });
}

/**
 * Symmetric per-tensor uniform weight quantizer with a min-max range (`int<bits>-symmetric`): scale = max|W| /
 * (2^(bits-1) - 1), codes = clamp(round(W / scale), -2^(bits-1), 2^(bits-1) - 1) with round half to even, Q(W) =
 * scale * codes. The extreme code -2^(bits-1) is never reached (|W / scale| <= 2^(bits-1) - 1), so the grid is
 * symmetric around 0. Idempotent: Q(Q(W)) = Q(W) (the largest |value| is kept, so is the scale). A tensor that is
 * already on such a grid with at most 2^(bits-1) - 1 levels per side (ternary s·{-1, 0, 1}, binary ±s) is kept exactly.
 * @example const q8 = symmetricQuantizer(8); q8.quantizeHost(w).values
 */
export function symmetricQuantizer(bits: number): WeightQuantizer {
  checkBits('weightBits', bits, 8);
  const qmax = symmetricMaxCode(bits);
  return {
    name: `int${bits}-symmetric`,
    description: `symmetric per-tensor ${bits}-bit min-max: scale = max|W| / ${qmax}; scale * clamp(round(W / scale), ${-qmax - 1}, ${qmax})`,
    levels: Array.from({ length: 2 * qmax + 2 }, (_, i) => i - qmax - 1),
    identity: false,
    quantize: (tf, w) =>
      tf.tidy(() => {
        const { codes, scale } = symmetricCodesTf(tf, w, bits);
        return tf.mul(tf.cast(codes, 'float32'), scale);
      }),
    codes: (tf, w) => symmetricCodesTf(tf, w, bits),
    quantizeHost(w: Float32Array): HostQuantized {
      let maxAbs = 0;
      for (const x of w) maxAbs = Math.max(maxAbs, Math.abs(x));
      const scale = maxAbs > 0 ? maxAbs / qmax : 1;
      const codes = Int8Array.from(w, (x) => Math.max(-qmax - 1, Math.min(qmax, roundHalfEven(x / scale))));
      const values = Float32Array.from(codes, (c) => c * scale);
      return { values, codes, scale };
    },
  };
}

/** The integer grid of an asymmetric quantizer over a static range: x ≈ (code - zeroPoint) * scale, code in 0..maxCode. */
export interface AsymmetricGrid {
  readonly scale: number;
  readonly zeroPoint: number;
  readonly maxCode: number;
  /** The smallest and largest representable values, -zeroPoint * scale and (maxCode - zeroPoint) * scale. */
  readonly lo: number;
  readonly hi: number;
}

/**
 * The grid of an asymmetric `bits`-bit quantizer over `range` = [min, max]: the range is first widened to contain 0
 * (so that 0 is exactly representable, as zero padding and ReLU outputs need), scale = (max - min) / (2^bits - 1),
 * zeroPoint = clamp(round(-min / scale), 0, 2^bits - 1). A degenerate range [0, 0] gives scale 0: everything maps to 0.
 */
export function asymmetricGrid(range: readonly [number, number], bits: number): AsymmetricGrid {
  checkBits('activationBits', bits, 16);
  const [r0, r1] = range;
  if (!Number.isFinite(r0) || !Number.isFinite(r1) || r0 > r1) {
    throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'range', expected: 'a finite [min, max] with min <= max', found: JSON.stringify(range) });
  }
  const maxCode = 2 ** bits - 1;
  const min = Math.min(r0, 0);
  const max = Math.max(r1, 0);
  const scale = (max - min) / maxCode;
  if (scale === 0) return { scale: 0, zeroPoint: 0, maxCode, lo: 0, hi: 0 };
  const zeroPoint = Math.max(0, Math.min(maxCode, roundHalfEven(-min / scale)));
  return { scale, zeroPoint, maxCode, lo: zeroPoint === 0 ? 0 : -zeroPoint * scale, hi: (maxCode - zeroPoint) * scale };
}

function fakeQuantValue(tf: Tf, x: Tensor, g: AsymmetricGrid): Tensor {
  return tf.tidy(() => {
    if (g.scale === 0) return tf.zerosLike(x);
    const codes = tf.clipByValue(tf.add(tf.round(tf.div(x, g.scale)), g.zeroPoint), 0, g.maxCode);
    return tf.mul(tf.sub(codes, g.zeroPoint), g.scale);
  });
}

/**
 * Asymmetric per-tensor fake quantization with a static range (see {@link asymmetricGrid}): the value is
 * (clamp(round(x / scale) + zeroPoint, 0, 2^bits - 1) - zeroPoint) * scale; the gradient is straight-through inside
 * the representable range [lo, hi] and 0 outside it (the clipped values do not depend on x). Stateless.
 * @example const xq = fakeQuantAsymmetric(tf, x, [-3.1, 7.9], 8); // then tf.matMul(xq, w)
 */
export function fakeQuantAsymmetric<T extends Tensor>(tf: Tf, x: T, range: readonly [number, number], bits: number): T {
  const g = asymmetricGrid(range, bits);
  const op = tf.customGrad((...inputs) => {
    const xin = inputs[0] as T;
    const save = inputs[1] as GradSaveFunc;
    save([xin]);
    return {
      value: fakeQuantValue(tf, xin, g) as T,
      gradFunc: (dy: T, saved: Tensor[]) => {
        const [s] = saved as [Tensor];
        return tf.mul(dy, tf.cast(tf.logicalAnd(tf.greaterEqual(s, g.lo), tf.lessEqual(s, g.hi)), 'float32')) as T;
      },
    };
  });
  return op(x);
}

/** {@link fakeQuantAsymmetric} on the host, in float64 arithmetic with the result rounded to float32 (the reference). */
export function fakeQuantAsymmetricHost(x: Float32Array, range: readonly [number, number], bits: number): Float32Array {
  const g = asymmetricGrid(range, bits);
  if (g.scale === 0) return new Float32Array(x.length);
  return Float32Array.from(x, (v) => (Math.max(0, Math.min(g.maxCode, roundHalfEven(v / g.scale) + g.zeroPoint)) - g.zeroPoint) * g.scale);
}
