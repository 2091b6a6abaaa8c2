// TernaryMatMul, int8 activations x ternary weights, exact int32.
//
// Weights arrive as I2_S bytes (stored value c + 1 in {0, 1, 2}, four per byte, first weight in the high bits) and are
// decoded once per call into one byte per weight, in natural order, so the inner loop is loads and multiply-adds only.
// Relaxed build: bytes hold u = c + 1 and `i16x8.relaxed_dot_i8x16_i7x16_s` (pmaddubsw: 16 products summed in pairs,
// u is the 7-bit operand) gives sum x * u = sum x * c + sum x; the activation row sums are subtracted at the end.
// Plain build: bytes hold c and the products are `i16x8.extmul_{low,high}_i8x16_s`.
//
// Per 16 weights of one (activation row, weight row) pair the relaxed inner loop issues one pmaddubsw and one i16
// add: on a core with two SIMD multiply pipes and four SIMD ALUs that is at most 32 MACs per cycle, whatever the
// tiling (no exact 8-bit table lookup does better: one table byte cannot hold the sum of even one int8 x ternary
// product pair, so a lookup lane covers at most one MAC, as a pmaddubsw lane already does).

/**
 * Decodes `n` I2_S rows of `bytes` bytes into rows of `kq` code bytes (kq <= 4 * bytes): byte p of row j is
 * c + `offset` for weight p (offset 1 in the relaxed build, 0 in the plain one). Padding weights decode to code 0.
 */
export function decodeI2S(w: usize, bytes: i32, n: i32, dst: usize, kq: i32, offset: i32): void {
  const sub = 1 - offset;
  for (let j = 0; j < n; j++) {
    const s = w + <usize>(j * bytes), d = dst + <usize>(j * kq);
    for (let t = 0; t < kq >> 2; t++) {
      const v = <i32>load<u8>(s + <usize>t), o = d + <usize>(t << 2);
      store<u8>(o, <u8>(((v >> 6) & 3) - sub)); store<u8>(o, <u8>(((v >> 4) & 3) - sub), 1);
      store<u8>(o, <u8>(((v >> 2) & 3) - sub), 2); store<u8>(o, <u8>((v & 3) - sub), 3);
    }
  }
}

/** Sum of each of `m` int8 rows of `k` values (row stride `kq`) into `sums` (int32): the correction of the relaxed build. */
export function rowSumsI8(x: usize, kq: i32, k: i32, m: i32, sums: usize): void {
  for (let i = 0; i < m; i++) {
    let s = 0;
    const r = x + <usize>(i * kq);
    for (let p = 0; p < k; p++) s += <i32>load<i8>(r + <usize>p);
    store<i32>(sums + <usize>(i << 2), s);
  }
}

@inline function mac(acc: v128, x: v128, u: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i16x8.add(acc, i16x8.relaxed_dot_i8x16_i7x16_s(x, u));
  return i16x8.add(i16x8.add(acc, i16x8.extmul_low_i8x16_s(x, u)), i16x8.extmul_high_i8x16_s(x, u));
}
@inline function widen(p: usize, a: v128): void {
  v128.store(p, i32x4.add(v128.load(p), i32x4.extadd_pairwise_i16x8_s(a)));
}
@inline function hsum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

// i16 partial sums: each step adds at most 2 * 128 * 2 = 512 per lane (relaxed) or 2 * 128 (plain), so 63 steps stay
// below 2^15; then they are widened into the int32 sums in `scratch`.
const CHUNK = 63;

// Four i32x4 partial sums -> one i32x4 of their four horizontal sums (two rounds of pairwise shuffles and adds).
@inline function reduce4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(v128.shuffle<i32>(a, b, 0, 4, 1, 5), v128.shuffle<i32>(a, b, 2, 6, 3, 7));
  const cd = i32x4.add(v128.shuffle<i32>(c, d, 0, 4, 1, 5), v128.shuffle<i32>(c, d, 2, 6, 3, 7));
  return i32x4.add(v128.shuffle<i32>(ab, cd, 0, 1, 4, 5), v128.shuffle<i32>(ab, cd, 2, 3, 6, 7));
}
@inline function wide(a: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(a);
}

