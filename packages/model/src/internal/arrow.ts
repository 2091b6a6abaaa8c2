import { Field, Float32, Int32, List, makeData, RecordBatch, Schema, Struct, Table, Utf8, vectorFromArray, type Data, type DataType, type TypeMap } from 'apache-arrow';

/** Non-nullable field. */
export function field<T extends DataType>(name: string, type: T): Field<T> {
  return new Field(name, type, false);
}

/** List<Float32> type with a non-nullable child named `item`. */
export function listOfFloat32(): List<Float32> {
  return new List(new Field('item', new Float32(), false));
}

/** List<Int32> type with a non-nullable child named `item`. */
export function listOfInt32(): List<Int32> {
  return new List(new Field('item', new Int32(), false));
}

function offsetsOf(lengths: readonly number[]): Int32Array {
  const off = new Int32Array(lengths.length + 1);
  for (let i = 0; i < lengths.length; i++) off[i + 1] = (off[i] ?? 0) + (lengths[i] ?? 0);
  return off;
}

/** A List<Float32> column from one typed array per row (one copy into a contiguous buffer). */
export function float32ListData(rows: readonly Float32Array[]): Data<List<Float32>> {
  const off = offsetsOf(rows.map((r) => r.length));
  const values = new Float32Array(off[rows.length] ?? 0);
  rows.forEach((r, i) => values.set(r, off[i] ?? 0));
  const child = makeData({ type: new Float32(), length: values.length, nullCount: 0, data: values });
  return makeData({ type: listOfFloat32(), length: rows.length, nullCount: 0, valueOffsets: off, child });
}

/** A List<Int32> column from one array per row. */
export function int32ListData(rows: readonly (readonly number[])[]): Data<List<Int32>> {
  const off = offsetsOf(rows.map((r) => r.length));
  const values = new Int32Array(off[rows.length] ?? 0);
  rows.forEach((r, i) => values.set(r, off[i] ?? 0));
  const child = makeData({ type: new Int32(), length: values.length, nullCount: 0, data: values });
  return makeData({ type: listOfInt32(), length: rows.length, nullCount: 0, valueOffsets: off, child });
}

/** A Utf8 column. */
export function utf8Data(values: readonly string[]): Data<Utf8> {
  const v = vectorFromArray([...values], new Utf8());
  const d = v.data[0];
  if (d === undefined || v.data.length !== 1) throw new Error('utf8Data: expected one chunk');
  return d;
}

/** An Int32 column. */
export function int32Data(values: Int32Array): Data<Int32> {
  return makeData({ type: new Int32(), length: values.length, nullCount: 0, data: values });
}

/** A Float64-free helper: builds a one-batch table from column data in schema order, with schema metadata. */
export function tableOf<T extends TypeMap>(schema: Schema<T>, columns: readonly Data[], metadata: ReadonlyMap<string, string>): Table<T> {
  const withMeta = new Schema<T>(schema.fields, new Map(metadata));
  const length = columns[0]?.length ?? 0;
  const struct = makeData({ type: new Struct<T>(withMeta.fields), length, nullCount: 0, children: [...columns] });
  return new Table<T>(withMeta, [new RecordBatch<T>(withMeta, struct)]);
}

/** Reads row `i` of a List<Float32>/List<Int32> column as a fresh copy. */
export function listRow(table: Table, column: string, i: number): Float32Array | Int32Array | undefined {
  const v = table.getChild(column)?.get(i) as { toArray(): Float32Array | Int32Array } | null | undefined;
  if (v === null || v === undefined) return undefined;
  return v.toArray().slice();
}
