import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { RecordBatch, Schema, Table, type TypeMap } from 'apache-arrow';

/** Where a table came from. Written into Arrow schema metadata under `bitlens.*` keys. */
export interface Provenance {
  readonly stage: string;
  readonly stageVersion: string;
  /** Canonical JSON of the stage options. */
  readonly options: string;
  /** Content address of the artifact in the store. */
  readonly key: string;
  /** The graph node that computed it (e.g. `fp32/train`). */
  readonly node?: string;
  /** The run that computed it (`runs/<id>.json` in the store). */
  readonly runId?: string;
  /** Canonical JSON of the input keys by port (`{"in": "<key>"}`, `{"weights": …, "grid": …}`). */
  readonly inputs?: string;
  /** Fingerprint of the code that computed it (part of the key). */
  readonly code?: string;
  readonly configHash?: string;
  readonly seed?: string;
  readonly backend?: string;
  readonly packageVersion: string;
  readonly gitRevision?: string;
}

const FIELDS: Readonly<Record<keyof Provenance, string>> = {
  stage: 'bitlens.stage',
  stageVersion: 'bitlens.stage_version',
  options: 'bitlens.options',
  key: 'bitlens.key',
  node: 'bitlens.node',
  runId: 'bitlens.run_id',
  inputs: 'bitlens.inputs',
  code: 'bitlens.code',
  configHash: 'bitlens.config_hash',
  seed: 'bitlens.seed',
  backend: 'bitlens.backend',
  packageVersion: 'bitlens.package_version',
  gitRevision: 'bitlens.git_revision',
};

/** Returns the table with `extra` merged into its schema metadata (same data, no copy of buffers). */
export function withMetadata<T extends TypeMap>(table: Table<T>, extra: ReadonlyMap<string, string>): Table<T> {
  const metadata = new Map(table.schema.metadata);
  for (const [k, v] of extra) metadata.set(k, v);
  const schema = new Schema<T>(table.schema.fields, metadata, table.schema.dictionaries);
  return new Table(schema, table.batches.map((b) => new RecordBatch(schema, b.data)));
}

/** Writes provenance into the table's schema metadata. */
export function withProvenance<T extends TypeMap>(table: Table<T>, provenance: Provenance): Table<T> {
  const extra = new Map<string, string>();
  for (const [field, metaKey] of Object.entries(FIELDS) as [keyof Provenance, string][]) {
    const value = provenance[field];
    if (value !== undefined) extra.set(metaKey, value);
  }
  return withMetadata(table, extra);
}

/** Reads provenance back from a table's schema metadata; undefined when the table carries none. */
export function readProvenance(table: Table): Provenance | undefined {
  const meta = table.schema.metadata;
  const get = (field: keyof Provenance): string | undefined => meta.get(FIELDS[field]);
  const stage = get('stage');
  const stageVersion = get('stageVersion');
  const options = get('options');
  const key = get('key');
  const packageVersion = get('packageVersion');
  if (stage === undefined || stageVersion === undefined || options === undefined || key === undefined || packageVersion === undefined) {
    return undefined;
  }
  const optional = (['node', 'runId', 'inputs', 'code', 'configHash', 'seed', 'backend', 'gitRevision'] as const).flatMap((f) => {
    const v = get(f);
    return v === undefined ? [] : [[f, v] as const];
  });
  return { stage, stageVersion, options, key, packageVersion, ...Object.fromEntries(optional) };
}

let cachedVersion: string | undefined;
/** The bitlens package version (read once from @bitlens/core's package.json). */
export function bitlensVersion(): string {
  cachedVersion ??= (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return cachedVersion;
}

/** The git revision of `cwd` (with `-dirty` when the tree has changes), or undefined outside a git checkout. */
export function gitRevision(cwd: string = process.cwd()): string | undefined {
  try {
    const rev = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return dirty === '' ? rev : `${rev}-dirty`;
  } catch {
    return undefined;
  }
}
