import type { Backend, HostTensor, Kernel } from './ops.js';
import { fourierBasis } from './fourier.js';
import { binaryWords, i2sBytes } from './packing.js';
import { activationInt8Host, binaryScaledHost, binaryUncentredHost, ternaryAbsmeanHost } from './quantizers.js';
import { sizeOf, tensor } from './tensor.js';

/** Population count of a 32-bit word (SWAR). */
export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

const dims = (t: HostTensor): [number, number] => [t.shape[0] ?? 0, t.shape[1] ?? 0];

const matMul: Kernel<'MatMul'> = async ({ a, b }, { transposeB }) => {
  const [m, k] = dims(a), n = transposeB ? (b.shape[0] ?? 0) : (b.shape[1] ?? 0);
  const out = new Float32Array(m * n), ad = a.data, bd = b.data;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0; // float64 accumulation: the oracle is more precise than any fp32 backend
      for (let p = 0; p < k; p++) s += (ad[i * k + p] ?? 0) * (transposeB ? (bd[j * k + p] ?? 0) : (bd[p * n + j] ?? 0));
      out[i * n + j] = s;
    }
  }
  return tensor('float32', [m, n], out);
};

function softmaxRows(x: HostTensor<'float32'>, map: (p: number) => number): HostTensor<'float32'> {
  const n = x.shape[x.shape.length - 1] ?? 1, rows = sizeOf(x.shape) / n, out = new Float32Array(x.data.length);
  const e = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity, sum = 0;
    for (let j = 0; j < n; j++) max = Math.max(max, x.data[r * n + j] ?? 0);
    for (let j = 0; j < n; j++) { e[j] = Math.exp((x.data[r * n + j] ?? 0) - max); sum += e[j] ?? 0; }
    for (let j = 0; j < n; j++) out[r * n + j] = map((e[j] ?? 0) / sum);
  }
  return tensor('float32', x.shape, out);
}

const softmax: Kernel<'Softmax'> = async ({ x }) => softmaxRows(x, (p) => p);
const clippedSoftmax: Kernel<'ClippedSoftmax'> = async ({ x }, { zeta, gamma }) =>
  softmaxRows(x, (p) => Math.min(1, Math.max(0, (zeta - gamma) * p + gamma)));

const fourierProjection: Kernel<'FourierProjection'> = async ({ x }, { p }) => {
  const f = fourierBasis(p), d = x.shape[1] ?? 0, out = new Float32Array(p * d);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let q = 0; q < p; q++) s += (f[i * p + q] ?? 0) * (x.data[q * d + j] ?? 0);
      out[i * d + j] = s;
    }
  }
  return tensor('float32', [p, d], out);
};

// the formulas live in quantizers.ts (one home, shared with @bitlens/quantization's host path)
const quantizeTernary: Kernel<'QuantizeTernary'> = async ({ w }, { eps }) => {
  const { codes, scale } = ternaryAbsmeanHost(w.data, eps);
  return { codes: tensor('int8', w.shape, codes), scale: tensor('float32', [1], [scale]) };
};

const quantizeBinary: Kernel<'QuantizeBinary'> = async ({ w }, { center }) => {
  const { codes, scale } = (center ? binaryScaledHost : binaryUncentredHost)(w.data);
  return { codes: tensor('int8', w.shape, codes), scale: tensor('float32', [1], [scale]) };
};

const dequantize: Kernel<'Dequantize'> = async ({ codes, scale }) => {
  const out = new Float32Array(codes.data.length), perRow = scale.data.length > 1 ? codes.data.length / scale.data.length : 0;
  for (let i = 0; i < out.length; i++) out[i] = (codes.data[i] ?? 0) * (scale.data[perRow === 0 ? 0 : Math.floor(i / perRow)] ?? 0);
  return tensor('float32', codes.shape, out);
};

