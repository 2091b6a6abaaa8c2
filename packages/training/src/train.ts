import { type Tf, useExplicitTransposeMatMul } from '@bitlens/engine';
import { BitlensError, canonicalJson } from '@bitlens/core';
import { effectiveParams, forwardLast, initParams, readWeightsTable, toHost, validateConfig, type HostTensor, type ModelConfig } from '@bitlens/model';
import type { QuantizerRegistry } from '@bitlens/quantization';
import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs-core';
import type { Table } from 'apache-arrow';
import { Observable } from 'rxjs';
import { ADAMW_DEFAULTS, adamwState, adamwStep, type AdamWOptions } from './adamw.js';
import { accuracy, safeCrossEntropy } from './loss.js';
import { checkpointStreamTable, metricsStreamTable, readTrainingCheckpoint, type MetricsRow, type TrainingState, type TrainingStream } from './schemas.js';

const STAGE = 'training/train';

/**
 * Version of the training stages (in process and in a worker): part of their cache key. 2: the early stop waits for
 * test accuracy to be back at the threshold, and the last-position attention has a hand-written gradient (other float
 * rounding, so other weights than version 1 for the same options).
 */
export const TRAIN_STAGE_VERSION = '2';

/** What a training run does (JSON-serialisable: the stage's cache key). */
export interface TrainOptions {
  /** The model (see `modelConfig` of @bitlens/model); its quantizer is looked up in the registry given at run time. */
  readonly model: ModelConfig;
  /** Seed of the parameter init. */
  readonly seed: number;
  /** Epoch cap (one full-batch optimizer step per epoch). */
  readonly epochs: number;
  /** AdamW settings (defaults: lr 1e-3, weight decay 1.0, betas 0.9 / 0.98, eps 1e-8, no warmup). */
  readonly optimizer?: Partial<AdamWOptions>;
  /** Log metrics every N epochs (default 10); the final epoch is always logged. */
  readonly logEvery?: number;
  /** Emit a checkpoint every N epochs (default 1000; 0 = only the final one). The final state is always emitted. */
  readonly checkpointEvery?: number;
  /**
   * Stop at the first logged epoch at least this many epochs after test accuracy first reached `grokThreshold` at which
   * test accuracy is at or above the threshold again (a loss spike at that moment postpones the stop, so a run is not
   * analysed in the middle of one). Default: never stop early.
   */
  readonly stopAfterGrok?: number;
  /** Grokking threshold on test accuracy (default 0.99, docs/science.md#grokking-detection). */
  readonly grokThreshold?: number;
  /** How the STE gradient reaches the latent weights (see @bitlens/quantization `steQuantize`; default 'identity'). */
  readonly steGradient?: 'identity' | 'centred';
}

/** Non-serialisable things a run needs: the tfjs namespace, the quantizer registry, and optionally a checkpoint to resume from. */
export interface TrainContext {
  readonly tf: Tf;
  readonly registry: QuantizerRegistry;
  /**
   * A training checkpoint (a `kind = 'checkpoint'` stream table or a `TrainingCheckpointSchema` table) of this same
   * run. The run restores weights, AdamW moments, step count and grokking state from it and continues; the stream then
   * starts after that epoch. On the same backend the result is bit-identical to an uninterrupted run.
   */
  readonly resumeFrom?: Table;
  /** Use the explicit-transpose BatchMatMul on wasm (default true; see `useExplicitTransposeMatMul`). */
  readonly fastWasmMatMul?: boolean;
}

/** Training data as arrays (from a DatasetSchema table of @bitlens/data). */
export interface TrainData {
  readonly p: number;
  readonly a: Int32Array;
  readonly b: Int32Array;
  readonly label: Int32Array;
  /** 1 = train row, 0 = test row. */
  readonly isTrain: Uint8Array;
}

/** Collects DatasetSchema tables (columns a, b, label, split) into {@link TrainData} for modulus p. */
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

interface Split {
  readonly tokens: Tensor;
  readonly labels: Tensor;
  readonly oneHot: Tensor;
  readonly n: number;
}

function splitTensors(tf: Tf, d: TrainData, train: boolean): Split {
  const idx: number[] = [];
  for (let i = 0; i < d.a.length; i++) if ((d.isTrain[i] === 1) === train) idx.push(i);
  const toks = new Int32Array(idx.length * 3);
  const labels = new Int32Array(idx.length);
  idx.forEach((r, i) => {
    toks[3 * i] = d.a[r] ?? 0;
    toks[3 * i + 1] = d.b[r] ?? 0;
    toks[3 * i + 2] = d.p;
    labels[i] = d.label[r] ?? 0;
  });
  const lab = tf.tensor1d(labels, 'int32');
  return { tokens: tf.tensor2d(toks, [idx.length, 3], 'int32'), labels: lab, oneHot: tf.tidy(() => tf.cast(tf.oneHot(lab, d.p), 'float32')), n: idx.length };
}

