import { Bool, Field, Float32, Float64, Int32, List, makeData, RecordBatch, Schema, Struct, Table, Utf8, vectorFromArray, type Data, type DataType, type TypeMap } from 'apache-arrow';
import { BitlensError } from './errors.js';

// Small builders and readers for Arrow columns, shared by every stage author (zero-copy where the input allows it).

/** Non-nullable field. */
export function field<T extends DataType>(name: string, type: T): Field<T> {
  return new Field(name, type, false);
}

/** List type with a non-nullable child named `item`. */
export function listOf<T extends DataType>(type: T): List<T> {
  return new List(new Field('item', type, false));
}

function offsetsOf(lengths: readonly number[]): Int32Array {
  const off = new Int32Array(lengths.length + 1);
  for (let i = 0; i < lengths.length; i++) off[i + 1] = (off[i] ?? 0) + (lengths[i] ?? 0);
  return off;
}

/** A List<Float32> column from a flat buffer and per-row lengths (no copy of `values`). */
export function float32ListFlat(values: Float32Array, lengths: readonly number[]): Data<List<Float32>> {
  const off = offsetsOf(lengths);
  const child = makeData({ type: new Float32(), length: values.length, nullCount: 0, data: values });
  return makeData({ type: listOf(new Float32()), length: lengths.length, nullCount: 0, valueOffsets: off, child });
}

/** A List<Float64> column from one array per row. */
export function float64List(rows: readonly ArrayLike<number>[]): Data<List<Float64>> {
  const off = offsetsOf(rows.map((r) => r.length));
  const values = new Float64Array(off[rows.length] ?? 0);
  rows.forEach((r, i) => values.set(Array.from(r), off[i] ?? 0));
  const child = makeData({ type: new Float64(), length: values.length, nullCount: 0, data: values });
  return makeData({ type: listOf(new Float64()), length: rows.length, nullCount: 0, valueOffsets: off, child });
}

/** A List<Utf8> column from one array of strings per row. */
export function utf8List(rows: readonly (readonly string[])[]): Data<List<Utf8>> {
  return vectorFromArray(rows.map((r) => [...r]), listOf(new Utf8())).data[0] as Data<List<Utf8>>;
}

/** A List<Int32> column from one array per row. */
export function int32List(rows: readonly ArrayLike<number>[]): Data<List<Int32>> {
  const off = offsetsOf(rows.map((r) => r.length));
  const values = new Int32Array(off[rows.length] ?? 0);
  rows.forEach((r, i) => values.set(Array.from(r), off[i] ?? 0));
  const child = makeData({ type: new Int32(), length: values.length, nullCount: 0, data: values });
  return makeData({ type: listOf(new Int32()), length: rows.length, nullCount: 0, valueOffsets: off, child });
}

/** A Utf8 column. */
export function utf8(values: readonly string[]): Data<Utf8> {
  const v = vectorFromArray([...values], new Utf8());
  const d = v.data[0];
  if (d === undefined || v.data.length !== 1) return makeData({ type: new Utf8(), length: 0, nullCount: 0, valueOffsets: new Int32Array(1), data: new Uint8Array(0) });
  return d;
}

/** A nullable Int32 column (null where a value is missing, e.g. an epoch never reached). */
export function int32OrNull(values: readonly (number | null)[]): Data<Int32> {
  return singleData(vectorFromArray([...values], new Int32()).data, new Int32());
}

/** A nullable Utf8 column. */
export function utf8OrNull(values: readonly (string | null)[]): Data<Utf8> {
  return singleData(vectorFromArray([...values], new Utf8()).data, new Utf8());
}

/** A nullable Float64 column. */
export function float64OrNull(values: readonly (number | null)[]): Data<Float64> {
  return singleData(vectorFromArray([...values], new Float64()).data, new Float64());
}

function singleData<T extends DataType>(chunks: readonly Data<T>[], type: T): Data<T> {
  const d = chunks[0];
  if (chunks.length !== 1 || d === undefined) throw new BitlensError('INTERNAL', { stage: 'core/arrow', field: String(type), expected: 'one chunk', found: String(chunks.length) });
  return d;
}

/** An Int32 column. */
export function int32(values: ArrayLike<number>): Data<Int32> {
  return makeData({ type: new Int32(), length: values.length, nullCount: 0, data: Int32Array.from(values) });
}

/** A Float64 column. */
export function float64(values: ArrayLike<number>): Data<Float64> {
  return makeData({ type: new Float64(), length: values.length, nullCount: 0, data: Float64Array.from(values) });
}

