import { effectiveHostParams, initParams, modelConfig, weightsTable } from '@bitlens/model';
import type { ModelConfigOverrides, ModelPreset, Weights } from '@bitlens/model';
import { createQuantizerRegistry } from '@bitlens/quantization';
import type { Table } from 'apache-arrow';

/** Tests only: a seeded, untrained model as a weights table (effective = the host quantizer of the config). */
export function randomWeights(preset: ModelPreset, p: number, overrides: ModelConfigOverrides, seed = 1): Table<Weights> {
  const config = modelConfig(preset, p, overrides);
  const latent = initParams(config, seed);
  return weightsTable(config, latent, effectiveHostParams(config, latent, createQuantizerRegistry()));
}
