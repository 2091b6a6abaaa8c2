import { BitlensError } from '@bitlens/core';
import { availabilityProbe } from '@bitlens/kernels';
import type { Backend, BackendInfo, Kernel, OpName } from '@bitlens/kernels';
import { initTfjsBackend } from '@bitlens/engine';
import type { Tf } from '@bitlens/engine';
import { denseKernels } from './kernels/dense.js';
import { packedWebgpuKernels } from './kernels/packed-webgpu.js';

/** tfjs engines this package has kernels for. */
export type TfjsKernelEngine = 'cpu' | 'wasm' | 'webgpu';

type Kernels = { -readonly [N in OpName]?: Kernel<N> };

/**
 * A kernel backend on one tfjs engine (`tfjs-cpu`, `tfjs-wasm` or `tfjs-webgpu`). The dense kernels are shared;
 * they differ only in `setup()`, which switches the process's tfjs engine through `initTfjsBackend` (a no-op when
 * it is already active). On webgpu the packed `BinaryMatMul` / `TernaryMatMul` are WGSL programs (`TernaryMatMulA8`
 * quantizes and dequantizes on the host around the int8 WGSL product); tfjs cpu and
 * wasm cannot express bit operations, so there they are gaps (KERNEL_NOT_FOUND), listed in KNOWN_GAPS.
 * Kernels are bound lazily: each one calls `setup()` first, so tensors are always made on its own engine.
 */
export function createTfjsKernelBackend(engine: TfjsKernelEngine): Backend {
  let tf: Tf | undefined;
  let description = `tfjs ${engine} (not started)`;
  let dense: ReturnType<typeof denseKernels> | undefined;
  let packed: ReturnType<typeof packedWebgpuKernels> | undefined;

  const setup = async (): Promise<void> => {
    // cheap when this engine is already the active one (every kernel call goes through here)
    if (tf !== undefined && dense !== undefined && tf.getBackend() === engine && (engine !== 'webgpu' || packed !== undefined)) return;
    const started = await initTfjsBackend(engine);
    tf = started.tf;
    description = `tfjs ${started.info.description}`;
    dense ??= denseKernels(tf);
    if (engine === 'webgpu' && packed === undefined) {
      const { webgpu_util } = (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as { webgpu_util: Parameters<typeof packedWebgpuKernels>[1] };
      packed = packedWebgpuKernels(tf, webgpu_util);
    }
  };
  const bind = <N extends OpName>(op: N, pick: () => Kernel<N> | undefined): Kernel<N> => async (inputs, attrs) => {
    await setup();
    const k = pick();
    if (k === undefined) throw new BitlensError('INTERNAL', { stage: `kernels-tfjs/${engine}`, field: op, expected: 'a bound kernel after setup', found: 'none' });
    return k(inputs, attrs);
  };
  const kernels: Kernels = {
    MatMul: bind('MatMul', () => dense?.MatMul),
    Softmax: bind('Softmax', () => dense?.Softmax),
    ClippedSoftmax: bind('ClippedSoftmax', () => dense?.ClippedSoftmax),
    FourierProjection: bind('FourierProjection', () => dense?.FourierProjection),
    QuantizeTernary: bind('QuantizeTernary', () => dense?.QuantizeTernary),
    QuantizeBinary: bind('QuantizeBinary', () => dense?.QuantizeBinary),
    Dequantize: bind('Dequantize', () => dense?.Dequantize),
    Int8MatMul: bind('Int8MatMul', () => dense?.Int8MatMul),
  };
  if (engine === 'webgpu') {
    kernels.BinaryMatMul = bind('BinaryMatMul', () => packed?.BinaryMatMul);
    kernels.TernaryMatMul = bind('TernaryMatMul', () => packed?.TernaryMatMul);
    kernels.TernaryMatMulA8 = bind('TernaryMatMulA8', () => packed?.TernaryMatMulA8);
  }
  return {
    name: `tfjs-${engine}`,
    kernels,
    ...availabilityProbe(setup),
    setup,
    info: (): BackendInfo => ({ description, threads: 1 }), // tfjs-wasm threads are off in Node; cpu is JS; webgpu: device
  };
}
