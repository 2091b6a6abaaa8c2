import { BitlensError } from '@bitlens/core';
import type { ModularTask, TaskRegistry } from '@bitlens/data';
import { discreteLogs } from './discrete-log.js';
import { checkModulus } from './fourier.js';
import { type Task, resolveTask } from './task.js';

const STAGE = 'circuits/task-basis';

/**
 * The coordinates in which a task's label is a group operation, over the grid rows where that holds: what restricted
 * / excluded loss project onto and what distance irrelevance groups by.
 * - linear task c = α a + β b: s = α a + β b and d = α a − β b in Z_p, on every valid pair (n = p);
 * - multiplicative task c = a^α b^β: with a = g^i, b = g^j (g the smallest primitive root), s = α i + β j and
 *   d = α i − β j in Z_{p−1}, on the valid pairs with a, b ≠ 0 (n = p − 1; the (p−1)² such pairs for mul and div).
 * The label is a function of s alone (c = s, resp. c = g^s); d is the "other" combination (the distance of Zhong's
 * clock vs pizza test for add).
 */
export interface TaskBasis {
  readonly task: string;
  readonly kind: 'linear' | 'multiplicative';
  readonly p: number;
  /** Modulus of s and d: p (linear) or p − 1 (multiplicative). Frequencies are 1 .. floor(n / 2). */
  readonly n: number;
  /** The structure's coefficients (exponents for multiplicative tasks). */
  readonly alpha: number;
  readonly beta: number;
  /** The primitive root of the discrete-log coordinates (multiplicative only). */
  readonly generator?: number;
  /** Readable description, e.g. `s = a+b, d = a-b (mod 113)` or `s = i+j, d = i-j (mod 112; a = 3^i, b = 3^j)`. */
  readonly description: string;
  /** Grid rows (a * p + b) in the basis' domain, ascending. */
  readonly rows: Int32Array;
  /** s of each row of `rows`, in [0, n). */
  readonly s: Int32Array;
  /** d of each row of `rows`, in [0, n). */
  readonly d: Int32Array;
}

const mod = (x: number, n: number): number => ((x % n) + n) % n;
const gcd = (x: number, y: number): number => (y === 0 ? Math.abs(x) : gcd(y, x % y));

/** `2a-3b`-style text of α x + β y. */
function combination(alpha: number, beta: number, x: string, y: string): string {
  const term = (c: number, v: string): string => `${Math.abs(c) === 1 ? '' : Math.abs(c)}${v}`;
  return `${alpha < 0 ? '-' : ''}${term(alpha, x)}${beta < 0 ? '-' : '+'}${term(beta, y)}`;
}

function degenerate(task: string, field: string, expected: string, found: string): never {
  throw new BitlensError('INVALID_OPTION', { stage: STAGE, field, expected, found }, `task ${task} has no usable group structure here`);
}

/**
 * The basis of a task mod p, or `undefined` when the task has no structure (the polynomials: restricted / excluded
 * loss and distance irrelevance are not applicable). Throws `INVALID_OPTION` when the structure degenerates mod p
 * (a coefficient ≡ 0 mod p, or exponents sharing a factor with p − 1, which would alias frequencies).
 * @example taskBasis('sub', 7)?.description // 's = a-b, d = a+b (mod 7)'
 */
export function taskBasis(task: Task | ModularTask, p: number, registry?: TaskRegistry): TaskBasis | undefined {
  checkModulus(p, STAGE);
  const t = resolveTask(task, STAGE, registry);
  const st = t.structure;
  if (st === undefined) return undefined;
  const { a: alpha, b: beta } = st;
  const inDomain = (x: number, y: number): boolean => t.valid === undefined || t.valid(x, y, p);
  const rows: number[] = [];
  const s: number[] = [];
  const d: number[] = [];
  if (st.kind === 'linear') {
    if (mod(alpha, p) === 0 || mod(beta, p) === 0) degenerate(t.name, 'p', `a p that divides neither coefficient of ${t.formula}`, String(p));
    for (let x = 0; x < p; x++) {
      for (let y = 0; y < p; y++) {
        if (!inDomain(x, y)) continue;
        rows.push(x * p + y);
        s.push(mod(alpha * x + beta * y, p));
        d.push(mod(alpha * x - beta * y, p));
      }
    }
    return finish({ task: t.name, kind: 'linear', p, n: p, alpha, beta, description: `s = ${combination(alpha, beta, 'a', 'b')}, d = ${combination(alpha, -beta, 'a', 'b')} (mod ${p})` }, rows, s, d);
  }
  const n = p - 1;
  if (gcd(gcd(mod(alpha, n), mod(beta, n)), n) !== 1) degenerate(t.name, 'p', `exponents of ${t.formula} coprime (jointly) to p - 1`, String(p));
  const { g, log } = discreteLogs(p);
  for (let x = 1; x < p; x++) {
    for (let y = 1; y < p; y++) {
      if (!inDomain(x, y)) continue;
      const i = log[x] ?? 0;
      const j = log[y] ?? 0;
      rows.push(x * p + y);
      s.push(mod(alpha * i + beta * j, n));
      d.push(mod(alpha * i - beta * j, n));
    }
  }
  const description = `s = ${combination(alpha, beta, 'i', 'j')}, d = ${combination(alpha, -beta, 'i', 'j')} (mod ${n}; a = ${g}^i, b = ${g}^j, a, b != 0)`;
  return finish({ task: t.name, kind: 'multiplicative', p, n, alpha, beta, generator: g, description }, rows, s, d);
}

