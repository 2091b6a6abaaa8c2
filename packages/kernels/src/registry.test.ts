import { describe, expect, it } from 'vitest';
import { BitlensError } from '@bitlens/core';
import type { Backend } from './ops.js';
import { reference } from './reference.js';
import { createKernelRegistry } from './registry.js';
import { randomTensor, tensor } from './tensor.js';

const calls: string[] = [];
const partial: Backend = {
  name: 'gpujs-cpu',
  kernels: { Softmax: async ({ x }) => { calls.push('softmax'); return x; } },
  isAvailable: async () => true,
  setup: async () => { calls.push('setup'); },
  info: () => ({ description: 'test double', threads: 1 }),
};

describe('kernel registry', () => {
  const registry = createKernelRegistry([reference, partial]);
  it('rejects mismatched inner dimensions with SHAPE_MISMATCH before any backend runs', async () => {
    const a = randomTensor([2, 3], { seed: 1 }), b = randomTensor([4, 2], { seed: 2 });
    const err = await registry.run('MatMul', { a, b }, { transposeB: false }, 'gpujs-cpu').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BitlensError);
    expect((err as BitlensError).code).toBe('SHAPE_MISMATCH');
    expect(calls).toEqual([]);
  });
  it('rejects packed words that do not match k', async () => {
    const a = tensor('uint32', [1, 2], [0, 0]);
    await expect(registry.run('BinaryMatMul', { a, b: a }, { k: 100 }, 'reference')).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
  });
  it('throws KERNEL_NOT_FOUND for an op the backend lacks, never falling back', async () => {
    const a = randomTensor([2, 2], { seed: 1 });
    await expect(registry.run('MatMul', { a, b: a }, { transposeB: false }, 'gpujs-cpu')).rejects.toMatchObject({ code: 'KERNEL_NOT_FOUND' });
  });
  it('throws BACKEND_UNAVAILABLE for an unregistered backend', async () => {
    const x = randomTensor([2, 2], { seed: 1 });
    await expect(registry.run('Softmax', { x }, {}, 'tfjs-wasm')).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
  });
  it('sets the backend up before running its kernel', async () => {
    calls.length = 0;
    await registry.run('Softmax', { x: randomTensor([1, 2], { seed: 1 }) }, {}, 'gpujs-cpu');
    expect(calls).toEqual(['setup', 'softmax']);
    expect(registry.has('MatMul', 'gpujs-cpu')).toBe(false);
  });
});
