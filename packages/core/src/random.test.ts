import { describe, expect, it } from 'vitest';
import { mulberry32, randomFloat32 } from './index.js';

describe('mulberry32', () => {
  it('is deterministic for a seed, differs across seeds, and stays in [0, 1)', () => {
    const a = Array.from({ length: 1000 }, mulberry32(7));
    expect(Array.from({ length: 1000 }, mulberry32(7))).toEqual(a);
    expect(Array.from({ length: 5 }, mulberry32(8))).not.toEqual(a.slice(0, 5));
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThan(1);
    expect(mulberry32(1)()).toBe(0.6270739405881613); // the published first output for seed 1
  });

  it('randomFloat32 maps into [lo, hi) with a mean near the middle', () => {
    const x = randomFloat32(10_000, 3, 2, 4);
    expect(Math.min(...x)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...x)).toBeLessThan(4);
    expect(x.reduce((s, v) => s + v, 0) / x.length).toBeCloseTo(3, 1);
  });
});
