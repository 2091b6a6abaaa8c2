// Relaxed-SIMD variant of the ternary kernel; compiled into build/packed-relaxed.wasm together with packed.ts.
export * from "./packed";

@inline function widenI16(acc: v128, v: v128): v128 {
  return i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(v));
}
@inline function hsum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/**
 * Ternary GEMM with relaxed SIMD (`i16x8.relaxed_dot_i8x16_i7x16_s`, pmaddubsw on x86; the
 * i32x4 `_add_s` form gives wrong sums on Node 20's V8 11.3, so it is not used): the stored
 * codes u = c + 1 in {0, 1, 2} are the 7-bit operand, so sum_p x*u = dot(x, c) + sum_p x; `rowSums` holds
 * sum_p x for each activation row and is subtracted at the end. Same activation layout as `ternaryGemmI8`.
 * Codes are extracted with i16x8.shr_u (native) + a byte mask of 3, which drops the bits shifted across bytes.
 * Exact: pair sums are at most 2 * 128 * 2 = 512, far from pmaddubsw's i16 saturation. Built only into packed-relaxed.wasm.
 */
export function ternaryGemmI8Relaxed(x: usize, w: usize, out: usize, rowSums: usize, m: i32, n: i32, bytes: i32): void {
  const xs = bytes << 2, blocks = bytes >> 4, three = i8x16.splat(3);
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const x0 = x + <usize>(i * xs), x1 = x0 + <usize>xs, x2 = x1 + <usize>xs, x3 = x2 + <usize>xs;
    const r0 = load<i32>(rowSums + <usize>(i << 2)), r1 = load<i32>(rowSums + <usize>(i << 2), 4);
    const r2 = load<i32>(rowSums + <usize>(i << 2), 8), r3 = load<i32>(rowSums + <usize>(i << 2), 12);
    let j = 0;
    for (; j + 2 <= n; j += 2) {
      const w0 = w + <usize>(j * bytes), w1 = w0 + <usize>bytes;
      let T00 = i32x4.splat(0), T01 = i32x4.splat(0), T10 = i32x4.splat(0), T11 = i32x4.splat(0);
      let T20 = i32x4.splat(0), T21 = i32x4.splat(0), T30 = i32x4.splat(0), T31 = i32x4.splat(0);
      // i16 partial sums: each relaxed dot adds at most |2 * 128 * 2| = 512 per lane, 4 per block, so 8 blocks stay < 2^15
      for (let b0 = 0; b0 < blocks; b0 += 8) {
      const end = min(blocks, b0 + 8);
      let t00 = i16x8.splat(0), t01 = i16x8.splat(0), t10 = i16x8.splat(0), t11 = i16x8.splat(0);
      let t20 = i16x8.splat(0), t21 = i16x8.splat(0), t30 = i16x8.splat(0), t31 = i16x8.splat(0);
      for (let bl = b0; bl < end; bl++) {
        const wv0 = v128.load(w0 + <usize>(bl << 4)), wv1 = v128.load(w1 + <usize>(bl << 4));
        const xo = <usize>(bl << 6);
        let u0 = v128.and(i16x8.shr_u(wv0, 6), three), u1 = v128.and(i16x8.shr_u(wv1, 6), three);
        let v0 = v128.load(x0 + xo), v1 = v128.load(x1 + xo), v2 = v128.load(x2 + xo), v3 = v128.load(x3 + xo);
        t00 = i16x8.add(t00, i16x8.relaxed_dot_i8x16_i7x16_s(v0, u0)); t01 = i16x8.add(t01, i16x8.relaxed_dot_i8x16_i7x16_s(v0, u1));
        t10 = i16x8.add(t10, i16x8.relaxed_dot_i8x16_i7x16_s(v1, u0)); t11 = i16x8.add(t11, i16x8.relaxed_dot_i8x16_i7x16_s(v1, u1));
        t20 = i16x8.add(t20, i16x8.relaxed_dot_i8x16_i7x16_s(v2, u0)); t21 = i16x8.add(t21, i16x8.relaxed_dot_i8x16_i7x16_s(v2, u1));
        t30 = i16x8.add(t30, i16x8.relaxed_dot_i8x16_i7x16_s(v3, u0)); t31 = i16x8.add(t31, i16x8.relaxed_dot_i8x16_i7x16_s(v3, u1));
        u0 = v128.and(i16x8.shr_u(wv0, 4), three); u1 = v128.and(i16x8.shr_u(wv1, 4), three);
        v0 = v128.load(x0 + xo, 16); v1 = v128.load(x1 + xo, 16); v2 = v128.load(x2 + xo, 16); v3 = v128.load(x3 + xo, 16);
        t00 = i16x8.add(t00, i16x8.relaxed_dot_i8x16_i7x16_s(v0, u0)); t01 = i16x8.add(t01, i16x8.relaxed_dot_i8x16_i7x16_s(v0, u1));
        t10 = i16x8.add(t10, i16x8.relaxed_dot_i8x16_i7x16_s(v1, u0)); t11 = i16x8.add(t11, i16x8.relaxed_dot_i8x16_i7x16_s(v1, u1));
        t20 = i16x8.add(t20, i16x8.relaxed_dot_i8x16_i7x16_s(v2, u0)); t21 = i16x8.add(t21, i16x8.relaxed_dot_i8x16_i7x16_s(v2, u1));
        t30 = i16x8.add(t30, i16x8.relaxed_dot_i8x16_i7x16_s(v3, u0)); t31 = i16x8.add(t31, i16x8.relaxed_dot_i8x16_i7x16_s(v3, u1));
        u0 = v128.and(i16x8.shr_u(wv0, 2), three); u1 = v128.and(i16x8.shr_u(wv1, 2), three);
        v0 = v128.load(x0 + xo, 32); v1 = v128.load(x1 + xo, 32); v2 = v128.load(x2 + xo, 32); v3 = v128.load(x3 + xo, 32);
        t00 = i16x8.add(t00, i16x8.relaxed_dot_i8x16_i7x16_s(v0, u0)); t01 = i16x8.add(t01, i16x8.relaxed_dot_i8x16_i7x16_s(v0, u1));
        t10 = i16x8.add(t10, i16x8.relaxed_dot_i8x16_i7x16_s(v1, u0)); t11 = i16x8.add(t11, i16x8.relaxed_dot_i8x16_i7x16_s(v1, u1));
        t20 = i16x8.add(t20, i16x8.relaxed_dot_i8x16_i7x16_s(v2, u0)); t21 = i16x8.add(t21, i16x8.relaxed_dot_i8x16_i7x16_s(v2, u1));
        t30 = i16x8.add(t30, i16x8.relaxed_dot_i8x16_i7x16_s(v3, u0)); t31 = i16x8.add(t31, i16x8.relaxed_dot_i8x16_i7x16_s(v3, u1));
        u0 = v128.and(wv0, three); u1 = v128.and(wv1, three);
        v0 = v128.load(x0 + xo, 48); v1 = v128.load(x1 + xo, 48); v2 = v128.load(x2 + xo, 48); v3 = v128.load(x3 + xo, 48);
        t00 = i16x8.add(t00, i16x8.relaxed_dot_i8x16_i7x16_s(v0, u0)); t01 = i16x8.add(t01, i16x8.relaxed_dot_i8x16_i7x16_s(v0, u1));
        t10 = i16x8.add(t10, i16x8.relaxed_dot_i8x16_i7x16_s(v1, u0)); t11 = i16x8.add(t11, i16x8.relaxed_dot_i8x16_i7x16_s(v1, u1));
        t20 = i16x8.add(t20, i16x8.relaxed_dot_i8x16_i7x16_s(v2, u0)); t21 = i16x8.add(t21, i16x8.relaxed_dot_i8x16_i7x16_s(v2, u1));
        t30 = i16x8.add(t30, i16x8.relaxed_dot_i8x16_i7x16_s(v3, u0)); t31 = i16x8.add(t31, i16x8.relaxed_dot_i8x16_i7x16_s(v3, u1));
      }
      T00 = widenI16(T00, t00); T01 = widenI16(T01, t01); T10 = widenI16(T10, t10); T11 = widenI16(T11, t11);
      T20 = widenI16(T20, t20); T21 = widenI16(T21, t21); T30 = widenI16(T30, t30); T31 = widenI16(T31, t31);
      }
      const o = out + <usize>((i * n + j) << 2), rs = <usize>(n << 2);
      store<i32>(o, hsum(T00) - r0); store<i32>(o, hsum(T01) - r0, 4);
      store<i32>(o + rs, hsum(T10) - r1); store<i32>(o + rs, hsum(T11) - r1, 4);
      store<i32>(o + 2 * rs, hsum(T20) - r2); store<i32>(o + 2 * rs, hsum(T21) - r2, 4);
      store<i32>(o + 3 * rs, hsum(T30) - r3); store<i32>(o + 3 * rs, hsum(T31) - r3, 4);
    }
    for (; j < n; j++) {
      for (let r = 0; r < 4; r++) {
        store<i32>(out + <usize>(((i + r) * n + j) << 2), ternaryDotRelaxed(x + <usize>((i + r) * xs), w + <usize>(j * bytes), blocks) - load<i32>(rowSums + <usize>((i + r) << 2)));
      }
    }
  }
  for (; i < m; i++) {
    for (let j = 0; j < n; j++) {
      store<i32>(out + <usize>((i * n + j) << 2), ternaryDotRelaxed(x + <usize>(i * xs), w + <usize>(j * bytes), blocks) - load<i32>(rowSums + <usize>(i << 2)));
    }
  }
}

function ternaryDotRelaxed(x: usize, w: usize, blocks: i32): i32 {
  const three = i8x16.splat(3);
  let T = i32x4.splat(0);
  for (let b0 = 0; b0 < blocks; b0 += 8) {
  const end = min(blocks, b0 + 8);
  let t = i16x8.splat(0);
  for (let bl = b0; bl < end; bl++) {
    const wv = v128.load(w + <usize>(bl << 4)), xo = x + <usize>(bl << 6);
    t = i16x8.add(t, i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xo), v128.and(i16x8.shr_u(wv, 6), three)));
    t = i16x8.add(t, i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xo, 16), v128.and(i16x8.shr_u(wv, 4), three)));
    t = i16x8.add(t, i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xo, 32), v128.and(i16x8.shr_u(wv, 2), three)));
    t = i16x8.add(t, i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xo, 48), v128.and(wv, three)));
  }
  T = widenI16(T, t);
  }
  return hsum(T);
}