/** Adds the row arrays; checks that every s value has the same number of rows (what makes the directions orthogonal). */
function finish(head: Omit<TaskBasis, 'rows' | 's' | 'd'>, rows: number[], s: number[], d: number[]): TaskBasis {
  const fiber = new Int32Array(head.n);
  for (const v of s) fiber[v] = (fiber[v] ?? 0) + 1;
  if (rows.length === 0 || fiber.some((c) => c !== rows.length / head.n)) {
    degenerate(head.task, 'valid', `a domain on which every value of s occurs equally often (mod ${head.n})`, `${rows.length} rows, counts ${Math.min(...fiber)}..${Math.max(...fiber)}`);
  }
  return { ...head, rows: Int32Array.from(rows), s: Int32Array.from(s), d: Int32Array.from(d) };
}

/** Number of frequencies of the basis: floor(n / 2) (for even n the last one, n / 2, has a cosine only). */
export function basisFrequencies(basis: TaskBasis): number {
  return Math.floor(basis.n / 2);
}

/**
 * The unit directions of frequency k over the basis rows: cos(2π k s / n) and sin(2π k s / n), each normalised to
 * unit norm over `basis.rows` (length = rows.length, row-aligned). For even n and k = n / 2 the sine vanishes and
 * `sin` is undefined. Directions of different frequencies are orthogonal (every s occurs equally often). For `add`
 * these are exactly {@link sumDirections}' u_cos(k), u_sin(k).
 */
export function basisDirections(basis: TaskBasis, k: number): { readonly cos: Float64Array; readonly sin: Float64Array | undefined } {
  const K = basisFrequencies(basis);
  if (!Number.isInteger(k) || k < 1 || k > K) {
    throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'k', expected: `an integer frequency in 1..${K} (${basis.description})`, found: String(k) });
  }
  const { n, s } = basis;
  const R = s.length;
  const nyquist = 2 * k === n;
  // ||cos||^2 over R rows with uniform s = R / 2 (R at the Nyquist frequency); sqrt(R) = p exactly for add.
  const scale = (nyquist ? 1 : Math.sqrt(2)) / Math.sqrt(R);
  const w = (2 * Math.PI) / n;
  const cos = new Float64Array(R);
  const sin = nyquist ? undefined : new Float64Array(R);
  for (let r = 0; r < R; r++) {
    const t = w * ((k * (s[r] ?? 0)) % n);
    cos[r] = Math.cos(t) * scale;
    if (sin !== undefined) sin[r] = Math.sin(t) * scale;
  }
  return { cos, sin };
}

/**
 * Whether a basis' coordinates are the operands themselves up to sign (add, sub; or no basis at all: the
 * polynomials), so that analyses over Z_p in a and b (neuron waves, quadrature) read the label's frequencies.
 */
export function isPlainBasis(basis: TaskBasis | undefined): boolean {
  return basis === undefined || (basis.kind === 'linear' && Math.abs(basis.alpha) === 1 && Math.abs(basis.beta) === 1);
}

/**
 * The frequencies of the label's combination s = αu + βv that a set of embedding key frequencies supports: the
 * embedding carries frequency α k for the first operand and β k for the second (folded into 1..floor(n/2)), so k is
 * kept when both are keys. For α, β = ±1 (add, sub, mul, div) this is the key set itself.
 */
export function combinationKeys(basis: TaskBasis, embedKeys: readonly number[]): number[] {
  const { n, alpha, beta } = basis;
  if (Math.abs(alpha) === 1 && Math.abs(beta) === 1) return [...embedKeys]; // add, sub, mul, div
  const fold = (x: number): number => {
    const r = ((x % n) + n) % n;
    return Math.min(r, n - r);
  };
  const keys = new Set(embedKeys);
  return Array.from({ length: basisFrequencies(basis) }, (_, i) => i + 1).filter((k) => keys.has(fold(alpha * k)) && keys.has(fold(beta * k)));
}
