/** Every error code bitlens throws. One union for the whole project (tRPC style). */
export type ErrorCode =
  | 'SCHEMA_MISMATCH'
  | 'INVALID_OPTION'
  | 'INVALID_CONFIG'
  | 'KERNEL_NOT_FOUND'
  | 'BACKEND_UNAVAILABLE'
  | 'SHAPE_MISMATCH'
  | 'INVALID_DATA'
  | 'ARTIFACT_CORRUPT'
  | 'GRAPH_INVALID'
  | 'NOT_FOUND'
  | 'STORE_UNAVAILABLE'
  | 'QUEUE_UNAVAILABLE'
  | 'INTERNAL';

/** Where an error happened and what was wrong: every bitlens error can name these. */
export interface ErrorSite {
  /** Stage, op, backend or command that rejected the input, e.g. `core/assert-schema` or `engine`. */
  readonly stage: string;
  /** The field, column, option, tensor or config key at fault. */
  readonly field?: string;
  /** What was expected there. */
  readonly expected?: string;
  /** What was found instead. */
  readonly found?: string;
}

function describe(code: ErrorCode, site: ErrorSite, detail?: string): string {
  const parts = [`[${code}] ${site.stage}`];
  if (site.field !== undefined) parts.push(`'${site.field}'`);
  let msg = parts.join(' ');
  if (detail !== undefined) msg += `: ${detail}`;
  if (site.expected !== undefined) msg += `${detail === undefined ? ':' : ';'} expected ${site.expected}`;
  if (site.found !== undefined) msg += `, found ${site.found}`;
  return msg;
}

/**
 * The one error class of bitlens. `code` is typed; `site` names the stage, field, expectation and finding.
 * @example throw new BitlensError('INVALID_OPTION', { stage: 'data/dataset', field: 'p', expected: 'a prime >= 3', found: '4' });
 */
export class BitlensError extends Error {
  override name = 'BitlensError';
  constructor(
    readonly code: ErrorCode,
    readonly site: ErrorSite,
    detail?: string,
    options?: ErrorOptions,
  ) {
    super(describe(code, site, detail), options);
  }
}

/** Which side of a stage a schema check ran on. */
export interface SchemaSite {
  readonly stage: string;
  readonly side: 'input' | 'output';
  /** Exact: the table must have exactly the declared columns (outputs). Otherwise extra columns are allowed. */
  readonly exact: boolean;
  /** Name of the input port for stages with several inputs. */
  readonly port?: string;
}

/** A table crossing a stage boundary does not match the declared schema. */
export class SchemaMismatchError extends BitlensError {
  override name = 'SchemaMismatchError';
  constructor(
    readonly schemaSite: SchemaSite,
    field: string,
    expected: string,
    found: string,
  ) {
    const side = schemaSite.port === undefined ? schemaSite.side : `${schemaSite.side} '${schemaSite.port}'`;
    super('SCHEMA_MISMATCH', { stage: schemaSite.stage, field, expected, found }, `${side} column`);
  }
}

/** Wraps anything thrown into a BitlensError, keeping the original as `cause` (used at pipeline edges). */
export function toBitlensError(cause: unknown, stage = 'bitlens'): BitlensError {
  if (cause instanceof BitlensError) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new BitlensError('INTERNAL', { stage }, message, { cause });
}

/** Throws `INTERNAL` with a lazily built message when `ok` is false (hot-path friendly). */
export function assert(ok: boolean, stage: string, message: () => string): asserts ok {
  if (!ok) throw new BitlensError('INTERNAL', { stage }, message());
}
