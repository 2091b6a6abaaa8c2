const f32 = Math.fround;

/** Adds a bias [n] to every row of y [rows, n] in place (float32). */
export function addBias(y: Float32Array, n: number, bias: Float32Array | undefined): Float32Array {
  if (bias === undefined) return y;
  for (let i = 0; i < y.length; i++) y[i] = (y[i] ?? 0) + (bias[i % n] ?? 0);
  return y;
}

/** into += b elementwise (float32), in place; returns `into`. */
export function addInto(into: Float32Array, b: Float32Array): Float32Array {
  for (let i = 0; i < into.length; i++) into[i] = (into[i] ?? 0) + (b[i] ?? 0);
  return into;
}

/** max(0, x) elementwise, in place. */
export function relu(x: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) if (!((x[i] ?? 0) > 0)) x[i] = 0;
  return x;
}

/** Li's final norm, as the model's forward computes it: x / sqrt(sum x^2 + 1e-24) * (g * sqrt(d)), per row (float32). */
export function finalNorm(x: Float32Array, rows: number, d: number, g: Float32Array): Float32Array {
  const out = new Float32Array(rows * d), sd = f32(Math.sqrt(d));
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += (x[r * d + i] ?? 0) ** 2;
    const norm = f32(Math.sqrt(f32(s + 1e-24)));
    for (let i = 0; i < d; i++) out[r * d + i] = f32((x[r * d + i] ?? 0) / norm) * f32((g[i] ?? 0) * sd);
  }
  return out;
}
