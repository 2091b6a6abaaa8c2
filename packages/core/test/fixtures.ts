import { Field, Float64, Int32, Schema, type Table, tableFromArrays } from 'apache-arrow';
import { forkJoin, from, map, mergeMap, range, toArray } from 'rxjs';
import { defineJoin, defineSource, defineStage } from '../src/index.js';

export type Xs = { i: Int32; x: Float64 };
export const XsSchema = new Schema<Xs>([new Field('i', new Int32(), false), new Field('x', new Float64(), false)]);
export type Ys = { i: Int32; y: Float64 };
export const YsSchema = new Schema<Ys>([new Field('i', new Int32(), false), new Field('y', new Float64(), false)]);

export function xsTable(values: number[], offset = 0): Table<Xs> {
  return tableFromArrays({ i: Int32Array.from(values, (_, k) => k + offset), x: Float64Array.from(values) }) as unknown as Table<Xs>;
}

/** Counts executions so tests can check what ran. */
export const calls = { source: 0, scale: 0, add: 0 };

export function source(options: { n: number; batches: number }) {
  return defineSource({
    name: 'test/source',
    version: '1',
    options,
    output: XsSchema,
    create: () =>
      range(0, options.batches).pipe(
        map((b) => {
          calls.source += 1;
          return xsTable(Array.from({ length: options.n }, (_, k) => b * options.n + k), b * options.n);
        }),
      ),
  });
}

export function scale(options: { factor: number }) {
  return defineStage({
    name: 'test/scale',
    version: '1',
    options,
    input: XsSchema,
    output: YsSchema,
    apply: map((t: Table<Xs>) => {
      calls.scale += 1;
      const x = t.getChild('x')?.toArray() as Float64Array;
      return tableFromArrays({ i: t.getChild('i')?.toArray() as Int32Array, y: x.map((v) => v * options.factor) }) as unknown as Table<Ys>;
    }),
  });
}

/** Two-input stage: y = x + y row-wise, after both inputs complete. */
export function addXY() {
  return defineJoin({
    name: 'test/add',
    version: '1',
    options: {},
    inputs: { xs: XsSchema, ys: YsSchema },
    output: YsSchema,
    apply: ({ xs, ys }) =>
      forkJoin([xs.pipe(toArray()), ys.pipe(toArray())]).pipe(
        mergeMap(([a, b]) => {
          calls.add += 1;
          return from(
            a.map((ta, k) => {
              const x = ta.getChild('x')?.toArray() as Float64Array;
              const y = b[k]?.getChild('y')?.toArray() as Float64Array;
              return tableFromArrays({ i: ta.getChild('i')?.toArray() as Int32Array, y: x.map((v, j) => v + (y[j] ?? Number.NaN)) }) as unknown as Table<Ys>;
            }),
          );
        }),
      ),
  });
}
