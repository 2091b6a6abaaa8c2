import { BitlensError } from '@bitlens/core';
import { validateConfig, type ModelConfig } from '@bitlens/model';
import { ADAMW_DEFAULTS, type AdamWOptions } from './adamw.js';
import { GROKFAST_DEFAULTS, type GrokfastOptions } from './grokfast.js';

const STAGE = 'training/train';

/**
 * Version of the training stage: part of its cache key. 2: the early stop waits for test accuracy to be back at the
 * threshold, and the last-position attention has a hand-written gradient (other float rounding, so other weights
 * than version 1 for the same options). 3: on wasm, token rows are gathered instead of picked by one-hot products,
 * the MLP block is one fused op, and large products run on bitlens's GEMM (fused multiply-add where the CPU has it):
 * the same functions, other float rounding, so other weights for the same options. 4: the last-position attention
 * runs as one kernel pair on wasm (other rounding again).
 */
export const TRAIN_STAGE_VERSION = '4';

/**
 * When a run logs, checkpoints and stops, as data (part of the run's options and cache key). Epoch e means e
 * optimizer steps done; one full-batch step per epoch.
 */
export interface TrainSchedule {
  /** Epoch cap. */
  readonly epochs: number;
  /** Log metrics every N epochs (default 10); the final epoch is always logged. */
  readonly logEvery?: number;
  /** Emit a checkpoint every N epochs (default 1000; 0 = only the final one). The final state is always emitted. */
  readonly checkpointEvery?: number;
  /**
   * Stop at the first logged epoch at least this many epochs after test accuracy first reached `grokThreshold` at
   * which test accuracy is at or above the threshold again (a loss spike at that moment postpones the stop, so a run
   * is not analysed in the middle of one). Default: never stop early.
   */
  readonly stopAfterGrok?: number | null;
  /** Grokking threshold on test accuracy (default 0.99). */
  readonly grokThreshold?: number;
}

/** What a training run does (JSON-serialisable: the training stage's cache key). */
export interface TrainOptions {
  /** The model (see `modelConfig` of @bitlens/model), passed through as data; its quantizer is looked up by name. */
  readonly model: ModelConfig;
  /** Seed of the parameter init. */
  readonly seed: number;
  /** Epochs, logging, checkpoints, early stop. */
  readonly schedule: TrainSchedule;
  /** AdamW settings (defaults: lr 1e-3, weight decay 1.0, betas 0.9 / 0.98, eps 1e-8, no warmup). */
  readonly optimizer?: Partial<AdamWOptions>;
  /** How the STE gradient reaches the latent weights (see @bitlens/quantization `steQuantize`; default 'identity'). */
  readonly steGradient?: 'identity' | 'centred';
  /**
   * Grokfast-EMA gradient filter before each AdamW step (see `GrokfastOptions`; missing fields take the authors'
   * defaults alpha 0.98, lambda 2). Off (null) by default: it changes the optimizer, so it is part of the cache key and
   * of provenance, and reports flag it.
   */
  readonly grokfast?: Partial<GrokfastOptions> | null;
}

/** A schedule with every default applied. */
export interface ResolvedSchedule {
  readonly epochs: number;
  readonly logEvery: number;
  readonly checkpointEvery: number;
  readonly stopAfterGrok: number | null;
  readonly grokThreshold: number;
}

/** Options with every default applied (what the cache key holds). */
export interface ResolvedTrainOptions {
  readonly model: ModelConfig;
  readonly seed: number;
  readonly schedule: ResolvedSchedule;
  readonly optimizer: AdamWOptions;
  readonly steGradient: 'identity' | 'centred';
  readonly grokfast: GrokfastOptions | null;
}

function bad(field: string, expected: string, found: unknown): never {
  throw new BitlensError('INVALID_OPTION', { stage: STAGE, field, expected, found: JSON.stringify(found) });
}

