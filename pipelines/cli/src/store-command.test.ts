import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { ArtifactStore, BitlensError, hashJson } from '@bitlens/core';
import { importTransformerLens, readWeightsTable } from '@bitlens/model';
import { helloPipeline, HelloConfig } from '@bitlens/pipeline-hello';
import { precisionComparisonPipeline, PrecisionComparisonConfig } from '@bitlens/pipeline-precision-comparison';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeCommand } from './store-command.js';

let dir: string;
let root: string;
const run = (argv: string[]) => {
  const lines: string[] = [];
  const code = storeCommand([...argv, '--store', root], (l) => lines.push(l));
  return { code, out: lines.join('\n') };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bitlens-store-cmd-'));
  root = join(dir, 'store');
  const store = new ArtifactStore({ root });
  // A tiny comparison gives weights (final checkpoints) and analysis tables; two hello runs give something to collect.
  const config = PrecisionComparisonConfig.parse({ p: 11, epochs: 20, checkpointEvery: 10, logEvery: 10, out: join(dir, 'r.html') });
  const log = store.beginRun({ pipeline: 'precision-comparison', config });
  await precisionComparisonPipeline.run(config, { store, configHash: hashJson(config), onEvent: () => undefined, log: () => undefined, run: log });
  log.finish('ok');
  for (const n of [10, 20]) {
    await new Promise((r) => setTimeout(r, 1100));
    const h = HelloConfig.parse({ n });
    const l = store.beginRun({ pipeline: 'hello', config: h });
    await helloPipeline.run(h, { store, configHash: hashJson(h), onEvent: () => undefined, log: () => undefined, run: l });
    l.finish('ok');
  }
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bitlens store', () => {
  it('ls lists the runs and the nodes of the newest one, with sizes and dates; --json is one object', () => {
    const text = run(['ls']).out;
    expect(text).toMatch(/^store .*: \d+ artifacts, .* on disk, 3 runs/);
    expect(text).toMatch(/precision-comparison\s+ok/);
    expect(text).toContain('nodes of run');
    const j = JSON.parse(run(['ls', '--json']).out) as { runs: { pipeline: string }[]; nodes: { node: string; artifact?: { bytes: number } }[] };
    expect(j.runs.map((r) => r.pipeline)).toEqual(['precision-comparison', 'hello', 'hello']);
    expect(j.nodes.map((n) => n.node)).toContain('combined');
  });

  it('show prints provenance, lineage, schema and first rows of a node', () => {
    const text = run(['show', 'fp32/mechanism', '--rows', '1']).out;
    expect(text).toMatch(/node fp32\/mechanism of run \d{8}T/);
    expect(text).toContain('bitlens.stage = circuits/mechanism-summary');
    expect(text).toContain('embed_keys: List<Int32>');
    const j = JSON.parse(run(['show', 'fp32/final', '--json']).out) as { manifest: { node: string; inputs: Record<string, string> }; provenance: { node: string } };
    expect(j.manifest.node).toBe('fp32/final');
    expect(j.provenance.node).toBe('fp32/final');
    expect(Object.keys(j.manifest.inputs)).toEqual(['in']);
  });

  it('exports a table as Parquet that DuckDB reads, as Arrow and as CSV', async () => {
    const pq = join(dir, 'mech.parquet');
    expect(run(['export', 'ternary/mechanism', '--format', 'parquet', '--out', pq]).code).toBe(0);
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const rows = (await c.runAndReadAll(`select model, p, len(embed_keys) as k, accuracy from read_parquet('${pq}')`)).getRowObjects();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ model: 'ternary', p: 11 });
    const arrow = join(dir, 'mech.arrow');
    run(['export', 'ternary/mechanism', '--format', 'arrow', '--out', arrow]);
    expect(tableFromIPC(readFileSync(arrow)).getChild('model')?.get(0)).toBe('ternary');
    const csv = join(dir, 'mech.csv');
    run(['export', 'ternary/mechanism', '--format', 'csv', '--out', csv]);
    expect(readFileSync(csv, 'utf8').split('\n')[0]).toMatch(/^model,p,preset,embed_keys,/);
  });

  it('exports weights as TransformerLens-named safetensors that read back to the same tensors', () => {
    const path = join(dir, 'binary.safetensors');
    expect(run(['export', 'binary/final', '--format', 'safetensors', '--out', path]).code).toBe(0);
    const store = new ArtifactStore({ root });
    const key = (JSON.parse(run(['show', 'binary/final', '--json']).out) as { key: string }).key;
    const w = readWeightsTable(store.read(key)?.[0] as never);
    const back = importTransformerLens(new Uint8Array(readFileSync(path)), w.config);
    expect(Array.from(back.get('blocks.0.mlp.W_in')?.data ?? [])).toEqual(Array.from(w.effective.get('blocks.0.mlp.W_in')?.data ?? []));
    expect(() => run(['export', 'binary/mechanism', '--format', 'safetensors'])).toThrow(/safetensors only for a weights/);
  });

  it('gc --dry-run says what it would remove and removes nothing; gc keeps what the last N runs use', () => {
    const before = (JSON.parse(run(['ls', '--json']).out) as { artifacts: number }).artifacts;
    const plan = JSON.parse(run(['gc', '--keep', '1', '--dry-run', '--json']).out) as { removed: unknown[]; droppedRuns: string[] };
    expect(plan.removed.length).toBeGreaterThan(30); // the comparison's nodes and the first hello run's own
    expect(plan.droppedRuns).toHaveLength(2);
    expect((JSON.parse(run(['ls', '--json']).out) as { artifacts: number }).artifacts).toBe(before);
    run(['gc', '--keep', '1']);
    const after = JSON.parse(run(['ls', '--json']).out) as { artifacts: number; runs: unknown[] };
    expect(after.artifacts).toBe(before - plan.removed.length);
    expect(after.runs).toHaveLength(1);
  });

  it('bad usage and missing artifacts are typed errors naming what was wrong', () => {
    const err = (argv: string[]) => {
      try {
        run(argv);
      } catch (e) {
        return e as BitlensError;
      }
      throw new Error('no error');
    };
    expect(err(['frobnicate']).code).toBe('INVALID_CONFIG');
    expect(err(['show']).message).toContain('which artifact?');
    expect(err(['show', 'nope/never']).code).toBe('NOT_FOUND');
    expect(err(['export', 'combined', '--format', 'xlsx']).message).toContain('--format must be one of arrow, parquet, csv, safetensors');
    expect(err(['gc', '--keep=-1']).message).toContain('--keep must be a whole number');
    expect(err(['gc', '--keep', 'some']).message).toContain('found "some"');
    expect(err(['ls', '--colour']).message).toMatch(/store: Unknown option '--colour'/);
  });
});
