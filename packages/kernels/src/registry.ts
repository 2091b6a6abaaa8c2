import { BitlensError } from '@bitlens/core';
import type { Backend, BackendName, OpAttrs, OpInputs, OpName, OpOutput } from './ops.js';
import { checkShapes } from './shapes.js';

/** Runs ops on named backends; see `createKernelRegistry`. */
export interface KernelRegistry {
  /** The registered backends, in registration order. */
  readonly backends: readonly Backend[];
  /** Whether `on` has a kernel for `op` (no setup, no throw). */
  has(op: OpName, on: BackendName): boolean;
  /**
   * Checks shapes, starts the backend (idempotent) and runs `op` there; resolves once the result is in host memory.
   * @throws BitlensError SHAPE_MISMATCH before any backend runs; BACKEND_UNAVAILABLE for an unregistered backend;
   *   KERNEL_NOT_FOUND when the backend has no kernel for the op (never a silent fallback).
   */
  run<N extends OpName>(op: N, inputs: OpInputs<N>, attrs: OpAttrs<N>, on: BackendName): Promise<OpOutput<N>>;
}

/**
 * Builds a registry over explicit backends (nothing registers itself at import time).
 * @example const out = await createKernelRegistry([reference]).run('MatMul', { a, b }, { transposeB: false }, 'reference');
 */
export function createKernelRegistry(backends: readonly Backend[]): KernelRegistry {
  const find = (on: BackendName): Backend => {
    const backend = backends.find((b) => b.name === on);
    if (backend === undefined) {
      throw new BitlensError('BACKEND_UNAVAILABLE', { stage: 'kernels/registry', field: 'backend', expected: `one of ${backends.map((b) => b.name).join(', ') || '(none registered)'}`, found: on });
    }
    return backend;
  };
  return {
    backends,
    has: (op, on) => backends.find((b) => b.name === on)?.kernels[op] !== undefined,
    async run<N extends OpName>(op: N, inputs: OpInputs<N>, attrs: OpAttrs<N>, on: BackendName): Promise<OpOutput<N>> {
      checkShapes(op, inputs, attrs);
      const backend = find(on);
      const kernel = backend.kernels[op];
      if (kernel === undefined) {
        throw new BitlensError('KERNEL_NOT_FOUND', { stage: 'kernels/registry', field: op, expected: `a kernel for '${op}' on '${on}'`, found: 'none (listed in KNOWN_GAPS?)' });
      }
      await backend.setup();
      return kernel(inputs, attrs);
    },
  };
}
