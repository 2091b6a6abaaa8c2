import { BitlensError } from '@bitlens/core';
import { DTYPE_RANK, DTYPE_SIZE, isSafetensorsDtype, SAFETENSORS_DTYPES, type TensorEntry } from './dtypes.js';
import { hostIsLittleEndian, isArrayOf } from './internal/typed.js';

const STAGE = 'safetensors/write';

function invalid(field: string, expected: string, found: string, detail?: string): BitlensError {
  return new BitlensError('INVALID_OPTION', { stage: STAGE, field, expected, found }, detail);
}

/**
 * Serialises tensors to the safetensors format, byte for byte as the reference implementation (huggingface/safetensors,
 * `serialize`) lays a file out: an 8-byte little-endian header length; a compact JSON header with `__metadata__`
 * first (when given; its keys sorted here for determinism) and then the tensors in data order; the header padded
 * with spaces to a multiple of 8 bytes; then the raw little-endian data. Tensors are ordered by descending dtype
 * alignment rank (the reference `Dtype` enum order: U64, I64, F64, F32, U32, I32, BF16, F16, U16, I16, I8, U8, BOOL),
 * then by name (code-unit order), so the data of every tensor is aligned to its element size.
 * Throws `INVALID_OPTION` naming the tensor when a dtype is unknown, the data's typed array does not match the
 * dtype, the shape is not a list of non-negative integers, or the element count differs from product(shape);
 * also for a tensor named `__metadata__` or a non-string metadata value.
 * @example writeSafetensors(new Map([['w', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }]]), { format: 'pt' })
 */
export function writeSafetensors(
  tensors: ReadonlyMap<string, TensorEntry> | Readonly<Record<string, TensorEntry>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  if (!hostIsLittleEndian()) throw new BitlensError('INTERNAL', { stage: STAGE, expected: 'a little-endian host', found: 'big-endian' });
  const entries: [string, TensorEntry][] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw invalid(name, 'a tensor name other than __metadata__', name);
    const dtype: string = t.dtype;
    if (!isSafetensorsDtype(dtype)) throw invalid(name, `dtype one of ${SAFETENSORS_DTYPES.join(', ')}`, JSON.stringify(dtype));
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw invalid(name, 'shape: an array of non-negative integers', JSON.stringify(t.shape));
    }
    if (!isArrayOf(t.dtype, t.data)) {
      throw invalid(name, `data as the typed array for ${t.dtype}`, (t.data as object | undefined)?.constructor?.name ?? typeof t.data);
    }
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== elements) {
      throw new BitlensError('SHAPE_MISMATCH', { stage: STAGE, field: name, expected: `${elements} elements (shape [${t.shape.join(', ')}])`, found: `${t.data.length}` });
    }
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw invalid(`__metadata__.${k}`, 'a string', typeof v);
    }
  }

  entries.sort(([na, a], [nb, b]) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || (na < nb ? -1 : na > nb ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(metadata).sort()) sorted[k] = metadata[k] ?? '';
    header['__metadata__'] = sorted;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    const nbytes = t.data.length * DTYPE_SIZE[t.dtype];
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = json.length + ((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const [, t] of entries) {
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(src, at);
    at += src.length;
  }
  return out;
}
