import type { Tf } from '@bitlens/engine';
import { BitlensError, canonicalJson } from '@bitlens/core';
import { effectiveParams, forwardLast, initParams, readWeightsTable, toHost, type HostTensor, type ModelConfig } from '@bitlens/model';
import { isFullPrecision, type QuantizerRegistry } from '@bitlens/quantization';
import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs-core';
import type { Table } from 'apache-arrow';
import { adamwState, adamwStep, type AdamWState } from './adamw.js';
import { grokfastFilter, type GrokfastState } from './grokfast.js';
import type { TrainData } from './data.js';
import { accuracy, safeCrossEntropy } from './loss.js';
import { resolveTrainOptions, type ResolvedTrainOptions, type TrainOptions } from './options.js';
import { checkpointStreamTable, readTrainingCheckpoint, type MetricsRow, type TrainingState, type TrainingStream } from './schemas.js';

const STAGE = 'training/train';

/** What a training run computes with: the tfjs namespace of a started engine and the quantizer registry. */
export interface TrainingRunContext {
  readonly tf: Tf;
  readonly registry: QuantizerRegistry;
}

/** The gradients of one epoch, taken and not yet applied (see {@link TrainingRun.gradients}). */
export interface PendingStep {
  /** The metrics of the weights the gradients were taken at, when asked for (`measure`). */
  readonly metrics: MetricsRow | undefined;
  /** Takes the AdamW step (the run's epoch goes up by one) and frees the gradients. */
  apply(): void;
  /** Frees the gradients without a step (an early stop). */
  discard(): void;
}

/**
 * One training run's state on an engine (latent weights, AdamW moments, epoch, grokking epochs) and its step. The
 * schedule (when to log, checkpoint, stop) is not in here: `trainRun` reads it from the options and drives this
 * object; the training-speed benchmark calls {@link TrainingRun.step} directly, so it times exactly this step.
 * Holds tensors: call `dispose()`.
 */
export interface TrainingRun {
  readonly options: ResolvedTrainOptions;
  /** Optimizer steps taken. */
  readonly epoch: number;
  /** First measured epoch with test accuracy >= the grokking threshold, if any yet. */
  readonly grokEpoch: number | null;
  /** First measured epoch with train accuracy >= the grokking threshold, if any yet. */
  readonly trainFitEpoch: number | null;
  /** Number of train rows (the batch: training is full batch). */
  readonly trainRows: number;
  /**
   * Forward on every train row at the current weights (effective weights: STE-quantized where the config says;
   * `forwardLast`; safe cross-entropy on the last position) and the gradients of the latent weights. With `measure`,
   * also the metrics of these weights: train loss and accuracy from the same forward, test by a forward on the test
   * rows; measuring updates the grokking epochs.
   */
  gradients(measure: boolean): PendingStep;
  /** One epoch: forward, backward and AdamW step (`gradients(false).apply()`). */
  step(): void;
  /** The metrics of the current weights (forwards on the train and test rows); updates the grokking epochs. */
  metrics(): MetricsRow;
  /** A checkpoint table of the training stream: weights, effective weights, moments, training state. */
  checkpoint(): Table<TrainingStream>;
  /** Frees every tensor of the run. */
  dispose(): void;
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

interface Start {
  readonly latent: Map<string, HostTensor>;
  readonly moments: { readonly m: Map<string, HostTensor>; readonly v: Map<string, HostTensor>; readonly ema?: Map<string, HostTensor> } | undefined;
  readonly epoch: number;
  readonly grokEpoch: number | null;
  readonly trainFitEpoch: number | null;
}

/** Fresh seeded weights, or the state of a checkpoint of this same run. */
function startFrom(cfg: ModelConfig, seed: number, resumeFrom: Table | undefined): Start {
  if (resumeFrom === undefined) return { latent: initParams(cfg, seed), moments: undefined, epoch: 0, grokEpoch: null, trainFitEpoch: null };
  const w = readWeightsTable(resumeFrom);
  if (canonicalJson(w.config) !== canonicalJson(cfg)) {
    throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'resumeFrom', expected: 'a checkpoint of the same model config', found: 'another config' });
  }
  const t = readTrainingCheckpoint(resumeFrom);
  return { latent: w.latent, moments: { m: t.adamM, v: t.adamV, ...(t.grokfastEma === undefined ? {} : { ema: t.grokfastEma }) }, epoch: t.state.epoch, grokEpoch: t.state.grokEpoch, trainFitEpoch: t.state.trainFitEpoch };
}

