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
 * Places two bit-packed operands in wasm memory for `BinaryMatMul` (the table-lookup kernel, assembly/binary.ts).
 * `run()` includes regrouping both operands into nibble layouts (O((m + n) k), as every real call would) and the GEMM.
 */
export function prepareBinaryMatMul(mod: PackedExports, a: HostTensor<'uint32'>, b: HostTensor<'uint32'>, k: number): PreparedOp<HostTensor<'int32'>> {
  const m = a.shape[0] ?? 0, n = b.shape[0] ?? 0, bytes = binaryWords(k) * 4, nq = 2 * bytes, nb = Math.ceil(n / 16);
  const arena = new Arena(mod);
  const pa = arena.alloc(m * bytes), pb = arena.alloc(n * bytes), ao = arena.alloc(m * nq), bn = arena.alloc(nb * 16 * nq);
  const lut = arena.alloc(256), scratch = arena.alloc(256), po = arena.alloc(m * nb * 64);
  new Uint32Array(mod.memory.buffer, pa, a.data.length).set(a.data);
  new Uint32Array(mod.memory.buffer, pb, b.data.length).set(b.data);
  mod.popcountTables(lut);
  return {
    run: () => {
      mod.nibbleOffsets(pa, bytes, bytes, m, ao);
      mod.nibbleBlocks(pb, bytes, bytes, n, bn);
      mod.binaryGemmLut(ao, bn, lut, po, scratch, m, nb, nq, k);
    },
    read: () => {
      const all = new Int32Array(mod.memory.buffer, po, m * nb * 16);
      if (nb * 16 === n) return tensor('int32', [m, n], all.slice());
      const out = new Int32Array(m * n);
      for (let r = 0; r < m; r++) out.set(all.subarray(r * nb * 16, r * nb * 16 + n), r * n);
      return tensor('int32', [m, n], out);
    },
  };
}

/**
 * Weight rows per block of the ternary int8 GEMM (outer loop; every activation row passes each block once): as many as
 * fit in 128 KB of decoded codes (128 rows at k = 1024, all 512 at k = 128), so a block stays in L2 and short rows
 * do not stream the activations once per 128 weight rows.
 */
const ternaryBlockRows = (kq: number): number => Math.max(4, Math.floor(131072 / kq / 4) * 4);

function prepareTernaryI8(mod: PackedExports, x: HostTensor<'int8'>, w: HostTensor<'uint8'>, k: number): PreparedOp<HostTensor<'int32'>> {
  const m = x.shape[0] ?? 0, n = w.shape[0] ?? 0, bytes = i2sBytes(k), kq = Math.ceil(k / 16) * 16;
  const arena = new Arena(mod);
  const pw = arena.alloc(n * bytes), pu = arena.alloc(n * kq), px = arena.alloc(m * kq), ps = arena.alloc(m * 4);
  const scratch = arena.alloc(128), po = arena.alloc(m * n * 4);
  new Uint8Array(mod.memory.buffer, pw, n * bytes).set(w.data);
  const xm = new Int8Array(mod.memory.buffer, px, m * kq);
  if (kq === k) xm.set(x.data);
  else {
    xm.fill(0);
    for (let r = 0; r < m; r++) xm.set(x.data.subarray(r * k, (r + 1) * k), r * kq);
  }
  const relaxed = mod.relaxedSimd();
  return {
    run: () => {
      mod.decodeI2S(pw, bytes, n, pu, kq, relaxed);
      if (relaxed === 1) mod.rowSumsI8(px, kq, k, m, ps);
      mod.ternaryGemmI8(px, pu, ps, po, scratch, m, n, kq, ternaryBlockRows(kq), 0);
    },
    read: () => tensor('int32', [m, n], new Int32Array(mod.memory.buffer, po, m * n).slice()),
  };
}

/**
 * Places float32 activations and I2_S weights in wasm memory for `TernaryMatMulA8`: `run()` quantizes the rows to
 * int8 (SIMD, `quantizeRowsI8`), decodes the weights and runs the exact int8 GEMM, whose epilogue dequantizes.
 */
