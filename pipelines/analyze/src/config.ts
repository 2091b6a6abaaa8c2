import { DEFAULT_ANALYSIS, GRID_MAX_P, TASKS, TaskSchema, gridModulusSchema } from '@bitlens/circuits';
import type { ConfigFiles } from '@bitlens/core';
import { splitSizes } from '@bitlens/data';
import { TfjsBackendSchema } from '@bitlens/engine';
import { modelConfig, paramCount } from '@bitlens/model';
import { z } from 'zod';

/** Config of the `analyze` pipeline. */
export const AnalyzeConfig = z
  .strictObject({
    weights: z.string().min(1, { error: 'expected a path to a .safetensors file' }).describe('path to a TransformerLens-named .safetensors file'),
    task: TaskSchema.default('add').describe(`operation the model computes (labels): ${TASKS.join(', ')}`),
    p: gridModulusSchema.optional().describe("prime modulus (default: from the file's config; required when the file has none)"),
    preset: z.enum(['nanda', 'li'], { error: 'expected an architecture preset: nanda or li' }).optional().describe("architecture preset of the weights (default: from the file's config, else nanda)"),
    backend: TfjsBackendSchema.default('wasm').describe('tfjs backend: wasm, cpu, webgpu, tensorflow'),
    column: z.enum(['effective', 'latent'], { error: 'expected effective or latent' }).default('effective').describe('weights the analyses read'),
    name: z.string().optional().describe('model name in the mechanism row (default: the file name)'),
    split: z
      .strictObject({
        fraction: z.number().gt(0).lt(1).default(0.3),
        seed: z.number().int().default(0),
        shuffle: z.enum(['python', 'mulberry32'], { error: 'expected python or mulberry32' }).default('python').describe("python = Nanda's random.seed + random.shuffle"),
      })
      .optional()
      .describe('train/test split of the p^2 pairs; without it only all-input numbers are reported'),
    thresholds: z
      .strictObject({
        neuron: z.number().min(0).max(1).default(DEFAULT_ANALYSIS.neuronThreshold).describe('max FVE for a neuron to count as clustered'),
        neuronMinCount: z.number().int().min(1).default(DEFAULT_ANALYSIS.neuronMinCount).describe('clustered neurons a frequency needs to be key'),
        maxKeys: z.number().int().min(1).default(DEFAULT_ANALYSIS.maxKeys).describe('embedding key frequencies: largest gap among the top maxKeys'),
        sparsity: z.number().gt(0).max(1).optional().describe('FFS threshold relative to the largest Fourier coefficient norm (default: the analysis default)'),
      })
      .default({ neuron: DEFAULT_ANALYSIS.neuronThreshold, neuronMinCount: DEFAULT_ANALYSIS.neuronMinCount, maxKeys: DEFAULT_ANALYSIS.maxKeys }),
    ablations: z.boolean().default(false).describe('also zero/mean/resample-ablate every head (about 15 more forward passes over the grid)'),
    out: z.string().min(1).optional().describe('path of a self-contained HTML report of the analysis (spectra, neuron heatmaps, Fourier maps, attention, clock planes); none when unset'),
  })
  .superRefine((c, ctx) => {
    if (c.split === undefined || c.p === undefined) return; // without p, the split is checked once the file's p is known
    const n = c.p * c.p;
    const { nTrain, nTest } = splitSizes(n, c.split.fraction);
    if (nTrain < 1 || nTest < 1) {
      ctx.addIssue({ code: 'custom', path: ['split', 'fraction'], input: c.split.fraction, message: `expected a fraction leaving at least one train and one test pair of the ${n} (it gives ${nTrain} train, ${nTest} test)` });
    }
  });

/** The validated config. */
export type AnalyzeConfigOutput = z.output<typeof AnalyzeConfig>;

/**
 * The largest plausible weights file for a preset and p: every parameter of the preset at p (with the biases and the
 * positional embedding TransformerLens always saves) twice over in F64, plus 1 MiB of header and buffers. A file much
 * larger than its model is not that model; it is refused before it is read.
 */
export function weightsByteLimit(preset: 'nanda' | 'li' | undefined, p: number | undefined): number {
  // Without p or preset (taken from the file's own config), the bound is the largest model the analyses accept.
  const q = p ?? GRID_MAX_P;
  const presets = preset === undefined ? (['nanda', 'li'] as const) : [preset];
  const params = Math.max(...presets.map((x) => paramCount(modelConfig(x, q, { biases: true, posEmbed: true }))));
  return 2 * 8 * params + 2 ** 20;
}

/** The files an analyze config names: the weights (an input). */
export function analyzeFiles(config: AnalyzeConfigOutput): ConfigFiles {
  return { inputs: [{ field: 'weights', path: config.weights, maxBytes: weightsByteLimit(config.preset, config.p) }] };
}