const int8MatMul: Kernel<'Int8MatMul'> = async ({ a, b }, { transposeB }) => {
  const [m, k] = dims(a), n = transposeB ? (b.shape[0] ?? 0) : (b.shape[1] ?? 0), out = new Int32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (a.data[i * k + p] ?? 0) * (transposeB ? (b.data[j * k + p] ?? 0) : (b.data[p * n + j] ?? 0));
      out[i * n + j] = s;
    }
  }
  return tensor('int32', [m, n], out);
};

const binaryMatMul: Kernel<'BinaryMatMul'> = async ({ a, b }, { k }) => {
  const m = a.shape[0] ?? 0, n = b.shape[0] ?? 0, w = binaryWords(k), out = new Int32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let c = 0;
      for (let q = 0; q < w; q++) c += popcount32(((a.data[i * w + q] ?? 0) ^ (b.data[j * w + q] ?? 0)) >>> 0);
      out[i * n + j] = k - 2 * c;
    }
  }
  return tensor('int32', [m, n], out);
};

/** Decodes one packed ternary weight row into `into` (length k). */
function decodeRow(w: HostTensor, format: 'i2s' | 'planes', k: number, row: number, into: Int8Array): void {
  if (format === 'i2s') {
    const bytes = i2sBytes(k), base = row * bytes;
    for (let j = 0; j < k; j++) into[j] = ((((w.data[base + (j >>> 2)] ?? 0) >>> (6 - 2 * (j & 3))) & 3) - 1);
  } else {
    const words = binaryWords(k), base = row * 2 * words;
    for (let j = 0; j < k; j++) {
      const sh = j & 31, m = ((w.data[base + (j >>> 5)] ?? 0) >>> sh) & 1, s = ((w.data[base + words + (j >>> 5)] ?? 0) >>> sh) & 1;
      into[j] = m === 0 ? 0 : s === 1 ? -1 : 1;
    }
  }
}

const ternaryMatMul: Kernel<'TernaryMatMul'> = async ({ x, w }, { k, format, scale }) => {
  const m = x.shape[0] ?? 0, n = w.shape[0] ?? 0, code = new Int8Array(k);
  const out = x.dtype === 'int8' ? new Int32Array(m * n) : new Float32Array(m * n);
  for (let j = 0; j < n; j++) {
    decodeRow(w, format, k, j, code);
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (x.data[i * k + p] ?? 0) * (code[p] ?? 0);
      out[i * n + j] = x.dtype === 'int8' ? s : s * scale;
    }
  }
  return x.dtype === 'int8' ? tensor('int32', [m, n], out as Int32Array) : tensor('float32', [m, n], out as Float32Array);
};

const ternaryMatMulA8: Kernel<'TernaryMatMulA8'> = async ({ x, w }, { k, scale }) => {
  const m = x.shape[0] ?? 0, n = w.shape[0] ?? 0, code = new Int8Array(k), out = new Float32Array(m * n);
  const { codes, scales } = activationInt8Host(x.data, m, k);
  const factor = Float32Array.from(scales, (s) => scale / s); // one float32 rounding of scale / s_i per row
  for (let j = 0; j < n; j++) {
    decodeRow(w, 'i2s', k, j, code);
    for (let i = 0; i < m; i++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += (codes[i * k + p] ?? 0) * (code[p] ?? 0);
      out[i * n + j] = acc * (factor[i] ?? 0);
    }
  }
  return tensor('float32', [m, n], out);
};

/**
 * The plain-TypeScript backend: implements every op, accumulating in float64, and is the oracle the conformance
 * suite compares every other backend against. Holds no state; always available.
 */
export const reference: Backend = {
  name: 'reference',
  kernels: {
    MatMul: matMul, Softmax: softmax, ClippedSoftmax: clippedSoftmax, FourierProjection: fourierProjection,
    QuantizeTernary: quantizeTernary, QuantizeBinary: quantizeBinary, Dequantize: dequantize,
    Int8MatMul: int8MatMul, BinaryMatMul: binaryMatMul, TernaryMatMul: ternaryMatMul, TernaryMatMulA8: ternaryMatMulA8,
  },
  isAvailable: async () => true,
  setup: async () => {},
  info: () => ({ description: 'reference (plain TypeScript, float64 accumulation)', threads: 1 }),
};
