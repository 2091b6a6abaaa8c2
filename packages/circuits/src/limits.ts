import { MAX_P, isPrime, modulusSchema } from '@bitlens/data';

/** The memory class bitlens is sized for: the 2-core, 24 GiB machines it is developed and tested on. */
export const MEMORY_CLASS_BYTES = 24 * 2 ** 30;

/** What one run may use of it: half. The rest is for the OS, the store's page cache and whatever else runs. */
export const MEMORY_BUDGET_BYTES = MEMORY_CLASS_BYTES / 2;

/**
 * Peak resident memory of a job over the p x p input grid, in bytes: `base + perInput * p^2 + perLogit * p^3`. The p^2
 * term is what each input carries (its activations at every hook, d_mlp-wide and wider, the training batch, the
 * dataset row); the p^3 term is the p^2 x p logits and their 2-D Fourier transforms, held by several analyses.
 */
export interface GridFootprint {
  readonly base: number;
  readonly perInput: number;
  readonly perLogit: number;
}

/**
 * The heaviest job bitlens runs: three models (li preset, d_model 128, d_mlp 512) trained in parallel workers, their
 * progress measures over the grid at each checkpoint, and each final model's analyses (activations of all p^2 inputs,
 * neuron clusters, restricted/excluded losses, clock/pizza), on the wasm backend. Fitted exactly to the peak resident
 * set sizes measured with GNU time of `bitlens run precision-comparison --set epochs=1` at p = 113, 211 and 307:
 * 1.56, 5.15 and 12.58 GB (graph v1); 1.53, 5.11 and 12.55 GB after graph v2 (the same within 1%). Longer runs keep
 * more checkpoints: 600 epochs at p = 113 peaked at 1.77 GB (+16 %), inside the other half of the machine.
 */
export const THREE_MODEL_FOOTPRINT: GridFootprint = { base: 0.56e9, perInput: 49_180, perLogit: 255 };

/**
 * One model's full analysis (`bitlens run analyze`: all hooks, losses, clock/pizza, quadrature, attribution), fitted
 * the same way: 0.66, 2.04 and 4.54 GB at p = 113, 211, 307 (0.63, 2.03, 4.52 after graph v2). For reference; the
 * bound uses the heaviest job.
 */
export const ONE_MODEL_FOOTPRINT: GridFootprint = { base: 0.18e9, perInput: 31_980, perLogit: 47 };

/** Estimated peak bytes of a grid job at modulus p. */
export function gridPeakBytes(p: number, footprint: GridFootprint = THREE_MODEL_FOOTPRINT): number {
  return footprint.base + footprint.perInput * p * p + footprint.perLogit * p * p * p;
}

/** Elements of the largest typed array a JS engine allocates (2^32 in Node 20 and later): the dense p^2 x p logits are one. */
const MAX_TYPED_ARRAY_LENGTH = 2 ** 32;

/**
 * The largest prime p whose grid job fits `budget` bytes by `footprint`, whose p^2 x p logits fit one typed array, and
 * that the dataset arithmetic takes exactly (<= MAX_P of @bitlens/data). Pure.
 * @example maxGridModulus(MEMORY_BUDGET_BYTES, THREE_MODEL_FOOTPRINT) // 307
 */
export function maxGridModulus(budget: number = MEMORY_BUDGET_BYTES, footprint: GridFootprint = THREE_MODEL_FOOTPRINT): number {
  let best = 0;
  for (let p = 3; p <= MAX_P && p * p * p <= MAX_TYPED_ARRAY_LENGTH && gridPeakBytes(p, footprint) <= budget; p++) {
    if (isPrime(p)) best = p;
  }
  return best;
}

/**
 * The largest modulus any bitlens pipeline accepts: the heaviest job at this p fits half of the 24 GiB memory class.
 * Derived, not chosen: change the budget or the measured footprint and it follows. Above it a run is refused before
 * any work with an error naming p; the dataset alone would go to MAX_P (46337).
 */
export const GRID_MAX_P = maxGridModulus();

/** Why GRID_MAX_P is the bound, in one line (error messages, `bitlens list`). */
export const GRID_MAX_P_REASON = `above it the grid analyses over all p^2 inputs need more than ${Math.round(MEMORY_BUDGET_BYTES / 2 ** 30)} GiB, half of a 24 GiB machine`;

/** The zod field schema of every pipeline's `p`: a prime in [3, GRID_MAX_P]. */
export const gridModulusSchema = modulusSchema({ max: GRID_MAX_P, why: GRID_MAX_P_REASON });
