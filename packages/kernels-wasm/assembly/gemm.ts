// fp32 GEMM for training: C = op(A) op(B) with an epilogue, blocked and packed (GotoBLAS loop order), a 4 x 8 register
// tile of f32x4 accumulators. Compiled twice from this file: with relaxed SIMD (`f32x4.relaxed_madd`, a fused
// multiply-add where the CPU has one) into build/gemm-relaxed.wasm and with plain SIMD (mul + add) into
// build/gemm.wasm, both on imported shared memory, so that several threads (each its own instance) can work on one product. A call computes one
// rectangle of C; the host splits C between threads. Every element of C is computed by the same sequence of
// operations whichever rectangle it falls in, so the result does not depend on the number of threads.

// @ts-ignore: decorator
@inline const MR = 4;
// @ts-ignore: decorator
@inline const NR = 8;
// @ts-ignore: decorator
@inline const KC = 256;
// @ts-ignore: decorator
@inline const MC = 128;

/** Epilogue flags (applied once, after the last block of k). */
// @ts-ignore: decorator
@inline const EPI_BIAS = 1; // C[i, j] += bias[j]            (aux0: [n] floats)
// @ts-ignore: decorator
@inline const EPI_RELU = 2; // C = max(C, 0)
// @ts-ignore: decorator
@inline const EPI_MASK = 4; // C[i, j] = aux1[i, j] > 0 ? C[i, j] : 0  (aux1: [m, n] floats, row-major)

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  // A compile-time constant: true in the build with `--enable relaxed-simd`.
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** The first byte past the module's static data: where the host may lay out buffers. */
export function heapBase(): usize {
  return __heap_base;
}

/** Scratch bytes one `gemm` call needs for a rectangle `cols` columns wide. */
export function scratchBytes(cols: i32): i32 {
  const panels = (cols + NR - 1) / NR;
  return (MC * KC + KC * panels * NR + MR * NR) * 4 + 64;
}

/** Packs rows [i, i + rows) x k-range [p, p + kc) of op(A) into MR-row panels: ap[t][kk][r] (zero-padded rows). */
function packA(a: usize, ap: usize, m: i32, k: i32, transA: i32, i: i32, rows: i32, p: i32, kc: i32): void {
  for (let t = 0; t < rows; t += MR) {
    const dst = ap + <usize>(t * kc) * 4;
    const r = min(MR, rows - t);
    if (transA != 0 && r == MR) {
      // A is stored [k, m]: the MR values of one kk are contiguous
      for (let kk = 0; kk < kc; kk++) v128.store(dst + <usize>(kk * MR) * 4, v128.load(a + (<usize>(p + kk) * <usize>m + <usize>(i + t)) * 4));
      continue;
    }
    for (let rr = 0; rr < MR; rr++) {
      if (rr >= r) {
        for (let kk = 0; kk < kc; kk++) store<f32>(dst + <usize>(kk * MR + rr) * 4, 0);
      } else if (transA == 0) {
        const src = a + (<usize>(i + t + rr) * <usize>k + <usize>p) * 4;
        for (let kk = 0; kk < kc; kk++) store<f32>(dst + <usize>(kk * MR + rr) * 4, load<f32>(src + <usize>kk * 4));
      } else {
        for (let kk = 0; kk < kc; kk++) store<f32>(dst + <usize>(kk * MR + rr) * 4, load<f32>(a + (<usize>(p + kk) * <usize>m + <usize>(i + t + rr)) * 4));
      }
    }
  }
}

