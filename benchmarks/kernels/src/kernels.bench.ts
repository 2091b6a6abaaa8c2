import type { BenchSuite, BenchTaskSpec } from '@bitlens/bench';
import { createGpujsBackend } from '@bitlens/backend-gpujs';
import { initTfjsBackend } from '@bitlens/engine';
import {
  createKernelRegistry, packBinary, packI2S, randomCodes, randomInt8, randomTensor, reference,
} from '@bitlens/kernels';
import type { Backend, HostTensor, KernelRegistry, OpAttrs, OpInputs } from '@bitlens/kernels';
import { BitlensError } from '@bitlens/core';
import { createTfjsKernelBackend } from '@bitlens/kernels-tfjs';
import { loadPackedModule, prepareBinaryMatMul, prepareTernaryMatMul, prepareTernaryMatMulA8, wasmPacked } from '@bitlens/kernels-wasm';

/** A GEMM / GEMV shape: out [m, n] = x [m, k] · w [n, k]ᵀ. */
interface Shape {
  readonly label: string;
  readonly m: number;
  readonly k: number;
  readonly n: number;
}
const square = (s: number): Shape => ({ label: String(s), m: s, k: s, n: s });
const gemv = (k: number, n: number): Shape => ({ label: `gemv-1x${k}x${n}`, m: 1, k, n });

/** The fixed plain-TS task every ratio is taken against (float64 triple loop, 96³). */
const REFERENCE = 'MatMul/reference/96';

interface Operands {
  readonly a: HostTensor<'float32'>;
  /** fp32 weights as [k, n]: a plain MatMul, no transpose inside the timed call. */
  readonly b: HostTensor<'float32'>;
  readonly a8: HostTensor<'int8'>;
  readonly aBits: HostTensor<'uint32'>;
  readonly bBits: HostTensor<'uint32'>;
  readonly wI2s: HostTensor<'uint8'>;
}

function operands(s: Shape): Operands {
  return {
    a: randomTensor([s.m, s.k], { seed: 1 }), b: randomTensor([s.k, s.n], { seed: 2 }), a8: randomInt8([s.m, s.k], { seed: 3 }),
    aBits: packBinary(randomCodes([s.m, s.k], [-1, 1], { seed: 4 })), bBits: packBinary(randomCodes([s.n, s.k], [-1, 1], { seed: 5 })),
    wI2s: packI2S(randomCodes([s.n, s.k], [-1, 0, 1], { seed: 6 })),
  };
}

const oracle = createKernelRegistry([reference]);

/** A `verify` for a task: runs the op once on its backend and on the reference; exact for integer outputs. */
function agrees<N extends 'MatMul' | 'BinaryMatMul' | 'TernaryMatMul' | 'TernaryMatMulA8'>(registry: KernelRegistry, op: N, inputs: OpInputs<N>, attrs: OpAttrs<N>, on: Backend['name']): () => Promise<void> {
  return async () => {
    const [got, want] = await Promise.all([registry.run(op, inputs, attrs, on), oracle.run(op, inputs, attrs, 'reference')]);
    for (let i = 0; i < want.data.length; i++) {
      const g = got.data[i] ?? NaN, w = want.data[i] ?? NaN;
      // fp32 accumulation against the float64 oracle; integer outputs must be exact
      const tol = got.dtype === 'int32' ? 0 : 1e-4 * (1 + Math.abs(w)) * Math.sqrt(attrs && 'k' in attrs ? attrs.k : 1024);
      if (!(Math.abs(g - w) <= tol)) {
        throw new BitlensError('INTERNAL', { stage: 'bench-kernels', field: `${op} on ${on}`, expected: `${w} at ${i} (tolerance ${tol})`, found: String(g) });
      }
    }
  };
}

/** Which shapes each backend runs (slow backends only small ones, so a full run stays within minutes). */
function plan(quick: boolean): { readonly backend: Backend; readonly shapes: readonly Shape[]; readonly packed: boolean }[] {
  const cpuSizes = quick ? [square(64), gemv(256, 256)] : [square(256), square(512), square(1024), gemv(4096, 4096)];
  const slow = quick ? [square(64)] : [square(256)];
  const gpu = quick ? [square(64)] : [square(256), square(512), gemv(4096, 1024)];
  return [
    { backend: createTfjsKernelBackend('wasm'), shapes: cpuSizes, packed: false },
    { backend: wasmPacked, shapes: cpuSizes, packed: true },
    { backend: createTfjsKernelBackend('cpu'), shapes: slow, packed: false },
    { backend: createTfjsKernelBackend('webgpu'), shapes: gpu, packed: true },
    { backend: createGpujsBackend('webasm'), shapes: slow, packed: true },
    { backend: createGpujsBackend('cpu'), shapes: slow, packed: true },
    { backend: createGpujsBackend('webgpu'), shapes: gpu.slice(0, 1), packed: true },
  ];
}

