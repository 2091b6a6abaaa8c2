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
}

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
/** b^e mod p by squaring. */
function pow(b: number, e: number, p: number): number {
  let r = 1;
  let x = b % p;
  for (let k = e; k > 0; k = Math.floor(k / 2)) {
    if (k % 2 === 1) r = mul(r, x, p);
    x = mul(x, x, p);
  }
  return r;
}
/** b^{-1} mod p for prime p and b != 0 (Fermat: b^{p-2}). */
export function modInverse(b: number, p: number): number {
  return pow(b, p - 2, p);
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
  { name: 'add', formula: 'a + b', source: 'Nanda et al. 2023; Li 2024', label: (a, b, p) => (a + b) % p },
  { name: 'sub', formula: 'a - b', source: 'Furuta et al. 2024 (their `subtract`)', label: (a, b, p) => mod(a - b, p) },
  { name: 'mul', formula: 'a * b', source: 'Furuta et al. 2024 (their `multiply`)', label: (a, b, p) => mul(a, b, p) },
  {
    name: 'div', formula: 'a * b^{-1} (b != 0)', source: 'Furuta et al. 2024 (their `division`)',
    valid: (_a, b) => b !== 0, label: (a, b, p) => mul(a, modInverse(b, p), p),
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
  { name: 'x_x_y', formula: '2a + b', source: FURUTA, label: (a, b, p) => (2 * a + b) % p },
  { name: 'x_x_m_y', formula: '2a - b', source: FURUTA, label: (a, b, p) => mod(2 * a - b, p) },
  { name: '2x_3y', formula: '2a + 3b', source: FURUTA, label: (a, b, p) => (2 * a + 3 * b) % p },
  { name: '2x_m_3y', formula: '2a - 3b', source: FURUTA, label: (a, b, p) => mod(2 * a - 3 * b, p) },
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

/** A set of named tasks: the built-ins plus any the user registers. */
export interface TaskRegistry {
  /** Adds a task; throws `INVALID_OPTION` (field `name`) on a clash or an empty name. Chainable. */
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
  const registry: TaskRegistry = {
    register(task) {
      if (typeof task.name !== 'string' || task.name.length === 0 || byName.has(task.name)) {
        throw new BitlensError('INVALID_OPTION', { stage: 'data/tasks', field: 'name', expected: 'a new, non-empty task name', found: JSON.stringify(task.name) },
          byName.has(task.name) ? 'task name clash' : undefined);
      }
      byName.set(task.name, task);
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
  for (const t of [...BUILTIN_TASKS, ...extra]) registry.register(t);
  return registry;
}
