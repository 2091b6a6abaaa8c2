import { type JoinStage, defineJoin } from '@bitlens/core';
import { forkJoin, map, toArray } from 'rxjs';
import { activationMatrix } from '../activations.js';
import { float64, int32, int32List, tableOf, utf8 } from '../internal/arrow.js';
import { type LossAccuracy, crossEntropy, frequencyLosses } from '../loss.js';
import { type Activations, ActivationsSchema, type Grid, GridSchema, type KeyFreqs, KeyFreqsSchema, type Losses, LossesSchema } from '../schemas.js';
import { datasetLabels } from './dataset-labels.js';
import { configMeta, only } from './internal.js';
import { keysOf } from './key-frequencies.js';

/**
 * Full, restricted and excluded loss (docs/science.md#restricted-and-excluded-loss) from the last-position logits in the activation tables
 * (hook `logits`), with the key frequencies of `keys` ('embed' default, 'neurons', or a list) and the dataset's labels
 * and split. Excluded loss is on train rows when the dataset has a split, else on all rows; restricted loss on all.
 * Rows: full on all/train/test, restricted and excluded with all keys, then one key at a time.
 */
export function frequencyLossesStage(options: { readonly keys?: 'embed' | 'neurons' | readonly number[] } = {}): JoinStage<{ keys: KeyFreqs; activations: Activations; dataset: Grid }, Losses> {
  const name = 'circuits/frequency-losses';
  return defineJoin({
    name,
    version: '1',
    options: { ...options },
    inputs: { keys: KeyFreqsSchema, activations: ActivationsSchema, dataset: GridSchema },
    output: LossesSchema,
    apply: ({ keys, activations: acts, dataset }) =>
      forkJoin({ k: keys.pipe(toArray()), a: acts.pipe(toArray()), d: dataset.pipe(toArray()) }).pipe(
        map(({ k, a, d }) => {
          const logits = activationMatrix(a, 'logits', { lastPosition: true, requireGrid: true, stage: name });
          const p = logits.config.p;
          const { mask, hasSplit, labels } = datasetLabels(d, logits.config, name);
          const kt = only(k, name, 'keys');
          const keyset = Array.isArray(options.keys) ? [...(options.keys as readonly number[])] : keysOf(kt, options.keys === 'neurons' ? 'neurons' : 'embed');
          const test = mask.map((x) => !x);
          const fl = frequencyLosses(logits.data, labels, p, keyset, hasSplit ? { excludedOn: mask } : {});
          const rows: { variant: string; keys: number[]; subset: string; r: LossAccuracy }[] = [{ variant: 'full', keys: [], subset: 'all', r: fl.full }];
          if (hasSplit) {
            rows.push({ variant: 'full', keys: [], subset: 'train', r: crossEntropy(logits.data, labels, p, mask) });
            rows.push({ variant: 'full', keys: [], subset: 'test', r: crossEntropy(logits.data, labels, p, test) });
          }
          const exSubset = hasSplit ? 'train' : 'all';
          rows.push({ variant: 'restricted', keys: keyset, subset: 'all', r: fl.restricted }, { variant: 'excluded', keys: keyset, subset: exSubset, r: fl.excluded });
          for (const pk of fl.perKey) rows.push({ variant: 'restricted', keys: [pk.k], subset: 'all', r: pk.restricted }, { variant: 'excluded', keys: [pk.k], subset: exSubset, r: pk.excluded });
          return tableOf(
            LossesSchema,
            [utf8(rows.map((r) => r.variant)), int32List(rows.map((r) => r.keys)), utf8(rows.map((r) => r.subset)), float64(rows.map((r) => r.r.loss)), float64(rows.map((r) => r.r.accuracy)), int32(rows.map((r) => r.r.count))],
            configMeta(logits.config),
          );
        }),
      ),
  });
}
