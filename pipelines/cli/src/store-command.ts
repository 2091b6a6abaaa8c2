import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type ArtifactInfo, ArtifactStore, BitlensError, defaultStoreRoot, type RunRecord, applyGc, planGc, readProvenance, resolveArtifact, storeBytes, writeFileAtomic } from '@bitlens/core';
import { exportTransformerLens, readWeightsTable } from '@bitlens/model';
import { type Table, tableToIPC } from 'apache-arrow';
import * as parquet from 'parquet-wasm';

const STAGE = 'cli store';

/** Usage of `bitlens store`. */
export const STORE_HELP = `bitlens store — look into the artifact store, export from it, clean it up

Usage:
  bitlens store ls [--run id] [--json]            runs (newest last) and the nodes of one run (default: the newest)
  bitlens store show <node|key> [--run id] [--rows N] [--json]
                                                  provenance, lineage, schema and the first rows of an artifact
  bitlens store export <node|key> --format arrow|parquet|csv|safetensors [--out file] [--column effective|latent] [--run id]
                                                  one file: Arrow IPC, Parquet (DuckDB, pandas, polars read it), CSV,
                                                  or weights as a TransformerLens-named safetensors file
  bitlens store gc [--keep N] [--dry-run] [--json]
                                                  remove what the last N runs (default 5) do not use
Options:
  --store dir   the store folder (default $BITLENS_HOME/store, else ./.bitlens/store)

A <node> is a node name of a run (e.g. fp32/final, or a sweep cell's task=add,quantizer=fp32/mechanism), looked up
in the newest run that has it (or --run); a <key> is an artifact key or a unique prefix of at least 6 hex digits.`;

const human = (bytes: number): string => (bytes < 1024 ? `${bytes} B` : bytes < 1024 ** 2 ? `${(bytes / 1024).toFixed(1)} KiB` : bytes < 1024 ** 3 ? `${(bytes / 1024 ** 2).toFixed(1)} MiB` : `${(bytes / 1024 ** 3).toFixed(2)} GiB`);

function usage(detail: string): BitlensError {
  return new BitlensError('INVALID_CONFIG', { stage: STAGE, field: 'arguments' }, `${detail}\n\n${STORE_HELP}`);
}

/** The tables of an artifact, read and verified; NOT_FOUND when it is not there (or was corrupt and removed). */
function tablesOf(store: ArtifactStore, key: string): Table[] {
  const tables = store.read(key);
  if (tables === undefined) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: key, expected: 'a sound artifact', found: 'none (missing, or corrupt and now removed)' });
  return tables;
}

/** All of an artifact's tables as one (its parts share a schema). */
function oneTable(tables: readonly Table[], key: string): Table {
  const [first, ...rest] = tables;
  if (first === undefined) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: key, expected: 'an artifact with at least one table', found: 'an empty artifact' });
  return rest.length === 0 ? first : first.concat(...rest);
}

function runLine(r: RunRecord): string {
  const nodes = Object.values(r.nodes);
  const count = (s: string): number => nodes.filter((n) => n.status === s).length;
  return `${r.id}  ${r.pipeline.padEnd(22)} ${r.status.padEnd(7)} ${r.startedAt}  ${nodes.length} nodes (${count('executed')} executed, ${count('stored')} read, ${count('resumed')} resumed)`;
}

function ls(store: ArtifactStore, runId: string | undefined, asJson: boolean, out: (l: string) => void): void {
  const runs = store.runs();
  const entries = new Map(store.entries().map((e) => [e.key, e]));
  const run = runId === undefined ? [...runs].reverse().find((r) => !r.pipeline.includes('/')) ?? runs[runs.length - 1] : runs.find((r) => r.id === runId);
  if (runId !== undefined && run === undefined) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: '--run', expected: 'a run id of this store (bitlens store ls)', found: JSON.stringify(runId) });
  const nodes = run === undefined ? [] : Object.entries(run.nodes).map(([node, n]) => ({ node, ...n, artifact: entries.get(n.key) }));
  const bytes = storeBytes(store);
  if (asJson) {
    out(JSON.stringify({ root: store.root, bytes, artifacts: entries.size, runs, run: run?.id ?? null, nodes }, null, 2));
    return;
  }
  out(`store ${store.root}: ${entries.size} artifacts, ${human(bytes)} on disk, ${runs.length} runs`);
  for (const r of runs) out(`  ${runLine(r)}`);
  if (run === undefined) return;
  out(`nodes of run ${run.id} (${run.pipeline}):`);
  const w = Math.max(4, ...nodes.map((n) => n.node.length));
  for (const n of nodes) {
    const a: ArtifactInfo | undefined = n.artifact;
    out(`  ${n.node.padEnd(w)}  ${n.key.slice(0, 12)}  ${(n.status ?? '-').padEnd(8)} ${a === undefined ? 'not stored'.padStart(10) : human(a.bytes).padStart(10)}  ${a?.createdAt ?? ''}  ${n.stage}`);
  }
}

