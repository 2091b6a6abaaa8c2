import { type JoinStage, defineJoin, withMetadata } from '@bitlens/core';
import { type Grid, GridSchema, datasetLabels, loadModel } from '@bitlens/circuits';
import type { Tf } from '@bitlens/engine';
import { type Weights, WeightsSchema, readWeightsTable, weightsTable } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { forkJoin, map, toArray } from 'rxjs';
import { quantizeModel } from './calibrate.js';
import { only } from './internal/only.js';
import { type W8A8Options, resolveW8A8Options } from './options.js';

/** Metadata key of a post-training-quantized weights table: how its ranges were calibrated (JSON). */
export const PTQ_CALIBRATION_KEY = 'bitlens.ptq_calibration';

const STAGE = 'ptq/w8a8';

/**
 * W8A8 post-training quantization as a stage: takes a trained model's weights table (one model; a final checkpoint
 * works too) and the dataset grid (`GridSchema`: its `train` rows are the calibration data) and emits the quantized
 * model as an ordinary weights table: `latent` = the trained latent weights, `effective` = the weights the quantized
 * forward multiplies by (the trained model's effective weights, int8 symmetric per tensor), and a config whose `ptq`
 * field lists the quantized layers and the calibrated static input range of every quantized linear. Every analysis
 * that reads weights tables (activations, neuron and key frequencies, restricted loss, outliers) therefore runs on the
 * quantized model unchanged. The calibration record is in schema metadata `bitlens.ptq_calibration`.
 * Options are checked when the stage is built (INVALID_OPTION naming the field, e.g. `calibrationBatches` < 1).
 * @example w8a8Quantize(tf, { calibrationBatches: 16 })({ weights: final$, dataset: grid$ })
 */
export function w8a8Quantize(tf: Tf, options: W8A8Options = {}): JoinStage<{ weights: Weights; dataset: Grid }, Weights> {
  const o = resolveW8A8Options(options, STAGE);
  return defineJoin({
    name: STAGE,
    version: '1',
    options: { ...o },
    inputs: { weights: WeightsSchema, dataset: GridSchema },
    output: WeightsSchema,
    apply: ({ weights, dataset }) =>
      forkJoin({ w: weights.pipe(toArray()), d: dataset.pipe(toArray()) }).pipe(
        map(({ w, d }) => {
          const table: Table = only(w, STAGE, 'weights');
          const model = loadModel(table, 'effective', STAGE); // finite values, one layer
          const { latent } = readWeightsTable(table);
          const { mask } = datasetLabels(d, model.config, STAGE);
          const train = Int32Array.from(mask.flatMap((t, r) => (t ? [r] : [])));
          const q = quantizeModel(tf, { config: model.config, effective: model.params }, train, o, STAGE);
          return withMetadata(weightsTable(q.config, latent, q.effective), new Map([[PTQ_CALIBRATION_KEY, JSON.stringify(q.calibration)]]));
        }),
      ),
  });
}
