import { BitlensError } from '@bitlens/core';
import { BUILTIN_TASK_NAMES, type ModularTask, type TaskRegistry, createTaskRegistry } from '@bitlens/data';
import { z } from 'zod';
import { checkModulus } from './fourier.js';

/**
 * Names of the tasks the analyses accept: every built-in task of @bitlens/data's registry (the single source; this is
 * its `BUILTIN_TASK_NAMES`, re-exported for the analyses' callers).
 */
export const TASKS: readonly [string, ...string[]] = BUILTIN_TASK_NAMES;
/** A task name of @bitlens/data's registry (e.g. `add`, `div`, `x2_xy_y2`), or a task registered by the user. */
export type Task = string;

/** The zod field schema of a task option: one of {@link TASKS} (the built-in tasks of @bitlens/data). */
export const TaskSchema = z.enum(TASKS, { error: `expected a task the analyses know: one of ${TASKS.join(', ')}` });

/** Type guard for user input: a built-in task name. */
export function isTask(name: string): name is Task {
  return TASKS.includes(name);
}

/**
 * The task called `name` (or the task itself), from `registry` (default: the built-ins). Throws `INVALID_OPTION`
 * naming `task` and listing the known names for an unknown one.
 */
export function resolveTask(task: Task | ModularTask, stage: string, registry?: TaskRegistry): ModularTask {
  if (typeof task !== 'string') return task;
  const r = registry ?? createTaskRegistry();
  if (!r.has(task)) throw new BitlensError('INVALID_OPTION', { stage, field: 'task', expected: `one of ${r.names().join(', ')}`, found: JSON.stringify(task) });
  return r.get(task);
}

/**
 * All p^2 ordered pairs in a-major order (`a[r] = floor(r / p)`, `b[r] = r mod p`), their labels, and which pairs
 * belong to the task's domain. The model sees every pair (activations and the Fourier analyses use the whole grid);
 * losses and accuracies average over the `valid` rows only.
 */
export interface InputGrid {
  readonly p: number;
  readonly task: string;
  readonly a: Int32Array;
  readonly b: Int32Array;
  /** The label of each valid pair; -1 outside the domain (div: b = 0), so that using one fails loudly. */
  readonly labels: Int32Array;
  /** 1 for the pairs in the task's domain (every pair but division's b = 0). */
  readonly valid: Uint8Array;
  /** Number of valid pairs. */
  readonly nValid: number;
}

/**
 * The input grid of a task: labels of all p^2 ordered pairs (a-major) computed by @bitlens/data's task registry, with
 * the domain mask. Every task of the registry is accepted (div's b = 0 rows are marked invalid).
 * @example inputGrid(5, 'div').nValid // 20
 */
export function inputGrid(p: number, task: Task | ModularTask = 'add', registry?: TaskRegistry): InputGrid {
  checkModulus(p, 'circuits/task');
  const t = resolveTask(task, 'circuits/task', registry);
  const n = p * p;
  const a = new Int32Array(n);
  const b = new Int32Array(n);
  const labels = new Int32Array(n).fill(-1);
  const valid = new Uint8Array(n);
  let nValid = 0;
  for (let r = 0; r < n; r++) {
    const x = Math.floor(r / p);
    const y = r % p;
    a[r] = x;
    b[r] = y;
    if (t.valid !== undefined && !t.valid(x, y, p)) continue;
    labels[r] = t.label(x, y, p);
    valid[r] = 1;
    nValid++;
  }
  return { p, task: t.name, a, b, labels, valid, nValid };
}
