import { renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createEngineWorkers, initTfjsBackend } from '@bitlens/engine';
import { workerExecutor } from '@bitlens/training';
import { BitlensError, type GraphEvent, type RunStats, bitlensVersion, definePipeline } from '@bitlens/core';
import { type StageRecord, renderReport, textSummary } from '@bitlens/report';
import type { Table } from 'apache-arrow';
import { type Observable, forkJoin, lastValueFrom, toArray } from 'rxjs';
import { PrecisionComparisonConfig, type ResolvedComparison, resolveComparison } from './config.js';
import { type ComparisonGraph, GROK_THRESHOLD, comparisonGraph } from './graph.js';
import { type RunTables, comparisonReportData } from './internal/report-data.js';

const PIPELINE = 'precision-comparison';

/** Writes a file atomically (temp file + rename), so a half-written report is never left at `path`. */
function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    throw new BitlensError('INTERNAL', { stage: `${PIPELINE}/report-sink`, field: 'out', expected: 'a writable path', found: JSON.stringify(path) }, (e as Error).message, { cause: e });
  }
}

const all = (s: Observable<Table> | undefined, node: string): Promise<Table[]> => {
  if (s === undefined) throw new BitlensError('INTERNAL', { stage: PIPELINE, field: node, expected: 'a node of the graph', found: 'nothing' });
  return lastValueFrom(s.pipe(toArray()));
};

/**
 * Runs the graph: first every leaf at once (the three trainings start together in their workers; each run's analysis
 * starts when its training ends), then reads the intermediate nodes the report needs back from the store (a node's
 * run-time stream is consumed by its downstream stage, so it is read in a fresh graph run, from its artifact).
 */
async function runGraph(graph: ComparisonGraph, r: ResolvedComparison, runOptions: Parameters<ComparisonGraph['run']>[0]): Promise<{ stats: RunStats; runs: { run: (typeof r.runs)[number]; tables: RunTables }[]; comparison: Table[] }> {
  const first = graph.run(runOptions);
  const leaves: Record<string, Promise<Table[]>> = {};
  const leafNames = ['comparison', ...r.runs.flatMap((run) => [`${run.name}-metrics`, `${run.name}-progress`])];
  const results = await lastValueFrom(forkJoin(Object.fromEntries(leafNames.map((n) => [n, first.streams[n]?.pipe(toArray()) ?? []]))));
  for (const n of leafNames) leaves[n] = Promise.resolve(results[n] ?? []);
  const read = (node: string): Promise<Table[]> => all(graph.run({ ...runOptions, onEvent: () => undefined }).streams[node], node);
  const runs = [];
  for (const run of r.runs) {
    const n = (what: string): string => `${run.name}-${what}`;
    runs.push({
      run,
      tables: {
        metrics: results[n('metrics')] ?? [],
        progress: results[n('progress')] ?? [],
        final: await read(n('final')),
        norms: await read(n('norms')),
        neurons: await read(n('neurons')),
        keys: await read(n('keys')),
        mechanism: await read(n('mechanism')),
      },
    });
  }
  return { stats: first.stats, runs, comparison: results['comparison'] ?? [] };
}

/**
 * `bitlens run precision-comparison`: trains fp32, ternary and binary models of one seed in parallel worker threads,
 * measures their progress (restricted/excluded loss, Gini, weight norm) at every checkpoint while they train, analyses
 * each final model (Fourier key frequencies, neuron clusters, losses, clock/pizza), compares them (same-algorithm
 * verdict) and writes a self-contained HTML report (the only file written besides the artifact store). Every node is
 * cached: a rerun with nothing changed reads the leaves from the store; changing one run's quantizer recomputes that
 * run and the comparison only.
 */
export const precisionComparisonPipeline = definePipeline({
  name: PIPELINE,
  description: 'fp32 vs ternary vs binary: parallel training, progress measures, circuit analysis, same-algorithm verdict, HTML report.',
  config: PrecisionComparisonConfig,
  async run(config, context) {
    const start = performance.now();
    const r = resolveComparison(config);
    const { tf, info } = await initTfjsBackend(r.backend);
    // The three trainings run at once, each in a worker thread with its own engine (runs, not kernels, take the cores).
    const training = workerExecutor({ workers: createEngineWorkers({ backend: r.backend, workers: r.runs.length }) });
    const graph = comparisonGraph(r, tf, training);
    const events: GraphEvent[] = [];
    const runOptions = {
      store: context.store,
      onEvent: (e: GraphEvent) => {
        if (e.type === 'stage-done' || e.type === 'stage-cached') events.push(e);
        context.onEvent(e);
      },
      provenance: { configHash: context.configHash, seed: r.seed, backend: info.name, ...(context.gitRevision === undefined ? {} : { gitRevision: context.gitRevision }) },
    };
    const { stats, runs, comparison } = await runGraph(graph, r, runOptions);
    const keys = graph.keys();
    const executed = new Set(stats.executed);
    const stages: StageRecord[] = graph.names.map((node) => ({ node, stage: graph.stages[node] ?? '', key: keys[node] ?? '', cached: !executed.has(node) }));
    const wallSeconds = (performance.now() - start) / 1000;
    const data = comparisonReportData(r, runs, comparison, {
      pipeline: PIPELINE,
      config: { ...config },
      configHash: context.configHash,
      backend: info.description,
      seed: r.seed,
      bitlensVersion: bitlensVersion(),
      ...(context.gitRevision === undefined ? {} : { gitRevision: context.gitRevision }),
      generatedAt: new Date().toISOString(),
      wallSeconds,
      stages,
    });
    const out = resolve(r.out);
    writeAtomic(out, await renderReport(data));
    const summary = {
      p: r.p,
      preset: r.preset,
      epochCap: r.epochs,
      report: out,
      seconds: Number(wallSeconds.toFixed(2)),
      executed: stats.executed.length,
      cached: stats.cached.length,
      precisions: data.precisions.map((x) => ({
        name: x.name,
        quantizer: x.quantizer,
        grokEpoch: x.grokEpoch,
        trainFitEpoch: x.trainFitEpoch,
        finalEpoch: x.finalEpoch,
        trainAcc: x.training.trainAcc[x.training.trainAcc.length - 1] ?? null,
        testAcc: x.training.testAcc[x.training.testAcc.length - 1] ?? null,
        keyFrequencies: x.keyFrequencies,
        reachedThreshold: x.grokEpoch !== null,
      })),
      comparisons: data.comparisons.map((c) => ({ pair: `${c.modelA}/${c.modelB}`, verdict: c.verdict, jaccard: c.jaccard })),
      grokThreshold: GROK_THRESHOLD,
    };
    const lines = [
      ...textSummary(data),
      `report: ${out}`,
      `${summary.seconds} s; stages executed: ${stats.executed.length}, read from store: ${stats.cached.length}${stats.resumed.length > 0 ? `, resumed after an interruption: ${stats.resumed.join(', ')}` : ''}${stats.recomputedCorrupt.length > 0 ? `, corrupt and recomputed: ${stats.recomputedCorrupt.join(', ')}` : ''}`,
    ];
    return { stats, summary, lines };
  },
});
