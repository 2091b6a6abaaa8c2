import { mulberry32 } from '@bitlens/core';
import { type Tf, initTfjsBackend } from '@bitlens/engine';
import { crossEntropy, gridDataset, gridOutputs, inputGrid, loadModel } from '@bitlens/circuits';
import { type HookName, checkpointTable, isHookName, forwardFull, initParams, modelConfig, toTensors, weightsTable } from '@bitlens/model';
import { Table } from 'apache-arrow';
import { Subject, lastValueFrom, of, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { activationOutliers, detectGrokking, grokkingSummary, kurtosis, infNorm, progressMeasures } from './index.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await initTfjsBackend('wasm')).tf;
});

function normals(n: number, seed: number): Float64Array {
  const rnd = mulberry32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rnd(), 1e-300);
    const v = rnd();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

describe('outlier metrics (Bondarenko et al. 2023 hand checks)', () => {
  it('kurtosis of one 100 among 999 zeros is 996.0 (unbiased std); of a standard normal sample 3 ± 0.05', () => {
    const x = new Float64Array(1000);
    x[0] = 100;
    expect(kurtosis(x)).toBeCloseTo(996.0, 1); // 996.006
    expect(infNorm(x)).toBe(100);
    expect(Math.abs(kurtosis(normals(1_000_000, 7)) - 3)).toBeLessThan(0.05);
  });

});

describe('activation outliers of a model over all p^2 inputs', () => {
  const cfg = modelConfig('li', 7, { dModel: 8, nHeads: 2, dMlp: 16 });
  const host = initParams(cfg, 3);

  /** Every tracked hook's per-input activation, straight from forwardFull (an independent path from the stage's). */
  function perInput(hook: HookName): Float32Array[] {
    const P = toTensors(tf, host);
    const data = tf.tidy(() => {
      const toks = tf.tensor2d(Array.from({ length: 49 }, (_, r) => [Math.floor(r / 7), r % 7, 7]).flat(), [49, 3], 'int32');
      return forwardFull(tf, cfg, P, toks, { capture: (h) => h === hook }).cache.get(hook)?.dataSync() as Float32Array;
    });
    tf.dispose([...P.values()]);
    const f = data.length / 49;
    return Array.from({ length: 49 }, (_, i) => data.slice(i * f, (i + 1) * f));
  }

  it('tracks the Bondarenko outputs (with the final norm of li) and computes inf-norm and kurtosis per input, flattened', async () => {
    const [row] = await lastValueFrom(of(weightsTable(cfg, host)).pipe(activationOutliers(tf), toArray()));
    const hooks = strings0(row, 'hooks');
    expect(hooks).toEqual(['blocks.0.hook_attn_out', 'blocks.0.hook_mlp_out', 'blocks.0.hook_resid_mid', 'blocks.0.hook_resid_post', 'blocks.0.mlp.hook_post', 'blocks.0.mlp.hook_pre', 'ln_final.hook_out']);
    expect(row?.getChild('epoch')?.get(0)).toBeNull();
    expect(Number(row?.getChild('samples')?.get(0))).toBe(49);
    const inf = list0(row, 'inf_norm');
    const kurt = list0(row, 'kurtosis');
    expect(hooks.every(isHookName)).toBe(true);
    hooks.forEach((h, i) => {
      const xs = perInput(h as HookName); // checked above
      expect(xs[0]?.length).toBe(3 * (h.includes('mlp.hook') ? 16 : 8)); // all three positions
      expect(inf[i]).toBeCloseTo(Math.max(...xs.map(infNorm)), 5);
      expect(kurt[i]).toBeCloseTo(xs.reduce((s, x) => s + kurtosis(x), 0) / 49, 4);
    });
    expect(Number(row?.getChild('max_inf_norm')?.get(0))).toBeCloseTo(Math.max(...inf), 9);
    expect(row?.getChild('max_inf_norm_hook')?.get(0)).toBe(hooks[inf.indexOf(Math.max(...inf))]);
    expect(Number(row?.getChild('mean_kurtosis')?.get(0))).toBeCloseTo(kurt.reduce((a, b) => a + b, 0) / kurt.length, 9);
    expect(Number(row?.getChild('max_kurtosis')?.get(0))).toBeCloseTo(Math.max(...kurt), 9);
  });

  it('with evaluation batches: the batch maxima of the inf-norm and the batch means of the kurtosis are averaged over batches', async () => {
    const [row] = await lastValueFrom(of(weightsTable(cfg, host)).pipe(activationOutliers(tf, { hooks: 'hook_mlp_out$', batchSize: 20 }), toArray()));
    const xs = perInput('blocks.0.hook_mlp_out');
    const batches = [xs.slice(0, 20), xs.slice(20, 40), xs.slice(40)];
    expect(Number(row?.getChild('batches')?.get(0))).toBe(3);
    expect(list0(row, 'inf_norm')[0]).toBeCloseTo(batches.reduce((s, b) => s + Math.max(...b.map(infNorm)), 0) / 3, 5);
    expect(list0(row, 'kurtosis')[0]).toBeCloseTo(batches.reduce((s, b) => s + b.reduce((t, x) => t + kurtosis(x), 0) / b.length, 0) / 3, 4);
  });

  it('gives one row per checkpoint with its epoch; a nanda model has no final-norm hook', async () => {
    const nanda = modelConfig('nanda', 7, { dModel: 8, nHeads: 2, dMlp: 16 });
    const two = new Table([...checkpointTable(nanda, 10, initParams(nanda, 1)).batches, ...checkpointTable(nanda, 20, initParams(nanda, 2)).batches]);
    const rows = await lastValueFrom(of(two).pipe(activationOutliers(tf), toArray()));
    expect(rows.map((r) => r.getChild('epoch')?.get(0))).toEqual([10, 20]);
    expect(strings0(rows[0], 'hooks')).not.toContain('ln_final.hook_out');
    expect(strings0(rows[0], 'hooks').length).toBe(6);
    expect(Number(rows[0]?.getChild('max_inf_norm')?.get(0))).not.toBe(Number(rows[1]?.getChild('max_inf_norm')?.get(0)));
  });

  it('rejects bad options before any work (INVALID_OPTION naming the field), and a hook pattern that selects nothing', async () => {
    expect(() => activationOutliers(tf, { batchSize: 0 })).toThrow(/INVALID_OPTION.*batchSize/);
    expect(() => activationOutliers(tf, { hooks: '(' })).toThrow(/INVALID_OPTION.*hooks/);
    await expect(lastValueFrom(of(weightsTable(cfg, host)).pipe(activationOutliers(tf, { hooks: '^nothing$' })))).rejects.toThrow(/NOT_FOUND.*hooks/);
  });
});