/** Kernel-only tasks of tfjs-wasm fp32 MatMul: tensors resident, readback of the output only. */
function tfjsResident(engine: 'wasm' | 'webgpu', s: Shape, ops: Operands, meta: BenchTaskSpec['meta']): BenchTaskSpec {
  let state: { tf: Awaited<ReturnType<typeof initTfjsBackend>>['tf']; A: unknown; B: unknown } | undefined;
  return {
    name: `MatMul/tfjs-${engine}/${s.label}/kernel`, reference: REFERENCE, meta: { ...meta, mode: 'kernel' },
    beforeAll: async () => {
      const { tf } = await initTfjsBackend(engine); // switches the engine: tensors below live on it
      if (state === undefined) {
        const A = tf.tensor2d(ops.a.data, [s.m, s.k]), B = tf.tensor2d(ops.b.data, [s.k, s.n]);
        state = { tf, A, B };
      }
    },
    fn: async () => {
      if (state === undefined) return;
      const { tf } = state;
      const c = tf.matMul(state.A as Parameters<typeof tf.matMul>[0], state.B as Parameters<typeof tf.matMul>[1]);
      await c.data(); // never inside tf.tidy (docs/platform.md)
      c.dispose();
    },
  };
}

/**
 * The kernels suite: fp32 MatMul on every backend, packed BinaryMatMul (XNOR-popcount) and TernaryMatMul (I2_S,
 * int8 and fp32 activations) and TernaryMatMulA8 (W1.58A8) where a backend has them, end-to-end (host arrays in, host array out: upload, compute,
 * readback) and, for tfjs-wasm/webgpu fp32 and wasm-packed, kernel-only (operands resident). Unavailable backends
 * are left out with a printed line. Every ratio is against a fixed plain-TS MatMul measured in the same round.
 */
