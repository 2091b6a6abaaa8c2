import { BitlensError } from '@bitlens/core';
import type { DType, HostTensor, OpAttrs, OpInputs, OpName } from './ops.js';
import { binaryWords, i2sBytes } from './packing.js';
import { sizeOf } from './tensor.js';

function fail(op: string, field: string, expected: string, found: string, code: 'SHAPE_MISMATCH' | 'INVALID_OPTION' = 'SHAPE_MISMATCH'): never {
  throw new BitlensError(code, { stage: `kernels/${op}`, field, expected, found });
}
const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

function check(op: string, field: string, t: HostTensor | undefined, dtypes: readonly DType[], rank?: number): readonly number[] {
  if (t === undefined) fail(op, field, 'a tensor', 'nothing');
  if (!dtypes.includes(t.dtype)) fail(op, field, `dtype ${dtypes.join(' or ')}`, t.dtype);
  if (rank !== undefined && t.shape.length !== rank) fail(op, field, `rank ${rank}`, `shape ${fmt(t.shape)}`);
  if (t.data.length !== sizeOf(t.shape)) fail(op, field, `${sizeOf(t.shape)} elements for shape ${fmt(t.shape)}`, `${t.data.length}`);
  return t.shape;
}
function positiveInt(op: string, field: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) fail(op, field, 'a positive integer', String(v), 'INVALID_OPTION');
}

