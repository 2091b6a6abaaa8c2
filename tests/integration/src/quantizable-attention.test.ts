import { activations, frequencyLossesStage, gridFromDataset, keyFrequencies, neuronFrequencies } from '@bitlens/circuits';
import { datasetTable } from '@bitlens/data';
import { initTfjsBackend, type Tf } from '@bitlens/engine';
import { activationOutliers } from '@bitlens/metrics';
import { type AttentionVariant, modelConfig, readWeightsTable } from '@bitlens/model';
import { w8a8Quantize, w8a8Report } from '@bitlens/ptq';
import { createQuantizerRegistry } from '@bitlens/quantization';
import { finalCheckpoint, inProcessExecutor, selectCheckpoints, selectMetrics, trainStage } from '@bitlens/training';
import type { Table } from 'apache-arrow';
import { type Observable, lastValueFrom, of, shareReplay, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';

// Small trained models of each attention variant through training, outlier metrics and W8A8 post-training
// quantization with its circuit-fidelity report. CI size: p = 31, d_model 32, 500 full-batch epochs at lr 3e-3
// (the training package's CI setting), train fraction 0.8 (test accuracy about 0.97-1 at the end).
const P = 31;
const EPOCHS = 500;

let tf: Tf;
const registry = createQuantizerRegistry();
beforeAll(async () => {
  ({ tf } = await initTfjsBackend('wasm'));
});

const dataset = datasetTable({ task: 'add', p: P, trainFraction: 0.8, seed: 1 });
const grid = (): Observable<Table> => of(dataset).pipe(gridFromDataset());

/** The circuits chain of one model: activations → neurons → keys → restricted/excluded losses. */
function analysis(w: Table): { keys: Observable<Table>; losses: Observable<Table> } {
  const acts = of(w).pipe(activations(tf, { hooks: '^(blocks\\.0\\.mlp\\.hook_(pre|post)|logits)$' }), shareReplay());
  const neurons = acts.pipe(neuronFrequencies(tf, { minCount: 3 }), shareReplay());
  const keys = keyFrequencies({ rule: { kind: 'gap', maxKeys: 10 } })({ weights: of(w), neurons }).pipe(shareReplay());
  return { keys, losses: frequencyLossesStage({ keys: 'embed' })({ keys, activations: acts, dataset: grid() }) };
}

const num = (t: Table | undefined, c: string): number => Number(t?.getChild(c)?.get(0));

describe.each(['vanilla', 'clipped', 'gated'] as const satisfies readonly AttentionVariant[])('%s attention: train, outliers, W8A8', (variant) => {
  it('trains, has outlier rows per checkpoint, and survives W8A8 with its circuit report', async () => {
    const model = modelConfig('li', P, { dModel: 32, nHeads: 4, dMlp: 128, attention: variant });
    const stream = of(dataset).pipe(trainStage({ model, seed: 1, schedule: { epochs: EPOCHS, logEvery: 50, checkpointEvery: 100 }, optimizer: { lr: 3e-3 } }, inProcessExecutor({ tf, registry })), shareReplay());
    const metrics = await lastValueFrom(stream.pipe(selectMetrics(), toArray()));
    const checkpoints = await lastValueFrom(stream.pipe(selectCheckpoints(), toArray()));
    const final = await lastValueFrom(of(...checkpoints).pipe(finalCheckpoint()));
    expect(readWeightsTable(final).config.attention.kind).toBe(variant);
    const lastMetrics = metrics.at(-1);
    const trainAcc = Number(lastMetrics?.getChild('train_acc')?.get(0));
    expect(trainAcc).toBeGreaterThan(0.9); // it has at least fit its training split

    // Outliers over training: one row per checkpoint (epochs 100, 200, ..., 500), and of the final model.
    const over = await lastValueFrom(of(...checkpoints).pipe(activationOutliers(tf), toArray()));
    expect(over.map((r) => r.getChild('epoch')?.get(0))).toEqual([100, 200, 300, 400, 500]);
    for (const r of over) {
      expect(num(r, 'max_inf_norm')).toBeGreaterThan(0);
      expect(Number.isFinite(num(r, 'mean_kurtosis'))).toBe(true);
    }

    // W8A8: the quantized model is a weights table that the circuits chain analyses like any other.
    const quantized = await lastValueFrom(w8a8Quantize(tf)({ weights: of(final), dataset: grid() }));
    const a = analysis(final);
    const b = analysis(quantized);
    const report = await lastValueFrom(
      w8a8Report(tf, { model: variant })({ reference: of(final), quantized: of(quantized), dataset: grid(), referenceLosses: a.losses, quantizedLosses: b.losses, referenceKeys: a.keys, quantizedKeys: b.keys }),
    );
    const accBefore = num(report, 'test_accuracy_before');
    const accAfter = num(report, 'test_accuracy_after');
    // 8 bits per tensor is gentle on a model this small: predictions barely move.
    expect(num(report, 'prediction_agreement')).toBeGreaterThan(0.9);
    expect(Math.abs(accAfter - accBefore)).toBeLessThan(0.1);
    const last = over.at(-1);
    console.log(
      `${variant}: train acc ${trainAcc.toFixed(3)}, test acc FP ${accBefore.toFixed(3)} / W8A8 ${accAfter.toFixed(3)}, ` +
        `max inf-norm ${num(last, 'max_inf_norm').toFixed(2)} (${String(last?.getChild('max_inf_norm_hook')?.get(0))}), mean kurtosis ${num(last, 'mean_kurtosis').toFixed(2)}, ` +
        `min output SQNR ${num(report, 'min_output_sqnr_db').toFixed(1)} dB, embed-key Jaccard ${num(report, 'embed_key_jaccard').toFixed(2)}`,
    );
  }, 300_000); // a generous limit for a loaded CI machine (about 10 s of CPU per variant on an idle core)
});