function strings0(t: Table | undefined, column: string): string[] {
  const v = t?.getChild(column)?.get(0) as { toArray(): unknown[] } | null | undefined;
  return v === null || v === undefined ? [] : Array.from(v.toArray(), String);
}

function list0(t: Table | undefined, column: string): number[] {
  const v = t?.getChild(column)?.get(0) as { toArray(): Float64Array } | null | undefined;
  return v === null || v === undefined ? [] : Array.from(v.toArray());
}

describe('grokking detection', () => {
  it('finds memorisation, grokking, delay and the cleanup span on synthetic curves', () => {
    const pts = Array.from({ length: 100 }, (_, i) => {
      const epoch = i * 100;
      const trainAccuracy = epoch >= 1400 ? 1 : epoch / 1400;
      const testAccuracy = epoch >= 9800 ? 1 : epoch >= 9400 ? 0.5 : 0.01;
      // Flat at 5 until 9400, then falls tenfold every 100 epochs to 5e-6 at 10000.
      const testLoss = epoch < 9400 ? 5 : 5 * 10 ** (-(epoch - 9400) / 100);
      return { epoch, trainAccuracy, testAccuracy, testLoss };
    });
    const g = detectGrokking(pts);
    expect(g.memorised).toBe(1400);
    expect(g.grokked).toBe(9800);
    expect(g.delay).toBe(8400);
    expect(g.cleanupStart).toBe(9500);
    expect(g.cleanupEnd).toBe(9900);
    expect(detectGrokking(pts.map((x) => ({ ...x, testLoss: 5 }))).cleanupStart).toBe(-1);
  });
});

