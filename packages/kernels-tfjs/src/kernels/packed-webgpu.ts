import { activationInt8Host, binaryWords, i2sBytes, tensor } from '@bitlens/kernels';
import type { HostTensor, Kernel } from '@bitlens/kernels';
import type { Tf } from '@bitlens/engine';
import { readFloat, readInt } from './dense.js';

type TfTensor = ReturnType<Tf['tensor']>;
type TensorInfo = { readonly dataId: object; readonly shape: number[]; readonly dtype: string };

/** The part of tfjs-backend-webgpu's program interface used here (kept structural: no @webgpu/types needed). */
interface Program {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  size: boolean;
  uniforms: string;
  getUserCode(): string;
}
interface WebGpuBackendLike {
  runWebGPUProgram(program: Program, inputs: TensorInfo[], outputDtype: 'float32' | 'int32', uniforms?: { type: 'int32' | 'float32'; data: number[] }[]): TensorInfo;
}
interface WebGpuUtil {
  flatDispatchLayout(shape: number[]): { x: number[] };
  computeDispatch(layout: { x: number[] }, shape: number[], workgroup: [number, number, number]): [number, number, number];
}

function program(util: WebGpuUtil, key: string, names: string[], outputShape: number[], uniforms: string, body: string): Program {
  const workgroupSize: [number, number, number] = [64, 1, 1];
  const dispatchLayout = util.flatDispatchLayout(outputShape);
  return {
    variableNames: names, outputShape, shaderKey: key, dispatchLayout, workgroupSize, size: true, uniforms,
    dispatch: util.computeDispatch(dispatchLayout, outputShape, workgroupSize),
    getUserCode: () => body,
  };
}

/** Words of a uint8 / uint32 host tensor as an int32 tfjs tensor (the same bytes, little-endian). */
function words(tf: Tf, t: HostTensor<'uint8'> | HostTensor<'uint32'>, shape: [number, number]): TfTensor {
  const d = t.data;
  return tf.tensor(new Int32Array(d.buffer, d.byteOffset, d.byteLength / 4), shape, 'int32');
}

/**
 * Packed kernels for tfjs-webgpu as WGSL programs run through the backend (`runWebGPUProgram`), one output per
 * invocation: XNOR-popcount with `countOneBits`, and ternary I2_S / two-plane decoding with shifts and masks.
 */
