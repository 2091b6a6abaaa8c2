import { initTfjsBackend } from '@bitlens/engine';
import { packBinary, packI2S, randomCodes, randomInt8, randomTensor } from '@bitlens/kernels';
import { describePackedModule, loadPackedModule, prepareBinaryMatMul, prepareTernaryMatMul, prepareTernaryMatMulA8 } from '@bitlens/kernels-wasm';

// The 1024³ kernel figures on the CPU default (WebAssembly), robust to a shared machine: the kernels are run
// interleaved, round after round, each timed over a window of repeated calls of about the same length (~150 ms, so a
// short kernel is not favoured by slipping between other processes' time slices), keeping the best window; then the
// ternary int8 kernel at 2048³, the size of bitnet.cpp's published single-thread figure.
// `node benchmarks/kernels/dist/measure-1024.js [rounds]`. Kernel-only: operands resident, output read back; each
// packed kernel's operand re-layout (nibble regrouping, I2_S decode, int8 quantization) is inside the timed call.
const N = 1024, MACS = N ** 3, rounds = Number(process.argv[2] ?? 15);
const { tf } = await initTfjsBackend('wasm');
const mod = await loadPackedModule();
const A = tf.tensor2d(randomTensor([N, N], { seed: 1 }).data, [N, N]), B = tf.tensor2d(randomTensor([N, N], { seed: 2 }).data, [N, N]);
const binary = prepareBinaryMatMul(mod, packBinary(randomCodes([N, N], [-1, 1], { seed: 3 })), packBinary(randomCodes([N, N], [-1, 1], { seed: 4 })), N);
const w = packI2S(randomCodes([N, N], [-1, 0, 1], { seed: 5 }));
// each prepared op lays its operands out from the same base: prepare right before running, outside the timing
const kernels: Record<string, { prepare?: () => { run(): void }; run: () => unknown; flops: number }> = {
  'fp32 MatMul, tfjs-wasm (XNNPACK)': { run: () => { const c = tf.matMul(A, B); c.dataSync(); c.dispose(); }, flops: 2 * MACS },
  'BinaryMatMul, wasm-packed': { prepare: () => binary, run: () => undefined, flops: 2 * MACS },
  'TernaryMatMul int8, wasm-packed': { prepare: () => prepareTernaryMatMul(mod, randomInt8([N, N], { seed: 6 }), w, N, 1), run: () => undefined, flops: 2 * MACS },
  'TernaryMatMulA8 (fp32 x -> int8), wasm-packed': { prepare: () => prepareTernaryMatMulA8(mod, randomTensor([N, N], { seed: 8 }), w, N, 1), run: () => undefined, flops: 2 * MACS },
  'TernaryMatMul fp32, wasm-packed': { prepare: () => prepareTernaryMatMul(mod, randomTensor([N, N], { seed: 7 }), w, N, 1), run: () => undefined, flops: 2 * MACS },
  'peak f32x4 mul+add (registers)': { run: () => mod.peakF32(5_000_000, 1), flops: 5_000_000 * 96 },
  'peak i8 dot + add (registers, as the ternary kernel)': { run: () => mod.peakI8(5_000_000, 1), flops: 5_000_000 * 256 },
};
const WINDOW_MS = 150;
const best = new Map<string, number>(), reps = new Map<string, number>(), perRound = new Map<string, number[]>();
for (let r = 0; r < rounds; r++) {
  for (const [name, k] of Object.entries(kernels)) {
    const op = k.prepare?.();
    const run = op === undefined ? k.run : () => op.run();
    if (r === 0) { // warm-up / tier-up, then size the window
      run();
      const t = performance.now(); run();
      reps.set(name, Math.max(1, Math.round(WINDOW_MS / Math.max(0.01, performance.now() - t))));
    }
    const n = reps.get(name) ?? 1;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) run();
    const ms = (performance.now() - t0) / n;
    best.set(name, Math.min(best.get(name) ?? Infinity, ms));
    perRound.set(name, [...(perRound.get(name) ?? []), ms]);
  }
}
const FP32 = 'fp32 MatMul, tfjs-wasm (XNNPACK)';
const rate = (name: string): number => (kernels[name]?.flops ?? 0) / 2 / ((best.get(name) ?? Infinity) / 1000);
// the ratio of each round's adjacent windows (fp32 first, then each kernel) sees the same load; its median is the
// figure that holds on a shared machine, where the best windows of two kernels may fall in different quiet moments
const medianRatio = (name: string): number => {
  const f = perRound.get(FP32) ?? [], k = perRound.get(name) ?? [], macs = (kernels[name]?.flops ?? 0) / (kernels[FP32]?.flops ?? 1);
  const r = k.map((ms, i) => ((f[i] ?? NaN) / ms) * macs).sort((a, b) => a - b);
  return r.length === 0 ? NaN : ((r[(r.length - 1) >> 1] ?? NaN) + (r[r.length >> 1] ?? NaN)) / 2;
};
const fp32 = rate(FP32), peak = rate('peak f32x4 mul+add (registers)');
console.log(`1024³, best ~${WINDOW_MS} ms window of ${rounds} interleaved rounds, one thread; ${describePackedModule(mod)}`);
console.log('| kernel | best ms | GMAC/s | GFLOP/s (2/MAC) | vs fp32 MAC rate (best / best) | median of per-round ratios |');
console.log('|---|---|---|---|---|---|');
for (const name of Object.keys(kernels)) {
  const g = rate(name);
  console.log(`| ${name} | ${(best.get(name) ?? NaN).toFixed(2)} | ${(g / 1e9).toFixed(1)} | ${((2 * g) / 1e9).toFixed(1)} | ${(g / fp32).toFixed(2)}x | ${medianRatio(name).toFixed(2)}x |`);
}
const PEAK_F32 = 'peak f32x4 mul+add (registers)', PEAK_I8 = 'peak i8 dot + add (registers, as the ternary kernel)', TERN = 'TernaryMatMul int8, wasm-packed';
// both shares from the median per-round ratios (the best windows of two kernels may fall in different quiet moments)
console.log(`fp32 MatMul reaches ${(100 / medianRatio(PEAK_F32)).toFixed(0)}% of the fp32 SIMD ceiling of this core (best ${((2 * peak) / 1e9).toFixed(1)} GFLOP/s; wasm SIMD has no FMA)`);
// The issue bound: both the f32 mul+add pair (4 MACs) and the ternary kernel's pmaddubsw + add pair (16 MACs) are
// limited by the core's vector multiply pipes, so exact int8 x ternary on 128-bit SIMD tops out at 4x the f32 peak.
const bound = 4 * peak;
console.log(`Exact int8 x ternary on 128-bit wasm SIMD issues one pmaddubsw + one add per 16 MACs where fp32 issues one mul + one add per 4: its bound is 4x the fp32 SIMD peak, `
  + `${(bound / 1e9).toFixed(1)} GMAC/s = ${(bound / fp32).toFixed(2)}x the fp32 MatMul rate; TernaryMatMul int8 reaches ${((100 * rate(TERN)) / bound).toFixed(0)}% of it `
  + `(the register-only int8 loop, ${((100 * rate(PEAK_I8)) / bound).toFixed(0)}%, is no tighter ceiling: the kernel outruns it)`);

// 2048³, ternary int8 (kernel-only, best of 5 calls after one warm-up), beside bitnet.cpp's published single EPYC thread
const M = 2048, big = prepareTernaryMatMul(mod, randomInt8([M, M], { seed: 9 }), packI2S(randomCodes([M, M], [-1, 0, 1], { seed: 10 })), M, 1);
big.run();
let bestBig = Infinity;
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  big.run();
  bestBig = Math.min(bestBig, performance.now() - t0);
}
const gBig = M ** 3 / (bestBig / 1000);
console.log(`TernaryMatMul int8 at 2048³: ${bestBig.toFixed(1)} ms, ${(gBig / 1e9).toFixed(1)} GMAC/s = ${((2 * gBig) / 1e9).toFixed(1)} G integer ops/s (multiply + add per MAC); bitnet.cpp's published single EPYC thread: about 184 G integer ops/s`);
