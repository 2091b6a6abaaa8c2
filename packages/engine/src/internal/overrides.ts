import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import type { Tf } from '../init.js';

/**
 * tfjs's own kernel configs that bitlens replaced, by `<backend>/<kernel>`, so that they can be put back. tfjs has
 * one kernel registry per process, so this is process state too (the engine layer is the one place that holds it).
 */
const stock = new Map<string, KernelConfig | undefined>();

/**
 * Registers `make(current)` as the kernel `kernelName` of `backendName`, where `current` is the kernel registered now
 * (tfjs's, or a replacement installed before this one, which the new one may fall back to), or undefined when there
 * is none. `restoreStockKernels` puts tfjs's own back.
 */
export function overrideKernel(tf: Tf, kernelName: string, backendName: string, make: (current: KernelFunc | undefined) => KernelFunc): void {
  const id = `${backendName}/${kernelName}`;
  const current = tf.getKernel(kernelName, backendName);
  if (!stock.has(id)) stock.set(id, current);
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
