import type { BackendName, OpName, TernaryFormat } from '@bitlens/kernels';

/** An op, or an op in one variant (`TernaryMatMul:planes` = two-plane weights). */
export type GapKey = OpName | `TernaryMatMul:${TernaryFormat}`;

const DENSE: readonly GapKey[] = ['MatMul', 'Softmax', 'ClippedSoftmax', 'FourierProjection', 'QuantizeTernary', 'QuantizeBinary', 'Dequantize', 'Int8MatMul'];

/**
 * Kernels a backend does not have, as data (tfjs's TEST_FILTERS): the conformance suite checks that each listed
 * gap really throws KERNEL_NOT_FOUND and that every unlisted op matches the reference.
 * - tfjs cpu / wasm: no bit operations in the tfjs op set, so no packed kernels (webgpu has WGSL ones).
 * - gpu.js: two-plane ternary weights and the W1.58A8 `TernaryMatMulA8` not written (I2_S `TernaryMatMul` is).
 * - wasm-packed: only the packed kernels; the two-plane ternary layout is not written (I2_S is).
 */
export const KNOWN_GAPS: { readonly [B in BackendName]: readonly GapKey[] } = {
  reference: [],
  'tfjs-cpu': ['BinaryMatMul', 'TernaryMatMul', 'TernaryMatMulA8'],
  'tfjs-wasm': ['BinaryMatMul', 'TernaryMatMul', 'TernaryMatMulA8'],
  'tfjs-webgpu': [],
  'gpujs-cpu': ['TernaryMatMul:planes', 'TernaryMatMulA8'],
  'gpujs-webasm': ['TernaryMatMul:planes', 'TernaryMatMulA8'],
  'gpujs-webgpu': ['TernaryMatMul:planes', 'TernaryMatMulA8'],
  'wasm-packed': [...DENSE, 'TernaryMatMul:planes'],
};

/** Whether `key` (or its whole op) is a listed gap on `backend`. */
export function isGap(backend: BackendName, key: GapKey): boolean {
  const gaps = KNOWN_GAPS[backend];
  return gaps.includes(key) || gaps.includes(key.split(':')[0] as OpName);
}