/** A Bool column. */
export function bool(values: readonly boolean[]): Data<Bool> {
  const v = vectorFromArray([...values], new Bool());
  const d = v.data[0];
  if (d === undefined || v.data.length !== 1) return makeData({ type: new Bool(), length: 0, nullCount: 0, data: new Uint8Array(0) });
  return d;
}

/** One-batch table from column data in schema order, with schema metadata. */
export function tableOf<T extends TypeMap>(schema: Schema<T>, columns: readonly Data[], metadata: ReadonlyMap<string, string> = schema.metadata): Table<T> {
  const withMeta = new Schema<T>(schema.fields, new Map(metadata));
  const length = columns[0]?.length ?? 0;
  const struct = makeData({ type: new Struct<T>(withMeta.fields), length, nullCount: 0, children: [...columns] });
  return new Table<T>(withMeta, [new RecordBatch<T>(withMeta, struct)]);
}

/** Row `i` of a list column as a plain number array. */
export function listRow(table: Table, column: string, i: number): number[] {
  const v = table.getChild(column)?.get(i) as { toArray(): ArrayLike<number> } | null | undefined;
  return v === null || v === undefined ? [] : Array.from(v.toArray());
}

/** Row `i` of a List<Float32> column as a Float32Array view/copy. */
export function float32Row(table: Table, column: string, i: number): Float32Array {
  const v = table.getChild(column)?.get(i) as { toArray(): Float32Array } | null | undefined;
  return v === null || v === undefined ? new Float32Array(0) : v.toArray();
}

/** Column values as numbers. */
export function numbers(table: Table, column: string): number[] {
  const c = table.getChild(column);
  return c === null ? [] : Array.from({ length: table.numRows }, (_, i) => Number(c.get(i)));
}

/** Column values as strings. */
export function strings(table: Table, column: string): string[] {
  const c = table.getChild(column);
  return c === null ? [] : Array.from({ length: table.numRows }, (_, i) => String(c.get(i)));
}

/** Column values as booleans. */
export function booleans(table: Table, column: string): boolean[] {
  const c = table.getChild(column);
  return c === null ? [] : Array.from({ length: table.numRows }, (_, i) => Boolean(c.get(i)));
}

/** A List<Float32> column from one typed array per row (one copy into a contiguous buffer). */
export function float32List(rows: readonly Float32Array[]): Data<List<Float32>> {
  const off = offsetsOf(rows.map((r) => r.length));
  const values = new Float32Array(off[rows.length] ?? 0);
  rows.forEach((r, i) => values.set(r, off[i] ?? 0));
  const child = makeData({ type: new Float32(), length: values.length, nullCount: 0, data: values });
  return makeData({ type: listOf(new Float32()), length: rows.length, nullCount: 0, valueOffsets: off, child });
}

/** Row `i` of a List<Float32> or List<Int32> column as a fresh typed-array copy; undefined for a null row. */
export function typedRow(table: Table, column: string, i: number): Float32Array | Int32Array | undefined {
  const v = table.getChild(column)?.get(i) as { toArray(): Float32Array | Int32Array } | null | undefined;
  if (v === null || v === undefined) return undefined;
  return v.toArray().slice();
}

/** A column of `length` nulls of `type` (Float64, Utf8, or a List of Float32/Int32). */
export function nullData(type: DataType, length: number): Data {
  const nullBitmap = new Uint8Array(Math.ceil(length / 8));
  if (type instanceof Float64) return makeData({ type, length, nullCount: length, nullBitmap, data: new Float64Array(length) });
  if (type instanceof Utf8) return makeData({ type, length, nullCount: length, nullBitmap, valueOffsets: new Int32Array(length + 1), data: new Uint8Array(0) });
  const list = type as List<Float32 | Int32>;
  const childType = list.children[0]?.type as Float32 | Int32;
  const child = makeData({ type: childType, length: 0, nullCount: 0, data: new (childType.ArrayType as Float32ArrayConstructor)(0) } as never) as unknown as Data<Float32 | Int32>;
  return makeData({ type: list, length, nullCount: length, nullBitmap, valueOffsets: new Int32Array(length + 1), child });
}

/** The single chunk of a column of a one-batch table. */
export function columnData(table: Table, name: string): Data {
  const v = table.getChild(name);
  if (v === null) throw new BitlensError('NOT_FOUND', { stage: 'core/arrow', field: name, expected: 'a column', found: `[${table.schema.names.join(', ')}]` });
  const [only] = v.data;
  if (v.data.length !== 1 || only === undefined) throw new BitlensError('INVALID_DATA', { stage: 'core/arrow', field: name, expected: '1 chunk', found: `${v.data.length} chunks` });
  return only;
}

/** Nullable copy of a field. */
export function nullable<T extends DataType>(f: Field<T>): Field<T> {
  return new Field(f.name, f.type, true);
}
