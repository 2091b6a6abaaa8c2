import { BitlensError, mulberry32 } from '@bitlens/core';
import type { DType, DTypeArrays, HostTensor } from './ops.js';

const CTOR = { float32: Float32Array, int32: Int32Array, int8: Int8Array, uint8: Uint8Array, uint32: Uint32Array } as const;

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Builds a host tensor, checking that the data length matches the shape.
 * @example const t = tensor('float32', [2, 2], new Float32Array([1, 2, 3, 4]));
 */
export function tensor<D extends DType>(dtype: D, shape: readonly number[], data?: DTypeArrays[D] | readonly number[]): HostTensor<D> {
  const n = sizeOf(shape);
  const arr = (data === undefined ? new CTOR[dtype](n) : ArrayBuffer.isView(data) ? data : CTOR[dtype].from(data)) as DTypeArrays[D];
  if (arr.length !== n) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: 'kernels/tensor', field: 'data', expected: `${n} elements for shape [${shape.join(', ')}]`, found: `${arr.length}` });
  }
  return { dtype, shape: [...shape], data: arr };
}

/** Mulberry32 (core's): a small, fast seeded PRNG returning floats in [0, 1). Deterministic for a given seed. */
export const seededRandom = mulberry32;

/** A float32 tensor of uniform values in [-1, 1) from a seeded generator. */
export function randomTensor(shape: readonly number[], options: { seed: number }): HostTensor<'float32'> {
  const rnd = seededRandom(options.seed);
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = rnd() * 2 - 1;
  return tensor('float32', shape, data);
}

/** An int8 tensor of codes drawn uniformly from `values` (e.g. [-1, 1] or [-1, 0, 1]) with a seeded generator. */
export function randomCodes(shape: readonly number[], values: readonly number[], options: { seed: number }): HostTensor<'int8'> {
  const rnd = seededRandom(options.seed);
  const data = new Int8Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = values[Math.floor(rnd() * values.length)] ?? 0;
  return tensor('int8', shape, data);
}

/** An int8 tensor of values uniform in [lo, hi] from a seeded generator. */
export function randomInt8(shape: readonly number[], options: { seed: number; lo?: number; hi?: number }): HostTensor<'int8'> {
  const rnd = seededRandom(options.seed);
  const lo = options.lo ?? -127, hi = options.hi ?? 127;
  const data = new Int8Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = lo + Math.floor(rnd() * (hi - lo + 1));
  return tensor('int8', shape, data);
}

/** Converts an integer tensor to float32 (exact for |v| < 2^24). */
export function toFloat32(t: HostTensor): HostTensor<'float32'> {
  return tensor('float32', t.shape, Float32Array.from(t.data as ArrayLike<number>));
}
