// BinaryMatMul as a table lookup (the T-MAC / bitnet.cpp TL idea applied to XNOR-popcount): for 4 bits v of an
// activation row, popcount(v XOR w) for 4 bits w of 16 different weight rows is one byte shuffle of a 16-entry table
// (table v: entry j = popcount(v ^ j)) indexed by the 16 weight nibbles. One shuffle + one add covers 16 rows x 4 bits
// = 64 binary MACs, where `i8x16.popcnt` of an XOR needs about 8 instructions per 128. Exact: every count is an integer.

/** Writes the 16 popcount tables (256 bytes) at `lut`: byte 16 v + j = popcount(v ^ j). */
export function popcountTables(lut: usize): void {
  for (let v = 0; v < 16; v++) {
    for (let j = 0; j < 16; j++) store<u8>(lut + <usize>(v * 16 + j), <u8>popcnt<u32>(<u32>(v ^ j)));
  }
}

/**
 * Activation side: for `m` bit rows of `bytes` bytes (row stride `stride`), writes `2 * bytes` table offsets per row
 * at `dst` (row stride 2 * bytes): byte 2t is 16 * (low nibble of byte t), byte 2t + 1 is 16 * (its high nibble).
 */
export function nibbleOffsets(src: usize, stride: i32, bytes: i32, m: i32, dst: usize): void {
  const nq = bytes << 1, lo = i8x16.splat(15);
  for (let i = 0; i < m; i++) {
    const s = src + <usize>(i * stride), d = dst + <usize>(i * nq);
    let t = 0;
    for (; t + 16 <= bytes; t += 16) { // 16 bytes -> 32 offsets: 16 * low nibble and 16 * high nibble, interleaved
      const v = v128.load(s + <usize>t);
      const l = i16x8.shl(v128.and(v, lo), 4), h = v128.andnot(v, lo); // shl by 4 of a nibble cannot carry into the next byte
      v128.store(d + <usize>(t << 1), i8x16.shuffle(l, h, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
      v128.store(d + <usize>(t << 1), i8x16.shuffle(l, h, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), 16);
    }
    for (; t < bytes; t++) {
      const v = <u32>load<u8>(s + <usize>t);
      store<u8>(d + <usize>(t << 1), <u8>((v & 15) << 4));
      store<u8>(d + <usize>(t << 1), <u8>(v & 0xf0), 1);
    }
  }
}

/**
 * Weight side: `n` bit rows of `bytes` bytes (row stride `stride`) regrouped in blocks of 16 rows: block jb holds
 * `2 * bytes` vectors of 16 bytes, vector q lane l = nibble q of row 16 jb + l (nibble order as in `nibbleOffsets`).
 * Lanes of rows past `n` are 0 (their outputs are computed and dropped). `dst` holds ceil(n / 16) * 32 * bytes bytes.
 */
export function nibbleBlocks(src: usize, stride: i32, bytes: i32, n: i32, dst: usize): void {
  const bs = bytes << 5, nb = (n + 15) >> 4;
  memory.fill(dst, 0, <usize>(nb * bs));
  for (let j = 0; j < n; j++) {
    const s = src + <usize>(j * stride), d = dst + <usize>((j >> 4) * bs + (j & 15));
    for (let t = 0; t < bytes; t++) {
      const v = <u32>load<u8>(s + <usize>t);
      store<u8>(d + <usize>(t << 5), <u8>(v & 15));
      store<u8>(d + <usize>(t << 5), <u8>(v >> 4), 16);
    }
  }
}

// One table lookup per lane. Relaxed build: `i8x16.relaxed_swizzle` is one pshufb. Plain build: `i8x16.swizzle` must
// zero out-of-range lanes, which V8 does with an extra saturating add; indices here are always < 16, so both agree.
@inline function look(table: v128, nibbles: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(table, nibbles);
  return i8x16.swizzle(table, nibbles);
}

// Adds 16 byte counts (each <= 252) into 16 u16 partial sums at p.
@inline function flush(p: usize, c: v128): void {
  v128.store(p, i16x8.add(v128.load(p), i16x8.extend_low_i8x16_u(c)));
  v128.store(p, i16x8.add(v128.load(p, 16), i16x8.extend_high_i8x16_u(c)), 16);
}

// Writes k - 2 * count for 16 u16 counts at s as 16 i32 at o.
@inline function emit(o: usize, s: usize, k: i32): void {
  const kk = i32x4.splat(k), lo = v128.load(s), hi = v128.load(s, 16);
  v128.store(o, i32x4.sub(kk, i32x4.shl(i32x4.extend_low_i16x8_u(lo), 1)));
  v128.store(o, i32x4.sub(kk, i32x4.shl(i32x4.extend_high_i16x8_u(lo), 1)), 16);
  v128.store(o, i32x4.sub(kk, i32x4.shl(i32x4.extend_low_i16x8_u(hi), 1)), 32);
  v128.store(o, i32x4.sub(kk, i32x4.shl(i32x4.extend_high_i16x8_u(hi), 1)), 48);
}

// Byte counters take at most 63 lookups of <= 4 before they are widened.
const CHUNK = 63;

// 4 activation rows x 2 blocks of 16 weight rows: 8 byte accumulators, 4 tables and 2 weight vectors live (14 of
// V8's 15 usable xmm registers, no spills). Counts go through u16 partial sums in `scratch` (8 x 32 bytes).
function tile42(a: usize, nq: i32, b: usize, bs: usize, lut: usize, scratch: usize): void {
  memory.fill(scratch, 0, 256);
  const s1 = <usize>nq, s2 = <usize>(2 * nq), s3 = <usize>(3 * nq);
  for (let q0 = 0; q0 < nq; q0 += CHUNK) {
    let c00 = i8x16.splat(0), c01 = i8x16.splat(0), c10 = i8x16.splat(0), c11 = i8x16.splat(0);
    let c20 = i8x16.splat(0), c21 = i8x16.splat(0), c30 = i8x16.splat(0), c31 = i8x16.splat(0);
    let pa = a + <usize>q0, pb = b + <usize>(q0 << 4);
    const end = pa + <usize>min(nq - q0, CHUNK);
    while (pa < end) {
      const v0 = v128.load(pb), v1 = v128.load(pb + bs);
      const t0 = v128.load(lut + <usize>load<u8>(pa));
      c00 = i8x16.add(c00, look(t0, v0)); c01 = i8x16.add(c01, look(t0, v1));
      const t1 = v128.load(lut + <usize>load<u8>(pa + s1));
      c10 = i8x16.add(c10, look(t1, v0)); c11 = i8x16.add(c11, look(t1, v1));
      const t2 = v128.load(lut + <usize>load<u8>(pa + s2));
      c20 = i8x16.add(c20, look(t2, v0)); c21 = i8x16.add(c21, look(t2, v1));
      const t3 = v128.load(lut + <usize>load<u8>(pa + s3));
      c30 = i8x16.add(c30, look(t3, v0)); c31 = i8x16.add(c31, look(t3, v1));
      pa += 1; pb += 16;
    }
    flush(scratch, c00); flush(scratch + 32, c01); flush(scratch + 64, c10); flush(scratch + 96, c11);
    flush(scratch + 128, c20); flush(scratch + 160, c21); flush(scratch + 192, c30); flush(scratch + 224, c31);
  }
}

// 1 activation row x 1 block (the edges of the 4 x 2 tiling).
function tile11(a: usize, nq: i32, b: usize, lut: usize, scratch: usize): void {
  memory.fill(scratch, 0, 32);
  for (let q0 = 0; q0 < nq; q0 += CHUNK) {
    let c = i8x16.splat(0);
    let pa = a + <usize>q0, pb = b + <usize>(q0 << 4);
    const end = pa + <usize>min(nq - q0, CHUNK);
    while (pa < end) {
      c = i8x16.add(c, look(v128.load(lut + <usize>load<u8>(pa)), v128.load(pb)));
      pa += 1; pb += 16;
    }
    flush(scratch, c);
  }
}

/**
 * XNOR-popcount GEMM by table lookup: out[i, j] = k - 2 * popcount(a_i XOR b_j) for the `nibbleOffsets` of `m`
 * activation rows (`ao`, `nq` = 2 * bytes per row) and the `nibbleBlocks` of the weight rows (`bn`, `nb` blocks).
 * `out` has row stride `nb * 16` int32 (columns past n are padding). `lut` holds `popcountTables`, `scratch` 256 bytes.
 * Weight blocks are the outer loop, so a pair of blocks (32 rows) stays in L1 while every activation row passes.
 */
export function binaryGemmLut(ao: usize, bn: usize, lut: usize, out: usize, scratch: usize, m: i32, nb: i32, nq: i32, k: i32): void {
  const bs = <usize>(nq << 4), ns = <usize>(nb << 6);
  let jb = 0;
  for (; jb + 2 <= nb; jb += 2) {
    const b = bn + <usize>jb * bs, oc = <usize>(jb << 6);
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      tile42(ao + <usize>(i * nq), nq, b, bs, lut, scratch);
      for (let r = 0; r < 4; r++) {
        const o = out + <usize>(i + r) * ns + oc;
        emit(o, scratch + <usize>(r << 6), k);
        emit(o + 64, scratch + <usize>((r << 6) + 32), k);
      }
    }
    for (; i < m; i++) {
      for (let c = 0; c < 2; c++) {
        tile11(ao + <usize>(i * nq), nq, b + <usize>c * bs, lut, scratch);
        emit(out + <usize>i * ns + oc + <usize>(c << 6), scratch, k);
      }
    }
  }
  for (; jb < nb; jb++) {
    for (let i = 0; i < m; i++) {
      tile11(ao + <usize>(i * nq), nq, bn + <usize>jb * bs, lut, scratch);
      emit(out + <usize>i * ns + <usize>(jb << 6), scratch, k);
    }
  }
}
