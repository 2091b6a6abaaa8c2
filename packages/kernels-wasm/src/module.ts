import { readFile } from 'node:fs/promises';
import { BitlensError } from '@bitlens/core';

/** The part of `WebAssembly.Memory` used here (the ES2023 lib has no WebAssembly types). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: unknown } }>;
  validate(bytes: Uint8Array): boolean;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The exports of `assembly/packed.ts` (pointers are byte offsets into `memory`); both builds export the same names. */
export interface PackedExports {
  readonly memory: WasmMemory;
  heapBase(): number;
  /** 1 in the relaxed-SIMD build, 0 in the plain one. */
  relaxedSimd(): number;
  popcountTables(lut: number): void;
  nibbleOffsets(src: number, stride: number, bytes: number, m: number, dst: number): void;
  nibbleBlocks(src: number, stride: number, bytes: number, n: number, dst: number): void;
  binaryGemmLut(ao: number, bn: number, lut: number, out: number, scratch: number, m: number, nb: number, nq: number, k: number): void;
  decodeI2S(w: number, bytes: number, n: number, dst: number, kq: number, offset: number): void;
  rowSumsI8(x: number, kq: number, k: number, m: number, sums: number): void;
  ternaryGemmI8(x: number, u: number, rowSums: number, out: number, scratch: number, m: number, n: number, kq: number, blockRows: number, factors: number): void;
  quantizeRowsI8(x: number, m: number, k: number, dst: number, kq: number, scale: number, factors: number): void;
  ternaryGemmF32(x: number, w: number, out: number, tmp: number, m: number, n: number, bytes: number, scale: number): void;
  peakF32(iters: number, seed: number): number;
  peakI8(iters: number, seed: number): number;
}

/** Where the build puts the module: `build/packed.wasm` beside both `src/` and `dist/`. */
export const WASM_URL = new URL('../build/packed.wasm', import.meta.url);
/** The same kernels compiled with relaxed SIMD (`relaxed_swizzle` for the binary lookups, pmaddubsw for ternary). */
export const WASM_RELAXED_URL = new URL('../build/packed-relaxed.wasm', import.meta.url);

/** Which build to load: `auto` takes relaxed SIMD where the engine has it, `simd` never does. */
export type SimdLevel = 'auto' | 'simd';

const loading = new Map<SimdLevel, Promise<PackedExports>>();

/**
 * Whether this engine compiles relaxed-SIMD code. Node 20 (V8 11.3) has it behind `--experimental-wasm-relaxed-simd`;
 * there the flag is switched on for this process (a V8 wasm-feature flag, read when a module is compiled), which is
 * what `auto` means. Node >= 22 ships it enabled.
 */
async function relaxedAvailable(bytes: Uint8Array): Promise<boolean> {
  if (wasmApi.validate(bytes)) return true;
  try {
    (await import('node:v8')).setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return wasmApi.validate(bytes);
}

/**
 * Compiles and instantiates the packed-kernel module once per process and level (a failed load is retried next call).
 * With `auto` (the default) the relaxed-SIMD build is used when the engine supports it; `describePackedModule` says which.
 * @throws BitlensError BACKEND_UNAVAILABLE when the module is not built or WebAssembly SIMD is missing.
 */
export function loadPackedModule(level: SimdLevel = 'auto'): Promise<PackedExports> {
  const cached = loading.get(level);
  if (cached !== undefined) return cached;
  const promise = (async () => {
    if (level === 'auto') {
      const relaxed = await readFile(WASM_RELAXED_URL).catch(() => undefined);
      if (relaxed !== undefined && (await relaxedAvailable(relaxed))) return instantiate(relaxed);
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(WASM_URL);
    } catch (e) {
      throw new BitlensError('BACKEND_UNAVAILABLE', { stage: 'kernels-wasm', field: 'packed.wasm', expected: `a built module at ${WASM_URL.pathname}`, found: 'no file' },
        'run `npm run build -w @bitlens/kernels-wasm` (it compiles assembly/packed.ts with AssemblyScript)', { cause: e });
    }
    return instantiate(bytes);
  })();
  loading.set(level, promise);
  promise.catch(() => loading.delete(level));
  return promise;
}

async function instantiate(bytes: Uint8Array): Promise<PackedExports> {
  try {
    const { instance } = await wasmApi.instantiate(bytes, { env: { abort: () => { throw new Error('abort called in packed.wasm'); } } });
    return instance.exports as unknown as PackedExports;
  } catch (e) {
    throw new BitlensError('BACKEND_UNAVAILABLE', { stage: 'kernels-wasm', field: 'packed.wasm', expected: 'WebAssembly with SIMD (v128)', found: (e as Error).message }, undefined, { cause: e });
  }
}

/** One line naming the instruction set a loaded module uses. */
export function describePackedModule(mod: PackedExports): string {
  return mod.relaxedSimd() === 1
    ? 'WebAssembly SIMD + relaxed SIMD (i8x16.relaxed_swizzle, i16x8.relaxed_dot_i8x16_i7x16_s)'
    : 'WebAssembly SIMD (i8x16.swizzle, i16x8.extmul)';
}

/** A bump layout of buffers in the module's memory, growing it as needed. Not re-entrant: one op at a time. */
export class Arena {
  private top: number;
  constructor(private readonly mod: PackedExports) {
    this.top = align(mod.heapBase());
  }
  /** Reserves `bytes` bytes aligned to 16 and returns the offset. */
  alloc(bytes: number): number {
    const at = this.top;
    this.top = align(at + bytes);
    const need = this.top - this.mod.memory.buffer.byteLength;
    if (need > 0) this.mod.memory.grow(Math.ceil(need / 65536));
    return at;
  }
}

function align(n: number): number {
  return (n + 15) & ~15;
}
