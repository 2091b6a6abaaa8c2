// Packed binary and ternary GEMM kernels, WebAssembly SIMD (v128, i8x16.popcnt). Compiled by `npm run build:wasm`.
// Memory is laid out by the JavaScript side from heapBase(); these kernels allocate nothing.

/** First free byte after static data: the JS side places its buffers from here on. */
export function heapBase(): usize {
  return __heap_base;
}

// Horizontal sum of a u32x4 accumulator.
@inline function hsum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}
// Widen 16 byte counters (each <= 255) to four u32 lanes and add them to acc.
@inline function widenU8(acc: v128, bytes: v128): v128 {
  return i32x4.add(acc, i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(bytes)));
}

/**
 * XNOR-popcount GEMM: out[i, j] = k - 2 * popcount(a_i XOR b_j), a [m, stride] and b [n, stride] bit rows whose
 * stride (in bytes) is a multiple of 16 with zero padding. Register tile: 2 rows of a x 4 rows of b; per-byte
 * popcounts are summed in u8 lanes for at most 31 steps (8 per step) and then widened.
 */
export function binaryGemm(a: usize, b: usize, out: usize, m: i32, n: i32, stride: i32, k: i32): void {
  const steps = stride >> 4;
  let i = 0;
  for (; i + 2 <= m; i += 2) {
    const a0 = a + <usize>(i * stride), a1 = a0 + <usize>stride;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const b0 = b + <usize>(j * stride), b1 = b0 + <usize>stride, b2 = b1 + <usize>stride, b3 = b2 + <usize>stride;
      let s00 = i32x4.splat(0), s01 = i32x4.splat(0), s02 = i32x4.splat(0), s03 = i32x4.splat(0);
      let s10 = i32x4.splat(0), s11 = i32x4.splat(0), s12 = i32x4.splat(0), s13 = i32x4.splat(0);
      for (let s0 = 0; s0 < steps; s0 += 31) {
        const end = min(steps, s0 + 31);
        let c00 = i8x16.splat(0), c01 = i8x16.splat(0), c02 = i8x16.splat(0), c03 = i8x16.splat(0);
        let c10 = i8x16.splat(0), c11 = i8x16.splat(0), c12 = i8x16.splat(0), c13 = i8x16.splat(0);
        for (let s = s0; s < end; s++) {
          const o = <usize>(s << 4);
          const x0 = v128.load(a0 + o), x1 = v128.load(a1 + o);
          const y0 = v128.load(b0 + o), y1 = v128.load(b1 + o), y2 = v128.load(b2 + o), y3 = v128.load(b3 + o);
          c00 = i8x16.add(c00, i8x16.popcnt(v128.xor(x0, y0)));
          c01 = i8x16.add(c01, i8x16.popcnt(v128.xor(x0, y1)));
          c02 = i8x16.add(c02, i8x16.popcnt(v128.xor(x0, y2)));
          c03 = i8x16.add(c03, i8x16.popcnt(v128.xor(x0, y3)));
          c10 = i8x16.add(c10, i8x16.popcnt(v128.xor(x1, y0)));
          c11 = i8x16.add(c11, i8x16.popcnt(v128.xor(x1, y1)));
          c12 = i8x16.add(c12, i8x16.popcnt(v128.xor(x1, y2)));
          c13 = i8x16.add(c13, i8x16.popcnt(v128.xor(x1, y3)));
        }
        s00 = widenU8(s00, c00); s01 = widenU8(s01, c01); s02 = widenU8(s02, c02); s03 = widenU8(s03, c03);
        s10 = widenU8(s10, c10); s11 = widenU8(s11, c11); s12 = widenU8(s12, c12); s13 = widenU8(s13, c13);
      }
      const o0 = out + <usize>((i * n + j) << 2), o1 = o0 + <usize>(n << 2);
      store<i32>(o0, k - 2 * hsum(s00)); store<i32>(o0, k - 2 * hsum(s01), 4); store<i32>(o0, k - 2 * hsum(s02), 8); store<i32>(o0, k - 2 * hsum(s03), 12);
      store<i32>(o1, k - 2 * hsum(s10)); store<i32>(o1, k - 2 * hsum(s11), 4); store<i32>(o1, k - 2 * hsum(s12), 8); store<i32>(o1, k - 2 * hsum(s13), 12);
    }
    for (; j < n; j++) {
      store<i32>(out + <usize>((i * n + j) << 2), binaryDot(a0, b + <usize>(j * stride), steps, k));
      store<i32>(out + <usize>(((i + 1) * n + j) << 2), binaryDot(a1, b + <usize>(j * stride), steps, k));
    }
  }
  for (; i < m; i++) {
    for (let j = 0; j < n; j++) {
      store<i32>(out + <usize>((i * n + j) << 2), binaryDot(a + <usize>(i * stride), b + <usize>(j * stride), steps, k));
    }
  }
}