export function packedWebgpuKernels(tf: Tf, util: WebGpuUtil): { BinaryMatMul: Kernel<'BinaryMatMul'>; TernaryMatMul: Kernel<'TernaryMatMul'>; TernaryMatMulA8: Kernel<'TernaryMatMulA8'> } {
  const gpu = (): WebGpuBackendLike => tf.backend() as unknown as WebGpuBackendLike;
  const run = (p: Program, inputs: TfTensor[], dtype: 'float32' | 'int32', uniforms: { type: 'int32' | 'float32'; data: number[] }[]): TfTensor => {
    const info = gpu().runWebGPUProgram(p, inputs as unknown as TensorInfo[], dtype, uniforms);
    return tf.engine().makeTensorFromTensorInfo(info as never) as TfTensor;
  };
  const kernels: { BinaryMatMul: Kernel<'BinaryMatMul'>; TernaryMatMul: Kernel<'TernaryMatMul'> } = {
    BinaryMatMul: async ({ a, b }, { k }) => {
      const m = a.shape[0] ?? 0, n = b.shape[0] ?? 0, w = binaryWords(k);
      const A = words(tf, a, [m, w]), B = words(tf, b, [n, w]);
      const p = program(util, 'bitlens_binary_matmul', ['A', 'B'], [m, n], 'K : i32, W : i32, N : i32', `
        ${mainHeader()} {
          if (index < uniforms.size) {
            let row = index / uniforms.N;
            let col = index % uniforms.N;
            var c = 0u;
            for (var q = 0; q < uniforms.W; q++) {
              c += countOneBits(bitcast<u32>(A[row * uniforms.W + q]) ^ bitcast<u32>(B[col * uniforms.W + q]));
            }
            setOutputAtIndexI32(index, uniforms.K - 2 * i32(c));
          }
        }`);
      const out = run(p, [A, B], 'int32', [{ type: 'int32', data: [k] }, { type: 'int32', data: [w] }, { type: 'int32', data: [n] }]);
      A.dispose(); B.dispose();
      return tensor('int32', [m, n], await readInt(out));
    },
    TernaryMatMul: async ({ x, w }, { k, format, scale }) => {
      const m = x.shape[0] ?? 0, n = w.shape[0] ?? 0;
      const X = tf.tensor(x.dtype === 'float32' ? x.data : Float32Array.from(x.data), [m, k], 'float32');
      const wordsPerRow = format === 'i2s' ? i2sBytes(k) / 4 : 2 * binaryWords(k);
      const Wt = words(tf, w as HostTensor<'uint8'> | HostTensor<'uint32'>, [n, wordsPerRow]);
      // one packed word per iteration (16 I2_S weights or 32 plane bits), its weights unrolled by the inner loop
      const body = format === 'i2s'
        ? `for (var q = 0; q < uniforms.WR; q++) {
             let word = bitcast<u32>(Wt[wRow + q]);
             let base = q * 16;
             for (var t = 0; t < 16; t++) {
               let p = base + t;
               if (p < uniforms.K) {
                 // byte t / 4 of the word (little-endian), weight t % 4 of it from the high bits
                 let c = i32((word >> (8u * u32(t >> 2) + 6u - 2u * u32(t & 3))) & 3u) - 1;
                 s += X[xRow + p] * f32(c);
               }
             }
           }`
        : `let half = uniforms.WR / 2;
           for (var q = 0; q < half; q++) {
             let mk = bitcast<u32>(Wt[wRow + q]);
             let sg = bitcast<u32>(Wt[wRow + half + q]);
             let base = q * 32;
             for (var t = 0; t < 32; t++) {
               let p = base + t;
               if (p < uniforms.K) {
                 let c = f32(i32((mk >> u32(t)) & 1u)) * (1.0 - 2.0 * f32(i32((sg >> u32(t)) & 1u)));
                 s += X[xRow + p] * c;
               }
             }
           }`;
      const p = program(util, `bitlens_ternary_matmul_${format}`, ['X', 'Wt'], [m, n], 'K : i32, WR : i32, N : i32, S : f32', `
        ${mainHeader()} {
          if (index < uniforms.size) {
            let row = index / uniforms.N;
            let col = index % uniforms.N;
            let xRow = row * uniforms.K;
            let wRow = col * uniforms.WR;
            var s = 0.0;
            ${body}
            setOutputAtIndex(index, s * uniforms.S);
          }
        }`);
      const out = run(p, [X, Wt], 'float32', [{ type: 'int32', data: [k] }, { type: 'int32', data: [wordsPerRow] }, { type: 'int32', data: [n] }, { type: 'float32', data: [scale] }]);
      X.dispose(); Wt.dispose();
      // int8 activations: the float32 sums are integers below 2^24 (|x| <= 128, k < 2^17), so exact
      return x.dtype === 'int8' ? tensor('int32', [m, n], await readInt(out)) : tensor('float32', [m, n], await readFloat(out));
    },
  };
  // W1.58A8: the activation rows are quantized on the host (the @bitlens/kernels formula), the exact int8 product runs
  // in the WGSL kernel above, the dequantization on the host (one float32 rounding, as the op defines)
  const a8: Kernel<'TernaryMatMulA8'> = async ({ x, w }, { k, scale }) => {
    const m = x.shape[0] ?? 0, n = w.shape[0] ?? 0, { codes, scales } = activationInt8Host(x.data, m, k);
    const acc = await kernels.TernaryMatMul({ x: tensor('int8', [m, k], codes), w }, { k, format: 'i2s', scale: 1 });
    const factor = Float32Array.from(scales, (s) => scale / s), out = new Float32Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[i * n + j] = (acc.data[i * n + j] ?? 0) * (factor[i] ?? 0);
    return tensor('float32', [m, n], out);
  };
  return { ...kernels, TernaryMatMulA8: a8 };
}

function mainHeader(): string {
  return 'fn main(index : i32)';
}
