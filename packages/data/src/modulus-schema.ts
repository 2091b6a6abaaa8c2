import { z } from 'zod';
import { isPrime } from './dataset.js';
import { MAX_P } from './tasks.js';

/** Options of {@link modulusSchema}. */
export interface ModulusSchemaOptions {
  /** Largest accepted p (default MAX_P, the exactness bound of the dataset arithmetic). */
  readonly max?: number;
  /** Why `max` is the bound, appended to the error message (e.g. what does not fit above it). */
  readonly why?: string;
}

/**
 * The zod field schema of a prime modulus p in [3, max]: an integer, at least 3, at most `max`, prime. Every message
 * states the expectation (the CLI adds the value found). Pipelines use it for their `p` option so that one bound
 * holds everywhere.
 * @example z.strictObject({ p: modulusSchema({ max: 307, why: 'the grid analyses fit in 12 GiB' }) })
 */
export function modulusSchema(options: ModulusSchemaOptions = {}) {
  const max = options.max ?? MAX_P;
  const why = options.why === undefined ? '' : ` (${options.why})`;
  return z
    .number({ error: 'expected a prime number' })
    .int({ error: 'expected an integer (a prime)', abort: true })
    .min(3, { error: 'expected a prime >= 3', abort: true })
    .max(max, { error: `expected a prime <= ${max}${why}`, abort: true })
    .refine(isPrime, { error: `expected a prime (the Fourier analyses and the task labels need Z_p to be a field)` });
}

/**
 * The train/test sizes of a split of n items: nTrain = floor(trainFraction * n). Pure, never throws; use it to refuse
 * a split that leaves one side empty before any work (the dataset stage throws `INVALID_OPTION` for it too).
 * @example splitSizes(9, 0.1) // { nTrain: 0, nTest: 9 }
 */
export function splitSizes(n: number, trainFraction: number): { readonly nTrain: number; readonly nTest: number } {
  const nTrain = Math.floor(trainFraction * n);
  return { nTrain, nTest: n - nTrain };
}
