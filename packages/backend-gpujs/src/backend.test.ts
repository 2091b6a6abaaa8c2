import { describe, expect, it } from 'vitest';
import { createKernelRegistry, packBinary, packTernaryPlanes, randomCodes, randomTensor, reference, toFloat32 } from '@bitlens/kernels';
import { createGpujsBackend } from './backend.js';

// Unit checks on gpu.js cpu mode only (fast); tests/conformance runs every op on cpu, webasm and webgpu.
// gpu.js is a peer dependency that only the test install brings (`npm ci --include=peer`): required in CI, else skipped.
const cpu = createGpujsBackend('cpu');
const runHere = process.env['CI'] === 'true' || (await cpu.isAvailable());
if (!runHere) console.warn(`SKIPPED gpujs-cpu backend tests (not CI): ${cpu.unavailableReason?.() ?? 'unavailable'}`);

describe.runIf(runHere)('gpujs-cpu backend', () => {
  const registry = createKernelRegistry([reference, cpu]);

  it('starts in the requested mode', async () => {
    expect(await cpu.isAvailable()).toBe(true);
  });

  it('XNOR-popcount over 16-bit halves equals the float product (k = 45, not a multiple of 16)', async () => {
    const a = randomCodes([3, 45], [-1, 1], { seed: 1 }), b = randomCodes([4, 45], [-1, 1], { seed: 2 });
    const got = await registry.run('BinaryMatMul', { a: packBinary(a), b: packBinary(b) }, { k: 45 }, 'gpujs-cpu');
    const want = await registry.run('MatMul', { a: toFloat32(a), b: toFloat32(b) }, { transposeB: true }, 'reference');
    expect(Array.from(got.data)).toEqual(Array.from(want.data));
  });

  it('declares two-plane ternary weights a gap (KERNEL_NOT_FOUND)', async () => {
    const w = packTernaryPlanes(randomCodes([2, 10], [-1, 0, 1], { seed: 3 }));
    await expect(registry.run('TernaryMatMul', { x: randomTensor([1, 10], { seed: 4 }), w }, { k: 10, format: 'planes', scale: 1 }, 'gpujs-cpu'))
      .rejects.toMatchObject({ code: 'KERNEL_NOT_FOUND' });
  });
});
