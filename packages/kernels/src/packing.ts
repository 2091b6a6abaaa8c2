import { BitlensError } from '@bitlens/core';
import type { HostTensor } from './ops.js';
import { tensor } from './tensor.js';

const STAGE = 'kernels/packing';

/** uint32 words per packed row of `k` one-bit values: ceil(k / 32). */
export function binaryWords(k: number): number {
  return Math.ceil(k / 32);
}

/** Bytes per I2_S row of `k` ternary values: whole 32-byte blocks of 128 weights, ceil(k / 128) * 32. */
export function i2sBytes(k: number): number {
  return Math.ceil(k / 128) * 32;
}

function rowsCols(t: HostTensor, field: string): [number, number] {
  if (t.shape.length !== 2) throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field, expected: 'a 2-D tensor [rows, k]', found: `[${t.shape.join(', ')}]` });
  return [t.shape[0] ?? 0, t.shape[1] ?? 0];
}

function badCode(field: string, expected: string, v: number, i: number): BitlensError {
  return new BitlensError('INVALID_OPTION', { stage: STAGE, field, expected, found: `${v} at flat index ${i}` });
}

/**
 * Packs {-1,+1} codes [rows, k] into bits, row by row: +1 -> 1, -1 -> 0; element j of a row is bit (j % 32) of
 * word floor(j / 32) (least significant bit first). Padding bits past `k` are 0 in every row, so XOR of two
 * packed rows has no padding bits set and `dot = k - 2 * popcount(a XOR b)` needs no mask.
 * @returns uint32 [rows, binaryWords(k)]
 */
export function packBinary(codes: HostTensor<'int8'>): HostTensor<'uint32'> {
  const [rows, k] = rowsCols(codes, 'codes');
  const words = binaryWords(k);
  const out = new Uint32Array(rows * words);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) {
      const v = codes.data[r * k + j] ?? 0;
      if (v === 1) { const at = r * words + (j >>> 5); out[at] = (out[at] ?? 0) | (1 << (j & 31)); }
      else if (v !== -1) throw badCode('codes', 'only -1 or +1', v, r * k + j);
    }
  }
  return tensor('uint32', [rows, words], out);
}

/** Inverse of `packBinary`: uint32 [rows, words] -> int8 {-1,+1} [rows, k]. */
export function unpackBinary(packed: HostTensor<'uint32'>, k: number): HostTensor<'int8'> {
  const [rows, words] = rowsCols(packed, 'packed');
  const out = new Int8Array(rows * k);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) out[r * k + j] = ((packed.data[r * words + (j >>> 5)] ?? 0) >>> (j & 31)) & 1 ? 1 : -1;
  }
  return tensor('int8', [rows, k], out);
}

/**
 * Packs ternary codes [rows, k] as I2_S (bitnet.cpp, docs/science.md#packing-and-packed-kernels): code c in {-1,0,+1} is stored as c + 1 in
 * {0,1,2}, four per byte with the first weight in the high bits (codes [+1,0,-1,+1] -> 0b10_01_00_10 = 0x92).
 * Each row is padded to whole 32-byte blocks of 128 weights with code 0 (stored 1, bits 01), so padding adds 0
 * to any dot product. The per-tensor scale travels separately (the op's `scale` attribute).
 * @returns uint8 [rows, i2sBytes(k)]
 */
export function packI2S(codes: HostTensor<'int8'>): HostTensor<'uint8'> {
  const [rows, k] = rowsCols(codes, 'codes');
  const bytes = i2sBytes(k);
  const out = new Uint8Array(rows * bytes).fill(0x55); // 01 01 01 01: four zero weights
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) {
      const v = codes.data[r * k + j] ?? 0;
      if (v < -1 || v > 1) throw badCode('codes', 'only -1, 0 or +1', v, r * k + j);
      const at = r * bytes + (j >>> 2), shift = 6 - 2 * (j & 3);
      out[at] = ((out[at] ?? 0) & ~(3 << shift)) | ((v + 1) << shift);
    }
  }
  return tensor('uint8', [rows, bytes], out);
}

/** Inverse of `packI2S`: uint8 [rows, bytes] -> int8 {-1,0,+1} [rows, k]. Stored value 3 is invalid and throws. */
export function unpackI2S(packed: HostTensor<'uint8'>, k: number): HostTensor<'int8'> {
  const [rows, bytes] = rowsCols(packed, 'packed');
  const out = new Int8Array(rows * k);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) {
      const q = ((packed.data[r * bytes + (j >>> 2)] ?? 0) >>> (6 - 2 * (j & 3))) & 3;
      if (q === 3) throw badCode('packed', 'stored values 0, 1 or 2', q, r * bytes + (j >>> 2));
      out[r * k + j] = q - 1;
    }
  }
  return tensor('int8', [rows, k], out);
}

/**
 * Packs ternary codes [rows, k] as two bit-planes per row (docs/science.md#packing-and-packed-kernels): words [0, W) are the nonzero mask
 * (bit 1 where the code is ±1), words [W, 2W) the sign (bit 1 where the code is -1), W = binaryWords(k), bit
 * order as in `packBinary`. Padding bits are 0 in both planes.
 * @returns uint32 [rows, 2 * binaryWords(k)]
 */
export function packTernaryPlanes(codes: HostTensor<'int8'>): HostTensor<'uint32'> {
  const [rows, k] = rowsCols(codes, 'codes');
  const w = binaryWords(k);
  const out = new Uint32Array(rows * 2 * w);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) {
      const v = codes.data[r * k + j] ?? 0;
      if (v < -1 || v > 1) throw badCode('codes', 'only -1, 0 or +1', v, r * k + j);
      const bit = 1 << (j & 31), at = r * 2 * w + (j >>> 5);
      if (v !== 0) out[at] = (out[at] ?? 0) | bit;
      if (v === -1) out[at + w] = (out[at + w] ?? 0) | bit;
    }
  }
  return tensor('uint32', [rows, 2 * w], out);
}

/** Inverse of `packTernaryPlanes`: uint32 [rows, 2W] -> int8 {-1,0,+1} [rows, k]. */
export function unpackTernaryPlanes(packed: HostTensor<'uint32'>, k: number): HostTensor<'int8'> {
  const [rows, cols] = rowsCols(packed, 'packed');
  const w = cols / 2;
  const out = new Int8Array(rows * k);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) {
      const at = r * cols + (j >>> 5), sh = j & 31;
      const m = ((packed.data[at] ?? 0) >>> sh) & 1, s = ((packed.data[at + w] ?? 0) >>> sh) & 1;
      out[r * k + j] = m === 0 ? 0 : s === 1 ? -1 : 1;
    }
  }
  return tensor('int8', [rows, k], out);
}
