import { BitlensError, type JoinStage, canonicalJson, defineJoin, field, float64, float64List, int32, int32List, listOf, nullable, numbers, strings, tableOf, utf8, utf8List } from '@bitlens/core';
import {
  type Grid, GridSchema, type KeyFreqs, KeyFreqsSchema, type LoadedModel, type Losses, LossesSchema, crossEntropy, datasetLabels, jaccard, keysOf, loadModel,
} from '@bitlens/circuits';
import type { Tf } from '@bitlens/engine';
import { MODEL_CONFIG_KEY, type ModelConfig, type Weights, WeightsSchema } from '@bitlens/model';
import { type Data, Float64, Int32, type List, Schema, type Table, Utf8, vectorFromArray } from 'apache-arrow';
import { forkJoin, map, toArray } from 'rxjs';
import type { CalibrationRecord } from './calibrate.js';
import { quantizationError } from './error.js';
import { only } from './internal/only.js';
import { PTQ_CALIBRATION_KEY } from './w8a8.js';

const STAGE = 'ptq/report';

/**
 * One row per quantized model: what W8A8 post-training quantization did to it. `*_before` is the reference (trained)
 * model, `*_after` the quantized one. Loss and accuracy over all p^2 inputs and over the test split (NaN without a
 * split); per quantized layer (aligned with `sqnr_layers`) the SQNR of its weights and of its output over every input
 * and position, in dB (+Infinity when exact); circuit fidelity: restricted and excluded loss of each model's own
 * analysis and the Jaccard overlap of its key frequencies (by embedding norm and by neuron clusters) with the reference's.
 */
export type W8A8Report = {
  model: Utf8;
  quantizer: Utf8;
  attention: Utf8;
  weight_bits: Int32;
  activation_bits: Int32;
  calibration_batches: Int32;
  calibration_batch_size: Int32;
  loss_before: Float64;
  loss_after: Float64;
  accuracy_before: Float64;
  accuracy_after: Float64;
  test_loss_before: Float64;
  test_loss_after: Float64;
  test_accuracy_before: Float64;
  test_accuracy_after: Float64;
  prediction_agreement: Float64;
  logits_sqnr_db: Float64;
  sqnr_layers: List<Utf8>;
  weight_sqnr_db: List<Float64>;
  output_sqnr_db: List<Float64>;
  min_output_sqnr_db: Float64;
  restricted_loss_before: Float64;
  restricted_loss_after: Float64;
  excluded_loss_before: Float64;
  excluded_loss_after: Float64;
  embed_keys_before: List<Int32>;
  embed_keys_after: List<Int32>;
  neuron_keys_before: List<Int32>;
  neuron_keys_after: List<Int32>;
  embed_key_jaccard: Float64;
  neuron_key_jaccard: Float64;
};

const F64 = (name: keyof W8A8Report & string) => field(name, new Float64());
/** Schema of {@link W8A8Report} (the calibration columns are null for a PTQ model that was not calibrated by `w8a8Quantize`). */
export const W8A8ReportSchema = new Schema<W8A8Report>([
  field('model', new Utf8()),
  field('quantizer', new Utf8()),
  field('attention', new Utf8()),
  field('weight_bits', new Int32()),
  field('activation_bits', new Int32()),
  nullable(field('calibration_batches', new Int32())),
  nullable(field('calibration_batch_size', new Int32())),
  ...(['loss_before', 'loss_after', 'accuracy_before', 'accuracy_after', 'test_loss_before', 'test_loss_after', 'test_accuracy_before', 'test_accuracy_after', 'prediction_agreement', 'logits_sqnr_db'] as const).map(F64),
  field('sqnr_layers', listOf(new Utf8())),
  field('weight_sqnr_db', listOf(new Float64())),
  field('output_sqnr_db', listOf(new Float64())),
  F64('min_output_sqnr_db'),
  ...(['restricted_loss_before', 'restricted_loss_after', 'excluded_loss_before', 'excluded_loss_after'] as const).map(F64),
  field('embed_keys_before', listOf(new Int32())),
  field('embed_keys_after', listOf(new Int32())),
  field('neuron_keys_before', listOf(new Int32())),
  field('neuron_keys_after', listOf(new Int32())),
  F64('embed_key_jaccard'),
  F64('neuron_key_jaccard'),
]);

/** Options of {@link w8a8Report}. */
export interface W8A8ReportOptions {
  /** A label for the row (e.g. the sweep cell), default ''. */
  readonly model?: string;
  /** Inputs per forward batch (default 2048). */
  readonly batchSize?: number;
}

/** The restricted and excluded loss with all key frequencies (the first such rows of a `circuits/frequency-losses` table). */
function frequencyLossOf(t: Table<Losses>, variant: 'restricted' | 'excluded', port: string): number {
  const variants = strings(t, 'variant');
  const i = variants.indexOf(variant);
  if (i < 0) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: port, expected: `a '${variant}' row`, found: 'none' });
  return numbers(t, 'loss')[i] ?? Number.NaN;
}

/** Throws INVALID_CONFIG unless `quantized` is `reference` plus post-training quantization. */
function checkPair(reference: ModelConfig, quantized: ModelConfig): void {
  if (quantized.ptq === undefined) throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: 'quantized.ptq', expected: 'a post-training-quantized model (from w8a8Quantize)', found: 'none' });
  const { ptq: _q, ...rest } = quantized;
  if (reference.ptq !== undefined || canonicalJson(rest) !== canonicalJson(reference)) {
    throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: 'quantized', expected: 'the quantized version of the reference model (same config apart from ptq)', found: 'another model' });
  }
}

const nullableInt = (v: number | undefined): Data<Int32> => vectorFromArray([v ?? null], new Int32()).data[0] as Data<Int32>;