// One dot product of two packed rows (edges of the tile).
function binaryDot(x: usize, y: usize, steps: i32, k: i32): i32 {
  let acc = i32x4.splat(0);
  for (let s0 = 0; s0 < steps; s0 += 31) {
    const end = min(steps, s0 + 31);
    let c = i8x16.splat(0);
    for (let s = s0; s < end; s++) {
      const o = <usize>(s << 4);
      c = i8x16.add(c, i8x16.popcnt(v128.xor(v128.load(x + o), v128.load(y + o))));
    }
    acc = widenU8(acc, c);
  }
  return k - 2 * hsum(acc);
}

// Ternary codes of group g (shift 6 - 2g) of 16 I2_S bytes, as i8 lanes in {-1, 0, +1}.
// i16x8.shr_u is one native instruction where i8x16.shr_u is emulated; the mask drops the bits it moves across bytes
@inline function decode(w: v128, shift: i32): v128 {
  return i8x16.sub(v128.and(i16x8.shr_u(w, shift), i8x16.splat(3)), i8x16.splat(1));
}
@inline function mac(acc: v128, c: v128, x: v128): v128 {
  return i16x8.add(i16x8.add(acc, i16x8.extmul_low_i8x16_s(c, x)), i16x8.extmul_high_i8x16_s(c, x));
}
@inline function widenI16(acc: v128, v: v128): v128 {
  return i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(v));
}

/**
 * Ternary GEMM, int8 activations x I2_S weights: out[i, j] = sum_p x[i, p] * w[j, p] (exact int32).
 * `x` holds int8 rows of `bytes * 4` values permuted per 64-value block to match I2_S bytes: within a block,
 * position g*16 + l holds the value at 4l + g (the weight stored at shift 6 - 2g of byte l). `w` holds I2_S rows
 * of `bytes` bytes (a multiple of 32). Tile: 4 activation rows x 2 weight rows; i16 partial sums (|x*c| <= 128,
 * 8 products per lane per block) are widened every 16 blocks, well before they could overflow.
 */
