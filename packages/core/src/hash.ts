import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { BitlensError } from './errors.js';

// `canonicalize` is CommonJS (`module.exports = fn`) with an ESM-style `export default` typing: under NodeNext the
// default import is the function at run time but typed as the module namespace.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

function checkJson(value: unknown, path: string, stage: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new BitlensError('INVALID_OPTION', { stage, field: path, expected: 'a finite number', found: String(value) });
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkJson(v, `${path}[${i}]`, stage));
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) checkJson(v, path === '' ? k : `${path}.${k}`, stage);
    }
    return;
  }
  throw new BitlensError('INVALID_OPTION', { stage, field: path || '(root)', expected: 'a JSON value (null, boolean, finite number, string, array, plain object)', found: typeof value });
}

/**
 * Canonical JSON (RFC 8785, via `canonicalize`) of a JSON-like value; rejects what JSON cannot hold exactly
 * (functions, class instances, NaN, Infinity) so two different values never hash the same.
 */
export function canonicalJson(value: unknown, stage = 'core/hash'): string {
  checkJson(value, '', stage);
  const text = canonicalize(value);
  if (text === undefined) throw new BitlensError('INVALID_OPTION', { stage, expected: 'a JSON value', found: 'undefined' });
  return text;
}

/** SHA-256 hex of bytes or a string. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 hex of the canonical JSON of a value: the hash used for cache keys and config hashes. */
export function hashJson(value: unknown, stage?: string): string {
  return sha256(canonicalJson(value, stage));
}
