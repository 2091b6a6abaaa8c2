import { BitlensError } from './errors.js';

/**
 * For tests of code that must fail with a typed error: runs `f` and returns the {@link BitlensError} it throws.
 * Anything else it throws is rethrown, and returning normally is an error, so a test built on it fails unless `f`
 * fails the way it should. `import { errorOf } from '@bitlens/core/testing'`.
 * @example expect(errorOf(() => labelOf('nope', 1, 1, 5)).site.field).toBe('task');
 */
export function errorOf(f: () => unknown): BitlensError {
  try {
    f();
  } catch (e) {
    if (e instanceof BitlensError) return e;
    throw e;
  }
  throw new Error('expected a BitlensError, but nothing was thrown');
}
