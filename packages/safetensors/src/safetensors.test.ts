import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fromFloat32, readSafetensors, readSafetensorsHeader, toFloat32, writeSafetensors, type TensorEntry } from './index.js';
import { errorOf } from '@bitlens/core/testing';

const FIXTURE_NAME = 'progress_measures_p113_wd0.1_seed1.safetensors';
/** The shared fixtures folder sits beside the repository (`<repo>/../shared`), as in CI's clone. */
const FIXTURE = fileURLToPath(new URL(`../../../../shared/fixtures/${FIXTURE_NAME}`, import.meta.url));

/** Builds a file by hand: header JSON (unpadded unless asked) + data bytes. */
function rawFile(header: unknown, data: Uint8Array, headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32 = (xs: number[]): Uint8Array => new Uint8Array(new Float32Array(xs).buffer);

describe('writeSafetensors', () => {
  it('matches the reference implementation byte for byte (its serialization tests)', () => {
    const data = new Float32Array([0, 1, 2, 3, 4, 5]);
    const a = writeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data } });
    // 64-byte header, no padding needed
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(header.length).toBe(64);
    expect(Array.from(a.subarray(0, 8))).toEqual([64, 0, 0, 0, 0, 0, 0, 0]);
    expect(new TextDecoder().decode(a.subarray(8, 72))).toBe(header);
    expect(Array.from(a.subarray(72))).toEqual(Array.from(f32([0, 1, 2, 3, 4, 5])));

    // forced alignment: 65-byte JSON padded with 7 spaces to 72
    const b = writeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data } });
    expect(Array.from(b.subarray(0, 8))).toEqual([72, 0, 0, 0, 0, 0, 0, 0]);
    expect(new TextDecoder().decode(b.subarray(8, 80))).toBe('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ');

    // empty, with and without metadata
    expect(Array.from(writeSafetensors({}))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    const c = writeSafetensors({}, { framework: 'pt' });
    expect(Array.from(c.subarray(0, 8))).toEqual([40, 0, 0, 0, 0, 0, 0, 0]);
    expect(new TextDecoder().decode(c.subarray(8))).toBe('{"__metadata__":{"framework":"pt"}}     ');
  });

  it('orders tensors by descending dtype alignment, then by name, so every tensor is aligned', () => {
    const bytes = writeSafetensors({
      b: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
      a: { dtype: 'F32', shape: [1], data: new Float32Array([1]) },
      z: { dtype: 'I64', shape: [1], data: new BigInt64Array([-5n]) },
      c: { dtype: 'F32', shape: [2], data: new Float32Array([2, 3]) },
      h: { dtype: 'F16', shape: [1], data: new Uint16Array([0x3c00]) },
    });
    const header = readSafetensorsHeader(bytes);
    expect([...header.tensors.keys()]).toEqual(['z', 'a', 'c', 'h', 'b']);
    expect(header.headerLength % 8).toBe(0);
    for (const e of header.tensors.values()) expect(e.dataOffsets[0] % (e.dtype === 'I64' ? 8 : e.dtype === 'F32' ? 4 : e.dtype === 'F16' ? 2 : 1)).toBe(0);
  });

  it('round-trips every dtype exactly, with metadata', () => {
    const tensors: Record<string, TensorEntry> = {
      f64: { dtype: 'F64', shape: [2, 2], data: new Float64Array([Math.PI, -0, 1e-300, Number.MAX_VALUE]) },
      f32: { dtype: 'F32', shape: [3], data: new Float32Array([1.5, -2.25, Number.NaN]) },
      f16: { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xfbff]) },
      bf16: { dtype: 'BF16', shape: [1, 1], data: new Uint16Array([0x3f80]) },
      i64: { dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]) },
      u64: { dtype: 'U64', shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) },
      i32: { dtype: 'I32', shape: [2], data: new Int32Array([-7, 2 ** 31 - 1]) },
      u32: { dtype: 'U32', shape: [1], data: new Uint32Array([2 ** 32 - 1]) },
      i16: { dtype: 'I16', shape: [1], data: new Int16Array([-300]) },
      u16: { dtype: 'U16', shape: [1], data: new Uint16Array([65535]) },
      i8: { dtype: 'I8', shape: [3], data: new Int8Array([-1, 0, 1]) },
      u8: { dtype: 'U8', shape: [1], data: new Uint8Array([255]) },
      bool: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
      scalar: { dtype: 'F32', shape: [], data: new Float32Array([42]) },
      empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    };
    const bytes = writeSafetensors(tensors, { b: '2', a: 'x"y' });
    const back = readSafetensors(bytes);
    expect(back.metadata).toEqual({ a: 'x"y', b: '2' });
    expect(back.tensors.size).toBe(Object.keys(tensors).length);
    for (const [name, t] of Object.entries(tensors)) {
      const r = back.tensors.get(name);
      expect(r?.dtype, name).toBe(t.dtype);
      expect(r?.shape, name).toEqual(t.shape);
      expect(r?.data.constructor, name).toBe(t.data.constructor);
      // byte-exact (NaN and -0 included)
      const bytesOf = (d: TensorEntry['data']): number[] => Array.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      expect(r === undefined ? [] : bytesOf(r.data), name).toEqual(bytesOf(t.data));
    }
    // writing what was read gives the same bytes again
    expect(writeSafetensors(back.tensors, back.metadata)).toEqual(bytes);
  });

  it('rejects bad input naming the tensor', () => {
    const e1 = errorOf(() => writeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }));
    expect(e1.code).toBe('SHAPE_MISMATCH');
    expect(e1.site.field).toBe('w');
    const e2 = errorOf(() => writeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float64Array(2) } as unknown as TensorEntry }));
    expect([e2.code, e2.site.field, e2.site.found]).toEqual(['INVALID_OPTION', 'w', 'Float64Array']);
    const e3 = errorOf(() => writeSafetensors({ w: { dtype: 'F8_E4M3', shape: [1], data: new Uint8Array(1) } as unknown as TensorEntry }));
    expect([e3.code, e3.site.field]).toEqual(['INVALID_OPTION', 'w']);
    const e4 = errorOf(() => writeSafetensors({ __metadata__: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }));
    expect(e4.code).toBe('INVALID_OPTION');
    const e5 = errorOf(() => writeSafetensors({ w: { dtype: 'U8', shape: [-1], data: new Uint8Array(1) } }));
    expect([e5.code, e5.site.field]).toEqual(['INVALID_OPTION', 'w']);
  });
});