/** Packs k-range [p, p + kc) x columns [j, j + cols) of op(B) into NR-column panels: bp[s][kk][c] (zero-padded). */
function packB(b: usize, bp: usize, n: i32, k: i32, transB: i32, j: i32, cols: i32, p: i32, kc: i32): void {
  for (let s = 0; s < cols; s += NR) {
    const dst = bp + <usize>(s * kc) * 4;
    const c = min(NR, cols - s);
    if (transB == 0 && c == NR) {
      for (let kk = 0; kk < kc; kk++) {
        const src = b + (<usize>(p + kk) * <usize>n + <usize>(j + s)) * 4;
        v128.store(dst + <usize>(kk * NR) * 4, v128.load(src));
        v128.store(dst + <usize>(kk * NR) * 4, v128.load(src, 16), 16);
      }
      continue;
    }
    for (let cc = 0; cc < NR; cc++) {
      if (cc >= c) {
        for (let kk = 0; kk < kc; kk++) store<f32>(dst + <usize>(kk * NR + cc) * 4, 0);
      } else if (transB == 0) {
        for (let kk = 0; kk < kc; kk++) store<f32>(dst + <usize>(kk * NR + cc) * 4, load<f32>(b + (<usize>(p + kk) * <usize>n + <usize>(j + s + cc)) * 4));
      } else {
        const src = b + (<usize>(j + s + cc) * <usize>k + <usize>p) * 4;
        for (let kk = 0; kk < kc; kk++) store<f32>(dst + <usize>(kk * NR + cc) * 4, load<f32>(src + <usize>kk * 4));
      }
    }
  }
}

/** The epilogue on one 4-float group of row i at column j (full group). */
// @ts-ignore: decorator
@inline function finish(v: v128, epi: i32, aux0: usize, aux1: usize, n: i32, i: i32, j: i32): v128 {
  let x = v;
  if ((epi & EPI_BIAS) != 0) x = f32x4.add(x, v128.load(aux0 + <usize>j * 4));
  if ((epi & EPI_RELU) != 0) x = f32x4.max(x, f32x4.splat(0));
  if ((epi & EPI_MASK) != 0) x = v128.and(x, f32x4.gt(v128.load(aux1 + (<usize>i * <usize>n + <usize>j) * 4), f32x4.splat(0)));
  return x;
}

/** Scalar epilogue for edge tiles. */
// @ts-ignore: decorator
@inline function finish1(v: f32, epi: i32, aux0: usize, aux1: usize, n: i32, i: i32, j: i32): f32 {
  let x = v;
  if ((epi & EPI_BIAS) != 0) x += load<f32>(aux0 + <usize>j * 4);
  if ((epi & EPI_RELU) != 0) x = max(x, 0);
  if ((epi & EPI_MASK) != 0 && !(load<f32>(aux1 + (<usize>i * <usize>n + <usize>j) * 4) > 0)) x = 0;
  return x;
}

/**
 * The MR x NR tile at (i, j) of C += panel(ap) panel(bp) over kc. `first`: C starts at zero; `last`: apply the
 * epilogue. Edge tiles (rows < MR or cols < NR) go through `tmp`.
 */
