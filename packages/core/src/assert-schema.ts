import { type Schema, type Table, type TypeMap, util } from 'apache-arrow';
import { SchemaMismatchError, type SchemaSite } from './errors.js';

/**
 * Checks a table against a declared schema at a stage boundary and returns it typed.
 * Input schemas list required columns (extra columns allowed); output schemas are exact.
 * Column types are compared structurally; nulls are checked on the data because Arrow infers `nullable`.
 * @throws SchemaMismatchError naming the stage, the column, what was expected and what was found.
 */
export function assertSchema<T extends TypeMap>(expected: Schema<T>, table: Table, at: SchemaSite): Table<T> {
  for (const field of expected.fields) {
    const found = table.schema.fields.find((f) => f.name === field.name);
    if (found === undefined) {
      throw new SchemaMismatchError(at, field.name, String(field.type), `no such column in [${table.schema.names.join(', ')}]`);
    }
    // Arrow's comparator checks `found instanceof expected.constructor`-style on its first argument; tables read
    // from IPC carry base classes (`Int_`, not `Int32`), so the found type goes first and the check stays structural.
    if (!util.compareTypes(found.type, field.type)) {
      throw new SchemaMismatchError(at, field.name, String(field.type), String(found.type));
    }
    if (!field.nullable && (table.getChild(field.name)?.nullCount ?? 0) > 0) {
      throw new SchemaMismatchError(at, field.name, 'no nulls (declared non-nullable)', `${table.getChild(field.name)?.nullCount} nulls`);
    }
  }
  if (at.exact && table.numCols !== expected.fields.length) {
    const declared = new Set(expected.fields.map((f) => f.name));
    const extra = table.schema.names.filter((n) => !declared.has(String(n)));
    throw new SchemaMismatchError(at, String(extra[0] ?? '?'), `exactly [${[...declared].join(', ')}]`, `extra column(s) [${extra.join(', ')}]`);
  }
  return table as Table<T>; // checked above
}
