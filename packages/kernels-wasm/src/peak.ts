import { loadPackedModule } from './module.js';

/**
 * Measures the fp32 WebAssembly SIMD ceiling of one core: 12 independent f32x4 multiply-add chains in registers
 * (wasm SIMD has no fused multiply-add, so one mul + one add = 2 flops per lane). Best of `repeats` runs.
 * @returns GFLOP/s
 */
export async function measurePeakF32(options: { iters?: number; repeats?: number } = {}): Promise<number> {
  const mod = await loadPackedModule();
  const iters = options.iters ?? 20_000_000, repeats = options.repeats ?? 5;
  mod.peakF32(1000, 1); // tier up
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    mod.peakF32(iters, r);
    best = Math.min(best, performance.now() - t0);
  }
  return (iters * 96) / (best * 1e6);
}

/**
 * Measures the int8 multiply-add ceiling of one core as the ternary kernel issues it (`peakI8` of the module: 8
 * register accumulators, one i8 x u7 dot of 16 products and one add each per round; relaxed build: pmaddubsw). Best of
 * `repeats` runs.
 * @returns GMAC/s
 */
export async function measurePeakI8(options: { iters?: number; repeats?: number } = {}): Promise<number> {
  const mod = await loadPackedModule();
  const iters = options.iters ?? 10_000_000, repeats = options.repeats ?? 5;
  mod.peakI8(1000, 1); // tier up
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    mod.peakI8(iters, r);
    best = Math.min(best, performance.now() - t0);
  }
  return (iters * 128) / (best * 1e6);
}
