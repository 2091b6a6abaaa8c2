import { BitlensError } from '@bitlens/core';
import { createGemm, type Gemm } from '@bitlens/kernels-wasm';
import type { Tf } from './init.js';
import { restoreStockKernels } from './internal/overrides.js';
import { installExplicitTransposeMatMul } from './internal/wasm-matmul.js';
import { installFusedAttention, installFusedMlp, installGather, installGemmMatMul, installSharedIdentity } from './internal/wasm-kernels.js';

/**
 * bitlens's kernels for tfjs-wasm, each replacing a slow or missing tfjs kernel (the cpu and webgpu backends keep
 * their own):
 * - `explicit-transpose-matmul`: `BatchMatMul` with transposed operands runs as an explicit `Transpose` and a plain
 *   product (tfjs-wasm's transposed products are 10-25x slower, and autodiff makes one per weight gradient);
 * - `gemm`: large single products run on our GEMM (packed, fused multiply-add where the CPU has it, split over
 *   `threads` threads; transposed operands are read in place);
 * - `gather`: row gathers (`GatherV2`, as row copies: tfjs-wasm's is slow) and their gradient, the scatter-add
 *   `UnsortedSegmentSum`, which tfjs-wasm lacks (with it the model embeds tokens by gathering rows instead of one-hot
 *   products);
 * - `fused-mlp`: `BitlensFusedMlp` / `BitlensFusedMlpGrad`, the MLP block (matmul, ReLU, matmul) forward and backward
 *   as GEMM calls with fused epilogues (the model uses it when registered);
 * - `fused-attention`: `BitlensAttendLast` / `BitlensAttendLastGrad`, the last-position softmax attention forward and
 *   backward as two SIMD loops in the GEMM's module instead of a dozen broadcast tfjs ops and their autodiff;
 * - `shared-identity`: `Identity` shares its input's data instead of copying it (autodiff clones every tensor a custom
 *   gradient saves).
 */
export const BITLENS_KERNELS = ['explicit-transpose-matmul', 'gemm', 'gather', 'fused-mlp', 'fused-attention', 'shared-identity'] as const;
/** One of {@link BITLENS_KERNELS}. */
export type BitlensKernel = (typeof BITLENS_KERNELS)[number];
/** Which kernels an engine runs: all of bitlens's, tfjs's own only, or a chosen subset (for before/after measurements). */
export type EngineKernels = 'bitlens' | 'tfjs' | readonly BitlensKernel[];

/** How a started engine is configured (see {@link configureEngine}). */
export interface EngineOptions {
  /** Default `bitlens` (all of {@link BITLENS_KERNELS}); `tfjs`: tfjs's kernels only. */
  readonly kernels?: EngineKernels;
  /**
   * Threads one product may use (the `gemm` kernels: this thread plus helper threads; default 1). Results do not
   * depend on it. When several runs train at once they, not the kernels, should take the cores (see
   * `workerExecutor` of @bitlens/training for how threads per run are chosen).
   */
  readonly threads?: number;
}

/** The configuration in effect, as recorded in a started engine's info. */
export interface EngineConfig {
  readonly kernels: readonly BitlensKernel[];
  readonly threads: number;
  /** The GEMM's instruction set, when it runs: `fma` (relaxed SIMD) or `simd` (mul + add). */
  readonly gemm?: 'fma' | 'simd';
}

let gemm: Gemm | undefined;
let current: EngineConfig | undefined;

/** The configuration the last `configureEngine` call of this thread set (undefined before the first). */
export function engineConfig(): EngineConfig | undefined {
  return current;
}

/** The GEMM for `threads` (the current one, or a new one plus the one it replaces, to close once unused). */
async function gemmFor(threads: number): Promise<{ readonly g: Gemm; readonly retired?: Gemm }> {
  if (gemm?.threads === threads) return { g: gemm };
  const retired = gemm;
  gemm = await createGemm({ threads });
  return { g: gemm, ...(retired === undefined ? {} : { retired }) };
}

function kernelList(kernels: EngineKernels): readonly BitlensKernel[] {
  if (kernels === 'bitlens') return BITLENS_KERNELS;
  if (kernels === 'tfjs') return [];
  if (Array.isArray(kernels) && kernels.every((k) => (BITLENS_KERNELS as readonly string[]).includes(k))) return kernels;
  throw new BitlensError('INVALID_OPTION', { stage: 'engine', field: 'kernels', expected: `'bitlens', 'tfjs' or a list of ${BITLENS_KERNELS.join(', ')}`, found: JSON.stringify(kernels) });
}

/**
 * Configures the process's tfjs engine: which of bitlens's kernels replace tfjs's on wasm, and how many threads a
 * product may use. `initTfjsBackend` calls it; call it again to switch (the kernel registry is process-wide, so this
 * applies to every op that follows; do not run two calls at once). Kernels are installed for wasm once its backend is
 * loaded; elsewhere this only records the choice.
 * @example await configureEngine(tf, { kernels: 'tfjs' }); // tfjs's stock kernels, e.g. for a "before" measurement
 */
export async function configureEngine(tf: Tf, options: EngineOptions = {}): Promise<EngineConfig> {
  const kernels = kernelList(options.kernels ?? 'bitlens');
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new BitlensError('INVALID_OPTION', { stage: 'engine', field: 'threads', expected: 'a positive integer', found: String(threads) });
  const wasmLoaded = tf.getKernel('BatchMatMul', 'wasm') !== undefined;
  // The GEMM's module serves every kernel but the explicit transpose (the scatter-add and the attention run there
  // too). It is made before the registry is touched: the swap below is one synchronous block, so work that runs
  // while this awaits (a training run whose threads are changed between epochs) sees the old kernels or the new ones,
  // never a mix, and the GEMM it replaces is closed only once nothing can call it.
  const made = wasmLoaded && kernels.some((k) => k !== 'explicit-transpose-matmul') ? await gemmFor(threads) : undefined;
  const g = made?.g;
  restoreStockKernels(tf);
  current = { kernels, threads };
  if (!wasmLoaded) return current;
  // Order matters: the GEMM product falls back to the kernel below it (the explicit-transpose one when chosen).
  if (kernels.includes('explicit-transpose-matmul')) installExplicitTransposeMatMul(tf);
  if (g !== undefined && kernels.includes('gemm')) installGemmMatMul(tf, g);
  if (g !== undefined && kernels.includes('gather')) installGather(tf, g);
  if (g !== undefined && kernels.includes('fused-mlp')) installFusedMlp(tf, g);
  if (g !== undefined && kernels.includes('fused-attention')) installFusedAttention(tf, g);
  if (kernels.includes('shared-identity')) installSharedIdentity(tf);
  made?.retired?.close();
  current = { kernels, threads, ...(g === undefined ? {} : { gemm: g.relaxed ? ('fma' as const) : ('simd' as const) }) };
  return current;
}
