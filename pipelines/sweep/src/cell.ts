import {
  DEFAULT_ANALYSIS,
  type FourierNorms,
  GridSchema,
  KeyFreqsSchema,
  LossesSchema,
  isTask,
  FourierNormsSchema,
  type Mechanism,
  MechanismSchema,
  gridFromDataset,
  mechanismChecks,
  mechanismNumbers,
  mechanismSubgraph,
} from '@bitlens/circuits';
import { BitlensError, type JoinStage, PipelineGraph, bool, columnData, defineJoin, defineSubgraph, field, float64, float64List, int32, int32List, int32OrNull, listOf, nullable, numbers, strings, tableOf, utf8 } from '@bitlens/core';
import { datasetStage } from '@bitlens/data';
import type { Tf } from '@bitlens/engine';
import { activationOutliers } from '@bitlens/metrics';
import { WeightsSchema, modelConfig } from '@bitlens/model';
import { w8a8Quantize, w8a8Report } from '@bitlens/ptq';
import type { QuantizerRegistry } from '@bitlens/quantization';
import { type Metrics, MetricsSchema, type TrainOptions, finalCheckpoint, inProcessExecutor, selectCheckpoints, selectMetrics, trainStage } from '@bitlens/training';
import { Bool, Float64, Int32, List, Schema, type Table, Utf8 } from 'apache-arrow';
import { forkJoin, map, toArray } from 'rxjs';
import type { Cell, CellSettings } from './config.js';
import { type CellRecord, CellRecordSchema } from './record.js';

/** Grokking threshold on test accuracy: the first logged epoch with test accuracy >= this. */
export const GROK_THRESHOLD = 0.99;

/**
 * One sweep cell's result: its settings, training outcome, mechanism numbers and checks, curves and spectrum. It holds
 * no cell id: a cell is its settings, so the same cell in another sweep (other axes, other order) is the same artifact.
 */
export type CellRow = {
  task: Utf8;
  quantizer: Utf8;
  model: Utf8;
  attention: Utf8;
  seed: Int32;
  data_seed: Int32;
  p: Int32;
  train_fraction: Float64;
  lr: Float64;
  weight_decay: Float64;
  epochs: Int32;
  after_grok: Int32;
  grok_epoch: Int32;
  train_fit_epoch: Int32;
  final_epoch: Int32;
  train_acc: Float64;
  test_acc: Float64;
  train_loss: Float64;
  test_loss: Float64;
} & Omit<Mechanism, MechanismOwnColumns> & {
  check_accurate: Bool;
  check_sparse: Bool;
  check_explained: Bool;
  check_restricted: Bool;
  check_excluded: Bool;
  checks_passed: Bool;
  curve_epoch: List<Int32>;
  curve_train_loss: List<Float64>;
  curve_test_loss: List<Float64>;
  curve_train_acc: List<Float64>;
  curve_test_acc: List<Float64>;
  embed_norms: List<Float64>;
};

/** Mechanism columns the row does not repeat (the cell's settings say them). */
type MechanismOwnColumns = 'model' | 'p' | 'preset';
const MECHANISM_OWN: readonly string[] = ['model', 'p', 'preset'] satisfies readonly MechanismOwnColumns[];
/** The mechanism columns a cell row carries: every column of the analysis's mechanism row but its own labels. */
const MECHANISM_FIELDS = MechanismSchema.fields.filter((x) => !MECHANISM_OWN.includes(x.name));

const f = field;

/** Schema of {@link CellRow} (`grok_epoch`, `train_fit_epoch`: null when never reached). */
export const CellRowSchema = new Schema<CellRow>([
  f('task', new Utf8()),
  f('quantizer', new Utf8()),
  f('model', new Utf8()),
  f('attention', new Utf8()),
  f('seed', new Int32()),
  f('data_seed', new Int32()),
  f('p', new Int32()),
  f('train_fraction', new Float64()),
  f('lr', new Float64()),
  f('weight_decay', new Float64()),
  f('epochs', new Int32()),
  f('after_grok', new Int32()),
  nullable(f('grok_epoch', new Int32())),
  nullable(f('train_fit_epoch', new Int32())),
  f('final_epoch', new Int32()),
  f('train_acc', new Float64()),
  f('test_acc', new Float64()),
  f('train_loss', new Float64()),
  f('test_loss', new Float64()),
  ...MECHANISM_FIELDS,
  ...['accurate', 'sparse', 'explained', 'restricted', 'excluded'].map((x) => f(`check_${x}`, new Bool())),
  f('checks_passed', new Bool()),
  f('curve_epoch', listOf(new Int32())),
  ...['train_loss', 'test_loss', 'train_acc', 'test_acc'].map((x) => f(`curve_${x}`, listOf(new Float64()))),
  f('embed_norms', listOf(new Float64())),
]);