/** The shape checks, one per op; each throws `SHAPE_MISMATCH` (or `INVALID_OPTION` for a bad attribute). */
const CHECKS: { readonly [N in OpName]: (inputs: OpInputs<N>, attrs: OpAttrs<N>) => void } = {
  MatMul: ({ a, b }, { transposeB }) => {
    const [m, k] = check('MatMul', 'a', a, ['float32'], 2), sb = check('MatMul', 'b', b, ['float32'], 2);
    const kb = transposeB ? sb[1] : sb[0];
    if (kb !== k) fail('MatMul', 'b', `inner dimension ${k} (a is ${fmt([m ?? 0, k ?? 0])}, transposeB=${transposeB})`, fmt(sb));
  },
  Softmax: ({ x }) => { if (check('Softmax', 'x', x, ['float32']).length < 1) fail('Softmax', 'x', 'rank >= 1', 'a scalar'); },
  ClippedSoftmax: ({ x }, { zeta, gamma }) => {
    if (check('ClippedSoftmax', 'x', x, ['float32']).length < 1) fail('ClippedSoftmax', 'x', 'rank >= 1', 'a scalar');
    if (!(zeta >= 1)) fail('ClippedSoftmax', 'zeta', 'zeta >= 1', String(zeta), 'INVALID_OPTION');
    if (!(gamma <= 0)) fail('ClippedSoftmax', 'gamma', 'gamma <= 0', String(gamma), 'INVALID_OPTION');
  },
  FourierProjection: ({ x }, { p }) => {
    const s = check('FourierProjection', 'x', x, ['float32'], 2);
    if (!Number.isInteger(p) || p < 3 || p % 2 === 0) fail('FourierProjection', 'p', 'an odd integer >= 3', String(p), 'INVALID_OPTION');
    if (s[0] !== p) fail('FourierProjection', 'x', `first axis of length p = ${p}`, fmt(s));
  },
  QuantizeTernary: ({ w }, { eps }) => {
    check('QuantizeTernary', 'w', w, ['float32']);
    if (!(eps >= 0)) fail('QuantizeTernary', 'eps', 'eps >= 0', String(eps), 'INVALID_OPTION');
  },
  QuantizeBinary: ({ w }) => { check('QuantizeBinary', 'w', w, ['float32']); },
  Dequantize: ({ codes, scale }) => {
    const s = check('Dequantize', 'codes', codes, ['int8']), n = sizeOf(check('Dequantize', 'scale', scale, ['float32']));
    if (n !== 1 && !(s.length >= 1 && n === s[0])) fail('Dequantize', 'scale', `1 value or one per row (${s[0] ?? 0})`, `${n}`);
  },
  Int8MatMul: ({ a, b }, { transposeB }) => {
    const [, k] = check('Int8MatMul', 'a', a, ['int8'], 2), sb = check('Int8MatMul', 'b', b, ['int8'], 2);
    if ((transposeB ? sb[1] : sb[0]) !== k) fail('Int8MatMul', 'b', `inner dimension ${k} (transposeB=${transposeB})`, fmt(sb));
  },
  BinaryMatMul: ({ a, b }, { k }) => {
    positiveInt('BinaryMatMul', 'k', k);
    const sa = check('BinaryMatMul', 'a', a, ['uint32'], 2), sb = check('BinaryMatMul', 'b', b, ['uint32'], 2);
    const w = binaryWords(k);
    if (sa[1] !== w) fail('BinaryMatMul', 'a', `[m, ${w}] words for k = ${k}`, fmt(sa));
    if (sb[1] !== w) fail('BinaryMatMul', 'b', `[n, ${w}] words for k = ${k}`, fmt(sb));
  },
  TernaryMatMul: ({ x, w }, { k, format, scale }) => {
    positiveInt('TernaryMatMul', 'k', k);
    const sx = check('TernaryMatMul', 'x', x, ['float32', 'int8'], 2);
    if (sx[1] !== k) fail('TernaryMatMul', 'x', `[m, ${k}]`, fmt(sx));
    if (format === 'i2s') {
      const sw = check('TernaryMatMul', 'w', w, ['uint8'], 2);
      if (sw[1] !== i2sBytes(k)) fail('TernaryMatMul', 'w', `[n, ${i2sBytes(k)}] I2_S bytes for k = ${k}`, fmt(sw));
    } else if (format === 'planes') {
      const sw = check('TernaryMatMul', 'w', w, ['uint32'], 2);
      if (sw[1] !== 2 * binaryWords(k)) fail('TernaryMatMul', 'w', `[n, ${2 * binaryWords(k)}] plane words for k = ${k}`, fmt(sw));
    } else {
      fail('TernaryMatMul', 'format', "'i2s' or 'planes'", String(format), 'INVALID_OPTION');
    }
    if (!Number.isFinite(scale)) fail('TernaryMatMul', 'scale', 'a finite number', String(scale), 'INVALID_OPTION');
    if (x.dtype === 'int8' && scale !== 1) fail('TernaryMatMul', 'scale', '1 for int8 activations (the int32 output is exact)', String(scale), 'INVALID_OPTION');
  },
  TernaryMatMulA8: ({ x, w }, { k, scale }) => {
    positiveInt('TernaryMatMulA8', 'k', k);
    const sx = check('TernaryMatMulA8', 'x', x, ['float32'], 2);
    if (sx[1] !== k) fail('TernaryMatMulA8', 'x', `[m, ${k}]`, fmt(sx));
    const sw = check('TernaryMatMulA8', 'w', w, ['uint8'], 2);
    if (sw[1] !== i2sBytes(k)) fail('TernaryMatMulA8', 'w', `[n, ${i2sBytes(k)}] I2_S bytes for k = ${k}`, fmt(sw));
    if (!Number.isFinite(scale)) fail('TernaryMatMulA8', 'scale', 'a finite number', String(scale), 'INVALID_OPTION');
  },
};

/**
 * Checks inputs and attributes of `op` before any backend runs (tfjs's role of `kernel_names.ts` + `runKernel`).
 * @throws BitlensError SHAPE_MISMATCH (shapes, dtypes, lengths) or INVALID_OPTION (attributes); KERNEL_NOT_FOUND for an unknown op.
 */
export function checkShapes<N extends OpName>(op: N, inputs: OpInputs<N>, attrs: OpAttrs<N>): void {
  const fn = (CHECKS as Record<string, ((i: unknown, a: unknown) => void) | undefined>)[op];
  if (fn === undefined) throw new BitlensError('KERNEL_NOT_FOUND', { stage: 'kernels/registry', field: 'op', expected: 'a declared op', found: String(op) });
  fn(inputs, attrs);
}
