import type { TensorInfo } from '@tensorflow/tfjs-core';

/** The part of tfjs-wasm's backend object that JavaScript kernels use: views of its heap and new outputs on it. */
export interface WasmBackendHeap {
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  makeOutput(shape: readonly number[], dtype: 'float32' | 'int32'): TensorInfo;
}

/** The float32 view of a tensor's data on the tfjs-wasm heap (no copy; valid until the heap grows). */
export function heapF32(backend: unknown, t: TensorInfo): Float32Array {
  return (backend as WasmBackendHeap).typedArrayFromHeap(t) as Float32Array;
}

/** The int32 view of a tensor's data on the tfjs-wasm heap. */
export function heapI32(backend: unknown, t: TensorInfo): Int32Array {
  return (backend as WasmBackendHeap).typedArrayFromHeap(t) as Int32Array;
}

/** A new float32 tensor on the tfjs-wasm heap holding a copy of `data`. */
export function outputF32(backend: unknown, shape: readonly number[], data: Float32Array): TensorInfo {
  const be = backend as WasmBackendHeap;
  const out = be.makeOutput(shape, 'float32');
  (be.typedArrayFromHeap(out) as Float32Array).set(data);
  return out;
}

/** A new float32 tensor on the tfjs-wasm heap (contents undefined) and its view; fill the view before anything else allocates. */
export function newF32(backend: unknown, shape: readonly number[]): { info: TensorInfo; data: Float32Array } {
  const be = backend as WasmBackendHeap;
  const info = be.makeOutput(shape, 'float32');
  return { info, data: be.typedArrayFromHeap(info) as Float32Array };
}
