import { BitlensError } from '@bitlens/core';
import { binaryWords, fourierBasis, i2sBytes, tensor } from '@bitlens/kernels';
import type { HostTensor, Kernel, OpName } from '@bitlens/kernels';

/** A compiled gpu.js kernel as called here: flat Float32Array arguments in, rows out (a Promise on webgpu). */
export type GpuKernelFn = (...args: Float32Array[]) => unknown;
/** Compiles (and caches) a gpu.js kernel from source text for an output shape and constants. */
export type CompileKernel = (key: string, source: string, output: number[], constants: Record<string, number>, loopMax: number) => GpuKernelFn;

// Kernel sources are strings: gpu.js parses function text, and a TS/esbuild transform could add helper calls to
// a function literal (e.g. __name) that gpu.js cannot translate. Arrays are flat; indices are computed by hand.
const SRC = {
  matMul: `function (a, b) { let s = 0; for (let p = 0; p < this.constants.K; p++) { s += a[this.thread.y * this.constants.K + p] * b[p * this.constants.N + this.thread.x]; } return s; }`,
  matMulT: `function (a, b) { let s = 0; for (let p = 0; p < this.constants.K; p++) { s += a[this.thread.y * this.constants.K + p] * b[this.thread.x * this.constants.K + p]; } return s; }`,
  int8Chunk: `function (a, b) { let s = 0; for (let p = 0; p < this.constants.L; p++) { s += a[this.thread.y * this.constants.K + this.constants.P0 + p] * b[this.thread.x * this.constants.K + this.constants.P0 + p]; } return s; }`,
  rowMax: `function (x) { let m = x[this.thread.x * this.constants.N]; for (let j = 1; j < this.constants.N; j++) { m = Math.max(m, x[this.thread.x * this.constants.N + j]); } return m; }`,
  rowSumExp: `function (x, mx) { let s = 0; for (let j = 0; j < this.constants.N; j++) { s += Math.exp(x[this.thread.x * this.constants.N + j] - mx[this.thread.x]); } return s; }`,
  softmax: `function (x, mx, sm) { const r = this.thread.y; const p = Math.exp(x[r * this.constants.N + this.thread.x] - mx[r]) / sm[r]; return Math.min(1, Math.max(0, this.constants.A * p + this.constants.G)); }`,
  meanAbs: `function (x) { let s = 0; for (let i = 0; i < this.constants.T; i++) { s += Math.abs(x[i]); } return s / this.constants.T; }`,
  mean: `function (x) { let s = 0; for (let i = 0; i < this.constants.T; i++) { s += x[i]; } return s / this.constants.T; }`,
  // round half to even, as the reference and tf.round do (Math.round rounds a tie up)
  ternaryCodes: `function (x, g) { const v = x[this.thread.x] / (g[0] + this.constants.E); let r = Math.floor(v + 0.5);
      if (r - v == 0.5 && r - 2 * Math.floor(r / 2) != 0) { r = r - 1; }
      return Math.min(1, Math.max(-1, r)); }`,
  binaryCodes: `function (x, mu) { let c = -1; if (x[this.thread.x] - mu[0] > 0) { c = 1; } return c; }`,
  dequantize: `function (c, s) { return c[this.thread.x] * s[Math.floor(this.thread.x / this.constants.R)]; }`,
  // XNOR-popcount over 16-bit halves (a float32 holds 16 bits exactly; 32-bit words would not survive): SWAR popcount
  binary: `function (a, b) { let c = 0; for (let q = 0; q < this.constants.H; q++) {
      let v = a[this.thread.y * this.constants.H + q] ^ b[this.thread.x * this.constants.H + q];
      v = v - ((v >> 1) & 21845); v = (v & 13107) + ((v >> 2) & 13107); v = (v + (v >> 4)) & 3855; v = (v + (v >> 8)) & 31;
      c += v; }
    return this.constants.K - 2 * c; }`,
  // I2_S: byte p>>2 of the row, weight at shift 6 - 2 (p & 3), stored code - 1
  ternary: `function (x, w) { let s = 0; for (let p = 0; p < this.constants.K; p++) {
      const byte = w[this.thread.x * this.constants.B + (p >> 2)];
      const c = ((byte >> (6 - 2 * (p & 3))) & 3) - 1;
      s += x[this.thread.y * this.constants.K + p] * c; }
    return s * this.constants.S; }`,
} as const;

const f32 = (t: HostTensor): Float32Array => (t.dtype === 'float32' ? (t.data as Float32Array) : Float32Array.from(t.data as ArrayLike<number>));

/** Flattens a gpu.js result (Float32Array, rows of Float32Array, or a Promise of either) into one Float32Array. */
export async function flatten(result: unknown, size: number): Promise<Float32Array> {
  const r = await result;
  const out = new Float32Array(size);
  if (r instanceof Float32Array) { out.set(r.subarray(0, size)); return out; }
  let at = 0;
  for (const row of r as Iterable<ArrayLike<number>>) {
    out.set(row, at);
    at += row.length;
  }
  return out;
}

function halves(words: Uint32Array): Float32Array {
  const out = new Float32Array(words.length * 2);
  for (let i = 0; i < words.length; i++) { const w = words[i] ?? 0; out[2 * i] = w & 0xffff; out[2 * i + 1] = w >>> 16; }
  return out;
}

// int8 products summed over at most 1024 terms stay below 2^24, exact in float32
const CHUNK = 1024;

