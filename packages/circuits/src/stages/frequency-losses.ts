import { BitlensError, type JoinStage, defineJoin } from '@bitlens/core';
import type { ModularTask } from '@bitlens/data';
import type { Table } from 'apache-arrow';
import { forkJoin, map, toArray } from 'rxjs';
import { activationMatrix } from '../activations.js';
import { float64, int32, int32List, tableOf, utf8 } from '../internal/arrow.js';
import { type LossAccuracy, crossEntropy, frequencyLosses } from '../loss.js';
import { type Activations, ActivationsSchema, type Grid, GridSchema, type KeyFreqs, KeyFreqsSchema, type Losses, LossesSchema } from '../schemas.js';
import { type TaskBasis, basisFrequencies, combinationKeys, taskBasis } from '../task-basis.js';
import { type Task, resolveTask } from '../task.js';
import { datasetLabels } from './dataset-labels.js';
import { configMeta, only } from './internal.js';
import { keysOf } from './key-frequencies.js';

const NAME = 'circuits/frequency-losses';

/** Metadata key of the losses table: JSON `{ applicable, kind, description, keyMethod }` of the directions used. */
export const LOSS_BASIS_KEY = 'bitlens.loss_basis';

/**
 * Which key frequencies restricted / excluded loss use. `auto` (default): the embedding keys in the task's own basis,
 * `embed` for linear tasks and `embed-log` for multiplicative ones. `embed` reads the embedding over Z_p (the basis of
 * linear tasks), `embed-log` over Z_{p-1} in discrete-log coordinates (multiplicative tasks); `neurons` are the
 * neuron table's keys, which the neuron stage computes in the task's coordinates; a list is read in the task's basis.
 */
export type LossKeys = 'auto' | 'embed' | 'embed-log' | 'neurons' | readonly number[];

/** The key method a task uses under `keys`; INVALID_OPTION naming `keys` when the method is of the other basis. */
export function lossKeyMethod(task: ModularTask, keys: LossKeys, stage: string = NAME): 'embed' | 'embed-log' | 'neurons' | 'fixed' | 'n/a' {
  const kind = task.structure?.kind;
  if (kind === undefined) return 'n/a';
  if (Array.isArray(keys)) return 'fixed';
  const method = keys === 'auto' ? (kind === 'multiplicative' ? 'embed-log' : 'embed') : keys;
  const fits = method === 'neurons' || (kind === 'multiplicative' ? method === 'embed-log' : method === 'embed');
  if (!fits) {
    throw new BitlensError('INVALID_OPTION', {
      stage,
      field: 'keys',
      expected: kind === 'multiplicative' ? `'auto', 'embed-log' or 'neurons' (${task.name} is multiplicative: its keys are frequencies of the discrete-log basis)` : `'auto', 'embed' or 'neurons' (${task.name} is linear: its keys are frequencies of Z_p)`,
      found: JSON.stringify(keys),
    });
  }
  return method as 'embed' | 'embed-log' | 'neurons';
}

type Row = { variant: string; keys: number[]; subset: string; r: LossAccuracy };

/** The keys of a key-frequency table for a method, as frequencies of the task's combination. */
function lossKeys(table: Table, method: ReturnType<typeof lossKeyMethod>, basis: TaskBasis): number[] {
  if (method === 'neurons') return keysOf(table, 'neurons');
  return combinationKeys(basis, keysOf(table, method === 'embed-log' ? 'embed-log' : 'embed'));
}

/** The restricted / excluded rows of one task basis (all keys, then one key at a time). */
function basisRows(logits: Float32Array, d: ReturnType<typeof datasetLabels>, p: number, basis: TaskBasis, keyset: number[]): Row[] {
  const K = basisFrequencies(basis);
  const bad = keyset.find((k) => !(Number.isInteger(k) && k >= 1 && k <= K));
  if (bad !== undefined) throw new BitlensError('INVALID_OPTION', { stage: NAME, field: 'keys', expected: `frequencies in 1..${K} (${basis.description})`, found: String(bad) });
  const all = basis.rows.length === p * p;
  const restrictedSubset = all ? 'all' : 'nonzero';
  const excludedSubset = d.hasSplit ? (all ? 'train' : 'train-nonzero') : restrictedSubset;
  const fl = frequencyLosses(logits, d.labels, p, keyset, { basis, restrictedOn: d.valid, ...(d.hasSplit ? { excludedOn: d.mask } : {}) });
  const rows: Row[] = all ? [] : [{ variant: 'full', keys: [], subset: restrictedSubset, r: fl.full }];
  rows.push({ variant: 'restricted', keys: keyset, subset: restrictedSubset, r: fl.restricted }, { variant: 'excluded', keys: keyset, subset: excludedSubset, r: fl.excluded });
  for (const pk of fl.perKey) rows.push({ variant: 'restricted', keys: [pk.k], subset: restrictedSubset, r: pk.restricted }, { variant: 'excluded', keys: [pk.k], subset: excludedSubset, r: pk.excluded });
  return rows;
}