/**
 * The early-stop rule of `stopAfterGrok` at a logged epoch: at least `after` epochs since grokking and test accuracy at
 * or above the threshold now (so a run is never stopped, and analysed, in the middle of a loss spike).
 */
export function cleanedUp(epoch: number, grokEpoch: number | null, after: number | null, testAcc: number, threshold: number): boolean {
  return grokEpoch !== null && after !== null && epoch - grokEpoch >= after && testAcc >= threshold;
}

function opt<T>(v: T | undefined, d: T): T {
  return v === undefined ? d : v;
}

/** Resolved options with defaults, validated (INVALID_OPTION naming the field). */
export function resolveTrainOptions(o: TrainOptions): Required<Omit<TrainOptions, 'stopAfterGrok' | 'optimizer'>> & { optimizer: AdamWOptions; stopAfterGrok: number | null } {
  const model = validateConfig(o.model);
  const r = {
    model,
    seed: o.seed,
    epochs: o.epochs,
    optimizer: { ...ADAMW_DEFAULTS, ...(o.optimizer ?? {}) },
    logEvery: opt(o.logEvery, 10),
    checkpointEvery: opt(o.checkpointEvery, 1000),
    stopAfterGrok: o.stopAfterGrok === undefined ? null : o.stopAfterGrok,
    grokThreshold: opt(o.grokThreshold, 0.99),
    steGradient: opt(o.steGradient, 'identity' as const),
  };
  const bad = (field: string, expected: string, found: unknown): never => {
    throw new BitlensError('INVALID_OPTION', { stage: STAGE, field, expected, found: JSON.stringify(found) });
  };
  if (!Number.isInteger(r.seed)) bad('seed', 'an integer', r.seed);
  if (!Number.isInteger(r.epochs) || r.epochs < 0) bad('epochs', 'a non-negative integer', r.epochs);
  if (!Number.isInteger(r.logEvery) || r.logEvery < 1) bad('logEvery', 'a positive integer', r.logEvery);
  if (!Number.isInteger(r.checkpointEvery) || r.checkpointEvery < 0) bad('checkpointEvery', 'a non-negative integer', r.checkpointEvery);
  if (r.stopAfterGrok !== null && !(Number.isInteger(r.stopAfterGrok) && r.stopAfterGrok >= 0)) bad('stopAfterGrok', 'a non-negative integer', r.stopAfterGrok);
  if (r.steGradient !== 'identity' && r.steGradient !== 'centred') bad('steGradient', "'identity' or 'centred'", r.steGradient);
  return r;
}

/**
 * Trains one model full-batch with AdamW and emits the training stream (see `TrainingStreamSchema`): a metrics table
 * per logged epoch and a checkpoint table every `checkpointEvery` epochs and at the end. Cold: training starts on
 * subscribe and stops (freeing its tensors) on unsubscribe. Deterministic for a seed on a given backend.
 *
 * Per epoch: effective weights (STE-quantized where the config says), `forwardLast` on all train rows, safe
 * cross-entropy on the last position, gradients of the latent weights, one AdamW step. At a logged epoch e the
 * metrics are those of the weights after e steps (train loss/acc from the same forward that gives the gradient).
 */