describe('readSafetensors on the real TransformerLens fixture', () => {
  const bytes = new Uint8Array(readFileSync(FIXTURE));
  const file = readSafetensors(bytes);

  it('has the names, shapes and dtypes of its header', () => {
    const shapes = Object.fromEntries([...file.tensors].map(([n, t]) => [n, [t.dtype, ...t.shape]]));
    expect(shapes).toEqual({
      'blocks.0.attn.W_K': ['F32', 4, 128, 32], 'blocks.0.attn.W_O': ['F32', 4, 32, 128], 'blocks.0.attn.W_Q': ['F32', 4, 128, 32],
      'blocks.0.attn.W_V': ['F32', 4, 128, 32], 'blocks.0.attn.b_K': ['F32', 4, 32], 'blocks.0.attn.b_O': ['F32', 128],
      'blocks.0.attn.b_Q': ['F32', 4, 32], 'blocks.0.attn.b_V': ['F32', 4, 32], 'blocks.0.mlp.W_in': ['F32', 128, 512],
      'blocks.0.mlp.W_out': ['F32', 512, 128], 'blocks.0.mlp.b_in': ['F32', 512], 'blocks.0.mlp.b_out': ['F32', 128],
      'embed.W_E': ['F32', 114, 128], 'pos_embed.W_pos': ['F32', 3, 128], 'unembed.W_U': ['F32', 128, 113], 'unembed.b_U': ['F32', 113],
    });
    expect(file.metadata['source_commit']).toBe('23d2c64dd1f8a5ca65efaf27e15c2b2cd47dedf1');
    expect(JSON.parse(file.metadata['config'] ?? '{}')).toMatchObject({ d_model: 128, d_vocab: 114, n_ctx: 3 });
  });

  it('reads the data at the right offsets (values agree with a DataView read of the file)', () => {
    const header = readSafetensorsHeader(bytes);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const start = 8 + header.headerLength;
    for (const name of ['embed.W_E', 'unembed.W_U', 'blocks.0.mlp.W_out']) {
      const e = header.tensors.get(name);
      const t = file.tensors.get(name);
      if (e === undefined || t === undefined || t.dtype !== 'F32') throw new Error(name);
      const n = t.data.length;
      for (const i of [0, 1, n >> 1, n - 1]) expect(t.data[i]).toBe(view.getFloat32(start + e.dataOffsets[0] + 4 * i, true));
    }
    const w = toFloat32(file.tensors.get('embed.W_E') as TensorEntry);
    expect(w.some((x) => x !== 0)).toBe(true);
    expect(toFloat32(file.tensors.get('unembed.b_U') as TensorEntry).every((x) => x === 0)).toBe(true); // zeros by conversion
  });

  it('rewrites to a file with the identical data section and identical tensors', () => {
    const again = writeSafetensors(file.tensors, file.metadata);
    const h1 = readSafetensorsHeader(bytes);
    const h2 = readSafetensorsHeader(again);
    // all F32: name order = file order, so the data sections are byte-identical
    expect(Buffer.compare(again.subarray(8 + h2.headerLength), bytes.subarray(8 + h1.headerLength))).toBe(0);
    expect([...h2.tensors]).toEqual([...h1.tensors]);
    expect(readSafetensors(again).metadata).toEqual(file.metadata);
  });

  it('reads from an unaligned view of the bytes', () => {
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const r = readSafetensors(shifted.subarray(3));
    expect(r.tensors.get('embed.W_E')?.data).toEqual(file.tensors.get('embed.W_E')?.data);
  });
});

