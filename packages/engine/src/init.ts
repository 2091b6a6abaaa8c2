import { BitlensError } from '@bitlens/core';
import { z } from 'zod';
import { type EngineConfig, type EngineOptions, configureEngine } from './configure.js';

/**
 * The TensorFlow.js namespace bitlens computes with (one engine per process): `@tensorflow/tfjs-core`, with every
 * gradient and the chained tensor methods registered (what the `@tensorflow/tfjs` umbrella would add; its layers,
 * converter, data and webgl parts are not used and not installed).
 */
export type Tf = typeof import('@tensorflow/tfjs-core');
// Types of the chained tensor methods (`x.square()`, registered at run time by loadTf), as the umbrella declared them.
export type {} from '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';

/** Backends bitlens can start. `tensorflow` is tfjs-node / tfjs-node-gpu, used only when installed. */
export const TFJS_BACKENDS = ['wasm', 'cpu', 'webgpu', 'tensorflow'] as const;
/** A backend name as the user writes it. */
export type TfjsBackendName = (typeof TFJS_BACKENDS)[number];

/** What was started. */
export interface TfjsBackendInfo {
  readonly name: TfjsBackendName;
  /** tfjs's own backend id (`tf.getBackend()`). */
  readonly tfjsBackend: string;
  readonly tfjsVersion: string;
  /** Short human description, e.g. `wasm (XNNPACK, SIMD, 1 thread)` or `webgpu on llvmpipe (Mesa)`. */
  readonly description: string;
  /** WebGPU adapter info, when the backend is webgpu. */
  readonly adapter?: { readonly vendor: string; readonly architecture: string; readonly device: string; readonly description: string };
  /** For `tensorflow`: which package provided it. */
  readonly package?: string;
  /** How it is configured (which kernels run). */
  readonly config: EngineConfig;
}

/** A started backend: the tf namespace (already switched to it) and what was picked. */
export interface TfjsBackend {
  readonly tf: Tf;
  readonly info: TfjsBackendInfo;
}

const STAGE = 'engine';

/**
 * The zod field schema of a backend option: one of {@link TFJS_BACKENDS}. Whether the backend can start on this machine
 * is found only when it starts (`initTfjsBackend` throws `BACKEND_UNAVAILABLE` saying why).
 */
export const TfjsBackendSchema = z.enum(TFJS_BACKENDS, { error: `expected a tfjs backend: one of ${TFJS_BACKENDS.join(', ')}` });

/** Type guard for user input. */
export function isTfjsBackendName(name: string): name is TfjsBackendName {
  return (TFJS_BACKENDS as readonly string[]).includes(name);
}

// Built by scripts/bundle-tfjs-gradients.mjs (part of `npm run build`). The path is relative to the package folder so
// that it resolves the same from src/ (vitest) and dist/ (everyone else).
const GRADIENTS = new URL('../dist/tfjs-gradients.js', import.meta.url).href;

let tfPromise: Promise<Tf> | undefined;
/** Loads tfjs-core, the cpu backend and the gradient registrations, once per process (per worker thread). */
function loadTf(): Promise<Tf> {
  tfPromise ??= (async () => {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu'); // registers 'cpu'
    const gradients = (await import(GRADIENTS).catch((e: unknown) => {
      throw new BitlensError('BACKEND_UNAVAILABLE', { stage: STAGE, field: 'gradients', expected: 'dist/tfjs-gradients.js of @bitlens/engine', found: (e as Error).message },
        'build the package first (`npm run build`): tfjs-core registers no gradients by itself', { cause: e });
    })) as { readonly version?: unknown };
    if (gradients.version !== tf.version_core) {
      throw new BitlensError('BACKEND_UNAVAILABLE', { stage: STAGE, field: 'gradients', expected: `gradients bundled from tfjs-core ${tf.version_core}`, found: `tfjs-core ${String(gradients.version)}` },
        'rebuild @bitlens/engine (`npm run build`) after changing the tfjs version');
    }
    return tf;
  })();
  tfPromise.catch(() => { tfPromise = undefined; }); // a failed load is retried, not cached
  return tfPromise;
}

interface GpuAdapterLike {
  readonly info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}
interface GpuLike {
  requestAdapter(options?: unknown): Promise<GpuAdapterLike | null>;
}

let webgpuGlobals: Promise<GpuLike> | undefined;
/** Provides `navigator.gpu` in Node from the `webgpu` package (Dawn), once. */
function provideNavigatorGpu(): Promise<GpuLike> {
  webgpuGlobals ??= (async () => {
    const g = globalThis as { navigator?: { gpu?: GpuLike } };
    if (g.navigator?.gpu !== undefined) return g.navigator.gpu;
    // The Vulkan loader wants a writable runtime dir; without one it only warns, but loudly.
    process.env['XDG_RUNTIME_DIR'] ??= (await import('node:os')).tmpdir();
    const dawn = (await import('webgpu')) as unknown as { create: (flags: string[]) => GpuLike; globals: Record<string, unknown> };
    Object.assign(globalThis, dawn.globals);
    const gpu = dawn.create([]);
    if (g.navigator === undefined) {
      Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    } else {
      Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    }
    return gpu;
  })();
  return webgpuGlobals;
}

