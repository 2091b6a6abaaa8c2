// The same kernels compiled with relaxed SIMD (`ASC_FEATURE_RELAXED_SIMD` is true in this build): build/packed-relaxed.wasm.
export * from "./packed";
