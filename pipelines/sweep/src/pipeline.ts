import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { BitlensError, type NodePlan, type PipelineContext, bitlensVersion, definePipeline, writeFileAtomic } from '@bitlens/core';
import { initTfjsBackend, threadsPerEngine } from '@bitlens/engine';
import { createQuantizerRegistry } from '@bitlens/quantization';
import { renderSweepReport } from '@bitlens/report';
import { type Claim, type TextTable, bondarenkoClaims, bondarenkoTable, furutaClaims, joinedRecordTable } from './claims.js';
import { SweepConfig, type ResolvedSweep, resolveSweep } from './config.js';
import { type CellExecutor, type ExecutorContext, inProcessExecutor, localPool } from './executor.js';
import { cellGraph, recordGraph } from './cell.js';
import { sweepKernels } from './kernels.js';
import { sweepGraph } from './graph.js';
import { queueExecutor, statusPrinter } from './queue/executor.js';
import { type CellSummary, cellReports, cellSummaries, terminalTable } from './summary.js';

const PIPELINE = 'sweep';


/**
 * The executor of a run: `bitlens worker`s through a queue (`queue`), a pool of worker threads (default one per core),
 * or this process for `workers: 0`.
 */
async function executorFor(r: ResolvedSweep, ctx: ExecutorContext, log: (line: string) => void): Promise<CellExecutor> {
  if (r.queue !== undefined) return queueExecutor({ ...ctx, queue: r.queue, log, onStatus: statusPrinter(log) });
  const workers = r.workers ?? availableParallelism();
  if (workers > 0) return localPool({ ...ctx, workers });
  // one cell at a time in this engine: its products may take every core (results do not depend on it)
  const { tf } = await initTfjsBackend(r.backend, { threads: threadsPerEngine(1) });
  return inProcessExecutor({ ...ctx, tf, registry: createQuantizerRegistry(), kernels: sweepKernels() });
}

/** The run's counters: cells executed, read from the store, and (of the executed) resumed after an interruption. */
export interface SweepStats {
  readonly executed: number;
  readonly fromStore: number;
  readonly resumed: number;
  readonly cells: number;
}

async function planOf(r: ResolvedSweep, context: PipelineContext): Promise<readonly NodePlan[]> {
  const none: CellExecutor = { run: () => { throw new BitlensError('INTERNAL', { stage: PIPELINE, field: 'plan' }, 'planning runs nothing'); }, stats: new Map(), close: () => Promise.resolve() };
  const top = sweepGraph(r, none).plan(context.store);
  const { tf } = await initTfjsBackend(r.backend);
  const registry = createQuantizerRegistry();
  // A cell that is not stored runs its own graph: show what it would execute or read inside.
  const graphOf = (cell: (typeof r.cells)[number]) => (r.record ? recordGraph(cell, tf, registry) : cellGraph(cell, tf, registry));
  const inner = r.cells.flatMap((cell) => (top.find((n) => n.node === `${cell.id}/cell`)?.status === 'stored' ? [] : graphOf(cell).plan(context.store)));
  return [...top, ...inner];
}

/** A text table as aligned terminal lines. */
function textLines(t: TextTable): string[] {
  const widths = t.header.map((h, j) => Math.max(h.length, ...t.rows.map((r) => (r[j] ?? '').length)));
  const line = (r: readonly string[]): string => `  ${r.map((x, j) => x.padEnd(widths[j] ?? 0)).join('  ').trimEnd()}`;
  return [`${t.title}:`, line(t.header), ...t.rows.map(line)];
}

/** The tables a sweep shows beside its cells: Bondarenko's Table 2 (attention axis or preset) and the joined record. */
function extraTables(r: ResolvedSweep, summaries: readonly CellSummary[]): TextTable[] {
  if (!r.record) return [];
  return [...(r.preset === 'bondarenko' || r.axes.attention !== undefined ? [bondarenkoTable(summaries)] : []), joinedRecordTable(summaries)];
}

