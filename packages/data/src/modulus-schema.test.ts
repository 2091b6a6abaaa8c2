import { describe, expect, it } from 'vitest';
import { MAX_P, modulusSchema, splitSizes } from './index.js';

describe('modulusSchema', () => {
  const schema = modulusSchema({ max: 113, why: 'a test bound' });
  it('accepts primes in [3, max]', () => {
    for (const p of [3, 5, 59, 113]) expect(schema.safeParse(p).success).toBe(true);
  });
  it.each([
    [2, 'expected a prime >= 3'],
    [9, 'expected a prime'],
    [127, 'expected a prime <= 113 (a test bound)'],
    [59.5, 'expected an integer'],
    ['59', 'expected a prime number'],
  ])('refuses %j with a message saying what is expected', (p, message) => {
    const r = schema.safeParse(p);
    expect(r.success).toBe(false);
    expect(r.error?.issues).toHaveLength(1); // one clear message, not a pile
    expect(r.error?.issues[0]?.message).toContain(message);
  });
  it('defaults to the exactness bound of the dataset arithmetic', () => {
    expect(modulusSchema().safeParse(MAX_P).success).toBe(true);
    expect(modulusSchema().safeParse(46349).success).toBe(false);
  });
});

describe('splitSizes', () => {
  it('is floor(fraction n) train and the rest test', () => {
    expect(splitSizes(9, 0.1)).toEqual({ nTrain: 0, nTest: 9 });
    expect(splitSizes(59 * 59, 0.6)).toEqual({ nTrain: 2088, nTest: 3481 - 2088 });
    expect(splitSizes(9, 0.999)).toEqual({ nTrain: 8, nTest: 1 });
  });
});
