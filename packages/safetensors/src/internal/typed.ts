import type { SafetensorsArrays, SafetensorsDtype } from '../dtypes.js';

type Ctor<D extends SafetensorsDtype> = new (buffer: ArrayBuffer, byteOffset?: number, length?: number) => SafetensorsArrays[D];

const CTORS: { readonly [D in SafetensorsDtype]: Ctor<D> } = {
  BOOL: Uint8Array, U8: Uint8Array, I8: Int8Array, I16: Int16Array, U16: Uint16Array, F16: Uint16Array, BF16: Uint16Array,
  I32: Int32Array, U32: Uint32Array, F32: Float32Array, F64: Float64Array, I64: BigInt64Array, U64: BigUint64Array,
};

/** The constructor of the typed array that holds `dtype`. */
export function arrayCtor<D extends SafetensorsDtype>(dtype: D): Ctor<D> {
  return CTORS[dtype];
}

/** The typed-array class each dtype expects, for checking a caller's data. */
export function isArrayOf(dtype: SafetensorsDtype, data: unknown): boolean {
  return data instanceof (CTORS[dtype] as unknown as new () => object);
}

/** True on little-endian hosts (every platform Node and browsers run on in practice). */
export function hostIsLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}