export function ternaryGemmI8(x: usize, w: usize, out: usize, m: i32, n: i32, bytes: i32): void {
  const xs = bytes << 2, blocks = bytes >> 4;
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const x0 = x + <usize>(i * xs), x1 = x0 + <usize>xs, x2 = x1 + <usize>xs, x3 = x2 + <usize>xs;
    let j = 0;
    for (; j + 2 <= n; j += 2) {
      const w0 = w + <usize>(j * bytes), w1 = w0 + <usize>bytes;
      let t00 = i32x4.splat(0), t01 = i32x4.splat(0), t10 = i32x4.splat(0), t11 = i32x4.splat(0);
      let t20 = i32x4.splat(0), t21 = i32x4.splat(0), t30 = i32x4.splat(0), t31 = i32x4.splat(0);
      for (let b0 = 0; b0 < blocks; b0 += 16) {
        const end = min(blocks, b0 + 16);
        let a00 = i16x8.splat(0), a01 = i16x8.splat(0), a10 = i16x8.splat(0), a11 = i16x8.splat(0);
        let a20 = i16x8.splat(0), a21 = i16x8.splat(0), a30 = i16x8.splat(0), a31 = i16x8.splat(0);
        for (let bl = b0; bl < end; bl++) {
          const wv0 = v128.load(w0 + <usize>(bl << 4)), wv1 = v128.load(w1 + <usize>(bl << 4));
          const xo = <usize>(bl << 6);
          for (let g = 0; g < 4; g++) {
            const c0 = decode(wv0, 6 - 2 * g), c1 = decode(wv1, 6 - 2 * g);
            const go = xo + <usize>(g << 4);
            const v0 = v128.load(x0 + go), v1 = v128.load(x1 + go), v2 = v128.load(x2 + go), v3 = v128.load(x3 + go);
            a00 = mac(a00, c0, v0); a01 = mac(a01, c1, v0);
            a10 = mac(a10, c0, v1); a11 = mac(a11, c1, v1);
            a20 = mac(a20, c0, v2); a21 = mac(a21, c1, v2);
            a30 = mac(a30, c0, v3); a31 = mac(a31, c1, v3);
          }
        }
        t00 = widenI16(t00, a00); t01 = widenI16(t01, a01); t10 = widenI16(t10, a10); t11 = widenI16(t11, a11);
        t20 = widenI16(t20, a20); t21 = widenI16(t21, a21); t30 = widenI16(t30, a30); t31 = widenI16(t31, a31);
      }
      const o = out + <usize>((i * n + j) << 2), rs = <usize>(n << 2);
      store<i32>(o, hsum(t00)); store<i32>(o, hsum(t01), 4);
      store<i32>(o + rs, hsum(t10)); store<i32>(o + rs, hsum(t11), 4);
      store<i32>(o + 2 * rs, hsum(t20)); store<i32>(o + 2 * rs, hsum(t21), 4);
      store<i32>(o + 3 * rs, hsum(t30)); store<i32>(o + 3 * rs, hsum(t31), 4);
    }
    for (; j < n; j++) {
      for (let r = 0; r < 4; r++) store<i32>(out + <usize>(((i + r) * n + j) << 2), ternaryDotI8(x + <usize>((i + r) * xs), w + <usize>(j * bytes), blocks));
    }
  }
  for (; i < m; i++) {
    for (let j = 0; j < n; j++) store<i32>(out + <usize>((i * n + j) << 2), ternaryDotI8(x + <usize>(i * xs), w + <usize>(j * bytes), blocks));
  }
}

function ternaryDotI8(x: usize, w: usize, blocks: i32): i32 {
  let t = i32x4.splat(0);
  for (let b0 = 0; b0 < blocks; b0 += 16) {
    const end = min(blocks, b0 + 16);
    let a = i16x8.splat(0);
    for (let bl = b0; bl < end; bl++) {
      const wv = v128.load(w + <usize>(bl << 4)), xo = <usize>(bl << 6);
      for (let g = 0; g < 4; g++) a = mac(a, decode(wv, 6 - 2 * g), v128.load(x + xo + <usize>(g << 4)));
    }
    t = widenI16(t, a);
  }
  return hsum(t);
}

/**
 * Ternary GEMM, float32 activations x I2_S weights, times `scale`: each weight row is decoded once into `tmp`
 * (k' = bytes * 4 floats, {-1, 0, +1}) with SIMD (16 codes per shift, widened to f32x4) and dotted with every
 * activation row, 4 rows at a time. `x` rows are float32 of length k', zero padded and permuted per 64-value block
 * exactly as for `ternaryGemmI8` (position g*16 + l holds the value at 4l + g), which is the order the decode
 * produces.
 */
