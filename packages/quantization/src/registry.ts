import { BitlensError } from '@bitlens/core';
import { BUILTIN_QUANTIZERS } from './builtins.js';
import type { WeightQuantizer } from './quantizer.js';

const STAGE = 'quantization/registry';

/** A set of named weight quantizers: the built-ins plus any the user registers. */
export interface QuantizerRegistry {
  /** Adds a quantizer; throws `INVALID_OPTION` when its name is taken or empty. Returns the registry (chainable). */
  register(quantizer: WeightQuantizer): QuantizerRegistry;
  /** The quantizer called `name`; throws `INVALID_OPTION` listing the known names when there is none. */
  get(name: string): WeightQuantizer;
  has(name: string): boolean;
  /** Registered names, built-ins first, then in registration order. */
  names(): readonly string[];
}

/**
 * Creates a registry holding the built-in quantizers (`fp32`, `ternary-absmean`, `ternary-centred`, `binary-scaled`,
 * `binary-sign`) and, optionally, extra ones. Each registry is independent (no module state).
 * @example const q = createQuantizerRegistry().register(myQuantizer).get(config.quantizer);
 */
export function createQuantizerRegistry(extra: readonly WeightQuantizer[] = []): QuantizerRegistry {
  const byName = new Map<string, WeightQuantizer>();
  const registry: QuantizerRegistry = {
    register(q) {
      if (typeof q.name !== 'string' || q.name.length === 0) {
        throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'name', expected: 'a non-empty quantizer name', found: JSON.stringify(q.name) });
      }
      if (byName.has(q.name)) {
        throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'name', expected: `a name not already registered (${[...byName.keys()].join(', ')})`, found: q.name },
          'quantizer name clash');
      }
      byName.set(q.name, q);
      return registry;
    },
    get(name) {
      const q = byName.get(name);
      if (q === undefined) {
        throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'quantizer', expected: `one of ${[...byName.keys()].join(', ')}`, found: JSON.stringify(name) },
          'unknown quantizer');
      }
      return q;
    },
    has: (name) => byName.has(name),
    names: () => [...byName.keys()],
  };
  for (const q of [...BUILTIN_QUANTIZERS, ...extra]) registry.register(q);
  return registry;
}