/** A cell's result as the sweep stores and merges it: its row and its joined record (nulls when not computed). */
export type CellResultRow = CellRow & CellRecord;
/** Schema of {@link CellResultRow}. */
export const CellResultSchema = new Schema<CellResultRow>([...CellRowSchema.fields, ...CellRecordSchema.fields]);

/** The training run of a cell (the stage options: its cache key). */
export function cellTrainOptions(s: CellSettings): TrainOptions {
  return {
    model: modelConfig(s.model, s.p, { quantizer: s.quantizer, attention: s.attention }),
    seed: s.seed,
    schedule: { epochs: s.epochs, logEvery: s.logEvery, checkpointEvery: s.checkpointEvery, stopAfterGrok: s.afterGrok, grokThreshold: GROK_THRESHOLD },
    optimizer: { lr: s.lr, weightDecay: s.weightDecay },
  };
}

/** Metrics rows in epoch order. */
function curves(metrics: readonly Table[]): { epoch: number[]; trainLoss: number[]; testLoss: number[]; trainAcc: number[]; testAcc: number[] } {
  const rows = metrics.flatMap((t) => {
    const [e, trl, tel, tra, tea] = ['epoch', 'train_loss', 'test_loss', 'train_acc', 'test_acc'].map((c) => numbers(t, c));
    return (e ?? []).map((epoch, i) => ({ epoch, trl: trl?.[i] ?? Number.NaN, tel: tel?.[i] ?? Number.NaN, tra: tra?.[i] ?? Number.NaN, tea: tea?.[i] ?? Number.NaN }));
  });
  rows.sort((a, b) => a.epoch - b.epoch);
  return { epoch: rows.map((r) => r.epoch), trainLoss: rows.map((r) => r.trl), testLoss: rows.map((r) => r.tel), trainAcc: rows.map((r) => r.tra), testAcc: rows.map((r) => r.tea) };
}

/** Per-frequency embedding norms sqrt(n_cos² + n_sin²), k = 1..K, from a Fourier-norms table (matrix W_E). */
function embedNorms(norms: readonly Table[]): number[] {
  const sq = new Map<number, number>();
  for (const t of norms) {
    const [matrix, kind] = [strings(t, 'matrix'), strings(t, 'kind')];
    const [freq, norm] = [numbers(t, 'freq'), numbers(t, 'norm')];
    matrix.forEach((m, i) => {
      const k = freq[i] ?? 0;
      if (m === 'W_E' && kind[i] !== 'const' && k >= 1) sq.set(k, (sq.get(k) ?? 0) + (norm[i] ?? 0) ** 2);
    });
  }
  return [...sq.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => Math.sqrt(s));
}

/**
 * The summary row of one cell from its training metrics, mechanism row and Fourier norms: settings, grokking and
 * train-fit epochs (first logged epoch with test / train accuracy >= 0.99, null if never), final metrics, mechanism
 * numbers, the mechanism checks of the same-algorithm rule, the curves and the embedding spectrum.
 */
export function cellRow(cell: Cell): JoinStage<{ metrics: Metrics; mechanism: Mechanism; norms: FourierNorms }, CellRow> {
  const name = 'pipeline-sweep/cell-row';
  const s = cell.settings;
  return defineJoin({
    name,
    version: '1',
    options: { settings: { ...s }, rule: { ...DEFAULT_ANALYSIS.verdict } },
    inputs: { metrics: MetricsSchema, mechanism: MechanismSchema, norms: FourierNormsSchema },
    output: CellRowSchema,
    apply: (ins) =>
      forkJoin({ m: ins.metrics.pipe(toArray()), k: ins.mechanism.pipe(toArray()), n: ins.norms.pipe(toArray()) }).pipe(
        map(({ m, k, n }) => {
          const c = curves(m);
          const last = c.epoch.length - 1;
          const firstAt = (xs: readonly number[]): number | null => {
            const i = xs.findIndex((x) => x >= GROK_THRESHOLD);
            return i < 0 ? null : (c.epoch[i] ?? null);
          };
          const mech = k[0];
          if (mech === undefined) throw new BitlensError('INTERNAL', { stage: name, field: 'mechanism', expected: 'one mechanism row', found: 'none' });
          const num = mechanismNumbers(mech, 0);
          const checks = mechanismChecks(num, DEFAULT_ANALYSIS.verdict);
          return tableOf(CellRowSchema, [
            utf8([s.task]),
            utf8([s.quantizer]),
            utf8([s.model]),
            utf8([s.attention]),
            int32([s.seed]),
            int32([s.dataSeed]),
            int32([s.p]),
            float64([s.trainFraction]),
            float64([s.lr]),
            float64([s.weightDecay]),
            int32([s.epochs]),
            int32([s.afterGrok]),
            int32OrNull([firstAt(c.testAcc)]),
            int32OrNull([firstAt(c.trainAcc)]),
            int32([c.epoch[last] ?? 0]),
            float64([c.trainAcc[last] ?? Number.NaN]),
            float64([c.testAcc[last] ?? Number.NaN]),
            float64([c.trainLoss[last] ?? Number.NaN]),
            float64([c.testLoss[last] ?? Number.NaN]),
            ...MECHANISM_FIELDS.map((x) => columnData(mech, x.name)),
            ...(['accurate', 'sparse', 'explained', 'restricted', 'excluded'] as const).map((x) => bool([checks.checks[x]])),
            bool([checks.passed]),
            int32List([c.epoch]),
            float64List([c.trainLoss]),
            float64List([c.testLoss]),
            float64List([c.trainAcc]),
            float64List([c.testAcc]),
            float64List([embedNorms(n)]),
          ]);
        }),
      ),
  });
}

