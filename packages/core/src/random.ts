/**
 * mulberry32: a small, fast, seeded 32-bit PRNG with uniform output in [0, 1). The one bitlens uses for test data
 * and demo data (dataset splits use a CPython-compatible MT19937 in @bitlens/data so published splits reproduce).
 * @example const rand = mulberry32(1); rand(); // 0.6270739405881613
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` seeded uniform float32 values in [lo, hi). */
export function randomFloat32(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
}
