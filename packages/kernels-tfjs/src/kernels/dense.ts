import { fourierBasis, tensor } from '@bitlens/kernels';
import type { HostTensor, Kernel, OpName } from '@bitlens/kernels';
import type { Tf } from '@bitlens/engine';

type TfTensor = ReturnType<Tf['tensor']>;

/** Reads a tensor back to host memory and disposes it (never from inside `tf.tidy`: see docs/platform.md). */
export async function readFloat(t: TfTensor): Promise<Float32Array> {
  try {
    const d = await t.data();
    return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
  } finally {
    t.dispose();
  }
}

/** Reads an integer-valued tensor back as int32 (values are rounded, so float results of exact sums stay exact). */
export async function readInt(t: TfTensor): Promise<Int32Array> {
  const f = await readFloat(t);
  const out = new Int32Array(f.length);
  for (let i = 0; i < f.length; i++) out[i] = Math.round(f[i] ?? 0);
  return out;
}

const asFloat = (tf: Tf, t: HostTensor): TfTensor => tf.tensor(t.dtype === 'float32' ? (t.data as Float32Array) : Float32Array.from(t.data as ArrayLike<number>), [...t.shape], 'float32');

// int8 products summed over at most 1024 terms stay below 2^24 (1024 * 128 * 128 = 2^24), exact in float32
const INT8_CHUNK = 1024;

/** The dense (non-packed) kernels, shared by tfjs cpu, wasm and webgpu: written against the tf API only. */
export function denseKernels(tf: Tf): { readonly [N in Exclude<OpName, 'BinaryMatMul' | 'TernaryMatMul' | 'TernaryMatMulA8'>]: Kernel<N> } {
  return {
    MatMul: async ({ a, b }, { transposeB }) => {
      // an explicit transpose: tfjs-wasm's matMul with transposeB is 10-25x slower (docs/platform.md)
      const out = tf.tidy(() => tf.matMul(asFloat(tf, a), transposeB ? tf.transpose(asFloat(tf, b)) : asFloat(tf, b)));
      return tensor('float32', out.shape, await readFloat(out));
    },
    Softmax: async ({ x }) => tensor('float32', x.shape, await readFloat(tf.tidy(() => tf.softmax(asFloat(tf, x))))),
    ClippedSoftmax: async ({ x }, { zeta, gamma }) =>
      tensor('float32', x.shape, await readFloat(tf.tidy(() => tf.clipByValue(tf.add(tf.mul(tf.softmax(asFloat(tf, x)), zeta - gamma), gamma), 0, 1)))),
    FourierProjection: async ({ x }, { p }) => {
      const f = Float32Array.from(fourierBasis(p));
      return tensor('float32', x.shape, await readFloat(tf.tidy(() => tf.matMul(tf.tensor2d(f, [p, p]), asFloat(tf, x)))));
    },
    QuantizeTernary: async ({ w }, { eps }) => {
      const [codes, gamma] = tf.tidy(() => {
        const x = asFloat(tf, w), g = tf.mean(tf.abs(x));
        return [tf.clipByValue(tf.round(tf.div(x, tf.add(g, eps))), -1, 1), g] as const; // tf.round rounds half to even
      });
      const c = await readInt(codes), s = await readFloat(gamma);
      return { codes: tensor('int8', w.shape, Int8Array.from(c)), scale: tensor('float32', [1], s) };
    },
    QuantizeBinary: async ({ w }, { center }) => {
      const [codes, scale] = tf.tidy(() => {
        const x = asFloat(tf, w), shifted = center ? tf.sub(x, tf.mean(x)) : x;
        return [tf.where(tf.greater(shifted, 0), tf.onesLike(x), tf.fill(x.shape, -1)), tf.mean(tf.abs(x))] as const;
      });
      const c = await readInt(codes), s = await readFloat(scale);
      return { codes: tensor('int8', w.shape, Int8Array.from(c)), scale: tensor('float32', [1], s) };
    },
    Dequantize: async ({ codes, scale }) => {
      const out = tf.tidy(() => {
        const c = asFloat(tf, codes), s = asFloat(tf, scale);
        if (scale.data.length === 1 || codes.shape.length === 0) return tf.mul(c, tf.reshape(s, []));
        return tf.mul(c, tf.reshape(s, [scale.data.length, ...codes.shape.slice(1).map(() => 1)]));
      });
      return tensor('float32', codes.shape, await readFloat(out));
    },
    Int8MatMul: async ({ a, b }, { transposeB }) => {
      const m = a.shape[0] ?? 0, k = a.shape[1] ?? 0, n = transposeB ? (b.shape[0] ?? 0) : (b.shape[1] ?? 0);
      const out = tf.tidy(() => {
        const A = asFloat(tf, a), B = transposeB ? tf.transpose(asFloat(tf, b)) : asFloat(tf, b);
        let acc = tf.zeros([m, n], 'int32');
        for (let p = 0; p < k; p += INT8_CHUNK) {
          const len = Math.min(INT8_CHUNK, k - p);
          const part = tf.matMul(tf.slice(A, [0, p], [m, len]), tf.slice(B, [p, 0], [len, n]));
          acc = tf.add(acc, tf.cast(tf.round(part), 'int32'));
        }
        return acc;
      });
      return tensor('int32', [m, n], await readInt(out));
    },
  };
}
