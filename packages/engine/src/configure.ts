import { BitlensError } from '@bitlens/core';
import type { Tf } from './init.js';
import { restoreStockKernels } from './internal/overrides.js';
import { installExplicitTransposeMatMul } from './internal/wasm-matmul.js';

/** Which kernels an engine runs: bitlens's replacements where tfjs's are slow or missing, or tfjs's own only. */
export type EngineKernels = 'bitlens' | 'tfjs';

/** How a started engine is configured (see {@link configureEngine}). */
export interface EngineOptions {
  /**
   * `bitlens` (default): on wasm, transposed matrix products run as an explicit transpose and a plain product
   * (tfjs-wasm's transposed products are 10-25x slower). `tfjs`: tfjs's own kernels only, for before/after measurements.
   */
  readonly kernels?: EngineKernels;
}

/** The configuration in effect, as recorded in a started engine's info. */
export interface EngineConfig {
  readonly kernels: EngineKernels;
}

/**
 * Configures the process's tfjs engine: which kernels run (see {@link EngineOptions}). `initTfjsBackend` calls it;
 * call it again to switch (the kernel registry is process-wide, so this affects every tensor op that follows).
 * @example configureEngine(tf, { kernels: 'tfjs' }); // tfjs's stock kernels, e.g. for a "before" measurement
 */
export function configureEngine(tf: Tf, options: EngineOptions = {}): EngineConfig {
  const kernels = options.kernels ?? 'bitlens';
  if (kernels !== 'bitlens' && kernels !== 'tfjs') {
    throw new BitlensError('INVALID_OPTION', { stage: 'engine', field: 'kernels', expected: "'bitlens' or 'tfjs'", found: JSON.stringify(kernels) });
  }
  // Both are idempotent: replacing is skipped for kernels already replaced, so calling this on every start is cheap,
  // and a backend registered after an earlier start (wasm after cpu) gets its replacements then.
  if (kernels === 'tfjs') restoreStockKernels(tf);
  else installExplicitTransposeMatMul(tf);
  return { kernels };
}
