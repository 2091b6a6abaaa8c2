import { BitlensError } from '@bitlens/core';

/**
 * A binary task on Z_p: label c* = f(a, b) mod p over the valid pairs (a, b) in Z_p x Z_p.
 * Plug-in: register your own with `createTaskRegistry().register(task)`; the name identifies the function
 * (it goes into dataset options and cache keys), so never reuse a name for a different formula.
 */
export interface ModularTask {
  /** Stable id, e.g. `add`, `x2_xy_y2`. */
  readonly name: string;
  /** The formula in a, b (mod p), e.g. `a^2 + a*b + b^2`. */
  readonly formula: string;
  /** Where the task comes from. */
  readonly source: string;
  /** Whether the pair belongs to the dataset (default: every pair). Division excludes b = 0. */
  readonly valid?: (a: number, b: number, p: number) => boolean;
  /** The label in [0, p) for a valid pair with 0 <= a, b < p. Exact integer arithmetic for p <= MAX_P. */
  label(a: number, b: number, p: number): number;
  /**
   * The algebraic form of the label, when it has one the analyses can use (restricted / excluded loss directions,
   * clock vs pizza): absent for the polynomials, whose label is no single group operation. A registered task's
   * structure is checked against its `label` (see {@link checkTaskStructure}).
   */
  readonly structure?: TaskStructure;
}

/**
 * How a task's label is built from its operands, for the analyses.
 * - `linear`: c = α a + β b (mod p) on every pair (add: 1, 1; sub: 1, −1; 2a − 3b: 2, −3). α and β are non-zero
 *   integers (|α|, |β| < p for every p the task is used with).
 * - `multiplicative`: c = a^α · b^β (mod p) on the valid pairs with a, b ≠ 0 (mul: 1, 1; div: 1, −1; a negative
 *   exponent is an inverse). In discrete-log coordinates a = g^i, b = g^j (g a primitive root) this is linear:
 *   log c = α i + β j (mod p − 1). Pairs with a zero operand lie outside that group.
 */
export type TaskStructure =
  | { readonly kind: 'linear'; readonly a: number; readonly b: number }
  | { readonly kind: 'multiplicative'; readonly a: number; readonly b: number };

/** The largest modulus accepted: p^2 < 2^31, so pair counts, indices and products a*b stay exact Int32 / doubles. */
export const MAX_P = 46337;

/** x mod p in [0, p) for any integer x (JS `%` keeps the sign). */
function mod(x: number, p: number): number {
  const r = x % p;
  return r < 0 ? r + p : r;
}
/** a * b mod p; exact because a, b < p <= MAX_P gives a * b < 2^31. */
function mul(a: number, b: number, p: number): number {
  return (a * b) % p;
}
/**
 * b^e mod p by squaring, for an integer b (any sign), an integer e >= 0 and p <= MAX_P.
 * @example modPow(3, 4, 7) // 4
 */
export function modPow(b: number, e: number, p: number): number {
  let r = 1 % p;
  let x = mod(b, p);
  for (let k = e; k > 0; k = Math.floor(k / 2)) {
    if (k % 2 === 1) r = mul(r, x, p);
    x = mul(x, x, p);
  }
  return r;
}
/** b^{-1} mod p for prime p and b != 0 (Fermat: b^{p-2}). */
export function modInverse(b: number, p: number): number {
  return modPow(b, p - 2, p);
}

const sq = (x: number, p: number): number => mul(x, x, p);
const cube = (x: number, p: number): number => mul(sq(x, p), x, p);
const FURUTA = 'Furuta et al. 2024 (frt03/grok_mod_poly config name)';

/**
 * The built-in two-variable tasks. Elementary: add, sub, mul, div (Nanda 2023, Furuta 2024). Polynomials and linear
 * forms: Furuta et al. 2024, under their config names (`x` = a, `y` = b, `m` = minus). Furuta's three-variable tasks
 * (a+b+c, a-b-c, abc, a^2+b^2+c, a^2+b^2+c^2) and multi-task mixtures are not included: bitlens models read [a, b, =].
 */
