import { defineJoin, defineSource, defineStage, mulberry32 } from '@bitlens/core';
import { Field, Float64, Int32, Schema, type Table, tableFromArrays } from 'apache-arrow';
import { type Observable, map, range, zip } from 'rxjs';

/** Columns of the demo source. */
export type Numbers = { i: Int32; x: Float64 };
export const NumbersSchema = new Schema<Numbers>([new Field('i', new Int32(), false), new Field('x', new Float64(), false)]);
export type Powered = { i: Int32; y: Float64 };
export const PoweredSchema = new Schema<Powered>([new Field('i', new Int32(), false), new Field('y', new Float64(), false)]);
export type Shifted = { i: Int32; z: Float64 };
export const ShiftedSchema = new Schema<Shifted>([new Field('i', new Int32(), false), new Field('z', new Float64(), false)]);
export type Combined = { i: Int32; y: Float64; z: Float64; sum: Float64 };
export const CombinedSchema = new Schema<Combined>([
  new Field('i', new Int32(), false),
  new Field('y', new Float64(), false),
  new Field('z', new Float64(), false),
  new Field('sum', new Float64(), false),
]);

/** Source: `n` seeded uniform numbers in batches of `batch` rows (one table per batch). */
export function numbers(options: { n: number; batch: number; seed: number }) {
  const batches = Math.ceil(options.n / options.batch);
  return defineSource({
    name: 'hello/numbers',
    version: '1',
    options,
    output: NumbersSchema,
    progress: (t: Table<Numbers>) => ({ done: Math.floor((t.getChild('i')?.get(0) ?? 0) / options.batch) + 1, total: batches, label: 'batches' }),
    create: (): Observable<Table<Numbers>> => {
      const rand = mulberry32(options.seed);
      const values = Float64Array.from({ length: options.n }, () => rand());
      return range(0, batches).pipe(
        map((b) => {
          const lo = b * options.batch;
          const hi = Math.min(options.n, lo + options.batch);
          return tableFromArrays({ i: Int32Array.from({ length: hi - lo }, (_, k) => lo + k), x: values.subarray(lo, hi) }) as unknown as Table<Numbers>;
        }),
      );
    },
  });
}

/** y = x^power, batch by batch. */
export function power(options: { power: number }) {
  return defineStage({
    name: 'hello/power',
    version: '1',
    options,
    input: NumbersSchema,
    output: PoweredSchema,
    apply: map((t: Table<Numbers>) => {
      const x = t.getChild('x')?.toArray() as Float64Array;
      return tableFromArrays({ i: t.getChild('i')?.toArray() as Int32Array, y: x.map((v) => v ** options.power) }) as unknown as Table<Powered>;
    }),
  });
}

/** z = x + offset, batch by batch. */
export function shift(options: { offset: number }) {
  return defineStage({
    name: 'hello/shift',
    version: '1',
    options,
    input: NumbersSchema,
    output: ShiftedSchema,
    apply: map((t: Table<Numbers>) => {
      const x = t.getChild('x')?.toArray() as Float64Array;
      return tableFromArrays({ i: t.getChild('i')?.toArray() as Int32Array, z: x.map((v) => v + options.offset) }) as unknown as Table<Shifted>;
    }),
  });
}

/** Joins the two branches batch by batch (they share `i` order): sum = y + z. */
export function combine() {
  return defineJoin({
    name: 'hello/combine',
    version: '1',
    options: {},
    inputs: { powered: PoweredSchema, shifted: ShiftedSchema },
    output: CombinedSchema,
    apply: ({ powered, shifted }) =>
      zip(powered, shifted).pipe(
        map(([p, s]) => {
          const y = p.getChild('y')?.toArray() as Float64Array;
          const z = s.getChild('z')?.toArray() as Float64Array;
          return tableFromArrays({ i: p.getChild('i')?.toArray() as Int32Array, y, z, sum: y.map((v, k) => v + (z[k] ?? Number.NaN)) }) as unknown as Table<Combined>;
        }),
      ),
  });
}