describe('progress measures over a checkpoint stream', () => {
  const cfg = modelConfig('nanda', 7, { dModel: 8, nHeads: 2, dMlp: 16 });

  it('emits one row per checkpoint as it arrives (before the stream ends), with consistent numbers', async () => {
    const checkpoints = new Subject<Table>();
    const rows: Table[] = [];
    let completed = false;
    const dataset = gridDataset({ p: 7, split: { fraction: 0.5, seed: 1, shuffle: 'mulberry32' } });
    progressMeasures(tf)({ checkpoints, dataset: dataset() }).subscribe({ next: (t) => rows.push(t), complete: () => (completed = true) });
    const p1 = initParams(cfg, 1);
    checkpoints.next(checkpointTable(cfg, 10, p1));
    expect(rows.length).toBe(1);
    expect(completed).toBe(false);
    checkpoints.next(checkpointTable(cfg, 20, initParams(cfg, 2)));
    expect(rows.length).toBe(2);
    checkpoints.complete();
    expect(completed).toBe(true);
    const first = rows[0];
    expect(Number(first?.getChild('epoch')?.get(0))).toBe(10);
    let norm = 0;
    for (const t of p1.values()) for (const v of t.data) norm += v * v;
    expect(Number(first?.getChild('weight_norm_sq')?.get(0))).toBeCloseTo(norm, 6);
    const m = loadModel(weightsTable(cfg, p1));
    const logits = gridOutputs(tf, m).logits;
    const [ds] = await lastValueFrom(dataset().pipe(toArray()));
    const train = Array.from({ length: 49 }, (_, i) => Boolean(ds?.getChild('train')?.get(i)));
    expect(Number(first?.getChild('train_loss')?.get(0))).toBeCloseTo(crossEntropy(logits, inputGrid(7).labels, 7, train).loss, 6);
    expect(Number(first?.getChild('ffs')?.get(0))).toBeGreaterThan(0);
    expect(String(first?.getChild('key_source')?.get(0))).toBe('embed');
  });

  it("uses the dataset's task: div over its p(p-1) pairs in the discrete-log basis, NaN restricted / excluded loss for a polynomial", async () => {
    const cps = [checkpointTable(cfg, 10, initParams(cfg, 1))];
    const run = async (task: string) => {
      const dataset = gridDataset({ p: 7, task, split: { fraction: 0.5, seed: 1, shuffle: 'mulberry32' } });
      const [row] = await lastValueFrom(progressMeasures(tf)({ checkpoints: of(...cps), dataset: dataset() }).pipe(toArray()));
      return row;
    };
    const div = await run('div');
    const m = loadModel(weightsTable(cfg, initParams(cfg, 1)));
    const { labels, valid } = inputGrid(7, 'div');
    const [ds] = await lastValueFrom(gridDataset({ p: 7, task: 'div', split: { fraction: 0.5, seed: 1, shuffle: 'mulberry32' } })().pipe(toArray()));
    const train = new Array<boolean>(49).fill(false);
    for (let i = 0; i < (ds?.numRows ?? 0); i++) if (ds?.getChild('train')?.get(i) === true) train[Number(ds.getChild('a')?.get(i)) * 7 + Number(ds.getChild('b')?.get(i))] = true;
    const test = train.map((x, r) => !x && valid[r] === 1);
    expect(Number(div?.getChild('test_loss')?.get(0))).toBeCloseTo(crossEntropy(gridOutputs(tf, m).logits, labels, 7, test).loss, 6);
    expect(Number.isFinite(Number(div?.getChild('restricted_loss')?.get(0)))).toBe(true);
    const poly = await run('x2_y2');
    expect(Number(poly?.getChild('restricted_loss')?.get(0))).toBeNaN();
    expect(Number(poly?.getChild('excluded_loss')?.get(0))).toBeNaN();
    expect(Number.isFinite(Number(poly?.getChild('train_loss')?.get(0)))).toBe(true);
  });

  it('reduces to the grokking events at the end', async () => {
    const cps = [10, 20, 30].map((e, i) => checkpointTable(cfg, e, initParams(cfg, i + 1)));
    const dataset = gridDataset({ p: 7, split: { fraction: 0.5, seed: 1, shuffle: 'mulberry32' } });
    const rows = await lastValueFrom(progressMeasures(tf, { keys: [1] })({ checkpoints: of(...cps), dataset: dataset() }).pipe(toArray()));
    expect(rows.map((t) => Number(t.getChild('epoch')?.get(0)))).toEqual([10, 20, 30]);
    expect(String(rows[0]?.getChild('key_source')?.get(0))).toBe('fixed');
    const [g] = await lastValueFrom(of(...rows).pipe(grokkingSummary(), toArray()));
    expect(g?.numRows).toBe(1);
    expect(Number(g?.getChild('grokked')?.get(0))).toBe(-1); // random models never generalise
  });

  it('rejects a dataset whose p does not match the checkpoints (typed error naming p)', async () => {
    const dataset = gridDataset({ p: 5, split: { fraction: 0.5, seed: 1, shuffle: 'mulberry32' } });
    await expect(lastValueFrom(progressMeasures(tf)({ checkpoints: of(checkpointTable(cfg, 1, initParams(cfg, 1))), dataset: dataset() }))).rejects.toMatchObject({ code: 'INVALID_CONFIG', site: { field: 'p' } });
  });
});