export const BUILTIN_TASKS: readonly ModularTask[] = [
  { name: 'add', formula: 'a + b', source: 'Nanda et al. 2023; Li 2024', structure: { kind: 'linear', a: 1, b: 1 }, label: (a, b, p) => (a + b) % p },
  { name: 'sub', formula: 'a - b', source: 'Furuta et al. 2024 (their `subtract`)', structure: { kind: 'linear', a: 1, b: -1 }, label: (a, b, p) => mod(a - b, p) },
  { name: 'mul', formula: 'a * b', source: 'Furuta et al. 2024 (their `multiply`)', structure: { kind: 'multiplicative', a: 1, b: 1 }, label: (a, b, p) => mul(a, b, p) },
  {
    name: 'div', formula: 'a * b^{-1} (b != 0)', source: 'Furuta et al. 2024 (their `division`)',
    valid: (_a, b) => b !== 0, structure: { kind: 'multiplicative', a: 1, b: -1 }, label: (a, b, p) => mul(a, modInverse(b, p), p),
  },
  { name: 'x2_y2', formula: 'a^2 + b^2', source: FURUTA, label: (a, b, p) => (sq(a, p) + sq(b, p)) % p },
  { name: 'x2_xy_y2', formula: 'a^2 + a*b + b^2', source: FURUTA, label: (a, b, p) => (sq(a, p) + mul(a, b, p) + sq(b, p)) % p },
  { name: 'x2_xy_y2_x', formula: 'a^2 + a*b + b^2 + a', source: FURUTA, label: (a, b, p) => (sq(a, p) + mul(a, b, p) + sq(b, p) + a) % p },
  { name: 'x3_xy', formula: 'a^3 + a*b', source: FURUTA, label: (a, b, p) => (cube(a, p) + mul(a, b, p)) % p },
  { name: 'x3_xy2_y', formula: 'a^3 + a*b^2 + b', source: FURUTA, label: (a, b, p) => (cube(a, p) + mul(a, sq(b, p), p) + b) % p },
  { name: 'x2_m_y2', formula: 'a^2 - b^2', source: FURUTA, label: (a, b, p) => mod(sq(a, p) - sq(b, p), p) },
  { name: 'x2_2xy_y2', formula: '(a + b)^2 = a^2 + 2ab + b^2', source: FURUTA, label: (a, b, p) => sq((a + b) % p, p) },
  { name: 'x2_m_2xy_y2', formula: '(a - b)^2 = a^2 - 2ab + b^2', source: FURUTA, label: (a, b, p) => sq(mod(a - b, p), p) },
  { name: 'x2_2xy_y2_x_y', formula: 'a^2 + 2ab + b^2 + a + b', source: FURUTA, label: (a, b, p) => (sq((a + b) % p, p) + a + b) % p },
  { name: 'x_x_y', formula: '2a + b', source: FURUTA, structure: { kind: 'linear', a: 2, b: 1 }, label: (a, b, p) => (2 * a + b) % p },
  { name: 'x_x_m_y', formula: '2a - b', source: FURUTA, structure: { kind: 'linear', a: 2, b: -1 }, label: (a, b, p) => mod(2 * a - b, p) },
  { name: '2x_3y', formula: '2a + 3b', source: FURUTA, structure: { kind: 'linear', a: 2, b: 3 }, label: (a, b, p) => (2 * a + 3 * b) % p },
  { name: '2x_m_3y', formula: '2a - 3b', source: FURUTA, structure: { kind: 'linear', a: 2, b: -3 }, label: (a, b, p) => mod(2 * a - 3 * b, p) },
  { name: 'xy_y', formula: 'a*b + b', source: FURUTA, label: (a, b, p) => (mul(a, b, p) + b) % p },
  { name: 'xy_m_y', formula: 'a*b - b', source: FURUTA, label: (a, b, p) => mod(mul(a, b, p) - b, p) },
  { name: 'xy_x_y', formula: 'a*b + a + b', source: FURUTA, label: (a, b, p) => (mul(a, b, p) + a + b) % p },
  {
    // Furuta's config maps `xy_x_m_y` to a*b + a + b (the same as xy_x_y, apparently a slip); we follow the name.
    name: 'xy_x_m_y', formula: 'a*b + a - b', source: `${FURUTA}; their code computes a*b + a + b under this name`,
    label: (a, b, p) => mod(mul(a, b, p) + a - b, p),
  },
  { name: 'x2_y', formula: 'a^2 + b', source: FURUTA, label: (a, b, p) => (sq(a, p) + b) % p },
  { name: 'x2_m_y', formula: 'a^2 - b', source: FURUTA, label: (a, b, p) => mod(sq(a, p) - b, p) },
  { name: 'x3_2y', formula: 'a^3 + 2b', source: FURUTA, label: (a, b, p) => (cube(a, p) + 2 * b) % p },
  { name: 'x3_m_2y', formula: 'a^3 - 2b', source: FURUTA, label: (a, b, p) => mod(cube(a, p) - 2 * b, p) },
];

/** The built-in task names, in registry order (a non-empty tuple, e.g. for `z.enum`). */
export const BUILTIN_TASK_NAMES: readonly [string, ...string[]] = nonEmptyNames(BUILTIN_TASKS);

