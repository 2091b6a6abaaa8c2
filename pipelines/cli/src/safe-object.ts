import { BitlensError } from '@bitlens/core';

/** Keys that reach an object's prototype when used as property names: never accepted in user-supplied key paths. */
export const PROTOTYPE_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/** Where a key path came from, for the error: e.g. `{ stage: 'cli/config', field: '--set' }`. */
export interface KeySource {
  readonly stage: string;
  readonly field: string;
}

function refuse(source: KeySource, path: readonly string[], key: string): BitlensError {
  return new BitlensError('INVALID_CONFIG', { stage: source.stage, field: source.field, expected: `keys other than ${PROTOTYPE_KEYS.join(', ')} (they reach an object's prototype)`, found: `${JSON.stringify(key)} in ${JSON.stringify(path.join('.'))}` });
}

/** Throws `INVALID_CONFIG` when any key of `path` is `__proto__`, `constructor` or `prototype`. */
export function assertSafeKeyPath(path: readonly string[], source: KeySource): void {
  for (const key of path) if (PROTOTYPE_KEYS.includes(key)) throw refuse(source, path, key);
}

/**
 * Throws `INVALID_CONFIG` when a parsed JSON value holds a prototype key at any depth. `JSON.parse` makes
 * `"__proto__"` an own key (harmless there), but copying or merging such an object with plain assignment would set a
 * prototype, so such input is refused where it enters.
 */
export function assertNoPrototypeKeys(value: unknown, source: KeySource, path: readonly string[] = []): void {
  if (typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertNoPrototypeKeys(v, source, [...path, String(i)]));
    return;
  }
  for (const key of Object.keys(value)) {
    if (PROTOTYPE_KEYS.includes(key)) throw refuse(source, [...path, key], key);
    assertNoPrototypeKeys((value as Record<string, unknown>)[key], source, [...path, key]);
  }
}

/** A plain record with no prototype: property reads never fall through to `Object.prototype`. */
export function emptyRecord(): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>;
}

/**
 * A deep copy of JSON data (objects, arrays, primitives) in which every object has no prototype. Refuses prototype
 * keys (see {@link assertNoPrototypeKeys}).
 */
export function safeClone(value: unknown, source: KeySource): unknown {
  assertNoPrototypeKeys(value, source);
  const copy = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (Array.isArray(v)) return v.map(copy);
    const out = emptyRecord();
    for (const [k, x] of Object.entries(v)) out[k] = copy(x);
    return out;
  };
  return copy(value);
}

/**
 * Sets `value` at a dotted key path in `target`, creating prototype-free objects on the way (a non-object on the way
 * is replaced). Refuses prototype keys in the path and in the value. The one safe way to build nested options from
 * user key paths (`--set a.b=1`, sweep axes).
 * @example const c = emptyRecord(); setKeyPath(c, ['model', 'dMlp'], 256, { stage: 'cli/config', field: '--set' });
 */
export function setKeyPath(target: Record<string, unknown>, path: readonly string[], value: unknown, source: KeySource): void {
  assertSafeKeyPath(path, source);
  const leaf = path[path.length - 1];
  if (leaf === undefined) throw new BitlensError('INVALID_CONFIG', { stage: source.stage, field: source.field, expected: 'a non-empty key path', found: 'an empty one' });
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (typeof next === 'object' && next !== null && !Array.isArray(next)) {
      node = next as Record<string, unknown>;
    } else {
      const made = emptyRecord();
      node[key] = made;
      node = made;
    }
  }
  node[leaf] = safeClone(value, source);
}