function tile(ap: usize, bp: usize, c: usize, n: i32, kc: i32, i: i32, j: i32, rows: i32, cols: i32, first: bool, last: bool, epi: i32, aux0: usize, aux1: usize, tmp: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let kk = 0; kk < kc; kk++) {
    const pa = ap + <usize>(kk * MR) * 4;
    const pb = bp + <usize>(kk * NR) * 4;
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    const a0 = v128.load32_splat(pa), a1 = v128.load32_splat(pa, 4), a2 = v128.load32_splat(pa, 8), a3 = v128.load32_splat(pa, 12);
    c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
    c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
    c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
    c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
  }
  const row = <usize>n * 4;
  if (rows == MR && cols == NR) {
    const p0 = c + (<usize>i * <usize>n + <usize>j) * 4, p1 = p0 + row, p2 = p1 + row, p3 = p2 + row;
    if (!first) {
      c00 = f32x4.add(v128.load(p0), c00); c01 = f32x4.add(v128.load(p0, 16), c01);
      c10 = f32x4.add(v128.load(p1), c10); c11 = f32x4.add(v128.load(p1, 16), c11);
      c20 = f32x4.add(v128.load(p2), c20); c21 = f32x4.add(v128.load(p2, 16), c21);
      c30 = f32x4.add(v128.load(p3), c30); c31 = f32x4.add(v128.load(p3, 16), c31);
    }
    if (last && epi != 0) {
      c00 = finish(c00, epi, aux0, aux1, n, i, j); c01 = finish(c01, epi, aux0, aux1, n, i, j + 4);
      c10 = finish(c10, epi, aux0, aux1, n, i + 1, j); c11 = finish(c11, epi, aux0, aux1, n, i + 1, j + 4);
      c20 = finish(c20, epi, aux0, aux1, n, i + 2, j); c21 = finish(c21, epi, aux0, aux1, n, i + 2, j + 4);
      c30 = finish(c30, epi, aux0, aux1, n, i + 3, j); c31 = finish(c31, epi, aux0, aux1, n, i + 3, j + 4);
    }
    v128.store(p0, c00); v128.store(p0, c01, 16);
    v128.store(p1, c10); v128.store(p1, c11, 16);
    v128.store(p2, c20); v128.store(p2, c21, 16);
    v128.store(p3, c30); v128.store(p3, c31, 16);
    return;
  }
  v128.store(tmp, c00); v128.store(tmp, c01, 16); v128.store(tmp, c10, 32); v128.store(tmp, c11, 48);
  v128.store(tmp, c20, 64); v128.store(tmp, c21, 80); v128.store(tmp, c30, 96); v128.store(tmp, c31, 112);
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < cols; q++) {
      const at = c + (<usize>(i + r) * <usize>n + <usize>(j + q)) * 4;
      let x = load<f32>(tmp + <usize>(r * NR + q) * 4);
      if (!first) x = load<f32>(at) + x;
      if (last && epi != 0) x = finish1(x, epi, aux0, aux1, n, i + r, j + q);
      store<f32>(at, x);
    }
  }
}

/**
 * C[i0:i1, j0:j1] = epilogue(op(A) op(B)) for C [m, n] row-major. op(A) is [m, k]: A stored [m, k] (transA 0) or
 * [k, m] (transA 1); op(B) is [k, n]: B stored [k, n] (transB 0) or [n, k] (transB 1). `epi`: EPI_* flags with
 * `aux0` (bias, [n]) and `aux1` (mask, [m, n]). `scratch`: `scratchBytes(j1 - j0)` bytes, 16-aligned, this call's own.
 * With k = 0, C is the epilogue of zeros.
 */
export function gemm(a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, transA: i32, transB: i32, i0: i32, i1: i32, j0: i32, j1: i32, epi: i32, aux0: usize, aux1: usize, scratch: usize): void {
  const cols = j1 - j0;
  const panels = (cols + NR - 1) / NR;
  const ap = scratch;
  const bp = ap + <usize>(MC * KC) * 4;
  const tmp = bp + <usize>(KC * panels * NR) * 4;
  if (k == 0) {
    for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) store<f32>(c + (<usize>i * <usize>n + <usize>j) * 4, finish1(0, epi, aux0, aux1, n, i, j));
    return;
  }
  for (let p = 0; p < k; p += KC) {
    const kc = min(KC, k - p);
    const first = p == 0, last = p + kc >= k;
    packB(b, bp, n, k, transB, j0, cols, p, kc);
    for (let ic = i0; ic < i1; ic += MC) {
      const mc = min(MC, i1 - ic);
      packA(a, ap, m, k, transA, ic, mc, p, kc);
      for (let s = 0; s < cols; s += NR) {
        const pb = bp + <usize>(s * kc) * 4;
        const nc = min(NR, cols - s);
        for (let t = 0; t < mc; t += MR) {
          tile(ap + <usize>(t * kc) * 4, pb, c, n, kc, ic + t, j0 + s, min(MR, mc - t), nc, first, last, epi, aux0, aux1, tmp);
        }
      }
    }
  }
}

/**
 * dst[s, :] = sum of src[r, :] over the rows r with ids[r] = s, for src [rows, w] and dst [segments, w] (a scatter-add,
 * the gradient of a row gather). Ids outside [0, segments) are skipped. Rows are added in order, so the sums are
 * deterministic.
 */
