import { BitlensError } from '@bitlens/core';
import { z } from 'zod';
import type { WeightQuantizer } from './quantizer.js';
import { type QuantizerRegistry, createQuantizerRegistry } from './registry.js';

/** What a quantizer produces: the identity (fp32), three levels {-1, 0, 1} or two levels {-1, 1}. */
export type QuantizerKind = 'identity' | 'ternary' | 'binary';

/** The kind of a quantizer, from its `identity` flag and its levels; undefined for any other level set. */
export function quantizerKind(q: WeightQuantizer): QuantizerKind | undefined {
  if (q.identity) return 'identity';
  const levels = [...q.levels].sort((a, b) => a - b).join(',');
  return levels === '-1,0,1' ? 'ternary' : levels === '-1,1' ? 'binary' : undefined;
}

/**
 * The zod field schema of a quantizer option: one of the names in `registry` (default: the built-ins), restricted to
 * one kind when given. The names come from the registry, so a configured name is always one `get` finds.
 * @example z.strictObject({ ternary: quantizerSchema('ternary').default('ternary-absmean') })
 */
export function quantizerSchema(kind?: QuantizerKind, registry: QuantizerRegistry = createQuantizerRegistry()) {
  const names = registry.names().filter((n) => kind === undefined || quantizerKind(registry.get(n)) === kind);
  const [first, ...rest] = names;
  if (first === undefined) {
    throw new BitlensError('INVALID_OPTION', { stage: 'quantization/quantizer-schema', field: 'kind', expected: 'a kind with at least one registered quantizer', found: JSON.stringify(kind) });
  }
  return z.enum([first, ...rest], { error: `expected a${kind === undefined ? '' : ` ${kind}`} quantizer: one of ${names.join(', ')}` });
}
