import { initTfjsBackend, type Tf } from '@bitlens/engine';
import { assertSchema } from '@bitlens/core';
import { datasetTable } from '@bitlens/data';
import { modelConfig, readWeightsTable, type ModelConfig } from '@bitlens/model';
import { createQuantizerRegistry } from '@bitlens/quantization';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { Table } from 'apache-arrow';
import { lastValueFrom, of, share, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { MetricsSchema, streamKind, TrainingCheckpointSchema, type MetricsRow } from './schemas.js';
import { trainDataFromTables } from './data.js';
import { inProcessExecutor } from './executor.js';
import { grokfastFilter, type GrokfastState } from './grokfast.js';
import { cleanedUp, resolveTrainOptions, type TrainOptions } from './options.js';
import { latestCheckpoint, selectCheckpoints, selectMetrics, trainStage } from './stage.js';
import { trainRun } from './train.js';

let tf: Tf;
const registry = createQuantizerRegistry();
beforeAll(async () => {
  ({ tf } = await initTfjsBackend('wasm'));
});

function metricsOf(tables: readonly Table[]): MetricsRow[] {
  return tables.filter((t) => streamKind(t) === 'metrics').flatMap((t) => t.toArray().map((r) => r.toJSON() as unknown as MetricsRow));
}

function finalLatent(tables: readonly Table[]): Map<string, Float32Array> {
  const ck = latestCheckpoint(tables);
  if (ck === undefined) throw new Error('no checkpoint');
  return new Map([...readWeightsTable(ck).latent].map(([n, t]) => [n, t.data]));
}

describe('early stop after grokking (cleanedUp)', () => {
  it('waits the given epochs after grokking and for test accuracy to be back above the threshold', () => {
    expect(cleanedUp(500, null, 300, 1, 0.99)).toBe(false); // never grokked
    expect(cleanedUp(500, 300, null, 1, 0.99)).toBe(false); // no early stop
    expect(cleanedUp(590, 300, 300, 1, 0.99)).toBe(false); // too soon
    expect(cleanedUp(600, 300, 300, 1, 0.99)).toBe(true);
    expect(cleanedUp(600, 300, 300, 0.85, 0.99)).toBe(false); // in a loss spike: postponed
    expect(cleanedUp(640, 300, 300, 0.995, 0.99)).toBe(true); // recovered
  });
});

describe('end to end (CI size): nanda, p = 23, train fraction 0.9', () => {
  // Tuned for CI: d_model 32 (4 heads of 8, d_mlp 128) and lr 3e-3 instead of 128 / 1e-3, so that it groks in about
  // 400 epochs (a few seconds on an idle core); weight decay 1.0 and betas (0.9, 0.98) as the defaults.
  const options: TrainOptions = {
    model: modelConfig('nanda', 23, { dModel: 32, nHeads: 4, dMlp: 128 }),
    seed: 1,
    schedule: { epochs: 1200, logEvery: 25, checkpointEvery: 200, stopAfterGrok: 0 },
    optimizer: { lr: 3e-3 },
  };
  it('groks (test accuracy >= 0.95) within its epoch cap; metrics and checkpoint tables pass their schemas', async () => {
    const dataset = datasetTable({ task: 'add', p: 23, trainFraction: 0.9, seed: 1 });
    const stream = of(dataset).pipe(trainStage(options, inProcessExecutor({ tf, registry })), share());
    const [metrics, checkpoints] = await Promise.all([
      lastValueFrom(stream.pipe(selectMetrics(), toArray())),
      lastValueFrom(stream.pipe(selectCheckpoints(), toArray())),
    ]);
    for (const t of metrics) expect(() => assertSchema(MetricsSchema, t, { stage: 'test', side: 'output', exact: true })).not.toThrow();
    for (const t of checkpoints) expect(() => assertSchema(TrainingCheckpointSchema, t, { stage: 'test', side: 'output', exact: true })).not.toThrow();
    const rows = metrics.flatMap((t) => t.toArray().map((r) => r.toJSON() as unknown as MetricsRow));
    const last = rows[rows.length - 1];
    expect(last?.test_acc).toBeGreaterThanOrEqual(0.95);
    expect(last?.epoch).toBeLessThan(1200); // stopped by the early stop, not the cap
    expect(rows[0]?.train_loss).toBeGreaterThan(2); // started near log(23) = 3.1
    const final = readWeightsTable(checkpoints[checkpoints.length - 1] as Table);
    expect(final.epoch).toBe(last?.epoch);
    expect(final.config).toEqual(options.model);
  }, 300_000); // a generous limit for a loaded CI machine (about 5-20 s on an idle core)
});

const small = (quantizer: string): ModelConfig => modelConfig('li', 23, { dModel: 32, nHeads: 4, dMlp: 64, quantizer });
const data23 = () => trainDataFromTables([datasetTable({ task: 'add', p: 23, trainFraction: 0.5, seed: 3 })], 23);
const run = (options: TrainOptions, resumeFrom?: Table) => lastValueFrom(trainRun({ tf, registry }, options, data23(), resumeFrom).pipe(toArray()));

describe.each(['binary-sign', 'ternary-absmean'])('quantized (%s)', (quantizer) => {
  it('runs and decreases the train loss; the effective block weights take 2 or 3 values', async () => {
    const tables = await run({ model: small(quantizer), seed: 2, schedule: { epochs: 60, logEvery: 10, checkpointEvery: 0 } });
    const rows = metricsOf(tables);
    expect(rows[rows.length - 1]?.train_loss).toBeLessThan((rows[0]?.train_loss ?? 0) * 0.85);
    const ck = latestCheckpoint(tables) as Table;
    const eff = readWeightsTable(ck).effective.get('blocks.0.mlp.W_in')?.data ?? new Float32Array();
    expect(new Set(eff).size).toBeLessThanOrEqual(3);
    expect(readWeightsTable(ck).quantizer.get('blocks.0.mlp.W_in')).toBe(quantizer);
  });
});

describe('determinism and resume (in process)', () => {
  const options: TrainOptions = { model: small('ternary-centred'), seed: 5, schedule: { epochs: 24, logEvery: 4, checkpointEvery: 10 }, optimizer: { warmup: true } };
  it('same seed gives identical weights; another seed does not', async () => {
    const a = finalLatent(await run(options));
    const b = finalLatent(await run(options));
    const c = finalLatent(await run({ ...options, seed: 6 }));
    expect(b.get('blocks.0.mlp.W_in')).toEqual(a.get('blocks.0.mlp.W_in'));
    expect(c.get('blocks.0.mlp.W_in')).not.toEqual(a.get('blocks.0.mlp.W_in'));
  });
  it('resuming from the epoch-10 checkpoint ends with identical weights and the same later stream', async () => {
    const full = await run(options);
    const ck10 = full.find((t) => streamKind(t) === 'checkpoint' && t.getChild('epoch')?.get(0) === 10) as Table;
    const resumed = await run(options, ck10);
    const a = finalLatent(full);
    const b = finalLatent(resumed);
    for (const [n, v] of a) expect(b.get(n), n).toEqual(v);
    const after = (ts: Table[]) => metricsOf(ts).filter((r) => r.epoch >= 10);
    expect(after(resumed)).toEqual(after(full));
  });
  it("the stage's resume (what a graph rerun does after an interruption) keeps up to the last checkpoint and gives the uninterrupted stream", async () => {
    const dataset = datasetTable({ task: 'add', p: 23, trainFraction: 0.5, seed: 3 });
    const stage = trainStage(options, inProcessExecutor({ tf, registry }));
    const full = await lastValueFrom(of(dataset).pipe(stage, toArray()));
    // Interrupted after the epoch-20 checkpoint and one more metrics table.
    const cut = full.findIndex((t) => streamKind(t) === 'checkpoint' && t.getChild('epoch')?.get(0) === 20);
    const previous = full.slice(0, cut + 2);
    expect(streamKind(previous[previous.length - 1] as Table)).toBe('metrics');
    const r = stage.spec.resume?.(previous);
    expect(r?.keep).toBe(cut + 1);
    expect(stage.spec.resume?.(full.slice(0, 2))).toBeUndefined(); // no checkpoint yet: start over
    const rest = await lastValueFrom(of(dataset).pipe(r?.rest ?? stage, toArray()));
    const resumed = [...previous.slice(0, r?.keep), ...rest];
    expect(resumed.map((t) => streamKind(t))).toEqual(full.map((t) => streamKind(t)));
    expect(metricsOf(resumed)).toEqual(metricsOf(full));
    for (const [n, v] of finalLatent(full)) expect(finalLatent(resumed).get(n), n).toEqual(v);
  });
});

describe('Grokfast (EMA gradient filter, off by default)', () => {
  it('filters as h = alpha h + (1 - alpha) g (h_1 = g_1), step input g + lambda h', () => {
    const state: GrokfastState = new Map();
    const o = { alpha: 0.9, lambda: 2 };
    const run = (g: number[]): number[] =>
      tf.tidy(() => {
        const out = grokfastFilter(tf, o, new Map([['w', tf.tensor1d(g)]]), state);
        const v = [...((out.get('w') as Tensor).dataSync() as Float32Array)];
        tf.dispose([...out.values()]);
        return v;
      });
    expect(run([1, -2])).toEqual([3, -6]); // h = g: g + 2g
    const second = run([3, 0]); // h = 0.9 [1, -2] + 0.1 [3, 0] = [1.2, -1.8]; g + 2h = [5.4, -3.6]
    expect(second[0]).toBeCloseTo(5.4, 5);
    expect(second[1]).toBeCloseTo(-3.6, 5);
    tf.dispose([...state.values()]);
  });
  it('is off unless asked for, and a resumed Grokfast run (EMA in the checkpoint) ends bit-identical to an uninterrupted one', async () => {
    expect(resolveTrainOptions({ model: small('fp32'), seed: 1, schedule: { epochs: 1 } }).grokfast).toBeNull();
    const plain = await run({ model: small('fp32'), seed: 1, schedule: { epochs: 2 } });
    expect(latestCheckpoint(plain)?.getChild('grokfast_ema')?.nullCount).toBe(latestCheckpoint(plain)?.numRows);
    const options: TrainOptions = { model: small('ternary-centred'), seed: 5, schedule: { epochs: 24, logEvery: 4, checkpointEvery: 10 }, grokfast: { lambda: 3 } };
    expect(resolveTrainOptions(options).grokfast).toEqual({ alpha: 0.98, lambda: 3 });
    const full = await run(options);
    const ck10 = full.find((t) => streamKind(t) === 'checkpoint' && t.getChild('epoch')?.get(0) === 10) as Table;
    expect(ck10.getChild('grokfast_ema')?.nullCount).toBe(0);
    const resumed = await run(options, ck10);
    for (const [n, v] of finalLatent(full)) expect(finalLatent(resumed).get(n), n).toEqual(v);
    const without = finalLatent(await run({ ...options, grokfast: null }));
    expect(without.get('blocks.0.mlp.W_in')).not.toEqual(finalLatent(full).get('blocks.0.mlp.W_in'));
    expect(() => resolveTrainOptions({ ...options, grokfast: { alpha: 1 } })).toThrow(/grokfast.alpha/);
  });
});
