import { BitlensError } from '@bitlens/core';
import { configFromTable } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import type { ClockPlane, FrequencyEvolution, Matrix, ModelViews, NeuronMap } from './report-data.js';

const STAGE = 'report/read-views';

interface Row {
  readonly view: string;
  readonly freq: number;
  readonly index: number;
  readonly score: number;
  readonly shape: number[];
  readonly values: Float32Array;
}

function rowsOf(tables: readonly Table[]): Row[] {
  return tables.flatMap((t) => {
    const col = (name: string) => {
      const c = t.getChild(name);
      if (c === null) throw new BitlensError('SCHEMA_MISMATCH', { stage: STAGE, field: name, expected: 'a column of a model-views table', found: `[${t.schema.names.join(', ')}]` });
      return c;
    };
    const [view, freq, index, score, shape, values] = ['view', 'freq', 'index', 'score', 'shape', 'values'].map(col) as [ReturnType<typeof col>, ReturnType<typeof col>, ReturnType<typeof col>, ReturnType<typeof col>, ReturnType<typeof col>, ReturnType<typeof col>];
    return Array.from({ length: t.numRows }, (_, i) => ({
      view: String(view.get(i)),
      freq: Number(freq.get(i)),
      index: Number(index.get(i)),
      score: Number(score.get(i)),
      shape: Array.from((shape.get(i) as { toArray(): Int32Array }).toArray()),
      values: (values.get(i) as { toArray(): Float32Array }).toArray(),
    }));
  });
}

function matrixOf(rows: readonly Row[], view: string): Matrix {
  const r = rows.find((x) => x.view === view);
  if (r === undefined || r.shape.length !== 2) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: view, expected: 'one [rows, cols] picture of this view', found: r === undefined ? 'none' : `shape [${r.shape.join(', ')}]` });
  return { rows: r.shape[0] ?? 0, cols: r.shape[1] ?? 0, data: r.values };
}

/** Position names of the tokens attended to: `a`, `b`, then `=` (the last, when there are three). */
function positionNames(nCtx: number): string[] {
  return Array.from({ length: nCtx }, (_, i) => (i === nCtx - 1 && nCtx > 2 ? '=' : i === 0 ? 'a' : i === 1 ? 'b' : `pos ${i}`));
}

/**
 * Reads a model-views table (the output of `modelViews`) back into the plain data the report renders. Throws
 * SCHEMA_MISMATCH for a table that is not one, NOT_FOUND when a required picture is missing.
 */
export function readModelViews(tables: readonly Table[]): ModelViews {
  const first = tables[0];
  if (first === undefined) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: 'views', expected: 'a model-views table', found: 'no tables' });
  const c = configFromTable(first);
  const rows = rowsOf(tables);
  const neurons: NeuronMap[] = rows.filter((r) => r.view === 'neuron').map((r) => ({ freq: r.freq, neuron: r.index, fve: r.score, values: r.values }));
  const clock: ClockPlane[] = rows
    .filter((r) => r.view === 'clock')
    .map((r) => ({ freq: r.freq, share: r.score, x: r.values.filter((_, i) => i % 2 === 0), y: r.values.filter((_, i) => i % 2 === 1) }));
  const means = rows.filter((r) => r.view === 'attention-mean').sort((u, v) => u.index - v.index);
  const firsts = rows.filter((r) => r.view === 'attention-first').sort((u, v) => u.index - v.index);
  const attention = means.length === 0 ? undefined : { positions: positionNames(c.nCtx), mean: means.map((r) => Array.from(r.values)), toFirst: firsts.map((r) => r.values) };
  return {
    p: c.p,
    neurons,
    fourierEmbed: matrixOf(rows, 'fourier-embed'),
    fourierNeurons: matrixOf(rows, 'fourier-neurons'),
    fourierLogits: matrixOf(rows, 'fourier-logits'),
    ...(attention === undefined ? {} : { attention }),
    clock,
  };
}

/**
 * The key-frequency evolution of one run: embedding norms per checkpoint from embed-spectra tables (`embedSpectra`
 * of this package) and, when progress tables are given (`ProgressSchema` of @bitlens/metrics, column `key_freqs`),
 * each checkpoint's key frequencies. Checkpoints sorted by epoch; `undefined` when there are no spectra.
 */
export function frequencyEvolution(spectra: readonly Table[], progress: readonly Table[] = []): FrequencyEvolution | undefined {
  const byEpoch = new Map<number, number[]>();
  for (const t of spectra) {
    const e = t.getChild('epoch');
    const f = t.getChild('freq');
    const n = t.getChild('norm');
    for (let i = 0; i < t.numRows; i++) {
      const epoch = Number(e?.get(i));
      const row = byEpoch.get(epoch) ?? [];
      row[Number(f?.get(i)) - 1] = Number(n?.get(i));
      byEpoch.set(epoch, row);
    }
  }
  if (byEpoch.size === 0) return undefined;
  const keysAt = new Map<number, number[]>();
  for (const t of progress) {
    const e = t.getChild('epoch');
    const k = t.getChild('key_freqs');
    for (let i = 0; i < t.numRows; i++) {
      const v = k?.get(i) as { toArray(): Int32Array } | null | undefined;
      keysAt.set(Number(e?.get(i)), v === null || v === undefined ? [] : Array.from(v.toArray()));
    }
  }
  const epoch = [...byEpoch.keys()].sort((a, b) => a - b);
  return { epoch, norms: epoch.map((x) => Array.from(byEpoch.get(x) ?? [], (v) => v ?? Number.NaN)), keys: epoch.map((x) => keysAt.get(x) ?? []) };
}
