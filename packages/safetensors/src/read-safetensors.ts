import { BitlensError } from '@bitlens/core';
import { DTYPE_SIZE, isSafetensorsDtype, type SafetensorsDtype, type TensorEntry } from './dtypes.js';
import { arrayCtor, hostIsLittleEndian } from './internal/typed.js';

const STAGE = 'safetensors/read';
/** The reference implementation refuses headers above 100 MB; so do we. */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor's header entry: dtype, shape and its byte range inside the data section. */
export interface SafetensorsHeaderEntry {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** [begin, end) in bytes, relative to the start of the data section (just after the header). */
  readonly dataOffsets: readonly [number, number];
}

/** A parsed, validated header. */
export interface SafetensorsHeader {
  /** Tensors in file order (by data offset). */
  readonly tensors: ReadonlyMap<string, SafetensorsHeaderEntry>;
  /** The `__metadata__` string map ({} when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Byte length of the JSON header (the little-endian u64 at the start of the file). */
  readonly headerLength: number;
}

/** A whole file read into memory. */
export interface SafetensorsFile {
  /** Tensors in file order (by data offset). Each `data` is a fresh copy, aligned and independent of the input bytes. */
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  readonly metadata: Readonly<Record<string, string>>;
}

function corrupt(field: string, expected: string, found: string, detail?: string): BitlensError {
  return new BitlensError('ARTIFACT_CORRUPT', { stage: STAGE, field, expected, found }, detail);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isDim(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parses and validates the header of a safetensors file, as the reference implementation does: the u64 header length
 * must fit the buffer; the header must be UTF-8 JSON (an object); each tensor needs a known dtype, a shape of
 * non-negative integers and `data_offsets` [begin, end]; sorted by offset, the tensors must tile the data section
 * exactly from 0 to its end (no gap, no overlap), and each byte range must equal product(shape) * dtype size.
 * Throws `ARTIFACT_CORRUPT` naming the tensor (or `header`) otherwise; an unsupported dtype (e.g. F8_E4M3) is also
 * `ARTIFACT_CORRUPT`, naming the dtype and the supported list.
 */
export function readSafetensorsHeader(bytes: Uint8Array): SafetensorsHeader {
  if (bytes.byteLength < 8) throw corrupt('header length', 'at least 8 bytes', `${bytes.byteLength} bytes`, 'file too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) throw corrupt('header length', `<= ${MAX_HEADER_BYTES}`, n64.toString());
  const n = Number(n64);
  if (8 + n > bytes.byteLength) {
    throw corrupt('header length', `<= ${bytes.byteLength - 8} (file size - 8)`, String(n), 'header runs past the end of the file');
  }
  let json: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
    json = JSON.parse(text);
  } catch (e) {
    throw new BitlensError('ARTIFACT_CORRUPT', { stage: STAGE, field: 'header', expected: 'UTF-8 JSON', found: 'unparseable bytes' },
      e instanceof Error ? e.message : String(e), { cause: e });
  }
  if (!isRecord(json)) throw corrupt('header', 'a JSON object', Array.isArray(json) ? 'an array' : typeof json);

  let metadata: Record<string, string> = {};
  const raw: { name: string; entry: SafetensorsHeaderEntry }[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isRecord(value)) throw corrupt('__metadata__', 'an object of strings', JSON.stringify(value));
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw corrupt(`__metadata__.${k}`, 'a string', JSON.stringify(v));
      }
      metadata = value as Record<string, string>; // every value checked above
      continue;
    }
    if (!isRecord(value)) throw corrupt(name, '{ dtype, shape, data_offsets }', JSON.stringify(value));
    const { dtype, shape, data_offsets: offsets } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !isSafetensorsDtype(dtype)) {
      throw corrupt(name, 'dtype one of BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64', JSON.stringify(dtype), 'unknown or unsupported dtype');
    }
    if (!Array.isArray(shape) || !shape.every(isDim)) throw corrupt(name, 'shape: an array of non-negative integers', JSON.stringify(shape));
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isDim)) {
      throw corrupt(name, 'data_offsets: [begin, end] non-negative integers', JSON.stringify(offsets));
    }
    const [begin, end] = offsets as [number, number];
    raw.push({ name, entry: { dtype, shape: shape as number[], dataOffsets: [begin, end] } });
  }

  raw.sort((x, y) => x.entry.dataOffsets[0] - y.entry.dataOffsets[0] || x.entry.dataOffsets[1] - y.entry.dataOffsets[1]);
  const dataLength = bytes.byteLength - 8 - n;
  let cursor = 0;
  const tensors = new Map<string, SafetensorsHeaderEntry>();
  for (const { name, entry } of raw) {
    const [begin, end] = entry.dataOffsets;
    if (end < begin) throw corrupt(name, 'data_offsets begin <= end', `[${begin}, ${end}]`);
    if (begin < cursor) throw corrupt(name, `data_offsets begin >= ${cursor}`, `[${begin}, ${end}]`, 'overlaps the previous tensor');
    if (begin > cursor) throw corrupt(name, `data_offsets begin = ${cursor}`, `[${begin}, ${end}]`, 'gap before this tensor');
    if (end > dataLength) throw corrupt(name, `data_offsets end <= ${dataLength} (data section size)`, `[${begin}, ${end}]`, 'offsets out of range');
    const elements = entry.shape.reduce((a, b) => a * b, 1);
    const nbytes = elements * DTYPE_SIZE[entry.dtype];
    if (!Number.isSafeInteger(nbytes)) throw corrupt(name, 'a shape whose byte size fits in 2^53', JSON.stringify(entry.shape));
    if (end - begin !== nbytes) {
      throw corrupt(name, `${nbytes} bytes (shape [${entry.shape.join(', ')}] x ${entry.dtype})`, `${end - begin} bytes`, 'offsets do not match shape x dtype size');
    }
    cursor = end;
    tensors.set(name, entry);
  }
  if (cursor !== dataLength) {
    throw corrupt('data', `tensors covering all ${dataLength} data bytes`, `${cursor} bytes covered`, 'trailing bytes after the last tensor');
  }
  return { tensors, metadata, headerLength: n };
}

/**
 * Reads a whole safetensors file from memory and validates it (see `readSafetensorsHeader`).
 * Tensor data are copied into fresh typed arrays of the dtype's kind (F16/BF16 as raw `Uint16Array` bits).
 * @example const { tensors, metadata } = readSafetensors(new Uint8Array(await readFile(path))); tensors.get('embed.W_E')?.shape
 */
export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (!hostIsLittleEndian()) {
    throw new BitlensError('INTERNAL', { stage: STAGE, expected: 'a little-endian host', found: 'big-endian' });
  }
  const header = readSafetensorsHeader(bytes);
  const dataStart = bytes.byteOffset + 8 + header.headerLength;
  const tensors = new Map<string, TensorEntry>();
  for (const [name, entry] of header.tensors) {
    const [begin, end] = entry.dataOffsets;
    // Copy: the source may be unaligned for the element size (pooled Node buffers, odd header lengths).
    const copy = bytes.buffer.slice(dataStart + begin, dataStart + end) as ArrayBuffer;
    const Ctor = arrayCtor(entry.dtype);
    tensors.set(name, { dtype: entry.dtype, shape: [...entry.shape], data: new Ctor(copy) } as TensorEntry);
  }
  return { tensors, metadata: { ...header.metadata } };
}
