import { packBinary, packI2S, packTernaryPlanes, randomCodes, randomInt8, randomTensor, tensor, toFloat32 } from '@bitlens/kernels';
import type { OpAttrs, OpInputs, OpName } from '@bitlens/kernels';
import type { GapKey } from './known-gaps.js';

/** One conformance case: an op call, compared with the reference (`close`) or with an exact expectation. */
export interface Case<N extends OpName = OpName> {
  readonly name: string;
  readonly op: N;
  readonly gap: GapKey;
  readonly inputs: OpInputs<N>;
  readonly attrs: OpAttrs<N>;
  /**
   * `reference`: compare with the reference backend's output of the same call.
   * `float-of-codes`: the packed op must equal the float MatMul of the same {-1,0,+1} matrices (computed by the
   * reference), exactly for integer outputs, within the backend tolerance when fp32 activations are involved.
   */
  readonly expect: 'reference' | { readonly floatOf: { readonly a: OpInputs<'MatMul'>['a']; readonly b: OpInputs<'MatMul'>['b']; readonly scale: number } };
}

function c<N extends OpName>(x: Case<N>): Case {
  return x as unknown as Case;
}

/** Builds the cases (seeded, small: the suite runs on every backend in CI on two cores). */
export function buildCases(): Case[] {
  const out: Case[] = [
    c({ name: 'MatMul 37x29 · 29x23', op: 'MatMul', gap: 'MatMul', inputs: { a: randomTensor([37, 29], { seed: 1 }), b: randomTensor([29, 23], { seed: 2 }) }, attrs: { transposeB: false }, expect: 'reference' }),
    c({ name: 'MatMul 16x64 · (8x64)ᵀ', op: 'MatMul', gap: 'MatMul', inputs: { a: randomTensor([16, 64], { seed: 3 }), b: randomTensor([8, 64], { seed: 4 }) }, attrs: { transposeB: true }, expect: 'reference' }),
    c({ name: 'Softmax 6x50', op: 'Softmax', gap: 'Softmax', inputs: { x: randomTensor([6, 50], { seed: 5 }) }, attrs: {}, expect: 'reference' }),
    c({ name: 'ClippedSoftmax 6x50 zeta 1.1 gamma -0.03', op: 'ClippedSoftmax', gap: 'ClippedSoftmax', inputs: { x: randomTensor([6, 50], { seed: 6 }) }, attrs: { zeta: 1.1, gamma: -0.03 }, expect: 'reference' }),
    c({ name: 'FourierProjection p=13 d=5', op: 'FourierProjection', gap: 'FourierProjection', inputs: { x: randomTensor([13, 5], { seed: 7 }) }, attrs: { p: 13 }, expect: 'reference' }),
    c({ name: 'QuantizeTernary 24x40', op: 'QuantizeTernary', gap: 'QuantizeTernary', inputs: { w: randomTensor([24, 40], { seed: 8 }) }, attrs: { eps: 1e-5 }, expect: 'reference' }),
    // eps 0 and gamma 1: w / gamma = ±0.5 and ±1.5 exactly, so the codes test round half to even (0, 0, 1, -1 after clip)
    c({ name: 'QuantizeTernary exact ties, eps 0', op: 'QuantizeTernary', gap: 'QuantizeTernary', inputs: { w: tensor('float32', [2, 2], [0.5, -0.5, 1.5, -1.5]) }, attrs: { eps: 0 }, expect: 'reference' }),
    c({ name: 'QuantizeBinary 24x40 centred', op: 'QuantizeBinary', gap: 'QuantizeBinary', inputs: { w: randomTensor([24, 40], { seed: 9 }) }, attrs: { center: true }, expect: 'reference' }),
    c({ name: 'Dequantize per-row scales', op: 'Dequantize', gap: 'Dequantize', inputs: { codes: randomCodes([5, 9], [-1, 0, 1], { seed: 10 }), scale: tensor('float32', [5], [0.5, 1, 1.5, 2, 2.5]) }, attrs: {}, expect: 'reference' }),
    c({ name: 'Int8MatMul 9x1500 · (7x1500)ᵀ (k past one exact fp32 chunk)', op: 'Int8MatMul', gap: 'Int8MatMul', inputs: { a: randomInt8([9, 1500], { seed: 11, lo: -128 }), b: randomInt8([7, 1500], { seed: 12, lo: -128 }) }, attrs: { transposeB: true }, expect: 'reference' }),
  ];
  // packed kernels: k not a multiple of 32 / 128, odd m and n to exercise tile edges; n >= 32 reaches the wasm
  // kernels' 16-row weight blocks (two full blocks and a partial third), k = 1100 more than one 63-step chunk
  for (const [m, n, k] of [[5, 7, 1], [6, 9, 100], [9, 10, 300], [9, 40, 300], [6, 33, 1100]] as const) {
    const a = randomCodes([m, k], [-1, 1], { seed: 100 + k }), b = randomCodes([n, k], [-1, 1], { seed: 200 + k });
    out.push(c({ name: `BinaryMatMul ${m}x${n} k=${k}`, op: 'BinaryMatMul', gap: 'BinaryMatMul', inputs: { a: packBinary(a), b: packBinary(b) }, attrs: { k },
      expect: { floatOf: { a: toFloat32(a), b: toFloat32(b), scale: 1 } } }));
    const w = randomCodes([n, k], [-1, 0, 1], { seed: 300 + k }), x8 = randomInt8([m, k], { seed: 400 + k, lo: -128 }), x = randomTensor([m, k], { seed: 500 + k });
    for (const format of ['i2s', 'planes'] as const) {
      const packed = format === 'i2s' ? packI2S(w) : packTernaryPlanes(w);
      out.push(c({ name: `TernaryMatMul ${format} int8 ${m}x${n} k=${k}`, op: 'TernaryMatMul', gap: `TernaryMatMul:${format}`, inputs: { x: x8, w: packed }, attrs: { k, format, scale: 1 },
        expect: { floatOf: { a: toFloat32(x8), b: toFloat32(w), scale: 1 } } }));
      out.push(c({ name: `TernaryMatMul ${format} fp32 ${m}x${n} k=${k} scale 0.75`, op: 'TernaryMatMul', gap: `TernaryMatMul:${format}`, inputs: { x, w: packed }, attrs: { k, format, scale: 0.75 },
        expect: { floatOf: { a: x, b: toFloat32(w), scale: 0.75 } } }));
    }
    // W1.58A8: the int8 codes of x must match the reference's exactly (the dequantized output then agrees to fp32 rounding)
    out.push(c({ name: `TernaryMatMulA8 ${m}x${n} k=${k} scale 0.75`, op: 'TernaryMatMulA8', gap: 'TernaryMatMulA8', inputs: { x, w: packI2S(w) }, attrs: { k, scale: 0.75 }, expect: 'reference' }));
  }
  return out;
}
