import { Field, Float64, type Float32, type Int32, type List, makeData, RecordBatch, Schema, Struct, Table, Utf8, vectorFromArray, type Data, type DataType, type TypeMap } from 'apache-arrow';

/** A column of `length` nulls of `type` (Float64, Utf8 or List). */
export function nullData(type: DataType, length: number): Data {
  const nullBitmap = new Uint8Array(Math.ceil(length / 8));
  if (type instanceof Float64) return makeData({ type, length, nullCount: length, nullBitmap, data: new Float64Array(length) });
  if (type instanceof Utf8) return makeData({ type, length, nullCount: length, nullBitmap, valueOffsets: new Int32Array(length + 1), data: new Uint8Array(0) });
  const list = type as List<Float32 | Int32>;
  const childType = list.children[0]?.type as Float32 | Int32;
  const child = makeData({ type: childType, length: 0, nullCount: 0, data: new (childType.ArrayType as Float32ArrayConstructor)(0) } as never) as unknown as Data<Float32 | Int32>;
  return makeData({ type: list, length, nullCount: length, nullBitmap, valueOffsets: new Int32Array(length + 1), child });
}

/** A non-null Float64 column. */
export function float64Data(values: Float64Array): Data<Float64> {
  return makeData({ type: new Float64(), length: values.length, nullCount: 0, data: values });
}

/** A non-null Utf8 column. */
export function utf8Data(values: readonly string[]): Data<Utf8> {
  const v = vectorFromArray([...values], new Utf8());
  const d = v.data[0];
  if (d === undefined || v.data.length !== 1) throw new Error('utf8Data: expected one chunk');
  return d;
}

/** The single chunk of a column of a one-batch table. */
export function columnData(table: Table, name: string): Data {
  const v = table.getChild(name);
  if (v === null) throw new Error(`missing column ${name}`);
  if (v.data.length === 1 && v.data[0] !== undefined) return v.data[0];
  const merged = v.data.length === 0 ? undefined : (v as unknown as { data: Data[] }).data;
  throw new Error(`column ${name} has ${merged?.length ?? 0} chunks, expected 1`);
}

/** A one-batch table from column data in schema order, with schema metadata. */
export function tableOf<T extends TypeMap>(schema: Schema<T>, columns: readonly Data[], metadata: ReadonlyMap<string, string>): Table<T> {
  const withMeta = new Schema<T>(schema.fields, new Map(metadata));
  const length = columns[0]?.length ?? 0;
  const struct = makeData({ type: new Struct<T>(withMeta.fields), length, nullCount: 0, children: [...columns] });
  return new Table<T>(withMeta, [new RecordBatch<T>(withMeta, struct)]);
}

/** Nullable copy of a field. */
export function nullable<T extends DataType>(f: Field<T>): Field<T> {
  return new Field(f.name, f.type, true);
}
