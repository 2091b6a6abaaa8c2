import { initTfjsBackend } from '@bitlens/engine';
import {
  AblationsSchema,
  AttributionSchema,
  DEFAULT_ANALYSIS,
  KeyFreqsSchema,
  LossesSchema,
  MechanismSchema,
  QuadratureSchema,
  ablations,
  attribution,
  dlaHooks,
  gridDataset,
  keysOf,
  mechanismSubgraph,
  quadrature,
} from '@bitlens/circuits';
import { BitlensError, PipelineGraph, type SourceStage, bitlensVersion, defineJoin, defineSource, definePipeline, sha256 } from '@bitlens/core';
import { type ModelConfig, type ModelPreset, type Weights, WeightsSchema, readTransformerLens, transformerLensFileConfig, weightsTable } from '@bitlens/model';
import { readSafetensorsFile } from '@bitlens/safetensors';
import { Field, Schema, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { defer, forkJoin, map, of, toArray } from 'rxjs';
import { type AnalyzeConfigOutput, AnalyzeConfig, analyzeFiles, weightsByteLimit } from './config.js';
import { type StageRecord, modelViews } from '@bitlens/report';
import { checkReportPath, writeAnalysisReport } from './report-sink.js';

/**
 * Source of the weights table: the safetensors bytes with the model config of the file (its bitlens or TransformerLens
 * config; `p` and `preset` only where the file has none, and they must agree with it where it has one). Its options
 * carry the file's sha256 (not its path), so the cache key follows the content. The bytes are read by the pipeline
 * (the composition root).
 */
export function weightsSource(bytes: Uint8Array, options: { readonly sha256: string; readonly preset: ModelPreset; readonly p: number }): SourceStage<Weights> {
  return defineSource({
    name: 'pipeline-analyze/weights',
    // 2: the config comes from the file when it has one (was: the preset's defaults at p).
    version: '2',
    options: { ...options },
    output: WeightsSchema,
    create: () =>
      defer(() => {
        const { config, params } = readTransformerLens(bytes, { p: options.p, preset: options.preset });
        return of(weightsTable(config, params));
      }),
  });
}

/**
 * The model config of the weights file: its own (bitlens or TransformerLens config) when it has one, checked against an
 * explicit `p` / `preset` (INVALID_CONFIG naming both values when they differ); else the preset (default nanda) at the
 * given `p` (INVALID_CONFIG naming `p` when there is none). Reads the header only.
 */
export function analyzedModel(config: Pick<AnalyzeConfigOutput, 'p' | 'preset'>, bytes: Uint8Array): ModelConfig {
  return transformerLensFileConfig(bytes, { ...(config.p === undefined ? {} : { p: config.p }), ...(config.preset === undefined ? {} : { preset: config.preset }) }).config;
}

/** The nodes the report reads besides the summary (run only when a report is asked for). */
const REPORT_NODES = ['views', 'norms', 'neurons', 'keys', 'mechanism'] as const;

/** The summary the pipeline prints (`--json`), before run-specific fields (backend, seconds, stage counts). */
interface AnalyzeSummary {
  readonly key_frequencies: { readonly embedding: number[]; readonly neurons: number[] };
  readonly embed_gap_ratio: number;
  readonly neurons: { readonly share_clustered: number; readonly threshold: number; readonly variance_explained_by_key_freqs: number };
  readonly loss_keys: number[];
  readonly gini: { readonly embed: number; readonly neuron_logit_map: number };
  readonly ffs: number;
  readonly fcr: number;
  readonly ffs_eps: number;
  readonly clock_pizza: { readonly gradient_symmetricity: number; readonly distance_irrelevance: number; readonly circularity: number };
  readonly loss_basis: string;
  readonly asymmetry: { readonly logit: number; readonly attention: number };
  readonly rows: Record<'full' | 'train' | 'test' | 'restricted' | 'excluded', LossRow | undefined>;
  readonly [more: string]: unknown;
}
interface LossRow {
  readonly variant: string;
  readonly keys: number[];
  readonly subset: string;
  readonly loss: number;
  readonly accuracy: number;
}

type Summary = { json: Utf8 };
const SummarySchema = new Schema<Summary>([new Field('json', new Utf8(), false)]);

/** The printable summary of one analysis as one JSON row (cached, so a rerun reads only this). */
function analysisSummary(options: { readonly model: string; readonly p: number; readonly preset: string; readonly task: string; readonly threshold: number }) {
  return defineJoin({
    name: 'pipeline-analyze/summary',
    version: '2',
    options: { ...options },
    inputs: { mechanism: MechanismSchema, keys: KeyFreqsSchema, losses: LossesSchema, quadrature: QuadratureSchema, attribution: AttributionSchema, ablations: AblationsSchema },
    output: SummarySchema,
    apply: (ins) =>
      forkJoin({
        mech: ins.mechanism.pipe(toArray()),
        keys: ins.keys.pipe(toArray()),
        losses: ins.losses.pipe(toArray()),
        quad: ins.quadrature.pipe(toArray()),
        attr: ins.attribution.pipe(toArray()),
        abl: ins.ablations.pipe(toArray()),
      }).pipe(
        map((t) => {
          const one = (ts: Table[], port: string): Table => {
            const x = ts[0];
            if (x === undefined) throw new BitlensError('INTERNAL', { stage: 'pipeline-analyze/summary', field: port }, 'no table');
            return x;
          };
          const mech = one(t.mech, 'mechanism');
          const keys = one(t.keys, 'keys');
          const losses = one(t.losses, 'losses');
          const quad = one(t.quad, 'quadrature');
          const attr = one(t.attr, 'attribution');
          const abl = t.abl[0] !== undefined && t.abl[0].numRows > 0 ? t.abl[0] : undefined;
          const lossRows: LossRow[] = Array.from({ length: losses.numRows }, (_, i) => ({
            variant: String(losses.getChild('variant')?.get(i)),
            keys: Array.from((losses.getChild('keys')?.get(i) as { toArray(): Int32Array }).toArray()),
            subset: String(losses.getChild('subset')?.get(i)),
            loss: num(losses, 'loss', i),
            accuracy: num(losses, 'accuracy', i),
          }));
          const maxKeys = Math.max(...lossRows.map((x) => x.keys.length));
          const pick = (variant: string, subset?: string): LossRow | undefined => lossRows.find((r) => r.variant === variant && (subset === undefined || r.subset === subset) && (variant === 'full' || r.keys.length === maxKeys));
          const full = pick('full', 'all');
          const train = pick('full', 'train');
          const test = pick('full', 'test');
          const restricted = pick('restricted');
          const excluded = pick('excluded');
          const summary: AnalyzeSummary = {
            model: options.model,
            p: options.p,
            preset: options.preset,
            task: options.task,
            key_frequencies: { embedding: keysOf(keys, 'embed'), neurons: keysOf(keys, 'neurons') },
            embed_gap_ratio: round(num(mech, 'embed_gap_ratio'), 4),
            neurons: { share_clustered: round(num(mech, 'share_clustered'), 4), threshold: options.threshold, variance_explained_by_key_freqs: round(num(mech, 'variance_explained_by_keys'), 4) },
            accuracy: { all: full?.accuracy, ...(train === undefined ? {} : { train: train.accuracy }), ...(test === undefined ? {} : { test: test.accuracy }) },
            loss: { all: full?.loss, ...(train === undefined ? {} : { train: train.loss }), ...(test === undefined ? {} : { test: test.loss }) },
            loss_keys: restricted?.keys ?? [],
            restricted_loss: restricted?.loss,
            excluded_loss: excluded?.loss,
            excluded_loss_subset: excluded?.subset,
            excluded_loss_per_key: Object.fromEntries(lossRows.filter((r) => r.variant === 'excluded' && r.keys.length === 1).map((r) => [String(r.keys[0]), round(r.loss, 4)])),
            gini: { embed: round(num(mech, 'gini_embed'), 4), neuron_logit_map: round(num(mech, 'gini_wl'), 4) },
            ffs: round(num(mech, 'ffs'), 4),
            fcr: round(num(mech, 'fcr'), 4),
            ffs_eps: round(num(mech, 'ffs_eps'), 4),
            clock_pizza: { gradient_symmetricity: round(num(mech, 'gradient_symmetricity'), 4), distance_irrelevance: round(num(mech, 'distance_irrelevance'), 4), circularity: round(num(mech, 'circularity'), 4) },
            loss_basis: String(mech.getChild('loss_basis')?.get(0)),
            asymmetry: { logit: round(num(mech, 'logit_asymmetry'), 4), attention: round(num(mech, 'attention_asymmetry'), 4) },
            quadrature: Array.from({ length: quad.numRows }, (_, i) => ({ freq: num(quad, 'freq', i), neurons: num(quad, 'neurons', i), max_error: round(num(quad, 'max_error', i), 4), mean_error: round(num(quad, 'mean_error', i), 4) })),
            attribution_mean_correct_logit: Object.fromEntries(Array.from({ length: attr.numRows }, (_, i) => [String(attr.getChild('component')?.get(i)), round(num(attr, 'mean_correct', i), 4)])),
            ...(abl === undefined
              ? {}
              : { ablations: Array.from({ length: abl.numRows }, (_, i) => ({ target: String(abl.getChild('target')?.get(i)), mode: String(abl.getChild('mode')?.get(i)), delta_loss: round(num(abl, 'delta_loss', i), 4), delta_accuracy: round(num(abl, 'delta_accuracy', i), 4) })) }),
            rows: { full, train, test, restricted, excluded },
          };
          return new Table(SummarySchema, { json: vectorFromArray([JSON.stringify(summary)], new Utf8()) }) as unknown as Table<Summary>;
        }),
      ),
  });
}

/** The analysis DAG over one weights file. */
export function analyzeGraph(config: AnalyzeConfigOutput, tf: Awaited<ReturnType<typeof initTfjsBackend>>['tf'], bytes: Uint8Array, name: string) {
  const model = analyzedModel(config, bytes);
  const { p, preset } = model;
  const column = config.column;
  const t = config.thresholds;
  const settings = {
    ...DEFAULT_ANALYSIS,
    neuronThreshold: t.neuron,
    neuronMinCount: t.neuronMinCount,
    maxKeys: t.maxKeys,
    ...(t.sparsity === undefined ? {} : { sparsity: { kind: 'relative', fraction: t.sparsity } as const }),
  };
  return PipelineGraph.create()
    .source('weights', weightsSource(bytes, { sha256: sha256(bytes), preset, p }))
    .source('dataset', gridDataset({ p, task: config.task, ...(config.split === undefined ? {} : { split: config.split }) }))
    // The attribution's hooks are captured with the chain's, at the last position.
    .use('', mechanismSubgraph(tf, { model: name, task: config.task, settings, column, extraHooks: dlaHooks(model) }), { weights: 'weights', grid: 'dataset' })
    .join('quadrature', quadrature({ column }), { weights: 'weights', activations: 'activations', neurons: 'neurons' })
    .join('attribution', attribution(tf, { task: config.task, column }), { weights: 'weights', activations: 'activations' })
    .then('ablations', ablations(tf, { task: config.task, column, ...(config.ablations ? {} : { modes: [] }) }), 'weights')
    .join('views', modelViews(tf, { column }), { weights: 'weights', activations: 'activations', neurons: 'neurons', keys: 'keys' })
    .join('summary', analysisSummary({ model: name, p, preset, task: config.task, threshold: t.neuron }), {
      mechanism: 'mechanism',
      keys: 'keys',
      losses: 'losses',
      quadrature: 'quadrature',
      attribution: 'attribution',
      ablations: 'ablations',
    });
}

const num = (t: Table, col: string, i = 0): number => Number(t.getChild(col)?.get(i));

/** The weights file's bytes (a typed NOT_FOUND naming the path when it cannot be read). */
/** Bounded: a regular file of plausible size for this model, its header valid, read before the engine starts. */
function readWeights(config: AnalyzeConfigOutput): Uint8Array {
  return readSafetensorsFile(config.weights, { maxBytes: weightsByteLimit(config.preset, config.p), field: 'weights', stage: 'pipeline-analyze' }).bytes;
}

const modelName = (config: AnalyzeConfigOutput): string => config.name ?? config.weights.split('/').pop() ?? config.weights;
const round = (x: number, d = 6): number => (Number.isFinite(x) ? Number(x.toPrecision(d)) : x);

/**
 * `bitlens run analyze`: every circuit analysis of one trained model over all p^2 inputs (key frequencies by embedding
 * norm and by neuron clustering, neuron clusters, W_L spectrum, restricted/excluded loss, clock/pizza, quadrature,
 * attribution, head ablations). Results are cached per stage in the artifact store.
 */
export const analyzePipeline = definePipeline({
  name: 'analyze',
  async plan(config, context) {
    const bytes = readWeights(config);
    analyzedModel(config, bytes); // config errors before a backend starts
    const { tf } = await initTfjsBackend(config.backend);
    return analyzeGraph(config, tf, bytes, modelName(config)).plan(context.store);
  },
  description: 'Mechanistic analysis of one model: Fourier key frequencies, neuron clusters, restricted/excluded loss, clock vs pizza, ablations.',
  config: AnalyzeConfig,
  files: analyzeFiles,
  check: (config) => void analyzedModel(config, readWeights(config)),
  async run(config, context) {
    const start = performance.now();
    if (config.out !== undefined) checkReportPath(config.out);
    const bytes = readWeights(config);
    const model = analyzedModel(config, bytes); // config errors before a backend starts
    const { tf, info } = await initTfjsBackend(config.backend);
    const name = modelName(config);
    const graph = analyzeGraph(config, tf, bytes, name);
    const { tables, stats } = await graph.run({
      store: context.store,
      onEvent: context.onEvent,
      ...(context.run === undefined ? {} : { log: context.run }),
      provenance: { configHash: context.configHash, backend: info.name, ...(context.gitRevision === undefined ? {} : { gitRevision: context.gitRevision }) },
      collect: config.out === undefined ? ['summary'] : ['summary', ...REPORT_NODES],
    });
    // One terminal node: every stage runs once (shared where several consume it); a rerun reads only the summary.
    const [table] = tables.summary;
    if (table === undefined) throw new BitlensError('INTERNAL', { stage: 'pipeline-analyze', field: 'summary' }, 'the summary stage emitted no table');
    const s = JSON.parse(String(table.getChild('json')?.get(0))) as AnalyzeSummary;
    const summary = { ...s, backend: info.description, seconds: round((performance.now() - start) / 1000, 3), executed: stats.executed.length, cached: stats.cached.length };
    const { full, train, test, restricted, excluded } = s.rows;
    const embedKeys = s.key_frequencies.embedding;
    const neuronKeys = s.key_frequencies.neurons;
    const f = (x: number | undefined): string => (x === undefined ? 'n/a' : Math.abs(x) < 1e-3 ? x.toExponential(3) : x.toFixed(4));
    const lines = [
      `analyze ${name} (p=${model.p}, ${model.preset}, ${config.task}, ${info.description}): ${summary.seconds} s, ${stats.executed.length} stages run, ${stats.cached.length} read from store`,
      `key frequencies: embedding {${embedKeys.join(', ')}} (gap ratio ${summary.embed_gap_ratio}), neurons {${neuronKeys.join(', ')}}`,
      `neurons clustered (max FVE >= ${config.thresholds.neuron}): ${f(s.neurons.share_clustered)}; MLP variance explained by key frequencies ${f(s.neurons.variance_explained_by_key_freqs)}`,
      `accuracy all ${f(full?.accuracy)}${train === undefined ? '' : `, train ${f(train.accuracy)}, test ${f(test?.accuracy)}`}; loss all ${f(full?.loss)}${train === undefined ? '' : `, train ${f(train.loss)}, test ${f(test?.loss)}`}`,
      `restricted loss ${f(restricted?.loss)} (${restricted?.subset ?? 'n/a'} inputs), excluded loss ${f(excluded?.loss)} (${excluded?.subset ?? 'n/a'} inputs), keys {${summary.loss_keys.join(', ')}} in ${summary.loss_basis}`,
      `gini W_E ${summary.gini.embed}, W_L ${summary.gini.neuron_logit_map}; FFS ${summary.ffs} (eps ${summary.ffs_eps}), FCR ${summary.fcr}`,
      `clock/pizza: gradient symmetricity ${summary.clock_pizza.gradient_symmetricity}, distance irrelevance ${summary.clock_pizza.distance_irrelevance}, circularity ${summary.clock_pizza.circularity}`,
      `asymmetry (a, b) vs (b, a): logits ${summary.asymmetry.logit}, attention of = ${summary.asymmetry.attention}`,
    ];
    const { rows: _rows, ...printed } = summary;
    void _rows;
    if (config.out === undefined) return { stats, summary: printed, lines };
    const executed = new Set(stats.executed);
    const stages: StageRecord[] = graph.describe().map((d) => ({ node: d.node, stage: d.stage, key: d.key, cached: !executed.has(d.node) }));
    const report = await writeAnalysisReport(config.out, {
      name,
      title: `bitlens analysis: ${name} (p = ${model.p}, ${model.preset}, ${config.task})`,
      subtitle: `p = ${model.p}, task ${config.task}, model preset ${model.preset}, weights read: ${config.column}; ${config.split === undefined ? 'no train/test split' : `train fraction ${config.split.fraction} (split seed ${config.split.seed}, ${config.split.shuffle})`}`,
      p: model.p,
      tables: { views: tables.views, norms: tables.norms, neurons: tables.neurons, keys: tables.keys, mechanism: tables.mechanism },
      summary: printed,
      provenance: { pipeline: 'analyze', config: { ...config }, configHash: context.configHash, backend: info.description, seed: config.split?.seed ?? 0, bitlensVersion: bitlensVersion(), ...(context.gitRevision === undefined ? {} : { gitRevision: context.gitRevision }), generatedAt: new Date().toISOString(), wallSeconds: summary.seconds, stages },
    });
    return { stats, summary: { ...printed, report }, lines: [...lines, `report: ${report}`] };
  },
});
