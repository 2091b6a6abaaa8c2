import { resolve } from 'node:path';
import { initTfjsBackend } from '@bitlens/engine';
import { type GraphEvent, type RunOptions, type RunStats, bitlensVersion, definePipeline, writeFileAtomic } from '@bitlens/core';
import { type StageRecord, renderReport, textSummary } from '@bitlens/report';
import type { Table } from 'apache-arrow';
import { type PrecisionRun, PrecisionComparisonConfig, type ResolvedComparison, comparisonFiles, resolveComparison } from './config.js';
import { type ComparisonGraph, GROK_THRESHOLD, comparisonGraph, comparisonTraining } from './graph.js';
import { type RunTables, comparisonReportData } from './internal/report-data.js';

const PIPELINE = 'precision-comparison';


/** The nodes of one run that the report reads. */
const REPORT_NODES = ['metrics', 'progress', 'spectra', 'final', 'norms', 'neurons', 'keys', 'mechanism', 'views'] as const;

/**
 * Runs the graph once and collects what the report needs: the comparison and, per run, its training metrics,
 * progress measures, final checkpoint and analyses (the three trainings start together in their workers; each run's
 * analysis starts when its training ends).
 */
async function runGraph(graph: ComparisonGraph, r: ResolvedComparison, runOptions: RunOptions): Promise<{ stats: RunStats; runs: { run: PrecisionRun; tables: RunTables }[]; comparison: Table[] }> {
  const nodes = r.runs.flatMap((run) => REPORT_NODES.map((what) => `${run.name}/${what}` as const));
  const { tables, stats } = await graph.run({ ...runOptions, collect: ['comparison', ...nodes] });
  const runs = r.runs.map((run) => {
    const of = (what: (typeof REPORT_NODES)[number]): Table[] => tables[`${run.name}/${what}`];
    const collected: RunTables = {
      metrics: of('metrics'), progress: of('progress'), spectra: of('spectra'), final: of('final'), norms: of('norms'), neurons: of('neurons'), keys: of('keys'), mechanism: of('mechanism'), views: of('views'),
    };
    return { run, tables: collected };
  });
  return { stats, runs, comparison: tables.comparison };
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
  files: comparisonFiles,
  async plan(config, context) {
    const r = resolveComparison(config);
    const { tf } = await initTfjsBackend(r.backend);
    return comparisonGraph(r, tf, comparisonTraining(r)).plan(context.store);
  },
  async run(config, context) {
    const start = performance.now();
    const r = resolveComparison(config);
    const { tf, info } = await initTfjsBackend(r.backend);
    const graph = comparisonGraph(r, tf, comparisonTraining(r));
    const events: GraphEvent[] = [];
    const runOptions: RunOptions = {
      store: context.store,
      ...(context.run === undefined ? {} : { log: context.run }),
      onEvent: (e: GraphEvent) => {
        if (e.type === 'stage-done' || e.type === 'stage-cached') events.push(e);
        context.onEvent(e);
      },
      provenance: { configHash: context.configHash, seed: r.seed, backend: info.name, ...(context.gitRevision === undefined ? {} : { gitRevision: context.gitRevision }) },
    };
    const { stats, runs, comparison } = await runGraph(graph, r, runOptions);
    const executed = new Set(stats.executed);
    const stages: StageRecord[] = graph.describe().map((d) => ({ node: d.node, stage: d.stage, key: d.key, cached: !executed.has(d.node) }));
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
    writeFileAtomic(out, await renderReport(data), `${PIPELINE}/report-sink`);
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
