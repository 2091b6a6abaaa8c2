import type { BackendName } from '@bitlens/kernels';

/** Absolute + relative tolerance for float outputs: |actual - expected| <= abs + rel * |expected|. */
export interface Tolerance {
  readonly abs: number;
  readonly rel: number;
}

// fp32 accumulation over k <= 300 terms of |x| <= 1 against the float64 reference: errors of a few 1e-6.
const FP32: Tolerance = { abs: 2e-5, rel: 1e-5 };

/** One named tolerance per backend for float outputs. Integer outputs (Int8MatMul, packed ops with int8 input) must be exact everywhere. */
export const TOLERANCE: { readonly [B in BackendName]: Tolerance } = {
  // the reference itself: float-of-codes expectations round the float64 dot to fp32 before scaling, it after
  reference: { abs: 1e-6, rel: 1e-6 },
  'tfjs-cpu': FP32,
  'tfjs-wasm': FP32,
  'tfjs-webgpu': FP32,
  'gpujs-cpu': FP32,
  'gpujs-webasm': FP32,
  'gpujs-webgpu': FP32,
  'wasm-packed': FP32,
};

/** Index and size of the worst element outside the tolerance, or undefined when all are within it. */
export function worstOutside(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): { index: number; actual: number; expected: number } | undefined {
  let worst: { index: number; actual: number; expected: number; excess: number } | undefined;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] ?? NaN, e = expected[i] ?? NaN, excess = Math.abs(a - e) - (tol.abs + tol.rel * Math.abs(e));
    if (!(excess <= 0) && (worst === undefined || !(excess <= worst.excess))) worst = { index: i, actual: a, expected: e, excess };
  }
  return worst === undefined ? undefined : { index: worst.index, actual: worst.actual, expected: worst.expected };
}
