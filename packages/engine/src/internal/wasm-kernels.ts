import { BitlensError } from '@bitlens/core';
import type { AttendShape, Gemm, GemmArena } from '@bitlens/kernels-wasm';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { Tf } from '../init.js';
import { overrideKernel } from './overrides.js';
import { heapF32, heapI32, newF32, outputF32 } from './wasm-heap.js';

/** Kernel names of the fused MLP block (forward and backward); the model calls them when they are registered. */
export const FUSED_MLP = 'BitlensFusedMlp';
export const FUSED_MLP_GRAD = 'BitlensFusedMlpGrad';

/**
 * Products of at least this many multiply-adds go to our GEMM; smaller ones stay on XNNPACK (copying operands into
 * the GEMM's memory and starting helper threads does not pay for a tiny product).
 */
const GEMM_MIN_MACS = 1 << 19;

interface MatMulAttrs {
  readonly transposeA?: boolean;
  readonly transposeB?: boolean;
}

/** [m, k, n] of a product whose operands are matrices (or batches of one); undefined for a real batch. */
function dims(a: TensorInfo, b: TensorInfo, tA: boolean, tB: boolean): [number, number, number] | undefined {
  const lead = (t: TensorInfo): number => t.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  if (a.shape.length < 2 || b.shape.length < 2 || lead(a) !== 1 || lead(b) !== 1) return undefined;
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  return [tA ? ac : ar, tA ? ar : ac, tB ? br : bc];
}

/**
 * Replaces the wasm `BatchMatMul` by our GEMM (`createGemm` of @bitlens/kernels-wasm: packed, FMA where available,
 * split over `gemm.threads` threads) for large single products; transposed operands are read in place by its packing,
 * so no transpose is materialised. Batched or small products go to `fallback` (tfjs's kernel, or the explicit-transpose
 * one).
 */
export function installGemmMatMul(tf: Tf, gemm: Gemm): void {
  overrideKernel(tf, 'BatchMatMul', 'wasm', (fallback) => {
    if (fallback === undefined) throw new BitlensError('INTERNAL', { stage: 'engine', field: 'BatchMatMul', expected: 'the wasm kernel', found: 'none' });
    const kernelFunc: KernelFunc = (args) => {
      const a = args.inputs['a'] as TensorInfo;
      const b = args.inputs['b'] as TensorInfo;
      const { transposeA, transposeB } = (args.attrs ?? {}) as MatMulAttrs;
      const d = dims(a, b, transposeA === true, transposeB === true);
      if (d === undefined || a.dtype !== 'float32' || b.dtype !== 'float32' || d[0] * d[1] * d[2] < GEMM_MIN_MACS) return fallback(args);
      const [m, k, n] = d;
      const ar = gemm.arena();
      const pa = ar.put(heapF32(args.backend, a));
      const pb = ar.put(heapF32(args.backend, b));
      const pc = ar.alloc(m * n);
      gemm.run({ a: pa, b: pb, c: pc, m, n, k, transA: transposeA === true, transB: transposeB === true });
      const lead = a.shape.length > 2 ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
      return outputF32(args.backend, [...lead, m, n], ar.view(pc, m * n));
    };
    return kernelFunc;
  });
}

/**
 * Row gathers on wasm, forward and backward: `GatherV2` of rows (params [V, ...], 1-D int32 indices, axis 0) as one
 * row copy per index (tfjs-wasm's GatherV2 took 190 ms for [11490] rows of a [114, 128] table, CPU profile), and
 * `UnsortedSegmentSum`, which tfjs-wasm lacks (so `tf.gather` had no gradient there): out[s] = sum of the rows x[r]
 * with segmentIds[r] = s, in row order; ids outside [0, numSegments) are dropped, as in tfjs. Other gathers go to
 * tfjs's kernel.
 */
