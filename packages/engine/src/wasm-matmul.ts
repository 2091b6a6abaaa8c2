import type { Tf } from './init.js';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

const MARK = Symbol.for('bitlens.explicitTransposeMatMul');

/**
 * On the tfjs wasm backend, replaces the `BatchMatMul` kernel by one that transposes its operands explicitly (the
 * `Transpose` kernel) and then runs the plain, untransposed product. tfjs-wasm's `matMul` with `transposeA` or
 * `transposeB` is 10-25x slower than that (docs/platform.md), and autodiff produces exactly those products for every
 * weight gradient. The values agree with the cpu backend's products to float32 rounding for every transpose
 * combination (`parity.test.ts`).
 *
 * Process-wide (tfjs has one kernel registry per engine) and idempotent; a no-op on any other backend. Returns
 * whether the override is active.
 */
export function useExplicitTransposeMatMul(tf: Tf): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  const current = tf.getKernel('BatchMatMul', 'wasm') as (KernelConfig & { [MARK]?: true }) | undefined;
  if (current === undefined) return false;
  if (current[MARK] === true) return true;
  const original = current.kernelFunc;
  const transposeConfig = tf.getKernel('Transpose', 'wasm');
  if (transposeConfig === undefined) return false;
  const transpose = transposeConfig.kernelFunc;
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
  tf.unregisterKernel('BatchMatMul', 'wasm');
  const replacement = { ...current, kernelFunc, [MARK]: true as const };
  tf.registerKernel(replacement);
  return true;
}
