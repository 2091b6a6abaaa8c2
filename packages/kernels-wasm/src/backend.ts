import { availabilityProbe } from '@bitlens/kernels';
import type { Backend } from '@bitlens/kernels';
import { describePackedModule, loadPackedModule } from './module.js';
import type { PackedExports, SimdLevel } from './module.js';
import { noKernel, prepareBinaryMatMul, prepareTernaryMatMul, prepareTernaryMatMulA8 } from './packed-kernels.js';

/**
 * Builds the `wasm-packed` backend: packed binary / ternary kernels in WebAssembly SIMD (AssemblyScript), one
 * thread. Implements `BinaryMatMul` (XNOR-popcount by table lookup), `TernaryMatMul` for I2_S weights with int8 or
 * float32 activations, and `TernaryMatMulA8` (float32 activations quantized to int8 per row inside the module); other ops and the two-plane ternary layout throw KERNEL_NOT_FOUND (listed in KNOWN_GAPS), never
 * run elsewhere. Each call copies operands into wasm memory and the result out (end-to-end, like a GPU readback).
 * Holds the loaded module (one per process and level).
 */
export function createWasmPackedBackend(options: { readonly simd?: SimdLevel } = {}): Backend {
  const level = options.simd ?? 'auto';
  let mod: PackedExports | undefined;
  const ready = async (): Promise<PackedExports> => (mod ??= await loadPackedModule(level));
  return {
    name: 'wasm-packed',
    kernels: {
      BinaryMatMul: async ({ a, b }, { k }) => {
        const op = prepareBinaryMatMul(await ready(), a, b, k);
        op.run();
        return op.read();
      },
      TernaryMatMul: async ({ x, w }, { k, format, scale }) => {
        if (format !== 'i2s' || w.dtype !== 'uint8') throw noKernel('format', format);
        const op = prepareTernaryMatMul(await ready(), x, w as typeof w & { dtype: 'uint8' }, k, scale);
        op.run();
        return op.read();
      },
      TernaryMatMulA8: async ({ x, w }, { k, scale }) => {
        const op = prepareTernaryMatMulA8(await ready(), x, w, k, scale);
        op.run();
        return op.read();
      },
    },
    ...availabilityProbe(ready),
    async setup() {
      await ready();
    },
    info: () => ({ description: `wasm-packed (AssemblyScript, ${mod === undefined ? 'not loaded' : describePackedModule(mod)})`, threads: 1 }),
  };
}

/** The `wasm-packed` backend with relaxed SIMD where the engine has it (see `loadPackedModule`). */
export const wasmPacked: Backend = createWasmPackedBackend();