/**
 * Full, restricted and excluded loss (docs/science.md#restricted-and-excluded-loss) from the last-position logits in
 * the activation tables (hook `logits`), in the directions of the task's label combination (see `taskBasis`: a + b
 * for add, a − b for sub, αa + βb for the linear forms, the discrete-log basis over a, b ≠ 0 for mul and div), with
 * the key frequencies of `keys` and the dataset's labels and split. The task is `options.task`, else the dataset's
 * (its `bitlens.dataset` metadata), else add; both given and different is INVALID_CONFIG. Losses average over the
 * task's valid pairs only. Rows: full on all/train/test; then, for a multiplicative task, full on `nonzero` (the rows
 * restricted loss averages over); restricted (on all rows of the basis) and excluded (on its train rows when the
 * dataset has a split) with all keys, then one key at a time. A task without structure (the polynomials) has no
 * restricted / excluded rows; metadata `bitlens.loss_basis` then says `applicable: false`.
 */
export function frequencyLossesStage(options: { readonly keys?: LossKeys; readonly task?: Task } = {}): JoinStage<{ keys: KeyFreqs; activations: Activations; dataset: Grid }, Losses> {
  const keysOption = options.keys ?? 'auto';
  // Fail before any work on an unknown task or a key method of the wrong basis.
  if (options.task !== undefined) lossKeyMethod(resolveTask(options.task, NAME), keysOption);
  return defineJoin({
    name: NAME,
    version: '2',
    options: { ...options },
    inputs: { keys: KeyFreqsSchema, activations: ActivationsSchema, dataset: GridSchema },
    output: LossesSchema,
    apply: ({ keys, activations: acts, dataset }) =>
      forkJoin({ k: keys.pipe(toArray()), a: acts.pipe(toArray()), d: dataset.pipe(toArray()) }).pipe(
        map(({ k, a, d }) => {
          const logits = activationMatrix(a, 'logits', { lastPosition: true, requireGrid: true, stage: NAME });
          const p = logits.config.p;
          const labels = datasetLabels(d, logits.config, NAME, options.task);
          const method = lossKeyMethod(labels.task, keysOption);
          const basis = taskBasis(labels.task, p);
          const rows: Row[] = [{ variant: 'full', keys: [], subset: 'all', r: crossEntropy(logits.data, labels.labels, p, labels.valid) }];
          if (labels.hasSplit) {
            rows.push({ variant: 'full', keys: [], subset: 'train', r: crossEntropy(logits.data, labels.labels, p, labels.mask) });
            rows.push({ variant: 'full', keys: [], subset: 'test', r: crossEntropy(logits.data, labels.labels, p, labels.test) });
          }
          if (basis !== undefined) {
            const keyset = Array.isArray(keysOption) ? [...(keysOption as readonly number[])] : lossKeys(only(k, NAME, 'keys'), method, basis);
            rows.push(...basisRows(logits.data, labels, p, basis, keyset));
          }
          const description = { applicable: basis !== undefined, kind: basis?.kind ?? 'none', description: basis?.description ?? 'n/a', keyMethod: method };
          return tableOf(
            LossesSchema,
            [utf8(rows.map((r) => r.variant)), int32List(rows.map((r) => r.keys)), utf8(rows.map((r) => r.subset)), float64(rows.map((r) => r.r.loss)), float64(rows.map((r) => r.r.accuracy)), int32(rows.map((r) => r.r.count))],
            configMeta(logits.config, { [LOSS_BASIS_KEY]: JSON.stringify(description) }),
          );
        }),
      ),
  });
}