/** A printable cell: lists and long strings cut short. */
function cell(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'object' && v !== null && 'toArray' in v) {
    const xs = Array.from((v as { toArray(): ArrayLike<unknown> }).toArray());
    return `[${xs.slice(0, 6).map((x) => (typeof x === 'number' ? Number(x.toPrecision(5)) : String(x))).join(', ')}${xs.length > 6 ? `, … ${xs.length} items` : ''}]`;
  }
  const s = typeof v === 'number' ? String(Number(v.toPrecision(6))) : String(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

function show(store: ArtifactStore, ref: string, runId: string | undefined, rows: number, asJson: boolean, out: (l: string) => void): void {
  const { key, node, run } = resolveArtifact(store, ref, runId);
  const manifest = store.manifest(key);
  const table = oneTable(tablesOf(store, key), key);
  const provenance = readProvenance(table);
  const schema = table.schema.fields.map((f) => ({ name: f.name, type: String(f.type), nullable: f.nullable }));
  const first = Array.from({ length: Math.min(rows, table.numRows) }, (_, i) => Object.fromEntries(table.schema.fields.map((f) => [f.name, cell(table.getChild(f.name)?.get(i))])));
  if (asJson) {
    out(JSON.stringify({ key, node: node ?? manifest?.node ?? null, run: run?.id ?? manifest?.runId ?? null, manifest, provenance, metadata: Object.fromEntries(table.schema.metadata), schema, rows: table.numRows, first }, null, 2));
    return;
  }
  out(`artifact ${key}${node === undefined ? '' : ` (node ${node} of run ${run?.id ?? '?'})`}`);
  out(`  stage ${manifest?.stage ?? '?'}, ${manifest?.parts.length ?? 0} parts, ${table.numRows} rows, written ${manifest?.createdAt ?? '?'} by run ${manifest?.runId ?? '?'} as node ${manifest?.node ?? '?'}`);
  for (const [port, k] of Object.entries(manifest?.inputs ?? {})) out(`  input ${port}: ${k}`);
  out('provenance:');
  for (const [k, v] of table.schema.metadata) if (k.startsWith('bitlens.')) out(`  ${k} = ${v.length > 200 ? `${v.slice(0, 197)}…` : v}`);
  out('schema:');
  for (const f of schema) out(`  ${f.name}: ${f.type}${f.nullable ? ' (nullable)' : ''}`);
  out(`first ${first.length} of ${table.numRows} rows:`);
  for (const r of first) out(`  ${Object.entries(r).map(([k, v]) => `${k}=${v}`).join('  ')}`);
}

const FORMATS = ['arrow', 'parquet', 'csv', 'safetensors'] as const;
type Format = (typeof FORMATS)[number];

function csvOf(table: Table): string {
  const esc = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const value = (v: unknown): string => {
    if (v === null || v === undefined) return '';
    if (typeof v === 'object' && 'toArray' in v) return esc(JSON.stringify(Array.from((v as { toArray(): ArrayLike<number> }).toArray(), (x) => (typeof x === 'bigint' ? Number(x) : x))));
    return esc(typeof v === 'bigint' ? v.toString() : String(v));
  };
  const names = table.schema.fields.map((f) => f.name);
  const lines = [names.map(esc).join(',')];
  for (let i = 0; i < table.numRows; i++) lines.push(names.map((n) => value(table.getChild(n)?.get(i))).join(','));
  return `${lines.join('\n')}\n`;
}

/** The bytes of an artifact in `format`. Weights go to safetensors in TransformerLens names (`column`: which weights). */
export function exportBytes(table: Table, format: Format, column: 'effective' | 'latent' = 'effective'): Uint8Array {
  switch (format) {
    case 'arrow':
      return tableToIPC(table, 'file');
    case 'parquet': {
      const wasm = parquet.Table.fromIPCStream(tableToIPC(table, 'stream'));
      return parquet.writeParquet(wasm, new parquet.WriterPropertiesBuilder().setCompression(parquet.Compression.ZSTD).build());
    }
    case 'csv':
      return new TextEncoder().encode(csvOf(table));
    case 'safetensors': {
      if (table.getChild('effective') === null || table.getChild('name') === null) {
        throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: '--format', expected: 'safetensors only for a weights or checkpoint artifact (columns name, shape, latent, effective)', found: `columns ${table.schema.names.join(', ')}` });
      }
      const w = readWeightsTable(table);
      return exportTransformerLens(w.config, column === 'latent' ? w.latent : w.effective, { zeroBiases: true });
    }
  }
}