export function prepareTernaryMatMulA8(mod: PackedExports, x: HostTensor<'float32'>, w: HostTensor<'uint8'>, k: number, scale: number): PreparedOp<HostTensor<'float32'>> {
  const m = x.shape[0] ?? 0, n = w.shape[0] ?? 0, bytes = i2sBytes(k), kq = Math.ceil(k / 16) * 16;
  const arena = new Arena(mod);
  const pf = arena.alloc(m * k * 4), pw = arena.alloc(n * bytes), pu = arena.alloc(n * kq), px = arena.alloc(m * kq), ps = arena.alloc(m * 4);
  const pfac = arena.alloc(m * 4), scratch = arena.alloc(128), po = arena.alloc(m * n * 4);
  new Float32Array(mod.memory.buffer, pf, m * k).set(x.data);
  new Uint8Array(mod.memory.buffer, pw, n * bytes).set(w.data);
  const relaxed = mod.relaxedSimd();
  return {
    run: () => {
      mod.quantizeRowsI8(pf, m, k, px, kq, scale, pfac);
      mod.decodeI2S(pw, bytes, n, pu, kq, relaxed);
      if (relaxed === 1) mod.rowSumsI8(px, kq, k, m, ps);
      mod.ternaryGemmI8(px, pu, ps, po, scratch, m, n, kq, ternaryBlockRows(kq), pfac); // dequantized in its epilogue
    },
    read: () => tensor('float32', [m, n], new Float32Array(mod.memory.buffer, po, m * n).slice()),
  };
}

function prepareTernaryF32(mod: PackedExports, x: HostTensor<'float32'>, w: HostTensor<'uint8'>, k: number, scale: number): PreparedOp<HostTensor<'float32'>> {
  const m = x.shape[0] ?? 0, n = w.shape[0] ?? 0, bytes = i2sBytes(k), kp = bytes * 4;
  const arena = new Arena(mod);
  const pw = arena.alloc(n * bytes), po = arena.alloc(m * n * 4), px = arena.alloc(m * kp * 4), tmp = arena.alloc(kp * 4);
  const xm = new Float32Array(mod.memory.buffer, px, m * kp), xd = x.data;
  xm.fill(0);
  for (let r = 0; r < m; r++) {
    for (let p = 0; p < k; p++) {
      const blk = p >>> 6, q = p & 63; // the order of the SIMD decode: value at 4l + g goes to g*16 + l
      xm[r * kp + blk * 64 + (q & 3) * 16 + (q >>> 2)] = xd[r * k + p] ?? 0;
    }
  }
  new Uint8Array(mod.memory.buffer, pw, n * bytes).set(w.data);
  return {
    run: () => mod.ternaryGemmF32(px, pw, po, tmp, m, n, bytes, scale),
    read: () => tensor('float32', [m, n], new Float32Array(mod.memory.buffer, po, m * n).slice()),
  };
}

/**
 * Places activations and I2_S weights in wasm memory for `TernaryMatMul`. int8 activations: the weights are decoded
 * to one byte per weight inside `run()` (assembly/ternary.ts), exact int32 output. float32 activations: permuted per
 * 64-value block to the order of the SIMD decode, zero padded, float32 output times `scale`.
 */
export function prepareTernaryMatMul(
  mod: PackedExports, x: HostTensor<'float32'> | HostTensor<'int8'>, w: HostTensor<'uint8'>, k: number, scale: number,
): PreparedOp<HostTensor<'float32'> | HostTensor<'int32'>> {
  return x.dtype === 'int8' ? prepareTernaryI8(mod, x, w, k) : prepareTernaryF32(mod, x, w, k, scale);
}

/** @internal Rejects a layout this module has no kernel for. */
export function noKernel(field: string, found: string): BitlensError {
  return new BitlensError('KERNEL_NOT_FOUND', { stage: 'kernels-wasm', field, expected: "TernaryMatMul with format 'i2s'", found });
}
