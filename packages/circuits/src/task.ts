import { BitlensError } from '@bitlens/core';
import { generatePairs, labelOf } from '@bitlens/data';
import { z } from 'zod';
import { checkModulus } from './fourier.js';

/** Binary operations over Z_p the analyses know the labels of. */
export const TASKS = ['add', 'sub', 'mul'] as const;
/** A task name: c* = a + b, a - b or a * b mod p. */
export type Task = (typeof TASKS)[number];

/** The zod field schema of a task option: one of {@link TASKS} (the tasks the grid analyses know the labels of). */
export const TaskSchema = z.enum(TASKS, { error: `expected a task the analyses know: one of ${TASKS.join(', ')}` });

/** Type guard for user input. */
export function isTask(name: string): name is Task {
  return (TASKS as readonly string[]).includes(name);
}

/** All p^2 inputs in a-major order: `a[r] = floor(r / p)`, `b[r] = r mod p`, and their labels. */
export interface InputGrid {
  readonly p: number;
  readonly a: Int32Array;
  readonly b: Int32Array;
  readonly labels: Int32Array;
}

/**
 * Labels of all p^2 ordered pairs for a task (a-major), computed by @bitlens/data's task registry. Only tasks defined on
 * the whole grid are accepted: the 2D Fourier analyses need every (a, b).
 */
export function inputGrid(p: number, task: Task | string = 'add'): InputGrid {
  checkModulus(p, 'circuits/task');
  if (!isTask(task)) throw new BitlensError('INVALID_OPTION', { stage: 'circuits/task', field: 'task', expected: `one of ${TASKS.join(', ')}`, found: JSON.stringify(task) });
  const { a, b } = generatePairs(task, p);
  const labels = Int32Array.from(a, (ai, r) => labelOf(task, ai, b[r] ?? 0, p));
  return { p, a, b, labels };
}
