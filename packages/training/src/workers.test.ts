import { initTfjsBackend } from '@bitlens/engine';
import { datasetTable } from '@bitlens/data';
import { modelConfig, readWeightsTable } from '@bitlens/model';
import { createQuantizerRegistry } from '@bitlens/quantization';
import type { Table } from 'apache-arrow';
import { lastValueFrom, merge, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { streamKind } from './schemas.js';
import { latestCheckpoint } from './stage.js';
import { trainDataFromTables, trainRun, type TrainOptions } from './train.js';
import { trainInWorkers } from './workers.js';

describe('trainInWorkers', () => {
  it('runs fp32 and ternary in parallel worker threads with results identical to in-process runs', async () => {
    const dataset = datasetTable({ task: 'add', p: 23, trainFraction: 0.5, seed: 2 });
    const base = (quantizer: string): TrainOptions => ({
      model: modelConfig('li', 23, { dModel: 32, nHeads: 4, dMlp: 64, quantizer }),
      seed: 3,
      epochs: 30,
      logEvery: 10,
      checkpointEvery: 0,
    });
    const runs = [base('fp32'), base('ternary-centred')];
    const streams = trainInWorkers(runs.map((options) => ({ options, dataset })), { concurrency: 2 });
    const fromWorkers = await Promise.all(streams.map((s) => lastValueFrom(s.pipe(toArray()))));
    const { tf } = await initTfjsBackend('wasm');
    const data = trainDataFromTables([dataset], 23);
    for (let i = 0; i < runs.length; i++) {
      const inProcess = await lastValueFrom(trainRun({ tf, registry: createQuantizerRegistry() }, runs[i] as TrainOptions, data).pipe(toArray()));
      const w = fromWorkers[i] as Table[];
      expect(w.map(streamKind)).toEqual(inProcess.map(streamKind));
      const a = readWeightsTable(latestCheckpoint(inProcess) as Table);
      const b = readWeightsTable(latestCheckpoint(w) as Table);
      expect(b.config.quantizer).toBe(runs[i]?.model.quantizer);
      for (const [n, t] of a.latent) expect(b.latent.get(n)?.data, n).toEqual(t.data);
    }
  });
  it('reports a failing run as an error on its stream', async () => {
    const dataset = datasetTable({ task: 'add', p: 23, trainFraction: 0.5, seed: 2 });
    const [s] = trainInWorkers([{ options: { model: modelConfig('li', 23, { quantizer: 'no-such-quantizer' }), seed: 1, epochs: 5 }, dataset }]);
    await expect(lastValueFrom(merge(s as NonNullable<typeof s>))).rejects.toThrow(/no-such-quantizer/);
  });
});