describe('readSafetensors rejects bad files with a typed error naming the tensor', () => {
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };

  it('accepts the hand-built good file', () => {
    expect(readSafetensors(rawFile(ok, f32([1, 2]))).tensors.get('w')?.data).toEqual(new Float32Array([1, 2]));
  });

  it.each([
    ['too short', new Uint8Array(5), 'header length'],
    ['header length past the end', rawFile(ok, f32([1, 2]), 1000n), 'header length'],
    ['huge header length', rawFile(ok, f32([1, 2]), 2n ** 60n), 'header length'],
    ['not JSON', rawFile(ok, f32([1, 2]), 5n), 'header'],
    ['JSON array', rawFile([1], new Uint8Array(0)), 'header'],
    ['unknown dtype', rawFile({ w: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2)), 'w'],
    ['bad shape', rawFile({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, f32([1, 2])), 'w'],
    ['offsets out of range', rawFile({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32([1, 2])), 'w'],
    ['size not shape x dtype', rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32([1, 2])), 'w'],
    ['overlapping', rawFile({ v: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, w: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32([1, 2])), 'w'],
    ['gap', rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32([1, 2])), 'w'],
    ['begin > end', rawFile({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, f32([1, 2])), 'w'],
    ['trailing bytes', rawFile(ok, f32([1, 2, 3])), 'data'],
    ['non-string metadata', rawFile({ __metadata__: { a: 1 } }, new Uint8Array(0)), '__metadata__.a'],
  ])('%s', (_label, bytes, field) => {
    const e = errorOf(() => readSafetensors(bytes));
    expect(e.code).toBe('ARTIFACT_CORRUPT');
    expect(e.site.field).toBe(field);
    expect(e.message).toContain(field);
  });
});

describe('toFloat32 / fromFloat32', () => {
  const codes = (t: TensorEntry): number[] => (t.dtype === 'F16' || t.dtype === 'BF16' ? Array.from(t.data) : []);
  it('decodes F16 and BF16 exactly and encodes with round-to-nearest-even', () => {
    const half = { dtype: 'F16', shape: [7], data: new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x3555]) } as const;
    expect(Array.from(toFloat32(half))).toEqual([1, -2, 65504, 2 ** -24, -0, Infinity, Math.fround(0.333251953125)]);
    expect(codes(fromFloat32(Float32Array.from(toFloat32(half)), [7], 'F16'))).toEqual(Array.from(half.data));
    // ties to even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 -> 1; 1 + 3*2^-11 -> 1 + 2^-9
    expect(codes(fromFloat32(new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 1e6, 2 ** -26]), [4], 'F16'))).toEqual([0x3c00, 0x3c02, 0x7c00, 0]);
    const bf = fromFloat32(new Float32Array([1, -2.5, 1 + 2 ** -8, 1 + 3 * 2 ** -8]), [4], 'BF16');
    expect(codes(bf)).toEqual([0x3f80, 0xc020, 0x3f80, 0x3f82]);
    expect(Array.from(toFloat32(bf))).toEqual([1, -2.5, 1, 1 + 2 ** -6]);
    expect(Array.from(toFloat32(fromFloat32(new Float32Array([0.1]), [1], 'F64')))).toEqual([Math.fround(0.1)]);
  });

  it('refuses integer tensors and wrong element counts', () => {
    const e = errorOf(() => toFloat32({ dtype: 'I32', shape: [1], data: new Int32Array(1) }, 'ids'));
    expect([e.code, e.site.field, e.site.found]).toEqual(['INVALID_OPTION', 'ids', 'I32']);
    expect(errorOf(() => fromFloat32(new Float32Array(3), [2, 2])).code).toBe('SHAPE_MISMATCH');
  });
});
