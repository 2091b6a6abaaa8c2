import { BitlensError, type SourceStage, defineSource } from '@bitlens/core';
import { DATASET_METADATA_KEY, generatePairs, splitIndices } from '@bitlens/data';
import { of } from 'rxjs';
import { bool, int32, tableOf } from '../internal/arrow.js';
import { checkModulus } from '../fourier.js';
import { type Grid, GridSchema } from '../schemas.js';
import { type Task, resolveTask } from '../task.js';

/** Split of the grid dataset: a seeded shuffle of the task's pairs (a-major), the first floor(fraction n) are train. */
export interface GridSplit {
  readonly fraction: number;
  readonly seed: number;
  /** `python`: Python's `random.seed(seed); random.shuffle(pairs)` (Nanda's code, reproduces his splits); `mulberry32`: our seeded shuffle. */
  readonly shuffle: 'python' | 'mulberry32';
}

/**
 * Source of the input grid: every pair of the task's domain (all p^2 pairs, a-major; div leaves out b = 0) with its
 * label and a train flag (all false when no split is given). Schema metadata `bitlens.dataset` names the task and p,
 * so the analyses downstream use the task's directions. Pure: the split is a function of its options.
 */
export function gridDataset(options: { readonly p: number; readonly task?: Task; readonly split?: GridSplit }): SourceStage<Grid> {
  const task = resolveTask(options.task ?? 'add', 'circuits/grid-dataset');
  checkModulus(options.p, 'circuits/grid-dataset');
  return defineSource({
    name: 'circuits/grid-dataset',
    version: '2',
    options: { ...options },
    output: GridSchema,
    create: () => {
      const p = options.p;
      const { a, b } = generatePairs(task, p);
      const labels = Int32Array.from(a, (x, r) => task.label(x, b[r] ?? 0, p));
      const n = a.length;
      const train = new Array<boolean>(n).fill(false);
      if (options.split !== undefined) {
        const { fraction, seed, shuffle } = options.split;
        if (!(fraction > 0 && fraction < 1)) throw new BitlensError('INVALID_OPTION', { stage: 'circuits/grid-dataset', field: 'split.fraction', expected: 'a number in (0, 1)', found: String(fraction) });
        // The same split as @bitlens/data's dataset stage for the same (fraction, seed, shuffle): both shuffle the
        // a-major list of the task's pairs with splitIndices.
        const { order, nTrain } = splitIndices(n, fraction, seed, shuffle);
        for (let i = 0; i < nTrain; i++) train[order[i] ?? 0] = true;
      }
      const meta = new Map([[DATASET_METADATA_KEY, JSON.stringify({ task: task.name, formula: task.formula, p })]]);
      return of(tableOf(GridSchema, [int32(a), int32(b), int32(labels), bool(train)], meta));
    },
  });
}
