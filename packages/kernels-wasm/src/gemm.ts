import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { BitlensError } from '@bitlens/core';

/** Where the build puts the fp32 GEMM module (plain SIMD) and its relaxed-SIMD build (fused multiply-add). */
export const GEMM_URL = new URL('../build/gemm.wasm', import.meta.url);
export const GEMM_RELAXED_URL = new URL('../build/gemm-relaxed.wasm', import.meta.url);

interface WasmModule {
  readonly __brand?: 'WebAssembly.Module';
}
interface GemmWasmExports {
  heapBase(): number;
  scratchBytes(cols: number): number;
  gemm(a: number, b: number, c: number, m: number, n: number, k: number, transA: number, transB: number, i0: number, i1: number, j0: number, j1: number, epi: number, aux0: number, aux1: number, scratch: number): void;
  scatterAddRows(src: number, ids: number, dst: number, rows: number, w: number, segments: number): void;
  attendLast(q: number, k: number, v: number, ids: number, z: number, a: number, offs: number, batch: number, n: number, h: number, dh: number, scale: number): void;
  attendLastGrad(dz: number, q: number, k: number, v: number, ids: number, a: number, dq: number, dk: number, dv: number, tmp: number, offs: number, batch: number, n: number, h: number, dh: number, scale: number): void;
}
interface SharedMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => SharedMemory;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: object): Promise<{ exports: unknown }>;
  validate(bytes: Uint8Array): boolean;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Epilogue of a product, applied once to every element of C. */
export interface GemmEpilogue {
  /** Offset of a bias row [n] added to every row. */
  readonly bias?: number;
  /** max(C, 0). */
  readonly relu?: boolean;
  /** Offset of a matrix [m, n]: C[i, j] is kept where it is > 0 and set to 0 elsewhere (a ReLU's backward). */
  readonly mask?: number;
}

/** One product C [m, n] = op(A) op(B) on buffers of the GEMM's memory (offsets in bytes, see {@link GemmArena}). */
export interface GemmOp extends GemmEpilogue {
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** A is stored [k, m] (op(A) = A^T) instead of [m, k]. */
  readonly transA?: boolean;
  /** B is stored [n, k] (op(B) = B^T) instead of [k, n]. */
  readonly transB?: boolean;
}

/** Buffers in the GEMM's memory for one sequence of products; `reset` frees them all. */
export interface GemmArena {
  /** Copies `data` in; returns its offset. */
  put(data: Float32Array | Int32Array): number;
  /** Reserves `floats` floats (contents undefined); returns the offset. */
  alloc(floats: number): number;
  /** A view of `floats` floats at `offset` (valid until the next `put`/`alloc`, which may grow the memory). */
  view(offset: number, floats: number): Float32Array;
}

/**
 * One query per row attending over `keys` keys: q [batch, heads*headDim], k and v [batch*keys, heads*headDim] (rows
 * b*keys + j), z like q, a (probabilities) [batch, heads, keys]; scores are q·k / scale. With `ids` (an int32 buffer
 * [batch*keys] of row numbers, each checked by the caller to lie in the tables), k and v are tables whose row
 * ids[b*keys + j] is key j of query b, and the backward adds each key row's gradient into dk / dv tables of their shape.
 */
export interface AttendShape {
  readonly batch: number;
  readonly keys: number;
  readonly heads: number;
  readonly headDim: number;
  readonly scale: number;
}

/** A multi-threaded fp32 GEMM over shared WebAssembly memory (see {@link createGemm}). */
export interface Gemm {
  /** Threads a product is split over (this one plus helpers). */
  readonly threads: number;
  /** Whether the fused multiply-add build runs. */
  readonly relaxed: boolean;
  /** Frees the buffers of the previous sequence and returns the arena for a new one. */
  arena(): GemmArena;
  /** Runs one product, split over the threads by rows or columns of C; synchronous. */
  run(op: GemmOp): void;
  /** dst [segments, w] = the rows of src [rows, w] summed by ids [rows] (int32; others skipped), in row order; this thread. */
  scatterAddRows(src: number, ids: number, dst: number, rows: number, w: number, segments: number): void;
  /** Last-position softmax attention (see {@link AttendShape}): q, k, v (, ids) → z, a; this thread. */
  attendLast(bufs: { q: number; k: number; v: number; ids?: number; z: number; a: number }, shape: AttendShape): void;
  /** Its backward: dz, q, k, v (, ids), a → dq, dk, dv (with ids: dk and dv zeroed tables, added into); this thread. */
  attendLastGrad(bufs: { dz: number; q: number; k: number; v: number; ids?: number; a: number; dq: number; dk: number; dv: number }, shape: AttendShape): void;
  /** Stops the helper threads. */
  close(): void;
}

