import { type Stage, defineStage } from '@bitlens/core';
import { DATASET_METADATA_KEY, type Dataset as TrainingDataset, DatasetSchema as TrainingDatasetSchema } from '@bitlens/data';
import { map } from 'rxjs';
import { bool, int32, numbers, tableOf } from './internal/arrow.js';
import { type Grid, GridSchema } from './schemas.js';

/**
 * The training dataset (`DatasetSchema` of @bitlens/data, split as a string) as the analyses' grid dataset (`train`
 * as a boolean), row for row, keeping the dataset's `bitlens.dataset` metadata (task, p, split) so that the analyses
 * downstream know the task. The analysis thus uses exactly the split the runs trained on. Stateless.
 */
export function gridFromDataset(): Stage<TrainingDataset, Grid> {
  return defineStage<TrainingDataset, Grid>({
    name: 'circuits/grid-from-dataset',
    version: '2',
    options: {},
    input: TrainingDatasetSchema,
    output: GridSchema,
    apply: map((t) => {
      const split = t.getChild('split');
      const train = Array.from({ length: t.numRows }, (_, i) => split?.get(i) === 'train');
      const description = t.schema.metadata.get(DATASET_METADATA_KEY);
      const meta = new Map(description === undefined ? [] : [[DATASET_METADATA_KEY, description]]);
      return tableOf(GridSchema, [int32(numbers(t, 'a')), int32(numbers(t, 'b')), int32(numbers(t, 'label')), bool(train)], meta);
    }),
  });
}
