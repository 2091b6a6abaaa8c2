import { BitlensError } from '@bitlens/core';
import { isPrime, modPow } from '@bitlens/data';

const STAGE = 'circuits/discrete-log';

/** Distinct prime factors of n >= 1, ascending (trial division; n < 2^31 here). */
function primeFactors(n: number): number[] {
  const out: number[] = [];
  let m = n;
  for (let d = 2; d * d <= m; d++) {
    if (m % d !== 0) continue;
    out.push(d);
    while (m % d === 0) m /= d;
  }
  if (m > 1) out.push(m);
  return out;
}

/**
 * The smallest primitive root mod a prime p: the g whose powers g^0 .. g^{p-2} run through every non-zero residue.
 * g is primitive iff g^((p-1)/q) != 1 for each prime q dividing p - 1. Throws `INVALID_OPTION` naming `p` unless p is
 * an odd prime.
 * @example primitiveRoot(113) // 3
 */
export function primitiveRoot(p: number): number {
  if (!isPrime(p) || p < 3) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'p', expected: 'an odd prime', found: String(p) });
  const qs = primeFactors(p - 1);
  for (let g = 2; g < p; g++) if (qs.every((q) => modPow(g, (p - 1) / q, p) !== 1)) return g;
  throw new BitlensError('INTERNAL', { stage: STAGE, field: 'p', found: String(p) }, 'no primitive root found');
}

/** Discrete logarithms to base g mod p. */
export interface DiscreteLogs {
  readonly p: number;
  /** The primitive root. */
  readonly g: number;
  /** `exp[i] = g^i mod p` for i = 0 .. p-2 (every non-zero residue exactly once). */
  readonly exp: Int32Array;
  /** `log[x]` = the i with g^i = x, for x = 1 .. p-1; `log[0] = -1` (zero has no logarithm). */
  readonly log: Int32Array;
}

/**
 * The tables of g^i and log_g x mod p (default g: the smallest primitive root). Throws `INVALID_OPTION` naming `g`
 * when the given g is not a primitive root (its powers repeat before covering 1..p-1).
 * @example discreteLogs(7).exp // Int32Array [1, 3, 2, 6, 4, 5]  (g = 3)
 */
export function discreteLogs(p: number, g: number = primitiveRoot(p)): DiscreteLogs {
  if (!isPrime(p) || p < 3) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'p', expected: 'an odd prime', found: String(p) });
  if (!Number.isInteger(g) || g < 2 || g >= p) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'g', expected: `a primitive root mod ${p} (an integer in 2..${p - 1})`, found: String(g) });
  const n = p - 1;
  const exp = new Int32Array(n);
  const log = new Int32Array(p).fill(-1);
  let x = 1;
  for (let i = 0; i < n; i++) {
    if (log[x] !== -1) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'g', expected: `a primitive root mod ${p}`, found: `${g} (order ${i})` });
    exp[i] = x;
    log[x] = i;
    x = (x * g) % p;
  }
  return { p, g, exp, log };
}