function nonEmptyNames(tasks: readonly ModularTask[]): readonly [string, ...string[]] {
  const [first, ...rest] = tasks.map((t) => t.name);
  if (first === undefined) throw new BitlensError('INTERNAL', { stage: 'data/tasks', field: 'BUILTIN_TASKS' }, 'no built-in tasks');
  return [first, ...rest];
}

/** The label a structure predicts for a pair (a, b) at p; undefined outside its domain (a zero operand, multiplicative). */
export function structureLabel(structure: TaskStructure, a: number, b: number, p: number): number | undefined {
  if (structure.kind === 'linear') return mod(mod(structure.a, p) * a + mod(structure.b, p) * b, p);
  if (a % p === 0 || b % p === 0) return undefined;
  const n = p - 1;
  return mul(modPow(a, mod(structure.a, n), p), modPow(b, mod(structure.b, n), p), p);
}

/**
 * Checks a task's `structure` against its `label` on every valid pair of its domain mod p; throws `INVALID_OPTION`
 * (field `structure`) at the first pair where they disagree, or when a coefficient is not a non-zero integer. A
 * no-op for a task without a structure.
 * @example checkTaskStructure(createTaskRegistry().get('sub'), 13) // passes: a - b = 1 a + (-1) b
 */
export function checkTaskStructure(task: ModularTask, p: number): void {
  const s = task.structure;
  if (s === undefined) return;
  const bad = (found: string): never => {
    throw new BitlensError('INVALID_OPTION', { stage: 'data/tasks', field: 'structure', expected: `a structure that ${task.name}'s label satisfies on every valid pair`, found }, task.name);
  };
  if ((s.kind !== 'linear' && s.kind !== 'multiplicative') || !Number.isInteger(s.a) || !Number.isInteger(s.b) || s.a === 0 || s.b === 0) bad(JSON.stringify(s));
  for (let a = 0; a < p; a++) {
    for (let b = 0; b < p; b++) {
      if (task.valid !== undefined && !task.valid(a, b, p)) continue;
      const want = structureLabel(s, a, b, p);
      if (want !== undefined && want !== task.label(a, b, p)) bad(`${JSON.stringify(s)} gives ${want} at (a, b) = (${a}, ${b}) mod ${p}, the label is ${task.label(a, b, p)}`);
    }
  }
}

/** Primes a registered task's structure is checked at (cheap, and large enough that a wrong claim shows). */
const STRUCTURE_CHECK_PRIMES = [11, 13] as const;

/** A set of named tasks: the built-ins plus any the user registers. */
export interface TaskRegistry {
  /**
   * Adds a task; throws `INVALID_OPTION` (field `name`) on a clash or an empty name, (field `structure`) when its
   * structure does not reproduce its labels at p = 11 and 13. Chainable.
   */
  register(task: ModularTask): TaskRegistry;
  /** The task called `name`; throws `INVALID_OPTION` (field `task`) listing the known names when there is none. */
  get(name: string): ModularTask;
  has(name: string): boolean;
  names(): readonly string[];
}

/**
 * Creates a registry of the built-in tasks plus `extra`. Independent per call (no module state).
 * @example createTaskRegistry().get('x2_xy_y2').label(3, 5, 97) // 49
 */
export function createTaskRegistry(extra: readonly ModularTask[] = []): TaskRegistry {
  const byName = new Map<string, ModularTask>();
  const add = (task: ModularTask): void => {
    if (typeof task.name !== 'string' || task.name.length === 0 || byName.has(task.name)) {
      throw new BitlensError('INVALID_OPTION', { stage: 'data/tasks', field: 'name', expected: 'a new, non-empty task name', found: JSON.stringify(task.name) },
        byName.has(task.name) ? 'task name clash' : undefined);
    }
    byName.set(task.name, task);
  };
  const registry: TaskRegistry = {
    register(task) {
      // The built-ins' structures are proven by the package's tests; a user's claim is checked here.
      for (const p of STRUCTURE_CHECK_PRIMES) checkTaskStructure(task, p);
      add(task);
      return registry;
    },
    get(name) {
      const task = byName.get(name);
      if (task === undefined) {
        throw new BitlensError('INVALID_OPTION', { stage: 'data/tasks', field: 'task', expected: `one of ${[...byName.keys()].join(', ')}`, found: JSON.stringify(name) },
          'unknown task');
      }
      return task;
    },
    has: (name) => byName.has(name),
    names: () => [...byName.keys()],
  };
  for (const t of BUILTIN_TASKS) add(t);
  for (const t of extra) registry.register(t);
  return registry;
}
