// Packed binary and ternary GEMM kernels, WebAssembly SIMD (v128). Compiled by `npm run build:wasm` twice: plain SIMD
// (build/packed.wasm) and with relaxed SIMD (build/packed-relaxed.wasm, `ASC_FEATURE_RELAXED_SIMD`), from these sources.
// Memory is laid out by the JavaScript side from heapBase(); these kernels allocate nothing.
export { popcountTables, nibbleOffsets, nibbleBlocks, binaryGemmLut } from "./binary";
export { decodeI2S, rowSumsI8, ternaryGemmI8, quantizeRowsI8 } from "./ternary";

/** First free byte after static data: the JS side places its buffers from here on. */
export function heapBase(): usize {
  return __heap_base;
}

/** Whether this build uses relaxed SIMD (1) or plain SIMD only (0). */
export function relaxedSimd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

// Ternary codes of group g (shift 6 - 2g) of 16 I2_S bytes, as i8 lanes in {-1, 0, +1}.
// i16x8.shr_u is one native instruction where i8x16.shr_u is emulated; the mask drops the bits it moves across bytes
@inline function decode(w: v128, shift: i32): v128 {
  return i8x16.sub(v128.and(i16x8.shr_u(w, shift), i8x16.splat(3)), i8x16.splat(1));
}

/**
 * Ternary GEMM, float32 activations x I2_S weights, times `scale`: each weight row is decoded once into `tmp`
 * (k' = bytes * 4 floats, {-1, 0, +1}) with SIMD (16 codes per shift, widened to f32x4) and dotted with every
 * activation row, 4 rows at a time. `x` rows are float32 of length k', zero padded and permuted per 64-value block:
 * position g*16 + l of a block holds the value at 4l + g (the weight stored at shift 6 - 2g of byte l), which is the
 * order the SIMD decode produces.
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

/**
 * The int8 multiply-add ceiling of this core, as the ternary kernel issues it: `iters` rounds of 8 independent
 * accumulators each taking one i8 x u7 dot of 16 products (relaxed build: `i16x8.relaxed_dot_i8x16_i7x16_s`, one
 * pmaddubsw; plain build: two extmuls) and one i16 add, all in registers; 128 MACs per round, 8 distinct products
 * (2 activation vectors x 4 weight vectors, as the 2 x 4 tile) so none is computed once for two. The two activation
 * vectors change every round (2 adds) so that nothing is loop-invariant. Returns a checksum.
 */
export function peakI8(iters: i32, seed: i32): i32 {
  let x = i8x16.splat(<i8>seed), y = i8x16.splat(<i8>(seed + 3));
  const u0 = i8x16.splat(0), u1 = i8x16.splat(1), u2 = i8x16.splat(2), u3 = i8x16.splat(3);
  let a0 = i16x8.splat(0), a1 = i16x8.splat(1), a2 = i16x8.splat(2), a3 = i16x8.splat(3);
  let a4 = i16x8.splat(4), a5 = i16x8.splat(5), a6 = i16x8.splat(6), a7 = i16x8.splat(7);
  for (let t = 0; t < iters; t++) {
    a0 = mac8(a0, x, u0); a1 = mac8(a1, x, u1); a2 = mac8(a2, x, u2); a3 = mac8(a3, x, u3);
    a4 = mac8(a4, y, u0); a5 = mac8(a5, y, u1); a6 = mac8(a6, y, u2); a7 = mac8(a7, y, u3);
    x = i8x16.add(x, y); y = i8x16.add(y, x);
  }
  const s = i16x8.add(i16x8.add(i16x8.add(a0, a1), i16x8.add(a2, a3)), i16x8.add(i16x8.add(a4, a5), i16x8.add(a6, a7)));
  return i16x8.extract_lane_s(s, 0) + i16x8.extract_lane_s(s, 7);
}

@inline function mac8(acc: v128, x: v128, u: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i16x8.add(acc, i16x8.relaxed_dot_i8x16_i7x16_s(x, u));
  return i16x8.add(i16x8.add(acc, i16x8.extmul_low_i8x16_s(x, u)), i16x8.extmul_high_i8x16_s(x, u));
}