function exportArtifact(store: ArtifactStore, ref: string, v: Readonly<Record<string, unknown>>, out: (l: string) => void): void {
  const format = v['format'];
  if (typeof format !== 'string' || !(FORMATS as readonly string[]).includes(format)) throw usage(`store export: --format must be one of ${FORMATS.join(', ')} (found ${JSON.stringify(format ?? null)})`);
  const column = v['column'] ?? 'effective';
  if (column !== 'effective' && column !== 'latent') throw usage(`store export: --column must be effective or latent (found ${JSON.stringify(column)})`);
  const { key, node } = resolveArtifact(store, ref, typeof v['run'] === 'string' ? v['run'] : undefined);
  const ext = format === 'arrow' ? 'arrow' : format;
  const path = resolve(typeof v['out'] === 'string' ? v['out'] : `${(node ?? key.slice(0, 16)).replace(/[^A-Za-z0-9_.-]+/g, '_')}.${ext}`);
  const tables = tablesOf(store, key);
  const table = oneTable(tables, key);
  // Weights go out one model at a time: of a checkpoint stream (one table per checkpoint), the last one.
  const source = format === 'safetensors' ? (tables[tables.length - 1] ?? table) : table;
  const bytes = exportBytes(source, format as Format, column);
  writeFileAtomic(path, bytes, STAGE, '--out');
  out(`${path}: ${human(bytes.length)} (${format}, ${table.numRows} rows${format === 'safetensors' ? `, ${column} weights` : ''}) from ${key.slice(0, 12)}${node === undefined ? '' : ` (${node})`}`);
}

function gc(store: ArtifactStore, keep: number, dryRun: boolean, asJson: boolean, out: (l: string) => void): void {
  const plan = planGc(store, keep);
  if (!dryRun) applyGc(store, plan);
  if (asJson) {
    out(JSON.stringify({ dryRun, keptRuns: plan.keptRuns.map((r) => r.id), droppedRuns: plan.droppedRuns.map((r) => r.id), removed: plan.remove.map((e) => ({ key: e.key, stage: e.stage, node: e.node ?? null, bytes: e.bytes })), kept: plan.keep, bytes: plan.bytes, tmp: plan.tmp }, null, 2));
    return;
  }
  const verb = dryRun ? 'would remove' : 'removed';
  out(`${verb} ${plan.remove.length} artifacts (${human(plan.bytes)}), ${plan.droppedRuns.length} run records and ${plan.tmp.length} temporary folders; kept ${plan.keep} artifacts used by ${plan.keptRuns.length} runs`);
  for (const e of plan.remove.slice(0, 20)) out(`  ${e.key.slice(0, 12)}  ${human(e.bytes).padStart(10)}  ${e.stage}${e.node === undefined ? '' : `  (${e.node})`}`);
  if (plan.remove.length > 20) out(`  … and ${plan.remove.length - 20} more`);
}

function parseStoreArgs(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: { json: { type: 'boolean' }, run: { type: 'string' }, rows: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' }, column: { type: 'string' }, keep: { type: 'string' }, 'dry-run': { type: 'boolean' }, store: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
}

/**
 * `bitlens store <ls|show|export|gc>`: the store as a tool. Throws typed errors (usage: INVALID_CONFIG; a node or run
 * that is not there: NOT_FOUND) for the CLI to print and turn into its exit code.
 */
export function storeCommand(argv: readonly string[], out: (line: string) => void, env: NodeJS.ProcessEnv = process.env): number {
  let parsed: ReturnType<typeof parseStoreArgs>;
  try {
    parsed = parseStoreArgs(argv);
  } catch (e) {
    throw usage(`store: ${(e as Error).message}`);
  }
  const { values, positionals } = parsed;
  const [sub, ref, ...extra] = positionals;
  if (values.help === true) {
    out(STORE_HELP);
    return 0;
  }
  if (values.store === '') throw usage('store: --store needs a folder');
  const store = new ArtifactStore({ root: values.store ?? defaultStoreRoot(env) });
  const asJson = values.json === true;
  const int = (name: string, raw: string | undefined, dflt: number): number => {
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw usage(`store: --${name} must be a whole number >= 0 (found ${JSON.stringify(raw)})`);
    return n;
  };
  const needRef = (): string => {
    if (ref === undefined) throw usage(`store ${sub}: which artifact? give a node name or a key`);
    if (extra.length > 0) throw usage(`store ${sub}: unexpected ${JSON.stringify(extra.join(' '))}`);
    return ref;
  };
  switch (sub) {
    case 'ls':
      if (ref !== undefined) throw usage(`store ls takes no argument (found ${JSON.stringify(ref)}); use --run <id>`);
      ls(store, values.run, asJson, out);
      return 0;
    case 'show':
      show(store, needRef(), values.run, int('rows', values.rows, 5), asJson, out);
      return 0;
    case 'export':
      exportArtifact(store, needRef(), values, out);
      return 0;
    case 'gc':
      if (ref !== undefined) throw usage(`store gc takes no argument (found ${JSON.stringify(ref)}); use --keep <runs>`);
      gc(store, int('keep', values.keep, 5), values['dry-run'] === true, asJson, out);
      return 0;
    default:
      throw usage(sub === undefined ? 'store: which command? ls, show, export or gc' : `store: unknown command ${JSON.stringify(sub)} (expected ls, show, export or gc)`);
  }
}