function upload(tf: Tf, s: Start): { vars: Map<string, Variable>; state: AdamWState; ema: GrokfastState } {
  const vars = new Map<string, Variable>();
  for (const [n, t] of s.latent) {
    tf.tidy(() => {
      vars.set(n, tf.variable(tf.tensor(t.data, [...t.shape], 'float32'), true));
    });
  }
  const state = adamwState(tf, vars);
  state.step = s.epoch;
  const ema: GrokfastState = new Map();
  if (s.moments === undefined) return { vars, state, ema };
  for (const n of vars.keys()) {
    const m = s.moments.m.get(n);
    const v = s.moments.v.get(n);
    if (m === undefined || v === undefined) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: n, expected: 'AdamW moments in resumeFrom', found: 'nothing' });
    tf.tidy(() => {
      state.m.get(n)?.assign(tf.tensor(m.data, [...m.shape], 'float32'));
      state.v.get(n)?.assign(tf.tensor(v.data, [...v.shape], 'float32'));
    });
    const h = s.moments.ema?.get(n);
    if (h !== undefined) tf.tidy(() => void ema.set(n, tf.variable(tf.tensor(h.data, [...h.shape], 'float32'), false)));
  }
  return { vars, state, ema };
}

/**
 * Starts a training run on the engine of `ctx`: seeded init (or the state of `resumeFrom`, a checkpoint of this same
 * run: weights, AdamW moments, epoch and grokking epochs; on the same backend the continuation is bit-identical to an
 * uninterrupted run), the train and test rows uploaded once. Throws before allocating anything on bad options, a
 * dataset of another modulus or an unknown quantizer.
 * @example const run = createTrainingRun({ tf, registry }, options, data); run.step(); run.dispose();
 */
export function createTrainingRun(ctx: TrainingRunContext, options: TrainOptions | ResolvedTrainOptions, data: TrainData, resumeFrom?: Table): TrainingRun {
  const o = resolveTrainOptions(options);
  const cfg = o.model;
  if (data.p !== cfg.p) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'model.p', expected: `the dataset's p (${data.p})`, found: String(cfg.p) });
  if (!isFullPrecision(cfg.quantizer)) ctx.registry.get(cfg.quantizer); // INVALID_OPTION on an unknown quantizer, before any work
  return new Run(ctx, o, data, startFrom(cfg, o.seed, resumeFrom));
}

class Run implements TrainingRun {
  readonly trainRows: number;
  private readonly tf: Tf;
  private readonly vars: Map<string, Variable>;
  private readonly state: AdamWState;
  private readonly ema: GrokfastState;
  private readonly train: Split;
  private readonly test: Split;
  private readonly varList: Variable[];
  private readonly byVarName: Map<string, string>;
  private readonly backend: string;
  private grok: number | null;
  private trainFit: number | null;

  constructor(
    private readonly ctx: TrainingRunContext,
    readonly options: ResolvedTrainOptions,
    data: TrainData,
    start: Start,
  ) {
    this.tf = ctx.tf;
    this.backend = this.tf.getBackend();
    ({ vars: this.vars, state: this.state, ema: this.ema } = upload(this.tf, start));
    this.train = splitTensors(this.tf, data, true);
    this.test = splitTensors(this.tf, data, false);
    this.trainRows = this.train.n;
    const names = [...this.vars.keys()];
    this.varList = names.map((n) => this.vars.get(n) as Variable);
    this.byVarName = new Map(names.map((n) => [(this.vars.get(n) as Variable).name, n]));
    this.grok = start.grokEpoch;
    this.trainFit = start.trainFitEpoch;
  }

  get epoch(): number {
    return this.state.step;
  }
  get grokEpoch(): number | null {
    return this.grok;
  }
  get trainFitEpoch(): number | null {
    return this.trainFit;
  }