/** The gpu.js kernels (same sources on cpu, webasm and webgpu modes). Two-plane ternary weights are a gap. */
export function gpujsKernels(compile: CompileKernel): { readonly [N in Exclude<OpName, never>]?: Kernel<N> } {
  const matMul = async (a: Float32Array, b: Float32Array, m: number, k: number, n: number, transposeB: boolean): Promise<Float32Array> => {
    const kern = compile(transposeB ? 'matMulT' : 'matMul', transposeB ? SRC.matMulT : SRC.matMul, [n, m], { K: k, N: n }, k);
    return flatten(kern(a, b), m * n);
  };
  const softmax = async (x: HostTensor<'float32'>, a: number, g: number): Promise<HostTensor<'float32'>> => {
    const n = x.shape[x.shape.length - 1] ?? 1, rows = x.data.length / n;
    const mx = await flatten(compile('rowMax', SRC.rowMax, [rows], { N: n }, n)(x.data), rows);
    const sm = await flatten(compile('rowSumExp', SRC.rowSumExp, [rows], { N: n }, n)(x.data, mx), rows);
    const out = await flatten(compile('softmax', SRC.softmax, [n, rows], { N: n, A: a, G: g }, 1)(x.data, mx, sm), rows * n);
    return tensor('float32', x.shape, out);
  };
  const reduce = async (key: 'meanAbs' | 'mean', x: Float32Array): Promise<Float32Array> =>
    flatten(compile(key, SRC[key], [1], { T: x.length }, x.length)(x), 1);
  return {
    MatMul: async ({ a, b }, { transposeB }) => {
      const m = a.shape[0] ?? 0, k = a.shape[1] ?? 0, n = transposeB ? (b.shape[0] ?? 0) : (b.shape[1] ?? 0);
      return tensor('float32', [m, n], await matMul(a.data, b.data, m, k, n, transposeB));
    },
    Softmax: async ({ x }) => softmax(x, 1, 0),
    ClippedSoftmax: async ({ x }, { zeta, gamma }) => softmax(x, zeta - gamma, gamma),
    FourierProjection: async ({ x }, { p }) => {
      const d = x.shape[1] ?? 0;
      return tensor('float32', [p, d], await matMul(Float32Array.from(fourierBasis(p)), x.data, p, p, d, false));
    },
    QuantizeTernary: async ({ w }, { eps }) => {
      const g = await reduce('meanAbs', w.data);
      const codes = await flatten(compile('ternaryCodes', SRC.ternaryCodes, [w.data.length], { E: eps }, 1)(w.data, g), w.data.length);
      return { codes: tensor('int8', w.shape, Int8Array.from(codes)), scale: tensor('float32', [1], g) };
    },
    QuantizeBinary: async ({ w }, { center }) => {
      const mu = center ? await reduce('mean', w.data) : new Float32Array(1);
      const codes = await flatten(compile('binaryCodes', SRC.binaryCodes, [w.data.length], {}, 1)(w.data, mu), w.data.length);
      return { codes: tensor('int8', w.shape, Int8Array.from(codes)), scale: tensor('float32', [1], await reduce('meanAbs', w.data)) };
    },
    Dequantize: async ({ codes, scale }) => {
      const n = codes.data.length, rowLen = scale.data.length > 1 ? n / scale.data.length : n;
      return tensor('float32', codes.shape, await flatten(compile('dequantize', SRC.dequantize, [n], { R: rowLen }, 1)(f32(codes), scale.data), n));
    },
    Int8MatMul: async ({ a, b }, { transposeB }) => {
      const m = a.shape[0] ?? 0, k = a.shape[1] ?? 0, n = transposeB ? (b.shape[0] ?? 0) : (b.shape[1] ?? 0);
      const A = f32(a), B = transposeB ? f32(b) : transposeF32(f32(b), k, n), out = new Int32Array(m * n);
      for (let p0 = 0; p0 < k; p0 += CHUNK) {
        const len = Math.min(CHUNK, k - p0);
        const part = await flatten(compile('int8Chunk', SRC.int8Chunk, [n, m], { K: k, P0: p0, L: len }, len)(A, B), m * n);
        for (let i = 0; i < out.length; i++) out[i] = (out[i] ?? 0) + Math.round(part[i] ?? 0);
      }
      return tensor('int32', [m, n], out);
    },
    BinaryMatMul: async ({ a, b }, { k }) => {
      const m = a.shape[0] ?? 0, n = b.shape[0] ?? 0, h = 2 * binaryWords(k);
      const out = await flatten(compile('binary', SRC.binary, [n, m], { H: h, K: k }, h)(halves(a.data), halves(b.data)), m * n);
      return tensor('int32', [m, n], Int32Array.from(out));
    },
    TernaryMatMul: async ({ x, w }, { k, format, scale }) => {
      if (format !== 'i2s') throw gap('TernaryMatMul', `format '${format}'`);
      const m = x.shape[0] ?? 0, n = w.shape[0] ?? 0;
      const out = await flatten(compile('ternary', SRC.ternary, [n, m], { K: k, B: i2sBytes(k), S: scale }, k)(f32(x), f32(w)), m * n);
      return x.dtype === 'int8' ? tensor('int32', [m, n], Int32Array.from(out, (v) => Math.round(v))) : tensor('float32', [m, n], out);
    },
  };
}

function transposeF32(b: Float32Array, k: number, n: number): Float32Array {
  const t = new Float32Array(k * n);
  for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) t[j * k + p] = b[p * n + j] ?? 0;
  return t;
}

function gap(op: string, what: string): BitlensError {
  return new BitlensError('KERNEL_NOT_FOUND', { stage: 'backend-gpujs', field: op, expected: "TernaryMatMul with format 'i2s'", found: what });
}