export function scatterAddRows(src: usize, ids: usize, dst: usize, rows: i32, w: i32, segments: i32): void {
  memory.fill(dst, 0, <usize>segments * <usize>w * 4);
  const w4 = w & ~3;
  for (let r = 0; r < rows; r++) {
    const s = load<i32>(ids + <usize>r * 4);
    if (s < 0 || s >= segments) continue;
    const from = src + <usize>r * <usize>w * 4;
    const to = dst + <usize>s * <usize>w * 4;
    let q = 0;
    for (; q < w4; q += 4) v128.store(to + <usize>q * 4, f32x4.add(v128.load(to + <usize>q * 4), v128.load(from + <usize>q * 4)));
    for (; q < w; q++) store<f32>(to + <usize>q * 4, load<f32>(to + <usize>q * 4) + load<f32>(from + <usize>q * 4));
  }
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** q · k over dh floats (SIMD, then the remainder). */
// @ts-ignore: decorator
@inline function dot(x: usize, y: usize, dh: i32): f32 {
  const d4 = dh & ~3;
  let acc = f32x4.splat(0);
  for (let d = 0; d < d4; d += 4) acc = madd(v128.load(x + <usize>d * 4), v128.load(y + <usize>d * 4), acc);
  let s = hsum(acc);
  for (let d = d4; d < dh; d++) s += load<f32>(x + <usize>d * 4) * load<f32>(y + <usize>d * 4);
  return s;
}

/** out[0:dh] = sum_j c[j] row_j[0:dh], row j at base + offs[j] (bytes; n terms). */
// @ts-ignore: decorator
@inline function combine(out: usize, c: usize, base: usize, offs: usize, n: i32, dh: i32): void {
  const d4 = dh & ~3;
  for (let d = 0; d < d4; d += 4) {
    let acc = f32x4.splat(0);
    for (let j = 0; j < n; j++) acc = madd(v128.load32_splat(c + <usize>j * 4), v128.load(base + <usize>load<i32>(offs + <usize>j * 4) + <usize>d * 4), acc);
    v128.store(out + <usize>d * 4, acc);
  }
  for (let d = d4; d < dh; d++) {
    let s: f32 = 0;
    for (let j = 0; j < n; j++) s += load<f32>(c + <usize>j * 4) * load<f32>(base + <usize>load<i32>(offs + <usize>j * 4) + <usize>d * 4);
    store<f32>(out + <usize>d * 4, s);
  }
}

/** offs[j] = byte offset of key row j of query b: ids[b*n + j] * w with `ids` (a table), else (b*n + j) * w. */
// @ts-ignore: decorator
@inline function keyRows(offs: usize, ids: usize, b: i32, n: i32, w: usize): void {
  for (let j = 0; j < n; j++) {
    const r = ids === 0 ? b * n + j : load<i32>(ids + <usize>(b * n + j) * 4);
    store<i32>(offs + <usize>j * 4, <i32>(<usize>r * w));
  }
}

/**
 * Softmax attention of one query per row over n keys: q [B, h*dh], k and v [B*n, h*dh] (rows b*n + j), or, with
 * `ids` (int32 [B*n], 0 = none), tables k and v [R, h*dh] whose row ids[b*n + j] is key j of query b →
 * z [B, h*dh] and the probabilities a [B, h, n]. Scores are q·k / scale, max-subtracted before the exponential.
 * `offs`: n ints of scratch.
 */
export function attendLast(q: usize, k: usize, v: usize, ids: usize, z: usize, a: usize, offs: usize, batch: i32, n: i32, h: i32, dh: i32, scale: f32): void {
  const w = <usize>(h * dh) * 4;
  for (let b = 0; b < batch; b++) {
    keyRows(offs, ids, b, n, w);
    for (let hh = 0; hh < h; hh++) {
      const head = <usize>(hh * dh) * 4;
      const qo = q + <usize>b * w + head;
      const ao = a + <usize>((b * h + hh) * n) * 4;
      let top: f32 = -Infinity;
      for (let j = 0; j < n; j++) {
        const s = dot(qo, k + head + <usize>load<i32>(offs + <usize>j * 4), dh) / scale;
        store<f32>(ao + <usize>j * 4, s);
        top = max(top, s);
      }
      let sum: f32 = 0;
      for (let j = 0; j < n; j++) {
        const e = Mathf.exp(load<f32>(ao + <usize>j * 4) - top);
        store<f32>(ao + <usize>j * 4, e);
        sum += e;
      }
      for (let j = 0; j < n; j++) store<f32>(ao + <usize>j * 4, load<f32>(ao + <usize>j * 4) / sum);
      combine(z + <usize>b * w + head, ao, v + head, offs, n, dh);
    }
  }
}

/**
 * The backward of {@link attendLast} given dz and the saved a: dA_j = dz·v_j, ds_j = a_j (dA_j - sum_i a_i dA_i) /
 * scale, dq = sum_j ds_j k_j, dk_j = ds_j q, dv_j = a_j dz. With `ids`, dk and dv are tables like k and v (zeroed by
 * the caller) into which each key row's gradient is added, in row order b*n + j (the order of a scatter-add of the
 * per-row gradients, so the sums are the same floats). `tmp`: n floats, `offs`: n ints of scratch.
 */
export function attendLastGrad(dz: usize, q: usize, k: usize, v: usize, ids: usize, a: usize, dq: usize, dk: usize, dv: usize, tmp: usize, offs: usize, batch: i32, n: i32, h: i32, dh: i32, scale: f32): void {
  const w = <usize>(h * dh) * 4;
  const d4 = dh & ~3;
  const add = ids !== 0;
  for (let b = 0; b < batch; b++) {
    keyRows(offs, ids, b, n, w);
    for (let hh = 0; hh < h; hh++) {
      const head = <usize>(hh * dh) * 4;
      const qo = <usize>b * w + head;
      const ao = a + <usize>((b * h + hh) * n) * 4;
      let mean: f32 = 0;
      for (let j = 0; j < n; j++) {
        const dA = dot(dz + qo, v + head + <usize>load<i32>(offs + <usize>j * 4), dh);
        store<f32>(tmp + <usize>j * 4, dA);
        mean += load<f32>(ao + <usize>j * 4) * dA;
      }
      for (let j = 0; j < n; j++) store<f32>(tmp + <usize>j * 4, (load<f32>(ao + <usize>j * 4) * (load<f32>(tmp + <usize>j * 4) - mean)) / scale);
      combine(dq + qo, tmp, k + head, offs, n, dh);
      for (let j = 0; j < n; j++) {
        const ds = f32x4.splat(load<f32>(tmp + <usize>j * 4));
        const aj = f32x4.splat(load<f32>(ao + <usize>j * 4));
        const row = head + <usize>load<i32>(offs + <usize>j * 4);
        for (let d = 0; d < d4; d += 4) {
          const gk = f32x4.mul(ds, v128.load(q + qo + <usize>d * 4)), gv = f32x4.mul(aj, v128.load(dz + qo + <usize>d * 4));
          const ok = dk + row + <usize>d * 4, ov = dv + row + <usize>d * 4;
          v128.store(ok, add ? f32x4.add(v128.load(ok), gk) : gk);
          v128.store(ov, add ? f32x4.add(v128.load(ov), gv) : gv);
        }
        for (let d = d4; d < dh; d++) {
          const gk = load<f32>(tmp + <usize>j * 4) * load<f32>(q + qo + <usize>d * 4), gv = load<f32>(ao + <usize>j * 4) * load<f32>(dz + qo + <usize>d * 4);
          const ok = dk + row + <usize>d * 4, ov = dv + row + <usize>d * 4;
          store<f32>(ok, add ? load<f32>(ok) + gk : gk);
          store<f32>(ov, add ? load<f32>(ov) + gv : gv);
        }
      }
    }
  }
}
