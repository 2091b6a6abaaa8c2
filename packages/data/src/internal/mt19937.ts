import { mulberry32 } from '@bitlens/core';

/**
 * MT19937 seeded exactly as CPython's `random.seed(int)` (init_by_array over the 32-bit words of |seed|), with
 * `randbelow` and `shuffle` as CPython 3 implements them (`_randbelow_with_getrandbits`, Fisher-Yates from the end).
 * So `pythonShuffle(xs, seed)` reorders `xs` exactly as `random.seed(seed); random.shuffle(xs)` does in Python 3,
 * which is how Nanda's, Li's and Furuta's code split their datasets.
 */
export class PythonRandom {
  private readonly mt = new Uint32Array(624);
  private index = 624;

  constructor(seed: number) {
    this.initByArray(seedKey(seed));
  }

  private initGenrand(s: number): void {
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = mt[i - 1] ?? 0;
      const x = prev ^ (prev >>> 30);
      // 1812433253 * x + i, mod 2^32, without losing precision
      mt[i] = ((((x & 0xffff0000) >>> 16) * 1812433253) << 16) + (x & 0x0000ffff) * 1812433253 + i;
    }
    this.index = 624;
  }

  private initByArray(key: readonly number[]): void {
    const mt = this.mt;
    this.initGenrand(19650218);
    let i = 1;
    let j = 0;
    for (let k = Math.max(624, key.length); k > 0; k--) {
      const prev = mt[i - 1] ?? 0;
      const x = prev ^ (prev >>> 30);
      const mul = ((((x & 0xffff0000) >>> 16) * 1664525) << 16) + (x & 0x0000ffff) * 1664525;
      mt[i] = (((mt[i] ?? 0) ^ mul) >>> 0) + (key[j] ?? 0) + j;
      i++;
      j++;
      if (i >= 624) {
        mt[0] = mt[623] ?? 0;
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = 623; k > 0; k--) {
      const prev = mt[i - 1] ?? 0;
      const x = prev ^ (prev >>> 30);
      const mul = ((((x & 0xffff0000) >>> 16) * 1566083941) << 16) + (x & 0x0000ffff) * 1566083941;
      mt[i] = (((mt[i] ?? 0) ^ mul) >>> 0) - i;
      i++;
      if (i >= 624) {
        mt[0] = mt[623] ?? 0;
        i = 1;
      }
    }
    mt[0] = 0x80000000;
  }

  private twist(): void {
    const mt = this.mt;
    for (let k = 0; k < 624; k++) {
      const y = ((mt[k] ?? 0) & 0x80000000) | ((mt[(k + 1) % 624] ?? 0) & 0x7fffffff);
      mt[k] = (mt[(k + 397) % 624] ?? 0) ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }

  /** Next 32-bit output (genrand_uint32). */
  nextUint32(): number {
    if (this.index >= 624) this.twist();
    let y = this.mt[this.index++] ?? 0;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** `random.getrandbits(k)` for 1 <= k <= 32. */
  getrandbits(k: number): number {
    return this.nextUint32() >>> (32 - k);
  }

  /** `random._randbelow(n)` for 1 <= n <= 2^32: rejection sampling on n.bit_length() bits. */
  randbelow(n: number): number {
    const k = 32 - Math.clz32(n);
    let r = this.getrandbits(k);
    while (r >= n) r = this.getrandbits(k);
    return r;
  }
}

/** The 32-bit little-endian words of |seed| (at least one), as CPython's random_seed builds its key. */
function seedKey(seed: number): number[] {
  let n = Math.abs(seed);
  const key: number[] = [];
  do {
    key.push(n % 0x100000000);
    n = Math.floor(n / 0x100000000);
  } while (n > 0);
  return key;
}

/** In place: `random.seed(seed); random.shuffle(xs)` of CPython 3. */
export function pythonShuffle<T>(xs: T[] | Int32Array, seed: number): void {
  const rng = new PythonRandom(seed);
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.randbelow(i + 1);
    const t = xs[i] as T;
    xs[i] = xs[j] as T;
    xs[j] = t;
  }
}


/** In place Fisher-Yates from the end with mulberry32(seed): j = floor(u * (i + 1)). */
export function mulberryShuffle<T>(xs: T[] | Int32Array, seed: number): void {
  const rand = mulberry32(seed);
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = xs[i] as T;
    xs[i] = xs[j] as T;
    xs[j] = t;
  }
}