export function installGather(tf: Tf, gemm: Gemm): void {
  overrideKernel(tf, 'GatherV2', 'wasm', (fallback) => (args) => {
    const x = args.inputs['x'] as TensorInfo;
    const ids = args.inputs['indices'] as TensorInfo;
    const { axis, batchDims } = (args.attrs ?? {}) as { axis?: number; batchDims?: number };
    if (fallback === undefined || (axis ?? 0) !== 0 || (batchDims ?? 0) !== 0 || ids.shape.length !== 1 || ids.dtype !== 'int32' || x.dtype !== 'float32' || x.shape.length < 1) {
      if (fallback === undefined) throw new BitlensError('INTERNAL', { stage: 'engine', field: 'GatherV2', expected: 'the wasm kernel', found: 'none' });
      return fallback(args);
    }
    const rows = ids.shape[0] ?? 0;
    const segments = x.shape[0] ?? 0;
    const width = x.shape.slice(1).reduce((p, q) => p * q, 1);
    const { info, data: out } = newF32(args.backend, [rows, ...x.shape.slice(1)]);
    const xs = heapF32(args.backend, x); // after the output exists: the heap may have grown
    const is = checkRowIds('GatherV2', 'indices', heapI32(args.backend, ids), rows, segments);
    for (let r = 0; r < rows; r++) {
      const s = is[r] as number;
      out.set(xs.subarray(s * width, (s + 1) * width), r * width);
    }
    return info;
  });
  overrideKernel(tf, 'UnsortedSegmentSum', 'wasm', () => (args) => {
    const x = args.inputs['x'] as TensorInfo;
    const ids = args.inputs['segmentIds'] as TensorInfo;
    const { numSegments } = args.attrs as { numSegments: number };
    if (x.dtype !== 'float32' || ids.dtype !== 'int32' || ids.shape.length !== 1 || ids.shape[0] !== x.shape[0]) {
      throw new BitlensError('SHAPE_MISMATCH', { stage: 'engine/UnsortedSegmentSum', field: 'x, segmentIds', expected: 'float32 x [R, ...] and int32 ids [R]', found: `${x.dtype} [${x.shape.join(', ')}], ${ids.dtype} [${ids.shape.join(', ')}]` });
    }
    const rows = x.shape[0] ?? 0;
    const width = rows === 0 ? 0 : x.shape.slice(1).reduce((p, q) => p * q, 1);
    // SIMD in the GEMM's module (a plain JavaScript loop over the heap was about 4x slower, copies included).
    const ar = gemm.arena();
    const src = ar.put(heapF32(args.backend, x));
    const pi = ar.put(heapI32(args.backend, ids));
    const dst = ar.alloc(numSegments * width);
    gemm.scatterAddRows(src, pi, dst, rows, width, numSegments);
    return outputF32(args.backend, [numSegments, ...x.shape.slice(1)], ar.view(dst, numSegments * width));
  });
}

/**
 * The fused MLP block on wasm: `BitlensFusedMlp` (x [B, d], wIn [d, h], wOut [h, d], optional bIn [h], bOut [d]) →
 * [out = relu(x wIn + bIn) wOut + bOut, post = relu(x wIn + bIn)], and `BitlensFusedMlpGrad` (dy, x, post, wIn, wOut;
 * attrs biasIn, biasOut) → [dx, dwIn, dwOut, (dbIn), (dbOut)]. Each is one sequence of GEMM calls on the GEMM's
 * memory: bias and ReLU are the first product's epilogue, the ReLU's backward (dy wOut^T where post > 0) the
 * epilogue of the first backward product, the bias gradients column sums (ones^T times a matrix); the hidden
 * activations never become tfjs tensors except `post`, saved for the backward.
 */
export function installFusedMlp(tf: Tf, gemm: Gemm): void {
  overrideKernel(tf, FUSED_MLP, 'wasm', () => fusedMlpForward(gemm));
  overrideKernel(tf, FUSED_MLP_GRAD, 'wasm', () => fusedMlpBackward(gemm));
}

/** The named inputs of a kernel call, each required, or INVALID_DATA naming the kernel. */
function required(kernel: string, inputs: Record<string, unknown>, names: readonly string[]): TensorInfo[] {
  const missing = names.filter((n) => inputs[n] === undefined);
  if (missing.length > 0) throw new BitlensError('INVALID_DATA', { stage: `engine/${kernel}`, field: 'inputs', expected: names.join(', '), found: Object.keys(inputs).join(', ') });
  return names.map((n) => inputs[n] as TensorInfo);
}

function fusedMlpForward(gemm: Gemm): KernelFunc {
  return (args) => {
    const [x, wIn, wOut] = required(FUSED_MLP, args.inputs, ['x', 'wIn', 'wOut']) as [TensorInfo, TensorInfo, TensorInfo];
    const { bIn, bOut } = args.inputs as Record<string, TensorInfo | undefined>;
    const [B, d] = x.shape as [number, number];
    const h = wIn.shape[1] ?? 0;
    const ar = gemm.arena();
    const put = (t: TensorInfo): number => ar.put(heapF32(args.backend, t));
    const [px, pwi, pwo] = [x, wIn, wOut].map(put) as [number, number, number];
    const post = ar.alloc(B * h);
    gemm.run({ a: px, b: pwi, c: post, m: B, n: h, k: d, relu: true, ...(bIn === undefined ? {} : { bias: put(bIn) }) });
    const out = ar.alloc(B * d);
    gemm.run({ a: post, b: pwo, c: out, m: B, n: d, k: h, ...(bOut === undefined ? {} : { bias: put(bOut) }) });
    return [outputF32(args.backend, [B, d], ar.view(out, B * d)), outputF32(args.backend, [B, h], ar.view(post, B * h))];
  };
}