export function ternaryGemmF32(x: usize, w: usize, out: usize, tmp: usize, m: i32, n: i32, bytes: i32, scale: f32): void {
  const kp = bytes << 2, xs = kp << 2, vecs = kp >> 2, blocks = bytes >> 4;
  for (let j = 0; j < n; j++) {
    const wr = w + <usize>(j * bytes);
    for (let bl = 0; bl < blocks; bl++) {
      const wv = v128.load(wr + <usize>(bl << 4)), t = tmp + <usize>(bl << 8);
      for (let g = 0; g < 4; g++) {
        const c = decode(wv, 6 - 2 * g), o = t + <usize>(g << 6);
        const lo = i16x8.extend_low_i8x16_s(c), hi = i16x8.extend_high_i8x16_s(c);
        v128.store(o, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)));
        v128.store(o, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), 16);
        v128.store(o, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), 32);
        v128.store(o, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), 48);
      }
    }
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      const x0 = x + <usize>(i * xs), x1 = x0 + <usize>xs, x2 = x1 + <usize>xs, x3 = x2 + <usize>xs;
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      for (let v = 0; v < vecs; v++) {
        const o = <usize>(v << 4), c = v128.load(tmp + o);
        s0 = f32x4.add(s0, f32x4.mul(v128.load(x0 + o), c)); s1 = f32x4.add(s1, f32x4.mul(v128.load(x1 + o), c));
        s2 = f32x4.add(s2, f32x4.mul(v128.load(x2 + o), c)); s3 = f32x4.add(s3, f32x4.mul(v128.load(x3 + o), c));
      }
      const rs = <usize>(n << 2), o = out + <usize>((i * n + j) << 2);
      store<f32>(o, hsumF(s0) * scale); store<f32>(o + rs, hsumF(s1) * scale);
      store<f32>(o + 2 * rs, hsumF(s2) * scale); store<f32>(o + 3 * rs, hsumF(s3) * scale);
    }
    for (; i < m; i++) {
      const xr = x + <usize>(i * xs);
      let s = f32x4.splat(0);
      for (let v = 0; v < vecs; v++) s = f32x4.add(s, f32x4.mul(v128.load(xr + <usize>(v << 4)), v128.load(tmp + <usize>(v << 4))));
      store<f32>(out + <usize>((i * n + j) << 2), hsumF(s) * scale);
    }
  }
}

@inline function hsumF(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * The fp32 SIMD ceiling of this core: `iters` rounds of 12 independent f32x4 multiply-add chains held in
 * registers (no memory traffic), 96 flops per round. Returns a checksum so nothing is optimised away.
 */
export function peakF32(iters: i32, seed: f32): f32 {
  const m = f32x4.splat(0.999), d = f32x4.splat(1e-7);
  let a0 = f32x4.splat(seed), a1 = f32x4.splat(seed + 1), a2 = f32x4.splat(seed + 2), a3 = f32x4.splat(seed + 3);
  let a4 = f32x4.splat(seed + 4), a5 = f32x4.splat(seed + 5), a6 = f32x4.splat(seed + 6), a7 = f32x4.splat(seed + 7);
  let a8 = f32x4.splat(seed + 8), a9 = f32x4.splat(seed + 9), a10 = f32x4.splat(seed + 10), a11 = f32x4.splat(seed + 11);
  for (let t = 0; t < iters; t++) {
    a0 = f32x4.add(f32x4.mul(a0, m), d); a1 = f32x4.add(f32x4.mul(a1, m), d); a2 = f32x4.add(f32x4.mul(a2, m), d);
    a3 = f32x4.add(f32x4.mul(a3, m), d); a4 = f32x4.add(f32x4.mul(a4, m), d); a5 = f32x4.add(f32x4.mul(a5, m), d);
    a6 = f32x4.add(f32x4.mul(a6, m), d); a7 = f32x4.add(f32x4.mul(a7, m), d); a8 = f32x4.add(f32x4.mul(a8, m), d);
    a9 = f32x4.add(f32x4.mul(a9, m), d); a10 = f32x4.add(f32x4.mul(a10, m), d); a11 = f32x4.add(f32x4.mul(a11, m), d);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  return hsumF(f32x4.add(s, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11))));
}