// 2 activation rows x 4 weight rows: 8 i16 accumulators, 4 weight vectors and one activation vector live. Writes the
// 2 x 4 outputs (row sums `c0`, `c1` subtracted) as two stores of 4 int32. Up to 63 steps (k <= 1008) the sums never
// leave registers; longer rows go through i32 partial sums in `scratch` (128 bytes) every 63 steps.
function tile24(x: usize, u: usize, kq: i32, o0: usize, o1: usize, c0: i32, c1: i32, float: bool, f0: f32, f1: f32, scratch: usize): void {
  const ks = <usize>kq, steps = kq >> 4, chunked = steps > CHUNK;
  if (chunked) memory.fill(scratch, 0, 128);
  let a00 = i16x8.splat(0), a01 = i16x8.splat(0), a02 = i16x8.splat(0), a03 = i16x8.splat(0);
  let a10 = i16x8.splat(0), a11 = i16x8.splat(0), a12 = i16x8.splat(0), a13 = i16x8.splat(0);
  for (let s0 = 0; s0 < steps; s0 += CHUNK) {
    a00 = i16x8.splat(0); a01 = i16x8.splat(0); a02 = i16x8.splat(0); a03 = i16x8.splat(0);
    a10 = i16x8.splat(0); a11 = i16x8.splat(0); a12 = i16x8.splat(0); a13 = i16x8.splat(0);
    let px = x + <usize>(s0 << 4), pw = u + <usize>(s0 << 4);
    const end = pw + <usize>(min(steps - s0, CHUNK) << 4);
    while (pw < end) {
      const u0 = v128.load(pw), u1 = v128.load(pw + ks), u2 = v128.load(pw + 2 * ks), u3 = v128.load(pw + 3 * ks);
      let v = v128.load(px);
      a00 = mac(a00, v, u0); a01 = mac(a01, v, u1); a02 = mac(a02, v, u2); a03 = mac(a03, v, u3);
      v = v128.load(px + ks);
      a10 = mac(a10, v, u0); a11 = mac(a11, v, u1); a12 = mac(a12, v, u2); a13 = mac(a13, v, u3);
      px += 16; pw += 16;
    }
    if (chunked) {
      widen(scratch, a00); widen(scratch + 16, a01); widen(scratch + 32, a02); widen(scratch + 48, a03);
      widen(scratch + 64, a10); widen(scratch + 80, a11); widen(scratch + 96, a12); widen(scratch + 112, a13);
    }
  }
  let r0: v128, r1: v128;
  if (chunked) {
    r0 = reduce4(v128.load(scratch), v128.load(scratch, 16), v128.load(scratch, 32), v128.load(scratch, 48));
    r1 = reduce4(v128.load(scratch, 64), v128.load(scratch, 80), v128.load(scratch, 96), v128.load(scratch, 112));
  } else {
    r0 = reduce4(wide(a00), wide(a01), wide(a02), wide(a03));
    r1 = reduce4(wide(a10), wide(a11), wide(a12), wide(a13));
  }
  emit4(o0, i32x4.sub(r0, i32x4.splat(c0)), float, f0);
  emit4(o1, i32x4.sub(r1, i32x4.splat(c1)), float, f1);
}

// Four exact int32 sums, or (float) their float32 values times `factor`: the dequantization of TernaryMatMulA8.
@inline function emit4(o: usize, v: v128, float: bool, factor: f32): void {
  v128.store(o, float ? f32x4.mul(f32x4.convert_i32x4_s(v), f32x4.splat(factor)) : v);
}
@inline function factorOf(factors: usize, r: i32): f32 {
  return factors === 0 ? <f32>0 : load<f32>(factors + <usize>(r << 2));
}
@inline function emit1(o: usize, v: i32, float: bool, factor: f32): void {
  if (float) store<f32>(o, <f32>v * factor);
  else store<i32>(o, v);
}

// 1 x 1 (the edges).
function dot11(x: usize, u: usize, kq: i32): i32 {
  const steps = kq >> 4;
  let t = i32x4.splat(0);
  for (let s0 = 0; s0 < steps; s0 += CHUNK) {
    let a = i16x8.splat(0);
    const end = min(steps, s0 + CHUNK);
    for (let s = s0; s < end; s++) a = mac(a, v128.load(x + <usize>(s << 4)), v128.load(u + <usize>(s << 4)));
    t = i32x4.add(t, i32x4.extadd_pairwise_i16x8_s(a));
  }
  return hsum(t);
}

