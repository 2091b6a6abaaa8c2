import { BitlensError, defineSource, type SourceStage, withMetadata } from '@bitlens/core';
import { Field, Int32, makeVector, Schema, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { of } from 'rxjs';
import { mulberryShuffle, pythonShuffle } from './internal/mt19937.js';
import { createTaskRegistry, MAX_P, type ModularTask, type TaskRegistry } from './tasks.js';

const STAGE = 'data/dataset';

/** Columns of a dataset table: one row per valid pair. */
export type Dataset = { a: Int32; b: Int32; label: Int32; split: Utf8 };

/**
 * The dataset table's exact schema: `a`, `b` (operands in [0, p)), `label` (= f(a, b) mod p) as non-null Int32,
 * and `split` as non-null Utf8, `'train'` or `'test'`. Rows come in shuffled order: the train rows first (in the
 * order the shuffle put them), then the test rows. Schema metadata `bitlens.dataset` holds JSON
 * `{ task, formula, p, trainFraction, seed, prng, nTrain, nTest, equalsToken }`.
 */
export const DatasetSchema = new Schema<Dataset>([
  new Field('a', new Int32(), false),
  new Field('b', new Int32(), false),
  new Field('label', new Int32(), false),
  new Field('split', new Utf8(), false),
]);

/** Metadata key of the dataset description in the table's schema metadata. */
export const DATASET_METADATA_KEY = 'bitlens.dataset';

/**
 * Seeded shuffles for the split.
 * - `python` (default): MT19937 exactly as CPython's `random.seed(seed); random.shuffle(pairs)`, the procedure of
 *   Nanda's, Li's and Furuta's code, so their splits are reproduced (pairs a-major: (0,0), (0,1), ...).
 * - `mulberry32`: Fisher-Yates from the end with the mulberry32 generator (j = floor(u * (i + 1))).
 */
export type SplitPrng = 'python' | 'mulberry32';
/** The accepted `prng` values. */
export const SPLIT_PRNGS: readonly SplitPrng[] = ['python', 'mulberry32'];

/** Options of `datasetStage` and `modularDataset` (JSON-serialisable: they are the stage's cache key). */
export interface DatasetOptions {
  /** Task name, e.g. `add`, `x2_xy_y2` (see `BUILTIN_TASKS`). */
  readonly task: string;
  /** Prime modulus, 3 <= p <= MAX_P (46337). */
  readonly p: number;
  /** Fraction of the valid pairs used for training, in (0, 1); train count = floor(trainFraction * n). */
  readonly trainFraction: number;
  /** Integer split seed (any safe integer; `python` uses |seed| as CPython does). */
  readonly seed: number;
  /** Shuffle generator (default `python`). */
  readonly prng?: SplitPrng;
}

/** A dataset as plain arrays (for training and analysis code that does not want Arrow). */
export interface ModularDataset {
  readonly task: ModularTask;
  readonly p: number;
  /** Operands, labels and the train flag, row-aligned, in the table's row order (train rows first). */
  readonly a: Int32Array;
  readonly b: Int32Array;
  readonly label: Int32Array;
  /** Rows [0, nTrain) are train, [nTrain, n) are test. */
  readonly nTrain: number;
  readonly nTest: number;
}

function invalid(field: string, expected: string, found: unknown): BitlensError {
  return new BitlensError('INVALID_OPTION', { stage: STAGE, field, expected, found: JSON.stringify(found) ?? String(found) });
}

/** True when n is a prime (trial division; n <= MAX_P here). */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** Throws `INVALID_OPTION` naming `p` unless it is a prime in [3, MAX_P]. */
export function validateModulus(p: unknown): asserts p is number {
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 3 || p > MAX_P || !isPrime(p)) {
    throw invalid('p', `a prime >= 3 and <= ${MAX_P}`, p);
  }
}

/** A task object, or a built-in task's name (resolved with `createTaskRegistry()`; unknown names throw `INVALID_OPTION`). */
export type TaskRef = ModularTask | string;

