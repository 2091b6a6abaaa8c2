import { BitlensError } from '@bitlens/core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { Tf } from '../init.js';
import { overrideKernel } from './overrides.js';

/**
 * On the tfjs wasm backend, replaces the `BatchMatMul` kernel by one that transposes its operands explicitly (the
 * `Transpose` kernel) and then runs the plain, untransposed product. tfjs-wasm's `matMul` with `transposeA` or
 * `transposeB` is 10-25x slower than that (measured: [128x3830]^T [3830x512] 311 ms against 12.7 ms plus 1.6 ms for
 * the transpose), and autodiff produces exactly those products for every weight gradient. The values agree with the
 * cpu backend's products to float32 rounding for every transpose combination (tested).
 */
export function installExplicitTransposeMatMul(tf: Tf): void {
  const transposeConfig = tf.getKernel('Transpose', 'wasm');
  if (transposeConfig === undefined || tf.getKernel('BatchMatMul', 'wasm') === undefined) return;
  const transpose = transposeConfig.kernelFunc;
  overrideKernel(tf, 'BatchMatMul', 'wasm', (original) => {
    if (original === undefined) throw new BitlensError('INTERNAL', { stage: 'engine', field: 'BatchMatMul', expected: 'the wasm kernel', found: 'none' });
    const kernelFunc: KernelFunc = (args) => {
      const { inputs, backend, attrs } = args;
      const { transposeA, transposeB } = (attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
      if (transposeA !== true && transposeB !== true) return original(args);
      const a = inputs['a'] as TensorInfo;
      const b = inputs['b'] as TensorInfo;
      const swapLast = (t: TensorInfo): TensorInfo => {
        const r = t.shape.length;
        const perm = Array.from({ length: r }, (_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i));
        return transpose({ inputs: { x: t }, backend, attrs: { perm } }) as TensorInfo;
      };
      const at = transposeA === true ? swapLast(a) : a;
      const bt = transposeB === true ? swapLast(b) : b;
      const out = original({ inputs: { a: at, b: bt }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
      const be = backend as { disposeData(id: object): void };
      if (at !== a) be.disposeData(at.dataId);
      if (bt !== b) be.disposeData(bt.dataId);
      return out;
    };
    return kernelFunc;
  });
}
