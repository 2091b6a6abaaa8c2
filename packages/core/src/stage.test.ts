import { Float64, Int32, Table, tableFromArrays, vectorFromArray } from 'apache-arrow';
import { lastValueFrom, map, of, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { XsSchema, type Xs, YsSchema, type Ys, addXY, scale, xsTable } from '../test/fixtures.js';
import { BitlensError, SchemaMismatchError, defineStage } from './index.js';

async function fails(p: Promise<unknown>): Promise<SchemaMismatchError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SchemaMismatchError);
  return e as SchemaMismatchError;
}

describe('stage boundaries', () => {
  it('passes a table with the required columns (extra input columns allowed)', async () => {
    const t = tableFromArrays({ i: Int32Array.from([0, 1]), x: Float64Array.from([1, 2]), extra: Float32Array.from([0, 0]) });
    const out = await lastValueFrom(of(t).pipe(scale({ factor: 3 }), toArray()));
    expect(Array.from(out[0]?.getChild('y')?.toArray() as Float64Array)).toEqual([3, 6]);
  });

  it('rejects an input table with a missing column, naming stage and field', async () => {
    const bad = tableFromArrays({ i: Int32Array.from([0]) });
    const e = await fails(lastValueFrom(of(bad).pipe(scale({ factor: 2 }))));
    expect(e.code).toBe('SCHEMA_MISMATCH');
    expect(e.site.stage).toBe('test/scale');
    expect(e.site.field).toBe('x');
    expect(e.schemaSite.side).toBe('input');
    expect(e.message).toContain("test/scale 'x'");
  });

  it('rejects an input column of the wrong type, saying what was expected and found', async () => {
    const bad = tableFromArrays({ i: Int32Array.from([0]), x: Float32Array.from([1]) });
    const e = await fails(lastValueFrom(of(bad).pipe(scale({ factor: 2 }))));
    expect(e.site.field).toBe('x');
    expect(e.site.expected).toBe('Float64');
    expect(e.site.found).toBe('Float32');
  });

  it('rejects an output with an extra column (outputs are exact)', async () => {
    const leaky = defineStage({
      name: 'test/leaky',
      version: '1',
      options: {},
      input: XsSchema,
      output: YsSchema,
      apply: map((t: Table<Xs>) => tableFromArrays({ i: t.getChild('i')?.toArray() as Int32Array, y: Float64Array.from([0]), debug: Float64Array.from([0]) }) as unknown as Table<Ys>),
    });
    const e = await fails(lastValueFrom(of(xsTable([1])).pipe(leaky)));
    expect(e.schemaSite.side).toBe('output');
    expect(e.site.stage).toBe('test/leaky');
    expect(e.site.field).toBe('debug');
  });

  it('rejects an output whose type annotation lies (checked at run time)', async () => {
    const liar = defineStage({
      name: 'test/liar',
      version: '1',
      options: {},
      input: XsSchema,
      output: YsSchema,
      apply: map(() => tableFromArrays({ i: Int32Array.from([0]), y: Int32Array.from([0]) }) as unknown as Table<Ys>),
    });
    const e = await fails(lastValueFrom(of(xsTable([1])).pipe(liar)));
    expect(e.site.field).toBe('y');
    expect(e.site.found).toBe('Int32');
  });

  it('rejects nulls in a non-nullable column', async () => {
    const t = new Table({ i: vectorFromArray([0, 1], new Int32()), x: vectorFromArray([1, null], new Float64()) });
    const e = await fails(lastValueFrom(of(t).pipe(scale({ factor: 1 }))));
    expect(e.site.field).toBe('x');
    expect(e.site.found).toContain('1 nulls');
  });

  it('checks each named input of a join stage and names the port', async () => {
    const e = await fails(lastValueFrom(addXY()({ xs: of(xsTable([1])), ys: of(xsTable([1])) })));
    expect(e.schemaSite.port).toBe('ys');
    expect(e.site.field).toBe('y');
    expect(e).toBeInstanceOf(BitlensError);
  });
});
