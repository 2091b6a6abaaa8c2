import { BitlensError } from '@bitlens/core';

/** The one table of a join input port (one model); INVALID_OPTION naming the port otherwise. */
export function only<T>(tables: readonly T[], stage: string, port: string): T {
  if (tables.length !== 1 || tables[0] === undefined) {
    throw new BitlensError('INVALID_OPTION', { stage, field: port, expected: 'exactly one table (one model)', found: `${tables.length} tables` });
  }
  return tables[0];
}