/**
 * out[i, j] = sum_p x[i, p] * c[j, p] (exact int32, `out` [m, n]) for `m` int8 activation rows and `n` rows of
 * `decodeI2S` codes, both of row stride `kq` (a multiple of 16, zero / code-0 padded). `rowSums` holds `rowSumsI8`
 * in the relaxed build (ignored in the plain one); `scratch` 128 bytes. With `factors` (0 = none: int32 output) the
 * output is float32: float32(sum) * factors[i], one rounding (the sum is exact in float32 below 2^24), the dequantization
 * of TernaryMatMulA8. Tile: 2 activation rows x 4 weight rows.
 * Weight rows are taken in blocks of `blockRows` (outer loop), so a block stays in cache while every activation row
 * passes.
 */
export function ternaryGemmI8(x: usize, u: usize, rowSums: usize, out: usize, scratch: usize, m: i32, n: i32, kq: i32, blockRows: i32, factors: usize): void {
  const corr = ASC_FEATURE_RELAXED_SIMD ? 1 : 0, rs = <usize>(n << 2), float = factors !== 0;
  for (let jb = 0; jb < n; jb += blockRows) {
    const jend = min(n, jb + blockRows);
    let i = 0;
    for (; i + 2 <= m; i += 2) {
      const o = out + <usize>(i * n << 2), xi = x + <usize>(i * kq), f0 = factorOf(factors, i), f1 = factorOf(factors, i + 1);
      const c0 = corr * load<i32>(rowSums + <usize>(i << 2)), c1 = corr * load<i32>(rowSums + <usize>(i << 2), 4);
      let j = jb;
      for (; j + 4 <= jend; j += 4) tile24(xi, u + <usize>(j * kq), kq, o + <usize>(j << 2), o + rs + <usize>(j << 2), c0, c1, float, f0, f1, scratch);
      for (; j < jend; j++) {
        emit1(o + <usize>(j << 2), dot11(xi, u + <usize>(j * kq), kq) - c0, float, f0);
        emit1(o + rs + <usize>(j << 2), dot11(xi + <usize>kq, u + <usize>(j * kq), kq) - c1, float, f1);
      }
    }
    for (; i < m; i++) {
      const c = corr * load<i32>(rowSums + <usize>(i << 2)), f = factorOf(factors, i);
      for (let j = jb; j < jend; j++) emit1(out + <usize>((i * n + j) << 2), dot11(x + <usize>(i * kq), u + <usize>(j * kq), kq) - c, float, f);
    }
  }
}

/**
 * int8 per-row absmax quantization of `m` float32 rows of `k` values (row stride `k`) into int8 rows of stride `kq`
 * (zero padded), BitNet b1.58 as `activationInt8Host` of @bitlens/kernels defines it: s = 127 / max(max|x|, 1e-5),
 * code = clamp(round_half_even(x * s), -128, 127), all in float32 (f32.nearest rounds half to even; the saturating
 * narrows clamp). Writes `factors[r]` = float32(scale / s) (f64 division rounded once): the dequantization factor.
 */
export function quantizeRowsI8(x: usize, m: i32, k: i32, dst: usize, kq: i32, scale: f64, factors: usize): void {
  const k4 = k & ~3;
  for (let r = 0; r < m; r++) {
    const row = x + <usize>(r * k) * 4, out = dst + <usize>(r * kq);
    let mv = f32x4.splat(0);
    for (let p = 0; p < k4; p += 4) mv = f32x4.max(mv, f32x4.abs(v128.load(row + <usize>(p << 2))));
    let mx = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (let p = k4; p < k; p++) mx = max(mx, abs(load<f32>(row + <usize>(p << 2))));
    const s = <f32>127.0 / max(mx, <f32>1e-5), sv = f32x4.splat(s);
    let p = 0;
    for (; p + 16 <= k; p += 16) {
      const o = row + <usize>(p << 2);
      const a = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(o), sv)));
      const b = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(o, 16), sv)));
      const c = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(o, 32), sv)));
      const d = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(o, 48), sv)));
      v128.store(out + <usize>p, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d)));
    }
    for (; p < k; p++) store<i8>(out + <usize>p, <i8>min(127, max(-128, <i32>nearest(load<f32>(row + <usize>(p << 2)) * s))));
    for (; p < kq; p++) store<i8>(out + <usize>p, 0);
    store<f32>(factors + <usize>(r << 2), <f32>(scale / <f64>s));
  }
}
