import { TASKS, TaskSchema, gridModulusSchema } from '@bitlens/circuits';
import type { ConfigFiles } from '@bitlens/core';
import { splitSizes } from '@bitlens/data';
import { TfjsBackendSchema } from '@bitlens/engine';
import { FULL_PRECISION, quantizerSchema } from '@bitlens/quantization';
import { z } from 'zod';

/**
 * Named settings of the comparison (docs/science.md#training). `canonical` is Li's / Nanda's setup (lr 1e-3). `small` raises the
 * learning rate to 3e-3 so that the default job fits in 3 minutes on 2 cores. Measured (seed 0, li, wasm): at lr 1e-3
 * the fp32 run groks only at epoch ~1220 and 300 epochs later is still not cleaned up (MLP variance explained by its key
 * frequencies 0.16); at 3e-3 all three grok by epoch ~400 and pass every mechanism check 300 epochs later (seeds 0, 1
 * and 2; 200 epochs later seed 1's fp32 run did not: 0.67 explained). At 1e-2 the runs spike (the ternary run's test
 * accuracy fell to 0.81 after grokking).
 */
export const PRESETS = {
  small: { p: 59, trainFraction: 0.6, epochs: 3000, afterGrok: 300, checkpointEvery: 100, logEvery: 10, lr: 3e-3, weightDecay: 1 },
  canonical: { p: 113, trainFraction: 0.3, epochs: 10_000, afterGrok: 1000, checkpointEvery: 250, logEvery: 50, lr: 1e-3, weightDecay: 1 },
} as const;

/** Config of `bitlens run precision-comparison`: a preset plus overrides of any of its numbers. */
export const PrecisionComparisonConfig = z
  .strictObject({
    preset: z.enum(['small', 'canonical'], { error: 'expected a preset: small or canonical' }).default('small').describe('small: p=59, train fraction 0.6, lr 3e-3, cap 3000 epochs; canonical: p=113, 0.3, lr 1e-3, 10000'),
    p: gridModulusSchema.optional().describe('prime modulus (overrides the preset)'),
    trainFraction: z.number().gt(0).lt(1).optional().describe('fraction of the p^2 pairs used for training (overrides the preset)'),
    epochs: z.number().int().min(1).optional().describe('epoch cap per run (overrides the preset)'),
    afterGrok: z.number().int().min(0).optional().describe('stop a run this many epochs after its test accuracy first reaches 0.99, once it is >= 0.99 again (cleanup before analysis)'),
    lr: z.number().gt(0).optional().describe('AdamW learning rate (overrides the preset)'),
    weightDecay: z.number().min(0).optional().describe('AdamW decoupled weight decay (overrides the preset)'),
    checkpointEvery: z.number().int().min(1).optional().describe('epochs between checkpoints (the progress-measure curves have one point per checkpoint)'),
    logEvery: z.number().int().min(1).optional().describe('epochs between logged train/test metrics'),
    seed: z.number().int().default(0).describe('seed of the parameter init (the same for every precision)'),
    dataSeed: z.number().int().optional().describe('seed of the train/test split (default: seed)'),
    task: TaskSchema.default('add').describe(`operation mod p: ${TASKS.join(', ')}`),
    model: z.enum(['li', 'nanda'], { error: 'expected an architecture preset: li or nanda' }).default('li').describe('architecture preset'),
    quantizers: z
      .strictObject({
        ternary: quantizerSchema('ternary').default('ternary-absmean'),
        binary: quantizerSchema('binary').default('binary-scaled'),
      })
      .default({ ternary: 'ternary-absmean', binary: 'binary-scaled' })
      .describe('quantizer of the ternary and the binary run'),
    grokfast: z
      .strictObject({ alpha: z.number().min(0).lt(1).default(0.98), lambda: z.number().min(0).default(2) })
      .optional()
      .describe('Grokfast-EMA gradient filter (Lee et al. 2024) before each AdamW step; off unless set, e.g. --set grokfast.lambda=2'),
    backend: TfjsBackendSchema.default('wasm').describe('tfjs backend of the training workers and the analysis: wasm, cpu, webgpu, tensorflow'),
    out: z.string().min(1, { error: 'expected a file path' }).default('bitlens-report.html').describe('path of the HTML report (relative to the working directory)'),
  })
  .superRefine((c, ctx) => {
    // The preset fills what is not set: check the split the run will really use (p^2 pairs, floor(fraction p^2) train).
    const base = PRESETS[c.preset];
    const p = c.p ?? base.p;
    const fraction = c.trainFraction ?? base.trainFraction;
    const { nTrain, nTest } = splitSizes(p * p, fraction);
    if (nTrain < 1 || nTest < 1) {
      ctx.addIssue({ code: 'custom', path: ['trainFraction'], input: fraction, message: `expected a fraction leaving at least one train and one test pair of the ${p * p} at p=${p} (it gives ${nTrain} train, ${nTest} test)` });
    }
  });

/** The validated config. */
export type PrecisionComparisonConfigOutput = z.output<typeof PrecisionComparisonConfig>;

/** One run of the comparison. */
export interface PrecisionRun {
  /** `fp32`, `ternary` or `binary`: node-name prefix and display name. */
  readonly name: 'fp32' | 'ternary' | 'binary';
  readonly quantizer: string;
}

/** The config with the preset applied: every number explicit. */
export interface ResolvedComparison {
  readonly preset: 'small' | 'canonical';
  readonly p: number;
  readonly trainFraction: number;
  readonly epochs: number;
  readonly afterGrok: number;
  readonly lr: number;
  readonly weightDecay: number;
  readonly checkpointEvery: number;
  readonly logEvery: number;
  readonly seed: number;
  readonly dataSeed: number;
  readonly task: string;
  readonly model: 'li' | 'nanda';
  readonly runs: readonly PrecisionRun[];
  /** Grokfast-EMA filter, or null (off). */
  readonly grokfast: { readonly alpha: number; readonly lambda: number } | null;
  readonly backend: string;
  readonly out: string;
}

/** The files a config names: the HTML report (an output, checked before any work). */
export function comparisonFiles(c: PrecisionComparisonConfigOutput): ConfigFiles {
  return { outputs: [{ field: 'out', path: c.out }] };
}

/** Applies the preset under the explicit overrides. */
export function resolveComparison(c: PrecisionComparisonConfigOutput): ResolvedComparison {
  const base = PRESETS[c.preset];
  return {
    preset: c.preset,
    p: c.p ?? base.p,
    trainFraction: c.trainFraction ?? base.trainFraction,
    epochs: c.epochs ?? base.epochs,
    afterGrok: c.afterGrok ?? base.afterGrok,
    lr: c.lr ?? base.lr,
    weightDecay: c.weightDecay ?? base.weightDecay,
    checkpointEvery: c.checkpointEvery ?? base.checkpointEvery,
    logEvery: c.logEvery ?? base.logEvery,
    seed: c.seed,
    dataSeed: c.dataSeed ?? c.seed,
    task: c.task,
    model: c.model,
    runs: [
      { name: 'fp32', quantizer: FULL_PRECISION },
      { name: 'ternary', quantizer: c.quantizers.ternary },
      { name: 'binary', quantizer: c.quantizers.binary },
    ],
    grokfast: c.grokfast ?? null,
    backend: c.backend,
    out: c.out,
  };
}