/**
 * One cell as a subgraph (no inputs): `dataset → grid`, `dataset → train → metrics, checkpoints → final`, the
 * mechanism analysis of @bitlens/circuits on `final`, and `row` (the cell's summary row). Training runs in process
 * (the training package's `inProcessExecutor` on `tf`): a cell runs in one worker thread of the sweep's pool (or of a
 * `bitlens worker`), with its own engine.
 */
export function cellSubgraph(cell: Cell, tf: Tf, registry: QuantizerRegistry) {
  const s = cell.settings;
  const task = s.task;
  if (!isTask(task)) throw new BitlensError('INVALID_CONFIG', { stage: 'pipeline sweep', field: 'task', expected: 'a task the circuit analyses support', found: JSON.stringify(task) });
  return defineSubgraph((g) =>
    g
      .source('dataset', datasetStage({ task, p: s.p, trainFraction: s.trainFraction, seed: s.dataSeed }))
      .then('grid', gridFromDataset(), 'dataset')
      .then('train', trainStage(cellTrainOptions(s), inProcessExecutor({ tf, registry })), 'dataset')
      .then('metrics', selectMetrics(), 'train')
      .then('checkpoints', selectCheckpoints(), 'train')
      .then('final', finalCheckpoint(), 'checkpoints')
      .use('', mechanismSubgraph(tf, { model: `${s.task}/${s.quantizer}`, task }), { weights: 'final', grid: 'grid' })
      .join('row', cellRow(cell), { metrics: 'metrics', mechanism: 'mechanism', norms: 'norms' }),
  );
}

/** The graph of one cell, its nodes named `<cell id>/<node>` (`…/train`, `…/mechanism`, `…/row`). */
export function cellGraph(cell: Cell, tf: Tf, registry: QuantizerRegistry) {
  return PipelineGraph.create().use(cell.id, cellSubgraph(cell, tf, registry), {});
}

/**
 * The joined record's analyses of a trained model as a subgraph (inputs: its final weights, the grid, and its own
 * analysis's losses and keys): `outliers` (Bondarenko et al.'s infinity norms and kurtosis of every tracked
 * activation over all p² inputs), `w8a8` (the W8A8 post-training-quantized model, calibrated on the training split),
 * the mechanism analysis of that model (`w8a8/…`), and `w8a8-report` (accuracy, SQNR and circuit fidelity of the
 * quantized model against the trained one).
 */
export function recordSubgraph(cell: Cell, tf: Tf) {
  const task = cell.settings.task;
  if (!isTask(task)) throw new BitlensError('INVALID_CONFIG', { stage: 'pipeline sweep', field: 'task', expected: 'a task the circuit analyses support', found: JSON.stringify(task) });
  return defineSubgraph({ final: WeightsSchema, grid: GridSchema, keys: KeyFreqsSchema, losses: LossesSchema }, (g) =>
    g
      .then('outliers', activationOutliers(tf), 'final')
      .join('w8a8', w8a8Quantize(tf), { weights: 'final', dataset: 'grid' })
      .use('w8a8', mechanismSubgraph(tf, { model: `${task}/${cell.settings.quantizer}/w8a8`, task }), { weights: 'w8a8', grid: 'grid' })
      .join('w8a8-report', w8a8Report(tf), { reference: 'final', quantized: 'w8a8', dataset: 'grid', referenceLosses: 'losses', quantizedLosses: 'w8a8/losses', referenceKeys: 'keys', quantizedKeys: 'w8a8/keys' }),
  );
}

/** A cell's graph with its joined record's analyses (nodes `<cell id>/record/…`). */
export function recordGraph(cell: Cell, tf: Tf, registry: QuantizerRegistry) {
  const id = cell.id;
  return cellGraph(cell, tf, registry).use(`${id}/record`, recordSubgraph(cell, tf), {
    final: `${id}/final` as const,
    grid: `${id}/grid` as const,
    keys: `${id}/keys` as const,
    losses: `${id}/losses` as const,
  });
}
