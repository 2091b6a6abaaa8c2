import { BitlensError } from '@bitlens/core';
import { availabilityProbe } from '@bitlens/kernels';
import type { Backend, BackendInfo, Kernel, OpName } from '@bitlens/kernels';
import { gpujsKernels } from './kernels.js';
import type { CompileKernel, GpuKernelFn } from './kernels.js';

/** gpu.js modes bitlens runs kernels on. (`headlessgl` needs a native build and Xvfb: not supported here.) */
export type GpujsMode = 'cpu' | 'webasm' | 'webgpu';

interface GpuKernelLike {
  setOutput(output: number[]): GpuKernelLike;
  setConstants(c: Record<string, number>): GpuKernelLike;
  setLoopMaxIterations(n: number): GpuKernelLike;
  (...args: unknown[]): unknown;
}
interface GpuLike {
  readonly mode: string;
  createKernel(source: string, settings?: Record<string, unknown>): GpuKernelLike;
  destroy(): unknown;
}
interface GpujsModule {
  GPU: (new (settings: { mode: string }) => GpuLike) & { isWebGPUAvailable(): Promise<boolean> };
}

let navigatorGpu: Promise<void> | undefined;
/** Provides `navigator.gpu` in Node from the `webgpu` package (Dawn) when nothing else has. */
function provideNavigatorGpu(): Promise<void> {
  navigatorGpu ??= (async () => {
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (g.navigator?.gpu !== undefined) return;
    process.env['XDG_RUNTIME_DIR'] ??= (await import('node:os')).tmpdir(); // quiets the Vulkan loader
    const dawn = (await import('webgpu')) as unknown as { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
    Object.assign(globalThis, dawn.globals);
    const gpu = dawn.create([]);
    if (g.navigator === undefined) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  })();
  return navigatorGpu;
}

// gpu.js is a peer dependency, left out of this repository's default install (it and its optional `gl` are ~130
// packages the main job never uses); the specifier is a variable so that the package builds without it.
const GPUJS = 'gpu.js';
/** Imports gpu.js, or says how to install it. */
async function loadGpujs(stage: string): Promise<GpujsModule> {
  try {
    return (await import(GPUJS)) as GpujsModule;
  } catch (e) {
    throw new BitlensError('BACKEND_UNAVAILABLE', { stage, field: 'gpu.js', expected: 'the gpu.js package (peer dependency, 2.24.1)', found: (e as Error).message },
      'in this repository `npm ci --include=peer` (or `bash .ci/setup --test`) installs it; elsewhere `npm install gpu.js@2.24.1`', { cause: e });
  }
}

/**
 * A kernel backend on gpu.js in one mode (`gpujs-cpu`, `gpujs-webasm`, `gpujs-webgpu`), synchronous single-threaded
 * calls on cpu and webasm (f32x4 SIMD), WGSL compute shaders on webgpu (Dawn; lavapipe on a machine without GPU).
 * Kernels are compiled once per op, output shape and constants, and cached. Holds the GPU instance.
 * On webgpu `navigator.gpu` comes from the `webgpu` package (0.6.2, the root one; gpu.js's own pinned 0.2.9 is never loaded).
 */
export function createGpujsBackend(mode: GpujsMode): Backend {
  let gpu: GpuLike | undefined;
  const cache = new Map<string, GpuKernelFn>();
  const stage = `backend-gpujs/${mode}`;

  const setup = async (): Promise<void> => {
    if (gpu !== undefined) return;
    const mod = await loadGpujs(stage);
    if (mode === 'webgpu') {
      await provideNavigatorGpu();
      if (!(await mod.GPU.isWebGPUAvailable())) {
        throw new BitlensError('BACKEND_UNAVAILABLE', { stage, field: 'webgpu', expected: 'a WebGPU adapter (Dawn over Vulkan)', found: 'no adapter' },
          'on a machine without a GPU install Mesa >= 25 lavapipe (docs/platform.md)');
      }
    }
    const created = new mod.GPU({ mode });
    if (created.mode !== mode) {
      throw new BitlensError('BACKEND_UNAVAILABLE', { stage, field: 'mode', expected: mode, found: created.mode });
    }
    gpu = created;
  };

  const compile: CompileKernel = (key, source, output, constants, loopMax) => {
    const id = `${key}|${output.join('x')}|${JSON.stringify(constants)}`;
    let k = cache.get(id);
    if (k === undefined) {
      if (gpu === undefined) throw new BitlensError('INTERNAL', { stage, field: key, expected: 'setup() before a kernel runs', found: 'no GPU instance' });
      const kernel = gpu.createKernel(source, { output, constants, loopMaxIterations: Math.max(1000, loopMax + 1), tactic: 'precision', precision: 'single' });
      k = (...args: Float32Array[]) => kernel(...args);
      cache.set(id, k);
    }
    return k;
  };

  const all = gpujsKernels(compile);
  const kernels: { -readonly [N in OpName]?: Kernel<N> } = {};
  for (const op of Object.keys(all) as OpName[]) {
    const k = all[op] as Kernel<OpName> | undefined;
    if (k !== undefined) (kernels as Record<string, Kernel<OpName>>)[op] = async (i, a) => { await setup(); return k(i, a); };
  }

  return {
    name: `gpujs-${mode}`,
    kernels,
    ...availabilityProbe(setup),
    setup,
    info: (): BackendInfo => ({
      description: mode === 'webgpu' ? 'gpu.js webgpu (WGSL via Dawn)' : mode === 'webasm' ? 'gpu.js webasm (WebAssembly f32x4 SIMD, sync, 1 thread)' : 'gpu.js cpu (plain JS)',
      threads: 1,
    }),
  };
}