function resolveSchedule(s: TrainSchedule | undefined): ResolvedSchedule {
  if (s === undefined || s === null || typeof s !== 'object') return bad('schedule', 'an object with at least `epochs`', s);
  const r: ResolvedSchedule = {
    epochs: s.epochs,
    logEvery: s.logEvery ?? 10,
    checkpointEvery: s.checkpointEvery ?? 1000,
    stopAfterGrok: s.stopAfterGrok ?? null,
    grokThreshold: s.grokThreshold ?? 0.99,
  };
  if (!Number.isInteger(r.epochs) || r.epochs < 0) bad('schedule.epochs', 'a non-negative integer', r.epochs);
  if (!Number.isInteger(r.logEvery) || r.logEvery < 1) bad('schedule.logEvery', 'a positive integer', r.logEvery);
  if (!Number.isInteger(r.checkpointEvery) || r.checkpointEvery < 0) bad('schedule.checkpointEvery', 'a non-negative integer', r.checkpointEvery);
  if (r.stopAfterGrok !== null && !(Number.isInteger(r.stopAfterGrok) && r.stopAfterGrok >= 0)) bad('schedule.stopAfterGrok', 'a non-negative integer', r.stopAfterGrok);
  if (!(r.grokThreshold > 0 && r.grokThreshold <= 1)) bad('schedule.grokThreshold', 'a fraction in (0, 1]', r.grokThreshold);
  return r;
}

function resolveOptimizer(o: Partial<AdamWOptions> | undefined): AdamWOptions {
  const r: AdamWOptions = { ...ADAMW_DEFAULTS, ...(o ?? {}) };
  if (!(r.lr >= 0)) bad('optimizer.lr', 'a non-negative number', r.lr);
  if (!(r.weightDecay >= 0)) bad('optimizer.weightDecay', 'a non-negative number', r.weightDecay);
  if (!(r.beta1 >= 0 && r.beta1 < 1)) bad('optimizer.beta1', 'a number in [0, 1)', r.beta1);
  if (!(r.beta2 >= 0 && r.beta2 < 1)) bad('optimizer.beta2', 'a number in [0, 1)', r.beta2);
  if (!(r.eps > 0)) bad('optimizer.eps', 'a positive number', r.eps);
  if (typeof r.warmup !== 'boolean') bad('optimizer.warmup', 'true or false', r.warmup);
  return r;
}

/** Resolved options with defaults, validated (INVALID_OPTION / INVALID_CONFIG naming the field). */
export function resolveTrainOptions(o: TrainOptions): ResolvedTrainOptions {
  const r: ResolvedTrainOptions = {
    model: validateConfig(o.model),
    seed: o.seed,
    schedule: resolveSchedule(o.schedule),
    optimizer: resolveOptimizer(o.optimizer),
    steGradient: o.steGradient ?? 'identity',
    grokfast: o.grokfast === undefined || o.grokfast === null ? null : { ...GROKFAST_DEFAULTS, ...o.grokfast },
  };
  if (r.grokfast !== null && !(r.grokfast.alpha >= 0 && r.grokfast.alpha < 1)) bad('grokfast.alpha', 'a number in [0, 1)', r.grokfast.alpha);
  if (r.grokfast !== null && !(r.grokfast.lambda >= 0)) bad('grokfast.lambda', 'a non-negative number', r.grokfast.lambda);
  if (!Number.isInteger(r.seed)) bad('seed', 'an integer', r.seed);
  if (r.steGradient !== 'identity' && r.steGradient !== 'centred') bad('steGradient', "'identity' or 'centred'", r.steGradient);
  return r;
}

/**
 * The early-stop rule of `stopAfterGrok` at a logged epoch: at least `after` epochs since grokking and test accuracy at
 * or above the threshold now (so a run is never stopped, and analysed, in the middle of a loss spike).
 */
export function cleanedUp(epoch: number, grokEpoch: number | null, after: number | null, testAcc: number, threshold: number): boolean {
  return grokEpoch !== null && after !== null && epoch - grokEpoch >= after && testAcc >= threshold;
}
