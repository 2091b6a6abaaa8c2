import { BitlensError, type SourceStage, defineSource } from '@bitlens/core';
import { splitIndices } from '@bitlens/data';
import { of } from 'rxjs';
import { bool, int32, tableOf } from '../internal/arrow.js';
import { type Grid, GridSchema } from '../schemas.js';
import { type Task, inputGrid } from '../task.js';

/** Split of the grid dataset: a seeded shuffle of all p^2 pairs (a-major), the first floor(fraction p^2) are train. */
export interface GridSplit {
  readonly fraction: number;
  readonly seed: number;
  /** `python`: Python's `random.seed(seed); random.shuffle(pairs)` (Nanda's code, reproduces his splits); `mulberry32`: our seeded shuffle. */
  readonly shuffle: 'python' | 'mulberry32';
}

/**
 * Source of the input grid: all p^2 pairs (a-major) with labels of `task` and a train flag (all false when no split is
 * given). Pure: the split is a function of its options.
 */
export function gridDataset(options: { readonly p: number; readonly task?: Task; readonly split?: GridSplit }): SourceStage<Grid> {
  return defineSource({
    name: 'circuits/grid-dataset',
    version: '1',
    options: { ...options },
    output: GridSchema,
    create: () => {
      const grid = inputGrid(options.p, options.task ?? 'add');
      const n = options.p * options.p;
      const train = new Array<boolean>(n).fill(false);
      if (options.split !== undefined) {
        const { fraction, seed, shuffle } = options.split;
        if (!(fraction > 0 && fraction < 1)) throw new BitlensError('INVALID_OPTION', { stage: 'circuits/grid-dataset', field: 'split.fraction', expected: 'a number in (0, 1)', found: String(fraction) });
        // The same split as @bitlens/data's dataset stage for the same (fraction, seed, shuffle): both shuffle the
        // a-major pair list with splitIndices.
        const { order, nTrain } = splitIndices(n, fraction, seed, shuffle);
        for (let i = 0; i < nTrain; i++) train[order[i] ?? 0] = true;
      }
      return of(tableOf(GridSchema, [int32(grid.a), int32(grid.b), int32(grid.labels), bool(train)]));
    },
  });
}