async function registerBackend(tf: Tf, name: TfjsBackendName): Promise<{ adapter?: TfjsBackendInfo['adapter']; package?: string }> {
  switch (name) {
    case 'cpu':
      return {}; // registered by loadTf (@tensorflow/tfjs-backend-cpu)
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm'); // registers 'wasm'; finds its .wasm files beside itself in Node
      return {};
    case 'webgpu': {
      const gpu = await provideNavigatorGpu();
      const adapter = await gpu.requestAdapter();
      if (adapter === null) {
        throw new BitlensError('BACKEND_UNAVAILABLE', { stage: STAGE, field: 'webgpu', expected: 'a WebGPU adapter from Dawn (Vulkan)', found: 'no adapter' },
          'on a machine without a GPU install Mesa >= 25 lavapipe (Debian 12: `bash .ci/setup --test` installs it from bookworm-backports); check with `vulkaninfo --summary`');
      }
      await import('@tensorflow/tfjs-backend-webgpu');
      const info = adapter.info ?? {};
      return { adapter: { vendor: info.vendor ?? '', architecture: info.architecture ?? '', device: info.device ?? '', description: info.description ?? '' } };
    }
    case 'tensorflow': {
      // Optional: tfjs-node(-gpu) cannot be installed on our machines (its install downloads libtensorflow).
      for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
        try {
          await import(pkg);
          if (tf.findBackend('tensorflow') !== null) return { package: pkg };
        } catch {
          /* not installed: try the next one */
        }
      }
      throw new BitlensError('BACKEND_UNAVAILABLE', { stage: STAGE, field: 'tensorflow', expected: '@tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node installed', found: 'neither' },
        'install one of them (`npm install @tensorflow/tfjs-node@4.22.0`; it downloads libtensorflow at install time) or pick --backend wasm');
    }
  }
}

/**
 * Starts the named TensorFlow.js backend, makes it the active engine and configures it (`configureEngine`: by
 * default bitlens's kernels where tfjs's are slow or missing). Idempotent and cheap when it is already active. Never
 * falls back: a backend that cannot start throws `BACKEND_UNAVAILABLE` saying why and what to install. Only
 * pipelines, benchmarks, tests and kernel backends start engines; domain code receives the `tf` they started.
 * @example const { tf, info } = await initTfjsBackend('wasm'); console.log(info.description);
 */
export async function initTfjsBackend(name: string, options: EngineOptions = {}): Promise<TfjsBackend> {
  if (!isTfjsBackendName(name)) {
    throw new BitlensError('BACKEND_UNAVAILABLE', { stage: STAGE, field: 'backend', expected: `one of ${TFJS_BACKENDS.join(', ')}`, found: JSON.stringify(name) });
  }
  const tf = await loadTf();
  let extra: Awaited<ReturnType<typeof registerBackend>>;
  try {
    extra = await registerBackend(tf, name);
  } catch (e) {
    if (e instanceof BitlensError) throw e;
    throw new BitlensError('BACKEND_UNAVAILABLE', { stage: STAGE, field: name, expected: 'the backend to load', found: (e as Error).message }, undefined, { cause: e });
  }
  const ok = tf.getBackend() === name ? true : await tf.setBackend(name).catch((e: unknown) => {
    throw new BitlensError('BACKEND_UNAVAILABLE', { stage: STAGE, field: name, expected: 'the backend to initialise', found: (e as Error).message }, undefined, { cause: e });
  });
  await tf.ready();
  if (!ok || tf.getBackend() !== name) {
    throw new BitlensError('BACKEND_UNAVAILABLE', { stage: STAGE, field: name, expected: `tf.getBackend() === '${name}'`, found: String(tf.getBackend()) },
      'tfjs refused to initialise it (see the warning above for the reason)');
  }
  const config = await configureEngine(tf, options);
  const description =
    name === 'wasm' ? `wasm (XNNPACK, SIMD${config.gemm === undefined ? '' : `; bitlens GEMM, ${config.gemm === 'fma' ? 'fused multiply-add' : 'mul + add'}, ${config.threads} thread${config.threads === 1 ? '' : 's'}`})`
    : name === 'cpu' ? 'cpu (plain JS reference)'
    : name === 'webgpu' ? `webgpu on ${extra.adapter?.description || extra.adapter?.device || extra.adapter?.vendor || 'unknown adapter'}`
    : `tensorflow (${extra.package ?? '?'})`;
  const info: TfjsBackendInfo = { name, tfjsBackend: tf.getBackend(), tfjsVersion: tf.version_core, description, config, ...extra };
  return { tf, info };
}

/** Whether a backend can start here; never throws. Starting it switches the active engine. */
export async function probeTfjsBackend(name: TfjsBackendName): Promise<{ readonly available: boolean; readonly reason?: string }> {
  try {
    await initTfjsBackend(name);
    return { available: true };
  } catch (e) {
    return { available: false, reason: (e as Error).message };
  }
}