/** How {@link createGemm} builds. */
export interface GemmOptions {
  /** Threads per product (this thread plus threads - 1 helpers; default 1). */
  readonly threads?: number;
  /** `auto` (default): fused multiply-add (relaxed SIMD) where the engine compiles it; `simd`: plain mul + add. */
  readonly simd?: 'auto' | 'simd';
}

const MR = 4;
const NR = 8;
/** Below this many multiply-adds per thread a product is not split (a helper's wake-up costs tens of microseconds). */
const MIN_MACS_PER_THREAD = 1 << 20;
const CTL_INTS = 32;
const SEQ = 0;
const CMD = 1;
const ARGS = 2;
const DONE = 31;
const PAGE = 65536;

// A helper thread: instantiates the module on the shared memory and runs the products it is handed, forever. Plain
// JavaScript evaluated in the worker, so it runs the same from sources and from a build.
const HELPER = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, ctl } = workerData;
WebAssembly.instantiate(module, { env: { memory, abort() { throw new Error('abort in gemm.wasm'); } } }).then((instance) => {
  const gemm = instance.exports.gemm;
  const c = new Int32Array(memory.buffer, ctl, ${CTL_INTS});
  parentPort.postMessage('ready');
  let seen = 0;
  for (;;) {
    Atomics.wait(c, ${SEQ}, seen);
    seen = Atomics.load(c, ${SEQ});
    if (c[${CMD}] === 1) break;
    const a = c.subarray(${ARGS}, ${ARGS + 16});
    gemm(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]);
    Atomics.store(c, ${DONE}, seen);
    Atomics.notify(c, ${DONE});
  }
  parentPort.close();
});`;

async function compileModule(simd: 'auto' | 'simd'): Promise<{ module: WasmModule; relaxed: boolean }> {
  const read = (url: URL): Promise<Buffer> =>
    readFile(url).catch((e: unknown) => {
      throw new BitlensError('BACKEND_UNAVAILABLE', { stage: 'kernels-wasm/gemm', field: url.pathname, expected: 'a built module', found: 'no file' },
        'run `npm run build -w @bitlens/kernels-wasm` (it compiles assembly/gemm.ts with AssemblyScript)', { cause: e });
    });
  if (simd === 'auto') {
    const relaxed = await read(GEMM_RELAXED_URL);
    if (!wasm.validate(relaxed)) {
      // Node 20 (V8 11.3) has relaxed SIMD behind a flag, read when a module is compiled; Node >= 22 ships it.
      (await import('node:v8')).setFlagsFromString('--experimental-wasm-relaxed-simd');
    }
    if (wasm.validate(relaxed)) return { module: await wasm.compile(relaxed), relaxed: true };
  }
  return { module: await wasm.compile(await read(GEMM_URL)), relaxed: false };
}

/**
 * Starts an fp32 GEMM on shared WebAssembly memory with `threads - 1` helper threads (worker threads, unref'd, that
 * wait on an Atomics slot between products). Each product is cut into one rectangle of C per thread (rows, or
 * columns when C is wider than tall, in whole register tiles), and every element is computed the same way whichever
 * thread computes it: results do not depend on `threads`. Operands are copied into the GEMM's memory by the caller
 * (`arena().put`), results read from it (`view`).
 * @example const g = await createGemm({ threads: 2 }); const ar = g.arena(); const a = ar.put(A), b = ar.put(B), c = ar.alloc(m * n); g.run({ a, b, c, m, n, k });
 */
export async function createGemm(options: GemmOptions = {}): Promise<Gemm> {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new BitlensError('INVALID_OPTION', { stage: 'kernels-wasm/gemm', field: 'threads', expected: 'a positive integer', found: String(threads) });
  const { module, relaxed } = await compileModule(options.simd ?? 'auto');
  const memory = new wasm.Memory({ initial: 64, maximum: 16384, shared: true });
  const instance = await wasm.instantiate(module, { env: { memory, abort: () => { throw new BitlensError('INTERNAL', { stage: 'kernels-wasm/gemm', field: 'abort' }); } } });
  const x = instance.exports as GemmWasmExports;
  const ctlBase = align(x.heapBase());
  const helpers: Helper[] = [];
  for (let t = 1; t < threads; t++) helpers.push(await startHelper(module, memory, ctlBase + t * CTL_INTS * 4));
  const { arena, reset } = bumpArena(memory, ctlBase + threads * CTL_INTS * 4);
  return {
    threads,
    relaxed,
    arena: () => {
      reset();
      return arena;
    },
    run: (op) => runSplit(x, helpers, arena, op),
    scatterAddRows: (src, ids, dst, rows, w, segments) => x.scatterAddRows(src, ids, dst, rows, w, segments),
    attendLast: (o, s) => x.attendLast(o.q, o.k, o.v, o.ids ?? 0, o.z, o.a, arena.alloc(s.keys), s.batch, s.keys, s.heads, s.headDim, s.scale),
    attendLastGrad: (o, s) => x.attendLastGrad(o.dz, o.q, o.k, o.v, o.ids ?? 0, o.a, o.dq, o.dk, o.dv, arena.alloc(s.keys), arena.alloc(s.keys), s.batch, s.keys, s.heads, s.headDim, s.scale),
    close: () => {
      for (const h of helpers) {
        Atomics.store(h.ctl, CMD, 1);
        Atomics.add(h.ctl, SEQ, 1);
        Atomics.notify(h.ctl, SEQ);
      }
    },
  };
}

/** A helper thread and its control slots (see HELPER). */
interface Helper {
  readonly worker: Worker;
  readonly ctl: Int32Array;
}

async function startHelper(module: WasmModule, memory: SharedMemory, ctl: number): Promise<Helper> {
  const worker = new Worker(HELPER, { eval: true, workerData: { module, memory, ctl } });
  worker.unref(); // idle helpers never keep the process alive
  await new Promise<void>((resolve, reject) => worker.once('message', () => resolve()).once('error', reject));
  return { worker, ctl: new Int32Array(memory.buffer, ctl, CTL_INTS) };
}

/** A bump allocator over the shared memory from `base`, growing the memory as needed. */
function bumpArena(memory: SharedMemory, base: number): { arena: GemmArena; reset(): void } {
  let top = base;
  const arena: GemmArena = {
    put(data) {
      const at = arena.alloc(data.length);
      if (data instanceof Int32Array) new Int32Array(memory.buffer, at, data.length).set(data);
      else new Float32Array(memory.buffer, at, data.length).set(data);
      return at;
    },
    alloc(floats) {
      const at = top;
      top = align(top + floats * 4);
      const need = top - memory.buffer.byteLength;
      if (need > 0) memory.grow(Math.ceil(need / PAGE));
      return at;
    },
    view: (offset, floats) => new Float32Array(memory.buffer, offset, floats),
  };
  return { arena, reset: () => (top = base) };
}

/** Runs one product: the first rectangle on this thread, the others on the helpers, then waits for them. */
function runSplit(x: GemmWasmExports, helpers: readonly Helper[], arena: GemmArena, op: GemmOp): void {
  const epi = (op.bias === undefined ? 0 : 1) | (op.relu === true ? 2 : 0) | (op.mask === undefined ? 0 : 4);
  const args = splitOp(op, helpers.length + 1).map(([i0, i1, j0, j1]) => {
    const scratch = arena.alloc(x.scratchBytes(j1 - j0) / 4);
    return [op.a, op.b, op.c, op.m, op.n, op.k, op.transA === true ? 1 : 0, op.transB === true ? 1 : 0, i0, i1, j0, j1, epi, op.bias ?? 0, op.mask ?? 0, scratch] as const;
  });
  const used = helpers.slice(0, args.length - 1);
  used.forEach((h, t) => {
    h.ctl.set(args[t + 1] as readonly number[], ARGS);
    Atomics.store(h.ctl, CMD, 0);
    Atomics.add(h.ctl, SEQ, 1);
    Atomics.notify(h.ctl, SEQ);
  });
  const own = args[0];
  if (own !== undefined) x.gemm(...own);
  for (const h of used) {
    const seq = Atomics.load(h.ctl, SEQ);
    for (let d = Atomics.load(h.ctl, DONE); d !== seq; d = Atomics.load(h.ctl, DONE)) Atomics.wait(h.ctl, DONE, d);
  }
}

/** Rectangles [i0, i1, j0, j1] of C, one per thread used: rows in whole MR tiles, or columns in whole NR panels. */
function splitOp(op: GemmOp, threads: number): [number, number, number, number][] {
  const parts = Math.max(1, Math.min(threads, Math.floor((op.m * op.n * op.k) / MIN_MACS_PER_THREAD)));
  const byRows = op.m >= op.n;
  const units = byRows ? Math.ceil(op.m / MR) : Math.ceil(op.n / NR);
  const used = Math.min(parts, units);
  const out: [number, number, number, number][] = [];
  for (let t = 0; t < used; t++) {
    const u0 = Math.floor((units * t) / used);
    const u1 = Math.floor((units * (t + 1)) / used);
    if (byRows) out.push([u0 * MR, Math.min(op.m, u1 * MR), 0, op.n]);
    else out.push([0, op.m, u0 * NR, Math.min(op.n, u1 * NR)]);
  }
  return out;
}

function align(n: number): number {
  return (n + 15) & ~15;
}