function resolveTask(task: TaskRef): ModularTask {
  return typeof task === 'string' ? createTaskRegistry().get(task) : task;
}

/**
 * Every valid pair of `task` mod p, a-major: (0,0), (0,1), ..., (p-1,p-1), without the invalid ones (div: b = 0).
 * @example generatePairs('div', 5).a.length // 20
 */
export function generatePairs(taskRef: TaskRef, p: number): { readonly a: Int32Array; readonly b: Int32Array } {
  const task = resolveTask(taskRef);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < p; j++) {
      if (task.valid === undefined || task.valid(i, j, p)) {
        a.push(i);
        b.push(j);
      }
    }
  }
  return { a: Int32Array.from(a), b: Int32Array.from(b) };
}

function countPairs(task: ModularTask, p: number): number {
  if (task.valid === undefined) return p * p;
  let n = 0;
  for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) if (task.valid(i, j, p)) n++;
  return n;
}

/**
 * The label f(a, b) mod p of one pair (operands are not validated). Pass a task object in loops: a name is resolved
 * on every call.
 * @example labelOf('x2_xy_y2', 3, 5, 97) // 49
 */
export function labelOf(task: TaskRef, a: number, b: number, p: number): number {
  return resolveTask(task).label(a, b, p);
}

/**
 * The seeded split of n items: a permutation of 0..n-1 (`order`) whose first `nTrain` = floor(trainFraction * n)
 * entries are the train indices. Validates `trainFraction` (in (0, 1), at least one train and one test item) and
 * `seed` (a safe integer), throwing `INVALID_OPTION` naming the field.
 */
export function splitIndices(n: number, trainFraction: number, seed: number, prng: SplitPrng = 'python'): { readonly order: Int32Array; readonly nTrain: number } {
  const nTrain = checkSplit(n, trainFraction, seed, prng);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  if (prng === 'python') pythonShuffle(order, seed);
  else mulberryShuffle(order, seed);
  return { order, nTrain };
}

/** Validates the split options for n items and returns the train count. */
function checkSplit(n: number, trainFraction: number, seed: number, prng: SplitPrng): number {
  if (typeof trainFraction !== 'number' || !(trainFraction > 0 && trainFraction < 1)) throw invalid('trainFraction', 'a number in (0, 1)', trainFraction);
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw invalid('seed', 'a safe integer', seed);
  if (!SPLIT_PRNGS.includes(prng)) throw invalid('prng', `one of ${SPLIT_PRNGS.join(', ')}`, prng);
  const nTrain = Math.floor(trainFraction * n);
  if (nTrain < 1 || nTrain >= n) throw invalid('trainFraction', `a fraction leaving at least one train and one test item of ${n}`, trainFraction);
  return nTrain;
}

/**
 * The model input for a pair: tokens [a, b, '='] with '=' = p (so the input vocabulary is p + 1 and the output
 * vocabulary p). This is the convention of Nanda 2023 and Li 2024; Furuta's elementary tasks insert an operator token,
 * which bitlens does not.
 */
export function tokens(a: number, b: number, p: number): [number, number, number] {
  return [a, b, p];
}

/** Row-major int32 [n, 3] token matrix [a_i, b_i, p] for the rows of a dataset (e.g. for `tf.tensor2d(m, [n, 3], 'int32')`). */
export function tokenMatrix(a: Int32Array, b: Int32Array, p: number): Int32Array {
  const out = new Int32Array(3 * a.length);
  for (let i = 0; i < a.length; i++) {
    out[3 * i] = a[i] ?? 0;
    out[3 * i + 1] = b[i] ?? 0;
    out[3 * i + 2] = p;
  }
  return out;
}

