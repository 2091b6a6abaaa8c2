import { embeddingSpectrum } from '@bitlens/circuits';
import { BitlensError, type Stage, defineStage, field, float64, int32, tableOf } from '@bitlens/core';
import { type Checkpoint, CheckpointSchema, configFromTable } from '@bitlens/model';
import { Float64, Int32, Schema, type Table } from 'apache-arrow';
import { map } from 'rxjs';

const STAGE = 'report/embed-spectra';

/** Embedding Fourier norm per frequency at one checkpoint: one row per (epoch, frequency k = 1..K). */
export type EmbedSpectrum = { epoch: Int32; freq: Int32; norm: Float64 };

/** Schema of {@link EmbedSpectrum}. */
export const EmbedSpectrumSchema = new Schema<EmbedSpectrum>([field('epoch', new Int32()), field('freq', new Int32()), field('norm', new Float64())]);

/**
 * The embedding's Fourier norm per frequency, sqrt(n_cos² + n_sin²) of F W_E, at every checkpoint: the data of the
 * key-frequency evolution heatmap (epoch × frequency). Reads only the `embed.W_E` row of each checkpoint table (its
 * `effective` column: the embedding is never quantized); a table holding several epochs gives rows for each. One
 * output table per input table; holds no state.
 * @example checkpoints$.pipe(embedSpectra())
 */
export function embedSpectra(): Stage<Checkpoint, EmbedSpectrum> {
  return defineStage({
    name: STAGE,
    version: '1',
    options: {},
    input: CheckpointSchema,
    output: EmbedSpectrumSchema,
    apply: map((t: Table<Checkpoint>) => {
      const c = configFromTable(t);
      const names = t.getChild('name');
      const epochs = t.getChild('epoch');
      const values = t.getChild('effective');
      const rows = { epoch: [] as number[], freq: [] as number[], norm: [] as number[] };
      for (let i = 0; i < t.numRows; i++) {
        if (names?.get(i) !== 'embed.W_E') continue;
        const data = (values?.get(i) as { toArray(): Float32Array } | null | undefined)?.toArray();
        if (data === undefined) throw new BitlensError('INVALID_DATA', { stage: STAGE, field: 'effective', expected: 'the values of embed.W_E', found: 'null' });
        const spectrum = embeddingSpectrum(data, c.p, c.dModel);
        const epoch = Number(epochs?.get(i));
        spectrum.freqNorms.forEach((norm, k) => {
          rows.epoch.push(epoch);
          rows.freq.push(k + 1);
          rows.norm.push(norm);
        });
      }
      return tableOf(EmbedSpectrumSchema, [int32(rows.epoch), int32(rows.freq), float64(rows.norm)], new Map());
    }),
  });
}
