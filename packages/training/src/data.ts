import { BitlensError } from '@bitlens/core';
import type { Table } from 'apache-arrow';

const STAGE = 'training/train';

/** Training data as arrays (from a DatasetSchema table of @bitlens/data); structured-clonable, so it crosses threads. */
export interface TrainData {
  readonly p: number;
  readonly a: Int32Array;
  readonly b: Int32Array;
  readonly label: Int32Array;
  /** 1 = train row, 0 = test row. */
  readonly isTrain: Uint8Array;
}

/** Collects DatasetSchema tables (columns a, b, label, split) into {@link TrainData} for modulus p; checks every value. */
export function trainDataFromTables(tables: readonly Table[], p: number): TrainData {
  const a: number[] = [];
  const b: number[] = [];
  const label: number[] = [];
  const isTrain: number[] = [];
  for (const t of tables) {
    const [ca, cb, cl, cs] = ['a', 'b', 'label', 'split'].map((n) => t.getChild(n));
    if (ca === null || cb === null || cl === null || cs === null) {
      throw new BitlensError('SCHEMA_MISMATCH', { stage: STAGE, field: 'dataset', expected: 'columns a, b, label, split', found: t.schema.names.join(', ') });
    }
    for (let i = 0; i < t.numRows; i++) {
      const s = cs?.get(i) as string;
      if (s !== 'train' && s !== 'test') throw new BitlensError('SCHEMA_MISMATCH', { stage: STAGE, field: 'split', expected: "'train' or 'test'", found: JSON.stringify(s) });
      const av = Number(ca?.get(i));
      const bv = Number(cb?.get(i));
      const lv = Number(cl?.get(i));
      if (!(av >= 0 && av < p && bv >= 0 && bv < p && lv >= 0 && lv < p)) {
        throw new BitlensError('SCHEMA_MISMATCH', { stage: STAGE, field: 'a, b, label', expected: `values in [0, ${p})`, found: `(${av}, ${bv}, ${lv}) at row ${i}` });
      }
      a.push(av);
      b.push(bv);
      label.push(lv);
      isTrain.push(s === 'train' ? 1 : 0);
    }
  }
  return { p, a: Int32Array.from(a), b: Int32Array.from(b), label: Int32Array.from(label), isTrain: Uint8Array.from(isTrain) };
}
