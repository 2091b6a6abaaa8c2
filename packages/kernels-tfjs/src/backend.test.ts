import { describe, expect, it } from 'vitest';
import { createKernelRegistry, packBinary, randomCodes, randomTensor, reference } from '@bitlens/kernels';
import { createTfjsKernelBackend } from './backend.js';

// Unit checks on the tfjs cpu engine only (fast); tests/conformance runs every op on cpu, wasm and webgpu.
describe('tfjs-cpu kernel backend', () => {
  const cpu = createTfjsKernelBackend('cpu');
  const registry = createKernelRegistry([reference, cpu]);

  it('starts and describes itself', async () => {
    expect(await cpu.isAvailable()).toBe(true);
    expect(cpu.info().description).toMatch(/cpu/);
  });

  it('matches the reference MatMul with transposeB', async () => {
    const a = randomTensor([5, 7], { seed: 1 }), b = randomTensor([3, 7], { seed: 2 });
    const got = await registry.run('MatMul', { a, b }, { transposeB: true }, 'tfjs-cpu');
    const want = await registry.run('MatMul', { a, b }, { transposeB: true }, 'reference');
    expect(got.shape).toEqual([5, 3]);
    got.data.forEach((v, i) => expect(Math.abs(v - (want.data[i] ?? 0))).toBeLessThan(1e-5));
  });

  it('has no packed kernels on cpu (tfjs has no bit operations): KERNEL_NOT_FOUND', async () => {
    const bits = packBinary(randomCodes([2, 40], [-1, 1], { seed: 3 }));
    await expect(registry.run('BinaryMatMul', { a: bits, b: bits }, { k: 40 }, 'tfjs-cpu')).rejects.toMatchObject({ code: 'KERNEL_NOT_FOUND' });
  });
});
