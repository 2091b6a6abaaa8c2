import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs';
import type { Tf } from '../init.js';

/**
 * tfjs's own kernel configs that bitlens replaced, by `<backend>/<kernel>`, so that they can be put back. tfjs has
 * one kernel registry per process, so this is process state too (the engine layer is the one place that holds it).
 */
const stock = new Map<string, KernelConfig | undefined>();

/**
 * Registers `make(original)` as the kernel `kernelName` of `backendName` (or a new kernel when tfjs has none: then
 * `original` is undefined). Idempotent: a kernel already replaced is left as it is.
 */
export function overrideKernel(tf: Tf, kernelName: string, backendName: string, make: (original: KernelFunc | undefined) => KernelFunc): void {
  const id = `${backendName}/${kernelName}`;
  if (stock.has(id)) return;
  const current = tf.getKernel(kernelName, backendName);
  stock.set(id, current);
  if (current !== undefined) tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({ ...(current ?? {}), kernelName, backendName, kernelFunc: make(current?.kernelFunc) });
}

/** Puts tfjs's own kernels back (and removes kernels tfjs did not have). */
export function restoreStockKernels(tf: Tf): void {
  for (const [id, original] of stock) {
    const [backendName = '', kernelName = ''] = id.split('/');
    tf.unregisterKernel(kernelName, backendName);
    if (original !== undefined) tf.registerKernel(original);
  }
  stock.clear();
}

/** Whether bitlens replaced (or added) this kernel. */
export function isOverridden(kernelName: string, backendName: string): boolean {
  return stock.has(`${backendName}/${kernelName}`);
}
