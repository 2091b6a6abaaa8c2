import { BitlensError } from '@bitlens/core';
import { type ModularTask, readDatasetMetadata } from '@bitlens/data';
import type { ModelConfig } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { booleans, numbers } from '../internal/arrow.js';
import { type Task, resolveTask } from '../task.js';

/** Labels, domain and split of a grid dataset over the p^2 grid rows (a * p + b). */
export interface DatasetLabels {
  /** The task the labels are of. */
  readonly task: ModularTask;
  /** Label per grid row; -1 for rows outside the task's domain (div: b = 0). */
  readonly labels: Int32Array;
  /** Rows in the task's domain. */
  readonly valid: boolean[];
  /** Train rows (a subset of `valid`). */
  readonly mask: boolean[];
  /** Test rows: valid and not train. */
  readonly test: boolean[];
  /** Whether any row is a train row. */
  readonly hasSplit: boolean;
}

/**
 * The task of a grid dataset: the stage's `task` option, or the task named in the tables' `bitlens.dataset` metadata
 * (written by @bitlens/data's dataset stage, kept by `gridFromDataset` and `gridDataset`), or `add`. INVALID_CONFIG
 * naming `task` when the option and the metadata disagree.
 */
export function datasetTask(dataset: readonly Table[], option: Task | undefined, stage: string): ModularTask {
  const meta = dataset.map((t) => readDatasetMetadata(t)?.task).find((x) => x !== undefined);
  if (option !== undefined && meta !== undefined && option !== meta) {
    throw new BitlensError('INVALID_CONFIG', { stage, field: 'task', expected: `the dataset's task (${meta})`, found: JSON.stringify(option) });
  }
  return resolveTask(option ?? meta ?? 'add', stage);
}

/**
 * Labels, domain mask and train mask over the p^2 grid rows from dataset tables of `task` (see {@link datasetTask}).
 * The rows present must be exactly the task's domain (every pair, or every pair with b != 0 for div) and their labels
 * the task's: INVALID_CONFIG naming `p` when inputs do not fit the model's p or do not cover the domain, naming `label`
 * for a label out of range, naming `task` when a label is not the task's.
 */
export function datasetLabels(dataset: readonly Table[], config: ModelConfig, stage: string, taskOption?: Task): DatasetLabels {
  const task = datasetTask(dataset, taskOption, stage);
  const p = config.p;
  const metaP = dataset.map((t) => readDatasetMetadata(t)?.p).find((x) => x !== undefined);
  if (metaP !== undefined && metaP !== p) throw new BitlensError('INVALID_CONFIG', { stage, field: 'p', expected: `a dataset of the model's p = ${p}`, found: `a dataset of p = ${metaP}` });
  const n = p * p;
  const mask = new Array<boolean>(n).fill(false);
  const valid = new Array<boolean>(n).fill(false);
  const labels = new Int32Array(n).fill(-1);
  let rows = 0;
  for (const t of dataset) {
    const a = numbers(t, 'a');
    const b = numbers(t, 'b');
    const l = numbers(t, 'label');
    const tr = booleans(t, 'train');
    for (let i = 0; i < t.numRows; i++) {
      const ai = a[i] ?? -1;
      const bi = b[i] ?? -1;
      if (ai < 0 || bi < 0 || ai >= p || bi >= p) {
        throw new BitlensError('INVALID_CONFIG', { stage, field: 'p', expected: `dataset inputs in 0..${p - 1} (the model's p = ${p})`, found: `(${ai}, ${bi})` });
      }
      const li = l[i] ?? -1;
      if (li < 0 || li >= config.dVocabOut) throw new BitlensError('INVALID_CONFIG', { stage, field: 'label', expected: `labels in 0..${config.dVocabOut - 1}`, found: String(li) });
      const inDomain = task.valid === undefined || task.valid(ai, bi, p);
      if (!inDomain) throw new BitlensError('INVALID_CONFIG', { stage, field: 'p', expected: `only pairs in ${task.name}'s domain`, found: `(${ai}, ${bi})` });
      if (li !== task.label(ai, bi, p)) {
        throw new BitlensError('INVALID_CONFIG', { stage, field: 'task', expected: `labels of ${task.name} (${task.formula}): ${task.label(ai, bi, p)} at (${ai}, ${bi})`, found: String(li) });
      }
      mask[ai * p + bi] = tr[i] === true;
      valid[ai * p + bi] = true;
      labels[ai * p + bi] = li;
      rows++;
    }
  }
  const nValid = task.valid === undefined ? n : countValid(task, p);
  if (rows !== nValid || valid.filter(Boolean).length !== nValid) {
    throw new BitlensError('INVALID_CONFIG', { stage, field: 'p', expected: `a dataset of all ${nValid} pairs of ${task.name} (p = ${p})`, found: `${rows} rows` });
  }
  const test = valid.map((v, r) => v && !mask[r]);
  return { task, labels, valid, mask, test, hasSplit: mask.some((x) => x) };
}

function countValid(task: ModularTask, p: number): number {
  let c = 0;
  for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) if (task.valid === undefined || task.valid(a, b, p)) c++;
  return c;
}
