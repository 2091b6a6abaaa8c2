/** The safetensors element types this package reads and writes (the 8-bit float and sub-byte types are not supported). */
export const SAFETENSORS_DTYPES = ['BOOL', 'U8', 'I8', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'] as const;

/** A safetensors dtype name, as written in the file header. */
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

/**
 * The typed array that holds a tensor of each dtype. F16 and BF16 are kept as their raw 16-bit patterns
 * (`Uint16Array`); use `toFloat32` to decode them. BOOL is one byte per element (0 or 1).
 */
export interface SafetensorsArrays {
  readonly BOOL: Uint8Array;
  readonly U8: Uint8Array;
  readonly I8: Int8Array;
  readonly I16: Int16Array;
  readonly U16: Uint16Array;
  readonly F16: Uint16Array;
  readonly BF16: Uint16Array;
  readonly I32: Int32Array;
  readonly U32: Uint32Array;
  readonly F32: Float32Array;
  readonly F64: Float64Array;
  readonly I64: BigInt64Array;
  readonly U64: BigUint64Array;
}

/** One tensor: dtype, shape (row-major, C order) and its elements in a typed array of the dtype's kind. */
export type TensorEntry = {
  readonly [D in SafetensorsDtype]: { readonly dtype: D; readonly shape: readonly number[]; readonly data: SafetensorsArrays[D] };
}[SafetensorsDtype];

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: { readonly [D in SafetensorsDtype]: number } = {
  BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

/**
 * Rank of each dtype in the reference implementation's `Dtype` enum (declared in increasing alignment order).
 * The reference writer lays tensors out by descending rank, then by name; `writeSafetensors` does the same.
 */
export const DTYPE_RANK: { readonly [D in SafetensorsDtype]: number } = {
  BOOL: 0, U8: 1, I8: 2, I16: 5, U16: 6, F16: 7, BF16: 8, I32: 9, U32: 10, F32: 11, F64: 12, I64: 13, U64: 14,
};

/** Type guard for a dtype string read from a header. */
export function isSafetensorsDtype(name: string): name is SafetensorsDtype {
  return (SAFETENSORS_DTYPES as readonly string[]).includes(name);
}
