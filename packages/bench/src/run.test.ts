import { describe, expect, it } from 'vitest';
import { selectTasks } from './run.js';
import type { BenchTaskSpec } from './types.js';

const task = (name: string, reference: string, speedupVs?: string): BenchTaskSpec => ({ name, reference, fn: () => 0, meta: speedupVs === undefined ? {} : { speedupVs } });

describe('selectTasks', () => {
  const tasks = [
    task('Ref/reference/96', 'Ref/reference/96'),
    task('MatMul/tfjs-wasm/256', 'Ref/reference/96'),
    task('BinaryMatMul/wasm-packed/256', 'Ref/reference/96', 'MatMul/tfjs-wasm/256'),
    task('BinaryMatMul/wasm-packed/512', 'Ref/reference/96', 'MatMul/tfjs-wasm/512'),
  ];
  it('keeps the matches, their ratio reference and their speedup baseline', () => {
    expect(selectTasks(tasks, /Binary.*256/).map((t) => t.name)).toEqual(['Ref/reference/96', 'MatMul/tfjs-wasm/256', 'BinaryMatMul/wasm-packed/256']);
  });
  it('keeps everything without a filter', () => {
    expect(selectTasks(tasks, undefined)).toHaveLength(4);
  });
});
