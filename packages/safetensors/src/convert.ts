import { BitlensError } from '@bitlens/core';
import type { TensorEntry } from './dtypes.js';
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from './internal/half.js';

const STAGE = 'safetensors/convert';

/** The floating dtypes `toFloat32` and `fromFloat32` handle. */
export type FloatDtype = 'F32' | 'F64' | 'F16' | 'BF16';

/**
 * Converts a floating tensor's data to a fresh `Float32Array` (row-major): F32 is copied, F64 rounded to nearest
 * float32, F16 and BF16 decoded exactly. Integer and BOOL tensors throw `INVALID_OPTION` (naming `name` when given):
 * convert those explicitly where a caller means it.
 * @example const w = toFloat32(tensors.get('embed.W_E')!, 'embed.W_E');
 */
export function toFloat32(entry: TensorEntry, name?: string): Float32Array {
  switch (entry.dtype) {
    case 'F32':
      return new Float32Array(entry.data);
    case 'F64':
      return Float32Array.from(entry.data);
    case 'F16': {
      const out = new Float32Array(entry.data.length);
      for (let i = 0; i < out.length; i++) out[i] = halfToFloat(entry.data[i] ?? 0);
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(entry.data.length);
      for (let i = 0; i < out.length; i++) out[i] = bf16ToFloat(entry.data[i] ?? 0);
      return out;
    }
    default:
      throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: name ?? 'tensor', expected: 'dtype F32, F64, F16 or BF16', found: entry.dtype });
  }
}

/**
 * Builds a tensor entry of a floating dtype from float32 values (row-major). F16 and BF16 round to nearest, ties to
 * even (as numpy and torch do); F64 is exact. Throws `SHAPE_MISMATCH` when `values.length` != product(shape).
 * @example writeSafetensors({ w: fromFloat32(new Float32Array([1, 2]), [2], 'BF16') })
 */
export function fromFloat32(values: Float32Array, shape: readonly number[], dtype: FloatDtype = 'F32'): TensorEntry {
  const elements = shape.reduce((a, b) => a * b, 1);
  if (values.length !== elements) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: 'values', expected: `${elements} elements (shape [${shape.join(', ')}])`, found: String(values.length) });
  }
  switch (dtype) {
    case 'F32':
      return { dtype, shape: [...shape], data: new Float32Array(values) };
    case 'F64':
      return { dtype, shape: [...shape], data: Float64Array.from(values) };
    case 'F16':
      return { dtype, shape: [...shape], data: Uint16Array.from(values, floatToHalf) };
    case 'BF16':
      return { dtype, shape: [...shape], data: Uint16Array.from(values, floatToBf16) };
  }
}
