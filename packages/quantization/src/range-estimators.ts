import { BitlensError } from '@bitlens/core';

/**
 * How a static activation range is estimated from calibration batches.
 * - `running-minmax` (default, the reference code's activation estimator): the first batch's [min, max], then an
 *   exponential moving average, range = momentum * range + (1 - momentum) * [batch min, batch max].
 * - `minmax`: the smallest min and the largest max over all batches.
 */
export const RANGE_ESTIMATORS = ['running-minmax', 'minmax'] as const;
/** One range estimator name. */
export type RangeEstimator = (typeof RANGE_ESTIMATORS)[number];

/** Momentum of the running min-max estimator in the reference code. */
export const RUNNING_MINMAX_MOMENTUM = 0.9;

/**
 * Checks a range estimator name and its momentum (in [0, 1)); INVALID_OPTION naming the field otherwise.
 */
export function checkRangeEstimator(estimator: unknown, momentum: unknown, stage: string): void {
  if (!(RANGE_ESTIMATORS as readonly unknown[]).includes(estimator)) {
    throw new BitlensError('INVALID_OPTION', { stage, field: 'estimator', expected: RANGE_ESTIMATORS.map((e) => `'${e}'`).join(' or '), found: JSON.stringify(estimator) });
  }
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum < 1)) {
    throw new BitlensError('INVALID_OPTION', { stage, field: 'momentum', expected: 'a number in [0, 1)', found: JSON.stringify(momentum) });
  }
}

/**
 * One step of a range estimator: the range after seeing a batch whose values span [batchMin, batchMax]. `previous` is
 * undefined before the first batch. Pure.
 * @example let r; for (const b of batches) r = updateRange(r, min(b), max(b), 'running-minmax', 0.9);
 */
export function updateRange(previous: readonly [number, number] | undefined, batchMin: number, batchMax: number, estimator: RangeEstimator, momentum = RUNNING_MINMAX_MOMENTUM): [number, number] {
  if (previous === undefined) return [batchMin, batchMax];
  if (estimator === 'minmax') return [Math.min(previous[0], batchMin), Math.max(previous[1], batchMax)];
  return [momentum * previous[0] + (1 - momentum) * batchMin, momentum * previous[1] + (1 - momentum) * batchMax];
}