export const suite: BenchSuite = {
  name: 'kernels',
  async tasks({ quick }) {
    const r96 = { a: randomTensor([96, 96], { seed: 7 }), b: randomTensor([96, 96], { seed: 8 }) };
        const tasks: BenchTaskSpec[] = [{
      name: REFERENCE, reference: REFERENCE, meta: { op: 'MatMul', backend: 'reference', shape: '96', threads: 1, mode: 'e2e', macs: 96 ** 3 },
      fn: () => oracle.run('MatMul', r96, { transposeB: false }, 'reference'),
    }];
    const mod = await loadPackedModule();
    tasks.push({
      name: 'PeakF32/wasm-simd/registers', reference: REFERENCE,
      meta: { op: 'PeakF32', backend: 'wasm-simd', shape: 'registers', threads: 1, mode: 'kernel', macs: 2_000_000 * 48 },
      fn: () => mod.peakF32(2_000_000, 1), // 12 f32x4 mul+add chains: the fp32 SIMD ceiling of one core
    });
    for (const { backend, shapes, packed } of plan(quick)) {
      if (!(await backend.isAvailable())) {
        console.warn(`[bench] skipping ${backend.name}: ${backend.unavailableReason?.() ?? 'unavailable'}`);
        continue;
      }
      const registry: KernelRegistry = createKernelRegistry([backend]);
      const { threads, description: device } = backend.info();
      const setup = (): Promise<void> => backend.setup();
      for (const s of shapes) {
        const ops = operands(s), macs = s.m * s.n * s.k;
        const base = { backend: backend.name, device, shape: s.label, threads, macs };
        const fp32 = `MatMul/${backend.name}/${s.label}`;
        const fp32Family = backend.name === 'wasm-packed' ? `MatMul/tfjs-wasm/${s.label}` : fp32;
        if (backend.name !== 'wasm-packed') {
          tasks.push({ name: fp32, reference: REFERENCE, meta: { ...base, op: 'MatMul', mode: 'e2e' }, beforeAll: setup,
            fn: () => registry.run('MatMul', { a: ops.a, b: ops.b }, { transposeB: false }, backend.name),
            verify: agrees(registry, 'MatMul', { a: ops.a, b: ops.b }, { transposeB: false }, backend.name) });
          if (backend.name === 'tfjs-wasm' || backend.name === 'tfjs-webgpu') {
            tasks.push(tfjsResident(backend.name === 'tfjs-wasm' ? 'wasm' : 'webgpu', s, ops, { ...base, op: 'MatMul' }));
          }
        }
        if (!packed) continue;
        if (registry.has('BinaryMatMul', backend.name)) {
          tasks.push({ name: `BinaryMatMul/${backend.name}/${s.label}`, reference: REFERENCE, meta: { ...base, op: 'BinaryMatMul', mode: 'e2e', speedupVs: fp32Family }, beforeAll: setup,
            fn: () => registry.run('BinaryMatMul', { a: ops.aBits, b: ops.bBits }, { k: s.k }, backend.name),
            verify: agrees(registry, 'BinaryMatMul', { a: ops.aBits, b: ops.bBits }, { k: s.k }, backend.name) });
        }
        if (registry.has('TernaryMatMul', backend.name)) {
          tasks.push({ name: `TernaryMatMul/${backend.name}/${s.label}/int8`, reference: REFERENCE, meta: { ...base, op: 'TernaryMatMul int8', mode: 'e2e', speedupVs: fp32Family }, beforeAll: setup,
            fn: () => registry.run('TernaryMatMul', { x: ops.a8, w: ops.wI2s }, { k: s.k, format: 'i2s', scale: 1 }, backend.name),
            verify: agrees(registry, 'TernaryMatMul', { x: ops.a8, w: ops.wI2s }, { k: s.k, format: 'i2s', scale: 1 }, backend.name) });
          tasks.push({ name: `TernaryMatMul/${backend.name}/${s.label}/fp32`, reference: REFERENCE, meta: { ...base, op: 'TernaryMatMul fp32', mode: 'e2e', speedupVs: fp32Family }, beforeAll: setup,
            fn: () => registry.run('TernaryMatMul', { x: ops.a, w: ops.wI2s }, { k: s.k, format: 'i2s', scale: 1 }, backend.name),
            verify: agrees(registry, 'TernaryMatMul', { x: ops.a, w: ops.wI2s }, { k: s.k, format: 'i2s', scale: 1 }, backend.name) });
        }
        if (registry.has('TernaryMatMulA8', backend.name)) {
          tasks.push({ name: `TernaryMatMulA8/${backend.name}/${s.label}`, reference: REFERENCE, meta: { ...base, op: 'TernaryMatMulA8', mode: 'e2e', speedupVs: fp32Family }, beforeAll: setup,
            fn: () => registry.run('TernaryMatMulA8', { x: ops.a, w: ops.wI2s }, { k: s.k, scale: 1 }, backend.name),
            verify: agrees(registry, 'TernaryMatMulA8', { x: ops.a, w: ops.wI2s }, { k: s.k, scale: 1 }, backend.name) });
        }
        if (backend.name === 'wasm-packed') {
          // kernel-only: operands already in wasm memory (each prepared op owns its own arena; built lazily, one at a time)
          const kernelTask = (name: string, op: string, prepare: () => { run(): void }): BenchTaskSpec => {
            let prepared: { run(): void } | undefined;
            return { name, reference: REFERENCE, meta: { ...base, op, mode: 'kernel', speedupVs: `MatMul/tfjs-wasm/${s.label}/kernel` },
              beforeAll: () => { prepared = prepare(); }, fn: () => prepared?.run() };
          };
          tasks.push(kernelTask(`BinaryMatMul/wasm-packed/${s.label}/kernel`, 'BinaryMatMul', () => prepareBinaryMatMul(mod, ops.aBits, ops.bBits, s.k)));
          tasks.push(kernelTask(`TernaryMatMul/wasm-packed/${s.label}/int8/kernel`, 'TernaryMatMul int8', () => prepareTernaryMatMul(mod, ops.a8, ops.wI2s, s.k, 1)));
          tasks.push(kernelTask(`TernaryMatMulA8/wasm-packed/${s.label}/kernel`, 'TernaryMatMulA8', () => prepareTernaryMatMulA8(mod, ops.a, ops.wI2s, s.k, 1)));
        }
      }
    }
    return tasks;
  },
};
