import { type Stage, defineStage } from '@bitlens/core';
import { type Dataset as TrainingDataset, DatasetSchema as TrainingDatasetSchema } from '@bitlens/data';
import { Bool, Table, makeVector, vectorFromArray } from 'apache-arrow';
import { map } from 'rxjs';
import { type Grid, GridSchema } from './schemas.js';

/**
 * The training dataset (`DatasetSchema` of @bitlens/data, split as a string) as the analyses' grid dataset (`train`
 * as a boolean), row for row. The analysis thus uses exactly the split the runs trained on. Stateless.
 */
export function gridFromDataset(): Stage<TrainingDataset, Grid> {
  return defineStage<TrainingDataset, Grid>({
    name: 'circuits/grid-from-dataset',
    version: '1',
    options: {},
    input: TrainingDatasetSchema,
    output: GridSchema,
    apply: map((t) => {
      const split = t.getChild('split');
      const train = Array.from({ length: t.numRows }, (_, i) => split?.get(i) === 'train');
      const col = (n: 'a' | 'b' | 'label'): Int32Array => (t.getChild(n)?.toArray() as Int32Array).slice();
      return new Table({ a: makeVector(col('a')), b: makeVector(col('b')), label: makeVector(col('label')), train: vectorFromArray(train, new Bool()) }) as unknown as Table<Grid>;
    }),
  });
}