function summaryLines(r: ResolvedSweep, summaries: readonly CellSummary[], claims: readonly Claim[], tables: readonly TextTable[], stats: SweepStats, out: string, seconds: number): string[] {
  const axes = Object.keys(r.axes);
  const lines = [`sweep${r.preset === 'none' ? '' : ` (preset ${r.preset})`}: ${r.cells.length} cells over ${axes.length === 0 ? 'no axes' : axes.join(' x ')}`, ...terminalTable(summaries, axes).map((l) => `  ${l}`)];
  for (const t of tables) lines.push(...textLines(t));
  for (const c of claims) lines.push(`claim: ${c.claim}: ${c.holds === null ? 'n/a' : c.holds ? 'TRUE' : 'FALSE'} — ${c.measured}`);
  lines.push(`report: ${out}`);
  lines.push(`${seconds.toFixed(2)} s; cells executed: ${stats.executed}, read from store: ${stats.fromStore}${stats.resumed > 0 ? `, resumed after an interruption: ${stats.resumed}` : ''}`);
  return lines;
}

/**
 * `bitlens run sweep`: experiments as data. The config's axes (task, quantizer, model, seed, p, trainFraction, lr,
 * weightDecay, epochs, afterGrok, …) span cells; each cell (dataset → training → the mechanism analysis of
 * @bitlens/circuits → one summary row) runs on a pool of worker threads, one per core; the rows are merged into one
 * Arrow table with the same-algorithm verdict of every quantized cell against its fp32 sibling, printed as a table,
 * checked against a paper's claims (preset `furuta`) and written as an HTML report. Every node is cached: a rerun
 * executes only the cells not in the store, and a killed sweep resumes (finished cells are read back, interrupted
 * trainings continue from their last checkpoint).
 */
export const sweepPipeline = definePipeline({
  name: PIPELINE,
  description: 'Experiments as data: the product of axes (task, quantizer, model, seed, p, ...) as cells on a worker pool, one merged Arrow table, claims, HTML report.',
  config: SweepConfig,
  // The report path is checked before any cell runs (an unwritable one is a config error naming `out`).
  files: (config) => ({ outputs: [{ field: 'out', path: config.out }] }),
  plan: (config, context) => planOf(resolveSweep(config), context),
  async run(config, context) {
    const start = performance.now();
    const r = resolveSweep(config);
    const out = resolve(r.out);
    const { info } = await initTfjsBackend(r.backend); // fails fast, typed, on a backend this machine cannot start
    const provenance = { configHash: context.configHash, backend: info.name, ...(context.gitRevision === undefined ? {} : { gitRevision: context.gitRevision }) };
    const executor = await executorFor(r, { store: context.store.root, backend: r.backend, provenance, record: r.record, onEvent: context.onEvent, ...(context.run === undefined ? {} : { parentRun: context.run.id }) }, context.log);
    let result: Awaited<ReturnType<ReturnType<typeof sweepGraph>['run']>>;
    try {
      result = await sweepGraph(r, executor).run({ store: context.store, onEvent: context.onEvent, provenance, ...(context.run === undefined ? {} : { log: context.run }), collect: ['table'] });
    } finally {
      await executor.close();
    }
    const { tables, stats: graphStats } = result;
    // A cell counts as executed when its node ran (its row was not in the store); all others were read back, either
    // directly or through the merged table.
    const executed = graphStats.executed.filter((n) => n.endsWith('/cell')).length;
    const stats: SweepStats = {
      cells: r.cells.length,
      executed,
      fromStore: r.cells.length - executed,
      resumed: [...executor.stats.values()].filter((s) => s.resumed.length > 0).length,
    };
    const summaries = cellSummaries(tables.table, r.cells);
    const claims = r.preset === 'furuta' ? furutaClaims(summaries) : r.preset === 'bondarenko' ? bondarenkoClaims(summaries) : [];
    const textTables = extraTables(r, summaries);
    const seconds = (performance.now() - start) / 1000;
    writeFileAtomic(
      out,
      await renderSweepReport({
        title: `bitlens sweep${r.preset === 'none' ? '' : ` — ${r.preset}`}`,
        subtitle: `${r.cells.length} cells over ${Object.keys(r.axes).join(' x ') || 'no axes'}; backend ${info.description}`,
        axes: Object.keys(r.axes),
        cells: cellReports(tables.table, summaries),
        claims,
        tables: textTables,
        provenance: { 'config hash': context.configHash, backend: info.description, 'bitlens version': bitlensVersion(), ...(context.gitRevision === undefined ? {} : { 'git revision': context.gitRevision }), 'wall seconds': seconds.toFixed(1) },
        config,
      }),
      `${PIPELINE}/report-sink`,
    );
    return {
      stats: graphStats,
      summary: { cells: summaries, stats, claims, report: out, seconds: Number(seconds.toFixed(2)) },
      lines: summaryLines(r, summaries, claims, textTables, stats, out, seconds),
    };
  },
});
