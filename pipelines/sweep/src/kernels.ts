import { createKernelRegistry, reference } from '@bitlens/kernels';
import { createTfjsKernelBackend } from '@bitlens/kernels-tfjs';
import { createWasmPackedBackend } from '@bitlens/kernels-wasm';
import type { CellKernels } from './record.js';

/**
 * The kernels a sweep's cells run their packed inference on: the WebAssembly packed backend for the ternary/binary
 * layers and tfjs-wasm for the dense unembedding (the same CPU path whatever engine trained the model). One registry per
 * worker thread (a wasm module per thread).
 */
export function sweepKernels(rounds = 5): CellKernels {
  return { registry: createKernelRegistry([reference, createWasmPackedBackend(), createTfjsKernelBackend('wasm')]), backend: 'wasm-packed', denseBackend: 'tfjs-wasm', rounds };
}