function fusedMlpBackward(gemm: Gemm): KernelFunc {
  return (args) => {
    const ins = required(FUSED_MLP_GRAD, args.inputs, ['dy', 'x', 'post', 'wIn', 'wOut']);
    const { biasIn, biasOut } = (args.attrs ?? {}) as { biasIn?: boolean; biasOut?: boolean };
    const [B, d] = (ins[1] as TensorInfo).shape as [number, number];
    const h = (ins[3] as TensorInfo).shape[1] ?? 0;
    const ar = gemm.arena();
    const [pdy, px, ppost, pwi, pwo] = ins.map((t) => ar.put(heapF32(args.backend, t))) as [number, number, number, number, number];
    const dPre = ar.alloc(B * h);
    gemm.run({ a: pdy, b: pwo, transB: true, c: dPre, m: B, n: h, k: d, mask: ppost });
    const dWout = ar.alloc(h * d);
    gemm.run({ a: ppost, transA: true, b: pdy, c: dWout, m: h, n: d, k: B });
    const dWin = ar.alloc(d * h);
    gemm.run({ a: px, transA: true, b: dPre, c: dWin, m: d, n: h, k: B });
    const dX = ar.alloc(B * d);
    gemm.run({ a: dPre, b: pwi, transB: true, c: dX, m: B, n: d, k: h });
    const sums: [number, number][] = [];
    if (biasIn === true || biasOut === true) {
      const ones = ar.put(new Float32Array(B).fill(1));
      for (const [on, src, w] of [[biasIn === true, dPre, h], [biasOut === true, pdy, d]] as const) {
        if (!on) continue;
        const c = ar.alloc(w);
        gemm.run({ a: ones, b: src, c, m: 1, n: w, k: B });
        sums.push([c, w]);
      }
    }
    return [
      outputF32(args.backend, [B, d], ar.view(dX, B * d)),
      outputF32(args.backend, [d, h], ar.view(dWin, d * h)),
      outputF32(args.backend, [h, d], ar.view(dWout, h * d)),
      ...sums.map(([c, w]) => outputF32(args.backend, [w], ar.view(c, w))),
    ];
  };
}

/** Kernel names of the last-position attention (forward and backward); the model calls them when they are registered. */
export const ATTEND_LAST = 'BitlensAttendLast';
export const ATTEND_LAST_GRAD = 'BitlensAttendLastGrad';

/** The shape attributes of an attention kernel call, checked. */
function attendShape(kernel: string, attrs: unknown): AttendShape {
  const a = (attrs ?? {}) as Record<string, unknown>;
  const num = (k: string): number => {
    const v = a[k];
    if (typeof v !== 'number' || !(v > 0)) throw new BitlensError('INVALID_DATA', { stage: `engine/${kernel}`, field: k, expected: 'a positive number', found: JSON.stringify(v) });
    return v;
  };
  return { batch: num('batch'), keys: num('keys'), heads: num('heads'), headDim: num('headDim'), scale: num('scale') };
}

/**
 * Softmax attention of one query per row over `keys` keys as a kernel pair in the GEMM's module (SIMD; the
 * operands are copied in): `BitlensAttendLast` (q [B, h*dh], k and v [B*n, h*dh], rows b*n + j — or, with an int32
 * input ids [B*n], tables k and v [R, h*dh] whose row ids[b*n + j] is key j of query b, so that the model need not
 * gather [B*n, h*dh] copies of a token table; attrs batch, keys, heads, headDim, scale) → [z [B, h*dh], a [B, h, n]]
 * and `BitlensAttendLastGrad` (dz, q, k, v, a, and the same ids) → [dq, dk, dv] (with ids: dk, dv [R, h*dh], each key
 * row's gradient added in row order, the same floats as a scatter-add of per-row gradients), with
 * dA = dz·v, dv = a dz, ds = a (dA - sum(a dA)) / scale, dq = sum_j ds k, dk = ds q. tfjs's ops for the same step
 * (broadcast products and sums over [B, h, n, dh], transposes, and their autodiff) cost 10-15% of a small-preset
 * epoch once the products are fast.
 */
