import { BitlensError } from '@bitlens/core';
import { MODEL_CONFIG_KEY, type ModelConfig } from '@bitlens/model';

/** The one table of a join input port (one model); INVALID_OPTION naming the port otherwise. Not exported from the package. */
export function only<T>(tables: readonly T[], stage: string, port: string): T {
  if (tables.length !== 1 || tables[0] === undefined) {
    throw new BitlensError('INVALID_OPTION', { stage, field: port, expected: 'exactly one table (one model)', found: `${tables.length} tables` });
  }
  return tables[0];
}

/** Schema metadata of a stage's output: the model config under MODEL_CONFIG_KEY, plus `extra`. Not exported from the package. */
export function configMeta(config: ModelConfig, extra: Record<string, string> = {}): Map<string, string> {
  return new Map([[MODEL_CONFIG_KEY, JSON.stringify(config)], ...Object.entries(extra)]);
}
