/** Rounds half to even, as `tf.round` and `torch.round` do. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function mean(w: Float32Array): number {
  let s = 0;
  for (const x of w) s += x;
  return w.length === 0 ? 0 : s / w.length;
}

export function meanAbs(w: Float32Array, centre = 0): number {
  let s = 0;
  for (const x of w) s += Math.abs(x - centre);
  return w.length === 0 ? 0 : s / w.length;
}

/** Sign with Sign(0) = -1: +1 if x > 0, else -1 (BitNet's convention; codes always fit one bit). */
export function signNegZero(x: number): number {
  return x > 0 ? 1 : -1;
}
