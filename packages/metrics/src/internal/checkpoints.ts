import type { Table, TypeMap } from 'apache-arrow';

/** A checkpoint table split into its contiguous runs of one epoch (a table without `epoch` is returned whole). */
export function splitByEpoch<T extends TypeMap>(t: Table<T>): Table<T>[] {
  const ep = t.getChild('epoch');
  if (ep === null || t.numRows === 0) return [t];
  const parts: Table<T>[] = [];
  let start = 0;
  for (let i = 1; i <= t.numRows; i++) {
    if (i === t.numRows || ep.get(i) !== ep.get(start)) {
      parts.push(t.slice(start, i));
      start = i;
    }
  }
  return parts;
}