export function installFusedAttention(tf: Tf, gemm: Gemm): void {
  overrideKernel(tf, ATTEND_LAST, 'wasm', () => (args) => {
    const shape = attendShape(ATTEND_LAST, args.attrs);
    const { batch: B, keys: n, heads: h, headDim: dh } = shape;
    const ar = gemm.arena();
    const [q, k, v] = required(ATTEND_LAST, args.inputs, ['q', 'k', 'v']).map((t) => ar.put(heapF32(args.backend, t))) as [number, number, number];
    const ids = keyIds(ATTEND_LAST, args, ar, B * n);
    const z = ar.alloc(B * h * dh);
    const a = ar.alloc(B * h * n);
    gemm.attendLast({ q, k, v, z, a, ...(ids === undefined ? {} : { ids }) }, shape);
    return [outputF32(args.backend, [B, h * dh], ar.view(z, B * h * dh)), outputF32(args.backend, [B, h, n], ar.view(a, B * h * n))];
  });
  overrideKernel(tf, ATTEND_LAST_GRAD, 'wasm', () => (args) => {
    const shape = attendShape(ATTEND_LAST_GRAD, args.attrs);
    const { batch: B, keys: n, heads: h, headDim: dh } = shape;
    const ar = gemm.arena();
    const [dz, q, k, v, a] = required(ATTEND_LAST_GRAD, args.inputs, ['dz', 'q', 'k', 'v', 'a']).map((t) => ar.put(heapF32(args.backend, t))) as [number, number, number, number, number];
    const ids = keyIds(ATTEND_LAST_GRAD, args, ar, B * n);
    const w = h * dh;
    // with ids, dk and dv are tables like k and v, added into: zeroed
    const rows = ids === undefined ? B * n : ((args.inputs['k'] as TensorInfo).shape[0] ?? 0);
    const table = (): number => (ids === undefined ? ar.alloc(rows * w) : ar.put(new Float32Array(rows * w)));
    const [dq, dk, dv] = [ar.alloc(B * w), table(), table()];
    gemm.attendLastGrad({ dz, q, k, v, a, dq, dk, dv, ...(ids === undefined ? {} : { ids }) }, shape);
    return [outputF32(args.backend, [B, w], ar.view(dq, B * w)), outputF32(args.backend, [rows, w], ar.view(dk, rows * w)), outputF32(args.backend, [rows, w], ar.view(dv, rows * w))];
  });
}

/**
 * The optional `ids` input of the attention kernels (int32 [B*n]: key j of query b is row ids[b*n + j] of the k and
 * v tables), checked to lie in the tables and copied into the GEMM's memory; undefined without it.
 */
function keyIds(kernel: string, args: Parameters<KernelFunc>[0], ar: GemmArena, count: number): number | undefined {
  const ids = args.inputs['ids'] as TensorInfo | undefined;
  if (ids === undefined) return undefined;
  const k = args.inputs['k'] as TensorInfo, v = args.inputs['v'] as TensorInfo;
  const rows = k.shape[0] ?? 0;
  if (ids.dtype !== 'int32' || ids.shape.length !== 1 || ids.shape[0] !== count || v.shape[0] !== rows) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: `engine/${kernel}`, field: 'ids', expected: `int32 [${count}] and k, v tables of the same rows`, found: `${ids.dtype} [${ids.shape.join(', ')}], k [${k.shape.join(', ')}], v [${v.shape.join(', ')}]` });
  }
  return ar.put(checkRowIds(kernel, 'ids', heapI32(args.backend, ids), count, rows));
}

/** `ids` (its first `count` values) as row numbers of a table of `rows` rows: each in [0, rows), or INVALID_DATA naming the first that is not. */
function checkRowIds(kernel: string, field: string, ids: Int32Array, count: number, rows: number): Int32Array {
  for (let r = 0; r < count; r++) {
    const s = ids[r] as number;
    if (!(s >= 0 && s < rows)) throw new BitlensError('INVALID_DATA', { stage: `engine/${kernel}`, field, expected: `${field} in [0, ${rows})`, found: `${s} at ${r}` });
  }
  return ids;
}

/**
 * `Identity` on wasm without a copy: the output shares the input's data (its reference count raised), as tfjs's cpu
 * backend and wasm's own `Reshape` do; tensors are immutable, so nothing can tell the two apart but the time. tfjs-wasm's
 * Identity copies, and autodiff calls it for every tensor a custom gradient saves (`customGrad`'s save clones) and
 * for gradients it passes through: about 5 ms of copies in a canonical training epoch. Strings go to tfjs's kernel.
 */
export function installSharedIdentity(tf: Tf): void {
  overrideKernel(tf, 'Identity', 'wasm', (fallback) => (args) => {
    const x = args.inputs['x'] as TensorInfo;
    const be = args.backend as { incRef?: (dataId: unknown) => void };
    if (x.dtype === 'string' || be.incRef === undefined) {
      if (fallback === undefined) throw new BitlensError('INTERNAL', { stage: 'engine', field: 'Identity', expected: 'the wasm kernel', found: 'none' });
      return fallback(args);
    }
    be.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}
