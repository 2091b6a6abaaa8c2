import { describe, expect, it } from 'vitest';
import { binaryWords, i2sBytes, packBinary, packI2S, packTernaryPlanes, unpackBinary, unpackI2S, unpackTernaryPlanes } from './packing.js';
import { randomCodes, tensor } from './tensor.js';

describe('I2_S packing (docs/science.md#packing-and-packed-kernels)', () => {
  it('packs [+1, 0, -1, +1] into the byte 0x92, first weight in the high bits', () => {
    const packed = packI2S(tensor('int8', [1, 4], [1, 0, -1, 1]));
    expect(packed.shape).toEqual([1, 32]);
    expect(packed.data[0]).toBe(0x92);
    expect(packed.data[1]).toBe(0x55); // padding: four zero weights (stored 01)
  });
  it.each([1, 3, 127, 128, 129, 1000])('round-trips k = %i exactly', (k) => {
    const codes = randomCodes([3, k], [-1, 0, 1], { seed: k });
    const packed = packI2S(codes);
    expect(packed.shape).toEqual([3, i2sBytes(k)]);
    expect(Array.from(unpackI2S(packed, k).data)).toEqual(Array.from(codes.data));
  });
  it('rejects a code outside {-1, 0, +1}', () => {
    expect(() => packI2S(tensor('int8', [1, 2], [1, 2]))).toThrow(/INVALID_OPTION/);
  });
});

describe('binary packing', () => {
  it('sets bit j of word 0 for +1 at position j (LSB first)', () => {
    const packed = packBinary(tensor('int8', [1, 3], [1, -1, 1]));
    expect(packed.data[0]).toBe(0b101);
  });
  it.each([1, 31, 32, 33, 100, 1000])('round-trips k = %i exactly with zero padding bits', (k) => {
    const codes = randomCodes([2, k], [-1, 1], { seed: k });
    const packed = packBinary(codes);
    expect(packed.shape).toEqual([2, binaryWords(k)]);
    if (k % 32 !== 0) expect((packed.data[binaryWords(k) - 1] ?? 0) >>> (k % 32)).toBe(0);
    expect(Array.from(unpackBinary(packed, k).data)).toEqual(Array.from(codes.data));
  });
  it('rejects a zero code', () => {
    expect(() => packBinary(tensor('int8', [1, 2], [1, 0]))).toThrow(/only -1 or \+1/);
  });
});

describe('ternary bit-planes', () => {
  it('stores the mask plane then the sign plane', () => {
    const packed = packTernaryPlanes(tensor('int8', [1, 4], [1, 0, -1, 1]));
    expect(Array.from(packed.data)).toEqual([0b1101, 0b0100]);
  });
  it.each([1, 32, 33, 1000])('round-trips k = %i exactly', (k) => {
    const codes = randomCodes([2, k], [-1, 0, 1], { seed: 7 * k });
    expect(Array.from(unpackTernaryPlanes(packTernaryPlanes(codes), k).data)).toEqual(Array.from(codes.data));
  });
});
