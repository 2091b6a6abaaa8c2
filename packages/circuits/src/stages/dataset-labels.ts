import { BitlensError } from '@bitlens/core';
import type { ModelConfig } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { booleans, numbers } from '../internal/arrow.js';

/**
 * Labels and train mask over the p^2 grid rows (a * p + b) from dataset tables; INVALID_CONFIG naming `p` when the
 * dataset's inputs do not fit the model's p or do not cover all p^2 pairs, naming `label` for out-of-range labels.
 */
export function datasetLabels(dataset: readonly Table[], config: ModelConfig, stage: string): { mask: boolean[]; hasSplit: boolean; labels: Int32Array } {
  const p = config.p;
  const n = p * p;
  const mask = new Array<boolean>(n).fill(false);
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
      mask[ai * p + bi] = tr[i] === true;
      labels[ai * p + bi] = li;
      rows++;
    }
  }
  if (rows !== n || labels.some((x) => x < 0)) {
    throw new BitlensError('INVALID_CONFIG', { stage, field: 'p', expected: `a dataset of all ${n} pairs (p = ${p})`, found: `${rows} rows` });
  }
  return { mask, hasSplit: mask.some((x) => x), labels };
}