export function trainRun(ctx: TrainContext, options: TrainOptions, data: TrainData): Observable<Table<TrainingStream>> {
  return new Observable<Table<TrainingStream>>((subscriber) => {
    let stopped = false;
    const { tf } = ctx;
    run().then(
      () => subscriber.complete(),
      (e: unknown) => subscriber.error(e),
    );
    return () => {
      stopped = true;
    };

    async function run(): Promise<void> {
      const o = resolveTrainOptions(options);
      const cfg = o.model;
      if (data.p !== cfg.p) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'model.p', expected: `the dataset's p (${data.p})`, found: String(cfg.p) });
      if (ctx.fastWasmMatMul !== false) useExplicitTransposeMatMul(tf);
      const backend = tf.getBackend();
      if (cfg.quantizer !== 'fp32') ctx.registry.get(cfg.quantizer); // fail early (INVALID_OPTION) on an unknown quantizer

      let start = 0;
      let grokEpoch: number | null = null;
      let trainFitEpoch: number | null = null;
      let host: Map<string, HostTensor> = initParams(cfg, o.seed);
      let moments: { m: Map<string, HostTensor>; v: Map<string, HostTensor> } | undefined;
      if (ctx.resumeFrom !== undefined) {
        const w = readWeightsTable(ctx.resumeFrom);
        if (canonicalJson(w.config) !== canonicalJson(cfg)) {
          throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'resumeFrom', expected: 'a checkpoint of the same model config', found: 'another config' });
        }
        const t = readTrainingCheckpoint(ctx.resumeFrom);
        host = w.latent;
        moments = { m: t.adamM, v: t.adamV };
        start = t.state.epoch;
        grokEpoch = t.state.grokEpoch;
        trainFitEpoch = t.state.trainFitEpoch;
      }

      const names = [...host.keys()];
      const vars = new Map<string, Variable>();
      for (const n of names) {
        const t = host.get(n) as HostTensor;
        tf.tidy(() => {
          vars.set(n, tf.variable(tf.tensor(t.data, [...t.shape], 'float32'), true));
        });
      }
      const state = adamwState(tf, vars);
      state.step = start;
      if (moments !== undefined) {
        for (const n of names) {
          const m = moments.m.get(n);
          const v = moments.v.get(n);
          if (m === undefined || v === undefined) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: n, expected: 'AdamW moments in resumeFrom', found: 'nothing' });
          tf.tidy(() => {
            state.m.get(n)?.assign(tf.tensor(m.data, [...m.shape], 'float32'));
            state.v.get(n)?.assign(tf.tensor(v.data, [...v.shape], 'float32'));
          });
        }
      }
      const train = splitTensors(tf, data, true);
      const test = splitTensors(tf, data, false);
      const varList = names.map((n) => vars.get(n) as Variable);
      const byVarName = new Map(names.map((n) => [(vars.get(n) as Variable).name, n]));
      const ste = { gradient: o.steGradient };
      let lastMetrics = -1;
      let lastCheckpoint = -1;

      const evalSplit = (s: Split): [Tensor, Tensor] => {
        const logits = forwardLast(tf, cfg, effectiveParams(tf, cfg, vars, ctx.registry, ste), s.tokens);
        return [safeCrossEntropy(tf, logits, s.oneHot), accuracy(tf, logits, s.labels)];
      };
      let lastTestAcc = Number.NaN;
      const emitMetrics = (epoch: number, trainLoss: Tensor, trainAcc: Tensor): void => {
        const vals = tf.tidy(() => {
          const [tl, ta] = test.n > 0 ? evalSplit(test) : [tf.scalar(NaN), tf.scalar(NaN)];
          return tf.stack([trainLoss, trainAcc, tl, ta]);
        });
        const [trL, trA, teL, teA] = [...vals.dataSync()] as [number, number, number, number];
        vals.dispose();
        if (grokEpoch === null && teA >= o.grokThreshold) grokEpoch = epoch;
        if (trainFitEpoch === null && trA >= o.grokThreshold) trainFitEpoch = epoch;
        lastTestAcc = teA;
        const row: MetricsRow = { epoch, train_loss: trL, test_loss: teL, train_acc: trA, test_acc: teA };
        lastMetrics = epoch;
        subscriber.next(metricsStreamTable([row]));
      };
      const emitCheckpoint = (epoch: number): void => {
        let latent = new Map<string, HostTensor>();
        let effective = new Map<string, HostTensor>();
        tf.tidy(() => {
          latent = toHost(vars);
          effective = toHost(effectiveParams(tf, cfg, vars, ctx.registry, ste));
        });
        const st: TrainingState = { epoch, grokEpoch, trainFitEpoch, backend };
        lastCheckpoint = epoch;
        subscriber.next(checkpointStreamTable(cfg, st, latent, effective, toHost(state.m), toHost(state.v)));
      };

      try {
        let step = start;
        while (step < o.epochs && !stopped) {
          const logNow = step % o.logEvery === 0;
          let kept: [Tensor, Tensor] | undefined;
          const { value, grads } = tf.variableGrads((): Scalar => {
            const eff = effectiveParams(tf, cfg, vars, ctx.registry, ste);
            const logits = forwardLast(tf, cfg, eff, train.tokens);
            const loss = safeCrossEntropy(tf, logits, train.oneHot);
            if (logNow) kept = [tf.keep(loss.clone()), tf.keep(accuracy(tf, logits, train.labels))];
            return loss as Scalar;
          }, varList);
          value.dispose();
          if (kept !== undefined) {
            emitMetrics(step, kept[0], kept[1]);
            tf.dispose(kept);
          }
          if (logNow && cleanedUp(step, grokEpoch, o.stopAfterGrok, lastTestAcc, o.grokThreshold)) {
            tf.dispose(Object.values(grads));
            break;
          }
          const g = new Map<string, Tensor>();
          for (const [vn, t] of Object.entries(grads)) g.set(byVarName.get(vn) ?? vn, t);
          adamwStep(tf, o.optimizer, vars, g, state);
          tf.dispose(Object.values(grads));
          step++;
          if (o.checkpointEvery > 0 && step % o.checkpointEvery === 0) emitCheckpoint(step);
          // Let subscribers (sinks, progress) run between epochs.
          if (step % 10 === 0) await new Promise<void>((r) => setImmediate(r));
        }
        if (!stopped) {
          if (lastMetrics !== step) {
            const [l, a] = tf.tidy(() => evalSplit(train));
            emitMetrics(step, l, a);
            tf.dispose([l, a]);
          }
          if (lastCheckpoint !== step) emitCheckpoint(step);
        }
      } finally {
        tf.dispose([...vars.values(), ...state.m.values(), ...state.v.values(), train.tokens, train.labels, train.oneHot, test.tokens, test.labels, test.oneHot]);
      }
    }
  });
}
