import type { Tf } from '@bitlens/engine';
import {
  DEFAULT_KEY_RULE,
  type Grid,
  GridSchema,
  type KeyFrequencyRule,
  type SparsityThreshold,
  type WeightsColumn,
  crossEntropy,
  datasetLabels,
  discreteLogs,
  embeddingSpectrum,
  fourierSparsity,
  fourierSpectrum,
  frequencyLosses,
  gridLogits,
  keyFrequenciesFromNorms,
  loadModel,
  logEmbeddingSpectrum,
  neuronLogitMap,
  taskBasis,
  tensorOf,
} from '@bitlens/circuits';
import { BitlensError, type JoinStage, defineJoin } from '@bitlens/core';
import { type Checkpoint, CheckpointSchema, readWeightsTable } from '@bitlens/model';
import { Float64, Int32, type List, Schema, Utf8 } from 'apache-arrow';
import { concatMap, from, map, toArray } from 'rxjs';
import { field, float64, int32, int32List, listOf, tableOf, utf8 } from './internal/arrow.js';
import { splitByEpoch } from './internal/checkpoints.js';

/** One row per checkpoint: the progress measures of Nanda et al. 2023 and Furuta et al. 2024 (docs/science.md#progress-measures). */
export type ProgressRow = {
  epoch: Int32;
  train_loss: Float64;
  train_accuracy: Float64;
  test_loss: Float64;
  test_accuracy: Float64;
  restricted_loss: Float64;
  excluded_loss: Float64;
  gini_embed: Float64;
  gini_wl: Float64;
  weight_norm_sq: Float64;
  ffs: Float64;
  fcr: Float64;
  ffs_eps: Float64;
  key_freqs: List<Int32>;
  key_source: Utf8;
};
/** Schema of {@link ProgressRow}. */
export const ProgressSchema = new Schema<ProgressRow>([
  field('epoch', new Int32()),
  field('train_loss', new Float64()),
  field('train_accuracy', new Float64()),
  field('test_loss', new Float64()),
  field('test_accuracy', new Float64()),
  field('restricted_loss', new Float64()),
  field('excluded_loss', new Float64()),
  field('gini_embed', new Float64()),
  field('gini_wl', new Float64()),
  field('weight_norm_sq', new Float64()),
  field('ffs', new Float64()),
  field('fcr', new Float64()),
  field('ffs_eps', new Float64()),
  field('key_freqs', listOf(new Int32())),
  field('key_source', new Utf8()),
]);

/** Options of {@link progressMeasures}. */
export interface ProgressOptions {
  /**
   * Key frequencies for restricted/excluded loss, in the task's basis. A fixed list (Nanda's practice: the final
   * model's keys, so curves are comparable across checkpoints) or, by default, each checkpoint's own embedding keys
   * under `keyRule` (in discrete-log coordinates for a multiplicative task).
   */
  readonly keys?: readonly number[];
  readonly keyRule?: KeyFrequencyRule;
  /**
   * The task (default: the one the dataset's `bitlens.dataset` metadata names, else add): restricted / excluded loss
   * use its directions (NaN for a task without structure), losses average over its valid pairs.
   */
  readonly task?: string;
  /** FFS threshold (default: the analyses' default, relative 0.5 of the largest coefficient norm); the absolute eps is recorded per row. */
  readonly sparsity?: SparsityThreshold;
  /** Weights the analyses read (default effective); the weight norm always uses the latent (trained) weights. */
  readonly column?: WeightsColumn;
  readonly batchSize?: number;
}

/**
 * Progress measures over a checkpoint stream (docs/science.md#progress-measures): for each checkpoint, as it arrives, one row with
 * train/test loss and accuracy (over the dataset's split, every valid pair through the model), restricted loss (all
 * pairs of the task's basis) and excluded loss (its train pairs), in the task's directions (NaN for a task without
 * structure), Gini of the Fourier norms of W_E and W_L, total squared weight norm of the
 * latent weights, FFS/FCR with the threshold used, and the key-frequency set. The dataset stream is read first
 * (it is small); checkpoints are then processed one by one (`concatMap`), so rows come before the stream ends.
 * A checkpoint table holding several epochs (contiguous runs) gives one row per epoch.
 * @example progressMeasures(tf)({ checkpoints: checkpoints$, dataset: dataset$ }).subscribe(row => plot(row))
 */
export function progressMeasures(tf: Tf, options: ProgressOptions = {}): JoinStage<{ checkpoints: Checkpoint; dataset: Grid }, ProgressRow> {
  const name = 'metrics/progress';
  return defineJoin({
    name,
    version: '2',
    options: { ...options },
    inputs: { checkpoints: CheckpointSchema, dataset: GridSchema },
    output: ProgressSchema,
    apply: ({ checkpoints, dataset }) =>
      dataset.pipe(
        toArray(),
        concatMap((ds) =>
          checkpoints.pipe(
            concatMap((t) => from(splitByEpoch(t))),
            map((t) => {
              const m = loadModel(t, options.column ?? 'effective', name);
              const c = m.config;
              const { mask, test, valid, hasSplit, labels, task } = datasetLabels(ds, c, name, options.task);
              if (!hasSplit) throw new BitlensError('INVALID_CONFIG', { stage: name, field: 'dataset.train', expected: 'a train/test split (some rows train)', found: 'no train rows' });
              const logits = gridLogits(tf, m, options.batchSize === undefined ? {} : { batchSize: options.batchSize });
              const tr = crossEntropy(logits, labels, c.p, mask);
              const te = crossEntropy(logits, labels, c.p, test);
              const embed = tensorOf(m, 'embed.W_E', name).data;
              const we = embeddingSpectrum(embed, c.p, c.dModel);
              const wl = fourierSpectrum(neuronLogitMap(tensorOf(m, 'blocks.0.mlp.W_out', name).data, tensorOf(m, 'unembed.W_U', name).data, c.dMlp, c.dModel, c.dVocabOut), c.p, c.dMlp);
              const basis = taskBasis(task, c.p);
              // The embedding's keys in the task's own basis: Z_p for linear tasks, discrete logs for multiplicative ones.
              const norms = basis?.kind === 'multiplicative' ? logEmbeddingSpectrum(embed, discreteLogs(c.p), c.dModel).freqNorms : we.freqNorms;
              const keys = options.keys !== undefined ? [...options.keys] : keyFrequenciesFromNorms(norms, options.keyRule ?? DEFAULT_KEY_RULE).keys;
              const fl = basis === undefined ? undefined : frequencyLosses(logits, labels, c.p, keys, { basis, restrictedOn: valid, excludedOn: mask, perKey: false });
              const sp = fourierSparsity(we, options.sparsity);
              let norm = 0;
              for (const w of readWeightsTable(t).latent.values()) for (const v of w.data) norm += v * v;
              const epoch = Number(t.getChild('epoch')?.get(0));
              return tableOf(ProgressSchema, [
                int32([epoch]),
                float64([tr.loss]),
                float64([tr.accuracy]),
                float64([te.loss]),
                float64([te.accuracy]),
                float64([fl?.restricted.loss ?? Number.NaN]),
                float64([fl?.excluded.loss ?? Number.NaN]),
                float64([we.gini]),
                float64([wl.gini]),
                float64([norm]),
                float64([sp.ffs]),
                float64([sp.fcr]),
                float64([sp.eps]),
                int32List([keys]),
                utf8([options.keys !== undefined ? 'fixed' : 'embed']),
              ]);
            }),
          ),
        ),
      ),
  });
}
