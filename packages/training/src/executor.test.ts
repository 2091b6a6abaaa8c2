import { BitlensError } from '@bitlens/core';
import { createEngineWorkers, initTfjsBackend } from '@bitlens/engine';
import { datasetTable } from '@bitlens/data';
import { modelConfig, readWeightsTable } from '@bitlens/model';
import { binarySign, createQuantizerRegistry, type WeightQuantizer } from '@bitlens/quantization';
import type { Table } from 'apache-arrow';
import { lastValueFrom, of, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { inProcessExecutor, workerExecutor } from './executor.js';
import type { TrainOptions } from './options.js';
import { streamKind } from './schemas.js';
import { latestCheckpoint, trainStage } from './stage.js';

const dataset = datasetTable({ task: 'add', p: 23, trainFraction: 0.5, seed: 2 });
const base = (quantizer: string, extra: Parameters<typeof modelConfig>[2] = {}): TrainOptions => ({
  model: modelConfig('li', 23, { dModel: 32, nHeads: 4, dMlp: 64, quantizer, ...extra }),
  seed: 3,
  schedule: { epochs: 30, logEvery: 10, checkpointEvery: 0 },
});
const streamOf = (stage: ReturnType<typeof trainStage>): Promise<Table[]> => lastValueFrom(of(dataset).pipe(stage, toArray()));

describe('one training stage, two executors', () => {
  it('in worker threads (two at a time) gives the in-process stream and weights bit for bit, under one cache key', async () => {
    const runs = [base('fp32'), base('ternary-centred'), base('binary-scaled', { alpha: 0.5 })];
    const workers = createEngineWorkers({ backend: 'wasm', workers: 2 });
    const inWorkers = runs.map((o) => trainStage(o, workerExecutor({ workers })));
    const fromWorkers = await Promise.all(inWorkers.map(streamOf));
    const { tf } = await initTfjsBackend('wasm');
    const local = inProcessExecutor({ tf, registry: createQuantizerRegistry() });
    for (const [i, options] of runs.entries()) {
      const stage = trainStage(options, local);
      expect(stage.spec.name).toBe(inWorkers[i]?.spec.name);
      expect(stage.spec.options).toEqual(inWorkers[i]?.spec.options);
      const inProcess = await streamOf(stage);
      const w = fromWorkers[i] as Table[];
      expect(w.map(streamKind)).toEqual(inProcess.map(streamKind));
      const a = readWeightsTable(latestCheckpoint(inProcess) as Table);
      const b = readWeightsTable(latestCheckpoint(w) as Table);
      expect(b.config).toEqual(options.model); // the config crossed the thread as data, every field kept
      for (const [n, t] of a.latent) expect(b.latent.get(n)?.data, n).toEqual(t.data);
    }
  }, 180_000);

  it('a plug-in quantizer trains in process but is refused for a worker with a typed error, before any work', async () => {
    const plugin: WeightQuantizer = { ...binarySign, name: 'my-binary' };
    const registry = createQuantizerRegistry([plugin]);
    const workers = createEngineWorkers({ backend: 'wasm', workers: 1 });
    const e = (() => {
      try {
        trainStage(base('my-binary'), workerExecutor({ workers, registry }));
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(BitlensError);
    expect((e as BitlensError).code).toBe('INVALID_OPTION');
    expect((e as BitlensError).message).toMatch(/plug-in quantizer.*cannot be sent to a worker thread/);
    expect(() => trainStage(base('no-such-quantizer'), workerExecutor({ workers }))).toThrow(/unknown quantizer/);
    const { tf } = await initTfjsBackend('wasm');
    const tables = await streamOf(trainStage({ ...base('my-binary'), schedule: { epochs: 3 } }, inProcessExecutor({ tf, registry })));
    expect(readWeightsTable(latestCheckpoint(tables) as Table).quantizer.get('blocks.0.mlp.W_in')).toBe('my-binary');
  });

  it("a run that fails inside its worker fails the stream with the worker's error code", async () => {
    const workers = createEngineWorkers({ backend: 'wasm', workers: 1 });
    const wrongP = datasetTable({ task: 'add', p: 29, trainFraction: 0.5, seed: 2 });
    const stage = trainStage(base('fp32'), workerExecutor({ workers }));
    // p = 29 rows for a p = 23 model: the data check happens before the worker starts, with the dataset's error.
    await expect(lastValueFrom(of(wrongP).pipe(stage))).rejects.toMatchObject({ code: 'SCHEMA_MISMATCH' });
    const resumeFromOtherModel = (await streamOf(trainStage({ ...base('fp32', { dModel: 16, nHeads: 2, dMlp: 32 }), schedule: { epochs: 2 } }, workerExecutor({ workers })))).at(-1) as Table;
    const resumed = trainStage(base('fp32'), workerExecutor({ workers }), resumeFromOtherModel);
    await expect(lastValueFrom(of(dataset).pipe(resumed))).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringMatching(/same model config/) });
  }, 60_000);
});