  /** Effective weights of the current latent ones (inside a tidy or a gradient function). */
  private effective(): Map<string, Tensor> {
    return effectiveParams(this.tf, this.options.model, this.vars, this.ctx.registry, { gradient: this.options.steGradient });
  }

  private evalSplit(s: Split): [Tensor, Tensor] {
    const logits = forwardLast(this.tf, this.options.model, this.effective(), s.tokens);
    return [safeCrossEntropy(this.tf, logits, s.oneHot), accuracy(this.tf, logits, s.labels)];
  }

  /** Metrics row of the current weights given their train loss and accuracy (tensors); updates the grokking epochs. */
  private record(trainLoss: Tensor, trainAcc: Tensor): MetricsRow {
    const { tf, test } = this;
    const vals = tf.tidy(() => {
      const [tl, ta] = test.n > 0 ? this.evalSplit(test) : [tf.scalar(NaN), tf.scalar(NaN)];
      return tf.stack([trainLoss, trainAcc, tl, ta]);
    });
    const [trL, trA, teL, teA] = [...vals.dataSync()] as [number, number, number, number];
    vals.dispose();
    const epoch = this.state.step;
    const threshold = this.options.schedule.grokThreshold;
    if (this.grok === null && teA >= threshold) this.grok = epoch;
    if (this.trainFit === null && trA >= threshold) this.trainFit = epoch;
    return { epoch, train_loss: trL, test_loss: teL, train_acc: trA, test_acc: teA };
  }

  gradients(measure: boolean): PendingStep {
    const { tf, train } = this;
    let kept: [Tensor, Tensor] | undefined;
    const { value, grads } = tf.variableGrads((): Scalar => {
      const logits = forwardLast(tf, this.options.model, this.effective(), train.tokens);
      const loss = safeCrossEntropy(tf, logits, train.oneHot);
      if (measure) kept = [tf.keep(loss.clone()), tf.keep(accuracy(tf, logits, train.labels))];
      return loss as Scalar;
    }, this.varList);
    value.dispose();
    let metrics: MetricsRow | undefined;
    if (kept !== undefined) {
      metrics = this.record(kept[0], kept[1]);
      tf.dispose(kept);
    }
    let open = true;
    const free = (): void => {
      if (open) tf.dispose(Object.values(grads));
      open = false;
    };
    const apply = (): void => {
      if (!open) throw new BitlensError('INTERNAL', { stage: STAGE, field: 'gradients', expected: 'gradients not yet applied or discarded', found: 'used ones' });
      const g = new Map<string, Tensor>();
      for (const [vn, t] of Object.entries(grads)) g.set(this.byVarName.get(vn) ?? vn, t);
      const gf = this.options.grokfast;
      const filtered = gf === null ? g : grokfastFilter(tf, gf, g, this.ema);
      adamwStep(tf, this.options.optimizer, this.vars, filtered, this.state);
      if (filtered !== g) tf.dispose([...filtered.values()]);
      free();
    };
    return { metrics, apply, discard: free };
  }

  step(): void {
    this.gradients(false).apply();
  }

  metrics(): MetricsRow {
    const [l, a] = this.tf.tidy(() => this.evalSplit(this.train));
    const row = this.record(l, a);
    this.tf.dispose([l, a]);
    return row;
  }

  checkpoint(): Table<TrainingStream> {
    let latent = new Map<string, HostTensor>();
    let effective = new Map<string, HostTensor>();
    this.tf.tidy(() => {
      latent = toHost(this.vars);
      effective = toHost(this.effective());
    });
    const st: TrainingState = { epoch: this.state.step, grokEpoch: this.grok, trainFitEpoch: this.trainFit, backend: this.backend };
    return checkpointStreamTable(this.options.model, st, latent, effective, toHost(this.state.m), toHost(this.state.v), this.ema.size === 0 ? undefined : toHost(this.ema));
  }

  dispose(): void {
    const { train, test, state } = this;
    this.tf.dispose([...this.vars.values(), ...state.m.values(), ...state.v.values(), ...this.ema.values(), train.tokens, train.labels, train.oneHot, test.tokens, test.labels, test.oneHot]);
  }
}
