export { wasmPacked, createWasmPackedBackend } from './backend.js';
export { loadPackedModule, describePackedModule, WASM_URL, WASM_RELAXED_URL } from './module.js';
export type { PackedExports, SimdLevel, WasmMemory } from './module.js';
export { prepareBinaryMatMul, prepareTernaryMatMul, prepareTernaryMatMulA8 } from './packed-kernels.js';
export type { PreparedOp } from './packed-kernels.js';
export { measurePeakF32, measurePeakI8 } from './peak.js';
export { createGemm, GEMM_URL, GEMM_RELAXED_URL } from './gemm.js';
export type { AttendShape, Gemm, GemmArena, GemmEpilogue, GemmOp, GemmOptions } from './gemm.js';