/**
 * Builds the dataset as plain arrays: validates the options (`INVALID_OPTION` naming `task`, `p`, `trainFraction`,
 * `seed` or `prng`), generates the valid pairs a-major, shuffles them with the seeded generator and labels them.
 * @example const d = modularDataset({ task: 'add', p: 113, trainFraction: 0.3, seed: 1 }); d.nTrain // 3830
 */
export function modularDataset(options: DatasetOptions, registry: TaskRegistry = createTaskRegistry()): ModularDataset {
  if (typeof options.task !== 'string') throw invalid('task', `one of ${registry.names().join(', ')}`, options.task);
  const task = registry.get(options.task);
  validateModulus(options.p);
  const p = options.p;
  const pairs = generatePairs(task, p);
  const { order, nTrain } = splitIndices(pairs.a.length, options.trainFraction, options.seed, options.prng ?? 'python');
  const n = order.length;
  const a = new Int32Array(n);
  const b = new Int32Array(n);
  const label = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const i = order[r] ?? 0;
    const x = pairs.a[i] ?? 0;
    const y = pairs.b[i] ?? 0;
    a[r] = x;
    b[r] = y;
    label[r] = task.label(x, y, p);
  }
  return { task, p, a, b, label, nTrain, nTest: n - nTrain };
}

/** The dataset as one Arrow table of `DatasetSchema`, with its description in schema metadata. */
export function datasetTable(options: DatasetOptions, registry: TaskRegistry = createTaskRegistry()): Table<Dataset> {
  const d = modularDataset(options, registry);
  const n = d.a.length;
  const split = vectorFromArray(Array.from({ length: n }, (_, i) => (i < d.nTrain ? 'train' : 'test')), new Utf8());
  const table = new Table<Dataset>({
    a: makeVector(d.a),
    b: makeVector(d.b),
    label: makeVector(d.label),
    split,
  });
  const description = {
    task: d.task.name, formula: d.task.formula, p: d.p, trainFraction: options.trainFraction, seed: options.seed,
    prng: options.prng ?? 'python', nTrain: d.nTrain, nTest: d.nTest, equalsToken: d.p,
  };
  return withMetadata(table, new Map([[DATASET_METADATA_KEY, JSON.stringify(description)]]));
}

/**
 * Source stage `data/dataset`: emits ONE table of `DatasetSchema` (all valid pairs of the task mod p, seeded split).
 * Options are validated when the stage is created (typed `INVALID_OPTION` naming the field), so a bad config fails
 * before any pipeline runs. Pure: the same options always give the same table. A custom task must come with a
 * `registry` (not part of the options: the task name identifies the function in the cache key).
 * @example datasetStage({ task: 'add', p: 113, trainFraction: 0.3, seed: 598 })().pipe(trainStage)
 */
export function datasetStage(options: DatasetOptions, registry: TaskRegistry = createTaskRegistry()): SourceStage<Dataset> {
  const normalised = { task: options.task, p: options.p, trainFraction: options.trainFraction, seed: options.seed, prng: options.prng ?? 'python' };
  // Validate now (cheap): same checks and errors as the build itself.
  if (typeof normalised.task !== 'string') throw invalid('task', `one of ${registry.names().join(', ')}`, normalised.task);
  const task = registry.get(normalised.task);
  validateModulus(normalised.p);
  checkSplit(countPairs(task, normalised.p), normalised.trainFraction, normalised.seed, normalised.prng);
  return defineSource<Dataset>({
    name: STAGE,
    version: '1',
    options: normalised,
    output: DatasetSchema,
    create: () => of(datasetTable(normalised, registry)),
  });
}

/** Reads the `bitlens.dataset` description back from a dataset table (undefined when absent). */
export function readDatasetMetadata(table: Table): { readonly task: string; readonly p: number; readonly nTrain: number; readonly nTest: number; readonly [k: string]: unknown } | undefined {
  const raw = table.schema.metadata.get(DATASET_METADATA_KEY);
  return raw === undefined ? undefined : (JSON.parse(raw) as { task: string; p: number; nTrain: number; nTest: number });
}