interface ReportInputs {
  readonly ref: LoadedModel;
  readonly q: LoadedModel;
  readonly calibration: CalibrationRecord | undefined;
  readonly grid: readonly Table[];
  readonly losses: readonly [Table<Losses>, Table<Losses>];
  readonly keys: readonly [Table<KeyFreqs>, Table<KeyFreqs>];
}

function reportRow(tf: Tf, options: W8A8ReportOptions, x: ReportInputs): Table<W8A8Report> {
  const c = x.ref.config;
  const err = quantizationError(tf, x.ref, x.q, options.batchSize ?? 2048);
  const { mask, hasSplit, labels } = datasetLabels(x.grid, c, STAGE);
  const test = mask.map((m) => !m);
  const lossAcc = (logits: Float32Array, m?: boolean[]) => crossEntropy(logits, labels, c.dVocabOut, m);
  const [allB, allA] = [lossAcc(err.referenceLogits), lossAcc(err.quantizedLogits)];
  const [testB, testA] = hasSplit ? [lossAcc(err.referenceLogits, test), lossAcc(err.quantizedLogits, test)] : [undefined, undefined];
  const keys = (i: 0 | 1, m: 'embed' | 'neurons'): number[] => keysOf(x.keys[i], m);
  const ptq = x.q.config.ptq;
  return tableOf(
    W8A8ReportSchema,
    [
      utf8([options.model ?? '']),
      utf8([c.quantizer]),
      utf8([c.attention.kind]),
      int32([ptq?.weightBits ?? 0]),
      int32([ptq?.activationBits ?? 0]),
      nullableInt(x.calibration?.batches),
      nullableInt(x.calibration?.batchSize),
      ...[allB.loss, allA.loss, allB.accuracy, allA.accuracy, testB?.loss, testA?.loss, testB?.accuracy, testA?.accuracy, err.agreement, err.logitsSqnrDb].map((v) => float64([v ?? Number.NaN])),
      utf8List([err.layers]),
      float64List([err.weightSqnrDb]),
      float64List([err.outputSqnrDb]),
      float64([Math.min(...err.outputSqnrDb)]),
      ...[frequencyLossOf(x.losses[0], 'restricted', 'referenceLosses'), frequencyLossOf(x.losses[1], 'restricted', 'quantizedLosses'), frequencyLossOf(x.losses[0], 'excluded', 'referenceLosses'), frequencyLossOf(x.losses[1], 'excluded', 'quantizedLosses')].map((v) => float64([v])),
      int32List([keys(0, 'embed')]),
      int32List([keys(1, 'embed')]),
      int32List([keys(0, 'neurons')]),
      int32List([keys(1, 'neurons')]),
      float64([jaccard(keys(0, 'embed'), keys(1, 'embed'))]),
      float64([jaccard(keys(0, 'neurons'), keys(1, 'neurons'))]),
    ],
    new Map([[MODEL_CONFIG_KEY, JSON.stringify(x.q.config)]]),
  );
}

/**
 * What W8A8 post-training quantization did to a model, as one row ({@link W8A8Report}): loss and accuracy before and
 * after (all inputs, test split), per-layer weight and output SQNR, agreement of predictions, and circuit fidelity —
 * the restricted and excluded loss and key frequencies of the circuits analysis of each model (the same chain run on
 * the reference and on the quantized weights table), compared. Reads each input stream whole; one model per port.
 * @example w8a8Report(tf, { model: 'ternary/gated' })({ reference, quantized, dataset, referenceLosses, quantizedLosses, referenceKeys, quantizedKeys })
 */
export function w8a8Report(
  tf: Tf,
  options: W8A8ReportOptions = {},
): JoinStage<{ reference: Weights; quantized: Weights; dataset: Grid; referenceLosses: Losses; quantizedLosses: Losses; referenceKeys: KeyFreqs; quantizedKeys: KeyFreqs }, W8A8Report> {
  const bs = options.batchSize;
  if (bs !== undefined && !(Number.isInteger(bs) && bs >= 1)) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'batchSize', expected: 'a positive integer', found: JSON.stringify(bs) });
  return defineJoin({
    name: STAGE,
    version: '1',
    options: { ...options },
    inputs: { reference: WeightsSchema, quantized: WeightsSchema, dataset: GridSchema, referenceLosses: LossesSchema, quantizedLosses: LossesSchema, referenceKeys: KeyFreqsSchema, quantizedKeys: KeyFreqsSchema },
    output: W8A8ReportSchema,
    apply: (s) =>
      forkJoin({
        r: s.reference.pipe(toArray()),
        q: s.quantized.pipe(toArray()),
        d: s.dataset.pipe(toArray()),
        rl: s.referenceLosses.pipe(toArray()),
        ql: s.quantizedLosses.pipe(toArray()),
        rk: s.referenceKeys.pipe(toArray()),
        qk: s.quantizedKeys.pipe(toArray()),
      }).pipe(
        map((t) => {
          const ref = loadModel(only(t.r, STAGE, 'reference'), 'effective', STAGE);
          const qTable = only(t.q, STAGE, 'quantized');
          const q = loadModel(qTable, 'effective', STAGE);
          checkPair(ref.config, q.config);
          const cal = qTable.schema.metadata.get(PTQ_CALIBRATION_KEY);
          return reportRow(tf, options, {
            ref,
            q,
            calibration: cal === undefined ? undefined : (JSON.parse(cal) as CalibrationRecord),
            grid: t.d,
            losses: [only(t.rl, STAGE, 'referenceLosses'), only(t.ql, STAGE, 'quantizedLosses')],
            keys: [only(t.rk, STAGE, 'referenceKeys'), only(t.qk, STAGE, 'quantizedKeys')],
          });
        }),
      ),
  });
}
