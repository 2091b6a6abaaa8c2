import { BitlensError } from '@bitlens/core';
import { binaryWords, i2sBytes, tensor } from '@bitlens/kernels';
import type { HostTensor } from '@bitlens/kernels';
import { Arena } from './module.js';
import type { PackedExports } from './module.js';

/** An op whose operands are already in wasm memory: `run()` computes only, `read()` copies the result out. */
export interface PreparedOp<T extends HostTensor> {
  /** Runs the kernel alone (operands resident; no copies). */
  run(): void;
  /** Copies the output out of wasm memory. */
  read(): T;
}

/**
 * Places two bit-packed operands in wasm memory for `BinaryMatMul` (rows padded to 16-byte strides with zero
 * words, which add nothing to popcount(a XOR b)).
 */
export function prepareBinaryMatMul(mod: PackedExports, a: HostTensor<'uint32'>, b: HostTensor<'uint32'>, k: number): PreparedOp<HostTensor<'int32'>> {
  const m = a.shape[0] ?? 0, n = b.shape[0] ?? 0, words = binaryWords(k), strideWords = Math.ceil(words / 4) * 4;
  const arena = new Arena(mod);
  const pa = arena.alloc(m * strideWords * 4), pb = arena.alloc(n * strideWords * 4), po = arena.alloc(m * n * 4);
  const mem = new Uint32Array(mod.memory.buffer);
  mem.fill(0, pa >>> 2, (pb >>> 2) + n * strideWords);
  for (let r = 0; r < m; r++) mem.set(a.data.subarray(r * words, (r + 1) * words), (pa >>> 2) + r * strideWords);
  for (let r = 0; r < n; r++) mem.set(b.data.subarray(r * words, (r + 1) * words), (pb >>> 2) + r * strideWords);
  return {
    run: () => mod.binaryGemm(pa, pb, po, m, n, strideWords * 4, k),
    read: () => tensor('int32', [m, n], new Int32Array(mod.memory.buffer, po, m * n).slice()),
  };
}

/**
 * Places int8 or float32 activations and I2_S weights in wasm memory for `TernaryMatMul`. Activations are permuted
 * per 64-value block to match the I2_S lanes (see `ternaryGemmI8` in assembly/packed.ts) and padded with zeros.
 */
export function prepareTernaryMatMul(
  mod: PackedExports, x: HostTensor<'float32'> | HostTensor<'int8'>, w: HostTensor<'uint8'>, k: number, scale: number,
): PreparedOp<HostTensor<'float32'> | HostTensor<'int32'>> {
  const m = x.shape[0] ?? 0, n = w.shape[0] ?? 0, bytes = i2sBytes(k), kp = bytes * 4;
  const arena = new Arena(mod);
  const pw = arena.alloc(n * bytes), po = arena.alloc(m * n * 4);
  if (x.dtype === 'int8') {
    const px = arena.alloc(m * kp);
    const xm = new Int8Array(mod.memory.buffer, px, m * kp), xd = x.data;
    xm.fill(0);
    for (let r = 0; r < m; r++) {
      for (let p = 0; p < k; p++) {
        const blk = p >>> 6, q = p & 63; // value at 4l + g goes to g*16 + l
        xm[r * kp + blk * 64 + (q & 3) * 16 + (q >>> 2)] = xd[r * k + p] ?? 0;
      }
    }
    new Uint8Array(mod.memory.buffer, pw, n * bytes).set(w.data);
    const relaxed = mod.ternaryGemmI8Relaxed;
    if (relaxed !== undefined) {
      const ps = arena.alloc(m * 4), sums = new Int32Array(mod.memory.buffer, ps, m);
      for (let r = 0; r < m; r++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += xd[r * k + p] ?? 0;
        sums[r] = s;
      }
      return {
        run: () => relaxed(px, pw, po, ps, m, n, bytes),
        read: () => tensor('int32', [m, n], new Int32Array(mod.memory.buffer, po, m * n).slice()),
      };
    }
    return {
      run: () => mod.ternaryGemmI8(px, pw, po, m, n, bytes),
      read: () => tensor('int32', [m, n], new Int32Array(mod.memory.buffer, po, m * n).slice()),
    };
  }
  const px = arena.alloc(m * kp * 4), tmp = arena.alloc(kp * 4);
  const xm = new Float32Array(mod.memory.buffer, px, m * kp), xd = x.data;
  xm.fill(0);
  for (let r = 0; r < m; r++) {
    for (let p = 0; p < k; p++) {
      const blk = p >>> 6, q = p & 63; // same per-block permutation as the int8 path: value at 4l + g goes to g*16 + l
      xm[r * kp + blk * 64 + (q & 3) * 16 + (q >>> 2)] = xd[r * k + p] ?? 0;
    }
  }
  new Uint8Array(mod.memory.buffer, pw, n * bytes).set(w.data);
  return {
    run: () => mod.ternaryGemmF32(px, pw, po, tmp, m, n, bytes, scale),
    read: () => tensor('float32', [m, n], new Float32Array(mod.memory.buffer, po, m * n).slice()),
  };
}

/** @internal Rejects a layout this module has no kernel for. */
export function noKernel(field: string, found: string): BitlensError {
  return new BitlensError('KERNEL_NOT_FOUND', { stage: 'kernels-wasm', field, expected: "TernaryMatMul with format 'i2s'", found });
}
