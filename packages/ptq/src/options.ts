import { BitlensError } from '@bitlens/core';
import { checkRangeEstimator, RUNNING_MINMAX_MOMENTUM, type RangeEstimator } from '@bitlens/quantization';

/** Options of W8A8 post-training quantization (JSON: they go into the stage's cache key). */
export interface W8A8Options {
  /** Weight bits, symmetric per tensor with a min-max scale (default 8; 2..8). */
  readonly weightBits?: number;
  /** Activation bits, asymmetric per tensor over a static range (default 8; 2..16). */
  readonly activationBits?: number;
  /** Quantize the embedding's weights too (default true; its input is one-hot and needs no range). */
  readonly embed?: boolean;
  /** Quantize the unembedding's weights and its input (default true; the OPT runs of the reference keep it in FP32). */
  readonly unembed?: boolean;
  /** Calibration batches drawn from the training split (default 16). */
  readonly calibrationBatches?: number;
  /** Inputs per calibration batch (default: the training split divided into `calibrationBatches` batches, rounded up). */
  readonly calibrationBatchSize?: number;
  /** Range estimator over the calibration batches (default 'running-minmax', momentum 0.9). */
  readonly estimator?: RangeEstimator;
  readonly momentum?: number;
  /** Seed of the shuffle of the training rows before they are cut into batches (default 0). */
  readonly seed?: number;
}

/** {@link W8A8Options} with defaults filled in (`calibrationBatchSize` stays undefined = derived from the split). */
export type ResolvedW8A8 = Required<Omit<W8A8Options, 'calibrationBatchSize'>> & { readonly calibrationBatchSize: number | undefined };

const KNOWN = ['weightBits', 'activationBits', 'embed', 'unembed', 'calibrationBatches', 'calibrationBatchSize', 'estimator', 'momentum', 'seed'];

/**
 * Fills in the defaults and checks every option (INVALID_OPTION naming the field: bits out of range, a calibration
 * count or batch size < 1, an unknown estimator, a momentum outside [0, 1), a non-integer seed, an unknown option).
 */
export function resolveW8A8Options(o: W8A8Options, stage: string): ResolvedW8A8 {
  const bad = (field: string, expected: string, found: unknown): never => {
    throw new BitlensError('INVALID_OPTION', { stage, field, expected, found: JSON.stringify(found) });
  };
  for (const k of Object.keys(o)) if (!KNOWN.includes(k)) bad(k, `one of the options ${KNOWN.join(', ')}`, Reflect.get(o, k));
  const r: ResolvedW8A8 = {
    weightBits: o.weightBits ?? 8,
    activationBits: o.activationBits ?? 8,
    embed: o.embed ?? true,
    unembed: o.unembed ?? true,
    calibrationBatches: o.calibrationBatches ?? 16,
    calibrationBatchSize: o.calibrationBatchSize,
    estimator: o.estimator ?? 'running-minmax',
    momentum: o.momentum ?? RUNNING_MINMAX_MOMENTUM,
    seed: o.seed ?? 0,
  };
  const int = (v: unknown, lo: number, hi: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
  if (!int(r.weightBits, 2, 8)) bad('weightBits', 'an integer in 2..8', r.weightBits);
  if (!int(r.activationBits, 2, 16)) bad('activationBits', 'an integer in 2..16', r.activationBits);
  if (typeof r.embed !== 'boolean') bad('embed', 'true or false', r.embed);
  if (typeof r.unembed !== 'boolean') bad('unembed', 'true or false', r.unembed);
  if (!int(r.calibrationBatches, 1, Number.MAX_SAFE_INTEGER)) bad('calibrationBatches', 'an integer >= 1', r.calibrationBatches);
  if (r.calibrationBatchSize !== undefined && !int(r.calibrationBatchSize, 1, Number.MAX_SAFE_INTEGER)) bad('calibrationBatchSize', 'an integer >= 1', r.calibrationBatchSize);
  checkRangeEstimator(r.estimator, r.momentum, stage);
  if (!Number.isInteger(r.seed)) bad('seed', 'an integer', r.seed);
  return r;
}
