import { BitlensError } from '@bitlens/core';

/** The BitlensError that `f` throws (fails the test when it returns or throws something else). */
export function errorOf(f: () => unknown): BitlensError {
  try {
    f();
  } catch (e) {
    if (e instanceof BitlensError) return e;
    throw e;
  }
  throw new Error('expected a BitlensError');
}
