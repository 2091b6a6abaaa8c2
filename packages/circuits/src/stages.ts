import type { Tf } from '@bitlens/backend-tfjs';
import { BitlensError, type JoinStage, type SourceStage, type Stage, defineJoin, defineSource, defineStage } from '@bitlens/core';
import { MODEL_CONFIG_KEY, type ModelConfig, type Weights, WeightsSchema, configFromTable } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { type Observable, forkJoin, map, of, toArray } from 'rxjs';
import { activationMatrix } from './activations.js';
import { directLogitAttributionFrom, dlaHooks, gradientSymmetricity } from './attribution.js';
import { circularity, correctLogits, distanceIrrelevance } from './clock-pizza.js';
import { type AblationMode, type AblationTarget, ablate, patchActivation } from './interventions.js';
import { bool, booleans, float64, float64List, int32, int32List, listRow, numbers, strings, tableOf, utf8 } from './internal/arrow.js';
import { DEFAULT_KEY_RULE, type KeyFrequencyRule, keyFrequenciesFromNorms } from './key-frequencies.js';
import { type LossAccuracy, crossEntropy, frequencyLosses } from './loss.js';
import { type WeightsColumn, gridLogits, loadModel, tensorOf } from './model.js';
import { neuronFrequencyFve } from './neurons.js';
import { clusterQuadrature, fitNeuronWaves } from './quadrature.js';
import {
  type Ablations,
  AblationsSchema,
  type Activations,
  ActivationsSchema,
  type Attribution,
  AttributionSchema,
  type ClockPizza,
  ClockPizzaSchema,
  type Grid,
  GridSchema,
  type FourierNorms,
  FourierNormsSchema,
  type KeyFreqs,
  KeyFreqsSchema,
  type Losses,
  LossesSchema,
  type Mechanism,
  MechanismSchema,
  type NeuronFreqs,
  NeuronFreqsSchema,
  type Patching,
  PatchingSchema,
  type Quadrature,
  QuadratureSchema,
} from './schemas.js';
import { embeddingSpectrum, fourierSparsity, fourierSpectrum, neuronLogitMap, type SparsityThreshold } from './spectra.js';
import { type Task, inputGrid } from './task.js';
import { splitIndices } from '@bitlens/data';

const MLP_POST = 'blocks.0.mlp.hook_post';
const MLP_PRE = 'blocks.0.mlp.hook_pre';

function only<T>(tables: readonly T[], stage: string, port: string): T {
  if (tables.length !== 1 || tables[0] === undefined) {
    throw new BitlensError('INVALID_OPTION', { stage, field: port, expected: 'exactly one table (one model)', found: `${tables.length} tables` });
  }
  return tables[0];
}

function configMeta(config: ModelConfig, extra: Record<string, string> = {}): Map<string, string> {
  return new Map([[MODEL_CONFIG_KEY, JSON.stringify(config)], ...Object.entries(extra)]);
}

/** Split of the grid dataset: a seeded shuffle of all p^2 pairs (a-major), the first floor(fraction p^2) are train. */
export interface GridSplit {
  readonly fraction: number;
  readonly seed: number;
  /** `python`: Python's `random.seed(seed); random.shuffle(pairs)` (Nanda's code, reproduces his splits); `mulberry32`: our seeded shuffle. */
  readonly shuffle: 'python' | 'mulberry32';
}

/**
 * Source of the input grid: all p^2 pairs (a-major) with labels of `task` and a train flag (all false when no split is
 * given). Pure: the split is a function of its options.
 */
export function gridDataset(options: { readonly p: number; readonly task?: Task; readonly split?: GridSplit }): SourceStage<Grid> {
  return defineSource({
    name: 'circuits/grid-dataset',
    version: '1',
    options: { ...options },
    output: GridSchema,
    create: () => {
      const grid = inputGrid(options.p, options.task ?? 'add');
      const n = options.p * options.p;
      const train = new Array<boolean>(n).fill(false);
      if (options.split !== undefined) {
        const { fraction, seed, shuffle } = options.split;
        if (!(fraction > 0 && fraction < 1)) throw new BitlensError('INVALID_OPTION', { stage: 'circuits/grid-dataset', field: 'split.fraction', expected: 'a number in (0, 1)', found: String(fraction) });
        // The same split as @bitlens/data's dataset stage for the same (fraction, seed, shuffle): both shuffle the
        // a-major pair list with splitIndices.
        const { order, nTrain } = splitIndices(n, fraction, seed, shuffle);
        for (let i = 0; i < nTrain; i++) train[order[i] ?? 0] = true;
      }
      return of(tableOf(GridSchema, [int32(grid.a), int32(grid.b), int32(grid.labels), bool(train)]));
    },
  });
}

/**
 * Fourier norms of W_E (token axis, first p rows) and of W_L = W_U^T W_out (output axis), per basis component, with
 * each matrix's Gini of its p component norms.
 */
export function fourierNorms(options: { readonly column?: WeightsColumn } = {}): Stage<Weights, FourierNorms> {
  const name = 'circuits/fourier-norms';
  return defineStage({
    name,
    version: '1',
    options: { ...options },
    input: WeightsSchema,
    output: FourierNormsSchema,
    apply: map((t: Table<Weights>) => {
      const m = loadModel(t, options.column ?? 'effective', name);
      const c = m.config;
      const we = embeddingSpectrum(tensorOf(m, 'embed.W_E', name).data, c.p, c.dModel);
      const wl = fourierSpectrum(neuronLogitMap(tensorOf(m, 'blocks.0.mlp.W_out', name).data, tensorOf(m, 'unembed.W_U', name).data, c.dMlp, c.dModel, c.dVocabOut), c.p, c.dMlp);
      const rows: { matrix: string; comp: number; norm: number; gini: number }[] = [];
      for (const [matrix, s] of [['W_E', we], ['W_L', wl]] as const) s.rowNorms.forEach((norm, comp) => rows.push({ matrix, comp, norm, gini: s.gini }));
      return tableOf(
        FourierNormsSchema,
        [
          utf8(rows.map((r) => r.matrix)),
          int32(rows.map((r) => r.comp)),
          int32(rows.map((r) => Math.floor((r.comp + 1) / 2))),
          utf8(rows.map((r) => (r.comp === 0 ? 'const' : r.comp % 2 === 1 ? 'cos' : 'sin'))),
          float64(rows.map((r) => r.norm)),
          float64(rows.map((r) => r.gini)),
        ],
        configMeta(c),
      );
    }),
  });
}

/** Metadata key of the neuron table: the max-FVE threshold for a clustered neuron. */
export const NEURON_THRESHOLD_KEY = 'bitlens.neuron_threshold';
/** Metadata key of the neuron table: clustered neurons a frequency needs to be key. */
export const NEURON_MIN_COUNT_KEY = 'bitlens.neuron_min_count';

/**
 * Neuron-frequency clustering (SCIENCE §2.2) from activation tables holding `hook` (default the MLP post-activation)
 * at the last position for all p^2 inputs. Reduces the whole stream, then emits one row per neuron.
 */
export function neuronFrequencies(tf: Tf, options: { readonly hook?: string; readonly threshold?: number; readonly minCount?: number } = {}): Stage<Activations, NeuronFreqs> {
  const name = 'circuits/neuron-frequencies';
  const threshold = options.threshold ?? 0.85;
  const minCount = options.minCount ?? 5;
  return defineStage({
    name,
    version: '1',
    options: { ...options },
    input: ActivationsSchema,
    output: NeuronFreqsSchema,
    apply: (src: Observable<Table<Activations>>) =>
      src.pipe(
        toArray(),
        map((tables) => {
          const act = activationMatrix(tables, options.hook ?? MLP_POST, { lastPosition: true, requireGrid: true, stage: name });
          const n = act.shape.reduce((a, b) => a * b, 1);
          const nf = neuronFrequencyFve(tf, act.data, act.config.p, n);
          const K = (act.config.p - 1) / 2;
          const fveRows = Array.from({ length: n }, (_, i) => nf.fve.subarray(i * K, (i + 1) * K));
          return tableOf(
            NeuronFreqsSchema,
            [
              int32(Array.from({ length: n }, (_, i) => i)),
              int32(nf.freq),
              float64(nf.maxFve),
              float64(nf.energy),
              bool(Array.from(nf.alive, (x) => x === 1)),
              bool(Array.from({ length: n }, (_, i) => nf.alive[i] === 1 && (nf.maxFve[i] ?? 0) >= threshold)),
              float64List(fveRows),
            ],
            configMeta(act.config, { [NEURON_THRESHOLD_KEY]: String(threshold), [NEURON_MIN_COUNT_KEY]: String(minCount) }),
          );
        }),
      ),
  });
}

/** Metadata key of the key-frequency table: the gap ratio of the embedding cut. */
export const EMBED_GAP_RATIO_KEY = 'bitlens.embed_gap_ratio';

/**
 * Key frequencies by two methods: `embed` (every frequency, score = embedding Fourier norm, keys by `rule`) and
 * `neurons` (frequencies that are some clustered neuron's argmax, score = clustered count, key when >= the neuron
 * table's min count).
 */
export function keyFrequencies(options: { readonly rule?: KeyFrequencyRule; readonly column?: WeightsColumn } = {}): JoinStage<{ weights: Weights; neurons: NeuronFreqs }, KeyFreqs> {
  const name = 'circuits/key-frequencies';
  return defineJoin({
    name,
    version: '1',
    options: { ...options },
    inputs: { weights: WeightsSchema, neurons: NeuronFreqsSchema },
    output: KeyFreqsSchema,
    apply: ({ weights, neurons }) =>
      forkJoin({ w: weights.pipe(toArray()), n: neurons.pipe(toArray()) }).pipe(
        map(({ w, n }) => {
          const m = loadModel(only(w, name, 'weights'), options.column ?? 'effective', name);
          const nt = only(n, name, 'neurons');
          const spec = embeddingSpectrum(tensorOf(m, 'embed.W_E', name).data, m.config.p, m.config.dModel);
          const kf = keyFrequenciesFromNorms(spec.freqNorms, options.rule ?? DEFAULT_KEY_RULE);
          const minCount = Number(nt.schema.metadata.get(NEURON_MIN_COUNT_KEY) ?? '5');
          const counts = new Map<number, number>();
          const freqs = numbers(nt, 'freq');
          booleans(nt, 'clustered').forEach((c, i) => {
            if (c) counts.set(freqs[i] ?? 0, (counts.get(freqs[i] ?? 0) ?? 0) + 1);
          });
          const method: string[] = [];
          const freq: number[] = [];
          const score: number[] = [];
          const isKey: boolean[] = [];
          spec.freqNorms.forEach((v, i) => {
            method.push('embed');
            freq.push(i + 1);
            score.push(v);
            isKey.push(kf.keys.includes(i + 1));
          });
          for (const [k, c] of [...counts.entries()].sort((x, y) => x[0] - y[0])) {
            method.push('neurons');
            freq.push(k);
            score.push(c);
            isKey.push(c >= minCount);
          }
          return tableOf(KeyFreqsSchema, [utf8(method), int32(freq), float64(score), bool(isKey)], configMeta(m.config, { [EMBED_GAP_RATIO_KEY]: String(kf.gapRatio) }));
        }),
      ),
  });
}

/** Key frequencies of one method from a key-frequency table. */
export function keysOf(table: Table, method: 'embed' | 'neurons'): number[] {
  const ms = strings(table, 'method');
  const fs = numbers(table, 'freq');
  const ks = booleans(table, 'is_key');
  return fs.filter((_, i) => ms[i] === method && ks[i] === true).sort((x, y) => x - y);
}

/**
 * Labels and train mask over the p^2 grid rows (a * p + b) from dataset tables; INVALID_CONFIG naming `p` when the
 * dataset's inputs do not fit the model's p or do not cover all p^2 pairs, naming `label` for out-of-range labels.
 */
export function datasetLabels(dataset: readonly Table[], config: ModelConfig, stage: string): { mask: boolean[]; hasSplit: boolean; labels: Int32Array } {
  const p = config.p;
  const n = p * p;
  const mask = new Array<boolean>(n).fill(false);
  const labels = new Int32Array(n).fill(-1);
  let rows = 0;
  for (const t of dataset) {
    const a = numbers(t, 'a');
    const b = numbers(t, 'b');
    const l = numbers(t, 'label');
    const tr = booleans(t, 'train');
    for (let i = 0; i < t.numRows; i++) {
      const ai = a[i] ?? -1;
      const bi = b[i] ?? -1;
      if (ai < 0 || bi < 0 || ai >= p || bi >= p) {
        throw new BitlensError('INVALID_CONFIG', { stage, field: 'p', expected: `dataset inputs in 0..${p - 1} (the model's p = ${p})`, found: `(${ai}, ${bi})` });
      }
      const li = l[i] ?? -1;
      if (li < 0 || li >= config.dVocabOut) throw new BitlensError('INVALID_CONFIG', { stage, field: 'label', expected: `labels in 0..${config.dVocabOut - 1}`, found: String(li) });
      mask[ai * p + bi] = tr[i] === true;
      labels[ai * p + bi] = li;
      rows++;
    }
  }
  if (rows !== n || labels.some((x) => x < 0)) {
    throw new BitlensError('INVALID_CONFIG', { stage, field: 'p', expected: `a dataset of all ${n} pairs (p = ${p})`, found: `${rows} rows` });
  }
  return { mask, hasSplit: mask.some((x) => x), labels };
}

/**
 * Full, restricted and excluded loss (SCIENCE §2.4-2.5) from the last-position logits in the activation tables
 * (hook `logits`), with the key frequencies of `keys` ('embed' default, 'neurons', or a list) and the dataset's labels
 * and split. Excluded loss is on train rows when the dataset has a split, else on all rows; restricted loss on all.
 * Rows: full on all/train/test, restricted and excluded with all keys, then one key at a time.
 */
export function frequencyLossesStage(options: { readonly keys?: 'embed' | 'neurons' | readonly number[] } = {}): JoinStage<{ keys: KeyFreqs; activations: Activations; dataset: Grid }, Losses> {
  const name = 'circuits/frequency-losses';
  return defineJoin({
    name,
    version: '1',
    options: { ...options },
    inputs: { keys: KeyFreqsSchema, activations: ActivationsSchema, dataset: GridSchema },
    output: LossesSchema,
    apply: ({ keys, activations: acts, dataset }) =>
      forkJoin({ k: keys.pipe(toArray()), a: acts.pipe(toArray()), d: dataset.pipe(toArray()) }).pipe(
        map(({ k, a, d }) => {
          const logits = activationMatrix(a, 'logits', { lastPosition: true, requireGrid: true, stage: name });
          const p = logits.config.p;
          const { mask, hasSplit, labels } = datasetLabels(d, logits.config, name);
          const kt = only(k, name, 'keys');
          const keyset = Array.isArray(options.keys) ? [...(options.keys as readonly number[])] : keysOf(kt, options.keys === 'neurons' ? 'neurons' : 'embed');
          const test = mask.map((x) => !x);
          const fl = frequencyLosses(logits.data, labels, p, keyset, hasSplit ? { excludedOn: mask } : {});
          const rows: { variant: string; keys: number[]; subset: string; r: LossAccuracy }[] = [{ variant: 'full', keys: [], subset: 'all', r: fl.full }];
          if (hasSplit) {
            rows.push({ variant: 'full', keys: [], subset: 'train', r: crossEntropy(logits.data, labels, p, mask) });
            rows.push({ variant: 'full', keys: [], subset: 'test', r: crossEntropy(logits.data, labels, p, test) });
          }
          const exSubset = hasSplit ? 'train' : 'all';
          rows.push({ variant: 'restricted', keys: keyset, subset: 'all', r: fl.restricted }, { variant: 'excluded', keys: keyset, subset: exSubset, r: fl.excluded });
          for (const pk of fl.perKey) rows.push({ variant: 'restricted', keys: [pk.k], subset: 'all', r: pk.restricted }, { variant: 'excluded', keys: [pk.k], subset: exSubset, r: pk.excluded });
          return tableOf(
            LossesSchema,
            [utf8(rows.map((r) => r.variant)), int32List(rows.map((r) => r.keys)), utf8(rows.map((r) => r.subset)), float64(rows.map((r) => r.r.loss)), float64(rows.map((r) => r.r.accuracy)), int32(rows.map((r) => r.r.count))],
            configMeta(logits.config),
          );
        }),
      ),
  });
}

/**
 * Clock vs pizza metrics (SCIENCE §3): gradient symmetricity (through the model, seeded triples), distance
 * irrelevance (from the logits in the activation tables) and circularity (from W_E).
 */
export function clockPizza(tf: Tf, options: { readonly samples?: number; readonly seed?: number; readonly task?: Task; readonly column?: WeightsColumn } = {}): JoinStage<{ weights: Weights; activations: Activations }, ClockPizza> {
  const name = 'circuits/clock-pizza';
  const samples = options.samples ?? 100;
  const seed = options.seed ?? 42;
  return defineJoin({
    name,
    version: '1',
    options: { ...options },
    inputs: { weights: WeightsSchema, activations: ActivationsSchema },
    output: ClockPizzaSchema,
    apply: ({ weights, activations: acts }) =>
      forkJoin({ w: weights.pipe(toArray()), a: acts.pipe(toArray()) }).pipe(
        map(({ w, a }) => {
          const m = loadModel(only(w, name, 'weights'), options.column ?? 'effective', name);
          const logits = activationMatrix(a, 'logits', { lastPosition: true, requireGrid: true, stage: name });
          const p = m.config.p;
          const labels = inputGrid(p, options.task ?? 'add').labels;
          const gs = gradientSymmetricity(tf, m, { samples, seed });
          const di = distanceIrrelevance(correctLogits(logits.data, labels, m.config.dVocabOut), p);
          const ci = circularity(tensorOf(m, 'embed.W_E', name).data, p, m.config.dModel);
          return tableOf(ClockPizzaSchema, [float64([gs]), float64([di]), float64([ci]), int32([samples]), int32([seed])], configMeta(m.config));
        }),
      ),
  });
}

/**
 * Yip's quadrature view (SCIENCE §5) per frequency cluster of clustered neurons: fits each neuron's input wave from
 * the MLP pre-activations (hook_pre, last position) and its output wave from W_L, then the quadrature error of the
 * cluster's phases against the closed form.
 */
export function quadrature(options: { readonly grid?: number; readonly column?: WeightsColumn } = {}): JoinStage<{ weights: Weights; activations: Activations; neurons: NeuronFreqs }, Quadrature> {
  const name = 'circuits/quadrature';
  return defineJoin({
    name,
    version: '1',
    options: { ...options },
    inputs: { weights: WeightsSchema, activations: ActivationsSchema, neurons: NeuronFreqsSchema },
    output: QuadratureSchema,
    apply: ({ weights, activations: acts, neurons }) =>
      forkJoin({ w: weights.pipe(toArray()), a: acts.pipe(toArray()), n: neurons.pipe(toArray()) }).pipe(
        map(({ w, a, n }) => {
          const m = loadModel(only(w, name, 'weights'), options.column ?? 'effective', name);
          const c = m.config;
          const pre = activationMatrix(a, MLP_PRE, { lastPosition: true, requireGrid: true, stage: name });
          const nt = only(n, name, 'neurons');
          const freqs = Int32Array.from(numbers(nt, 'freq'), (k) => (k === 0 ? 1 : k));
          const clustered = booleans(nt, 'clustered');
          const wl = Float32Array.from(neuronLogitMap(tensorOf(m, 'blocks.0.mlp.W_out', name).data, tensorOf(m, 'unembed.W_U', name).data, c.dMlp, c.dModel, c.dVocabOut));
          const waves = fitNeuronWaves(pre.data, wl, c.p, c.dMlp, freqs).filter((x) => clustered[x.neuron] === true);
          const q = clusterQuadrature(waves, options.grid ?? 32);
          const fit = q.map((x) => {
            const ws = waves.filter((wv) => wv.freq === x.freq);
            return ws.reduce((s, wv) => s + wv.fitInput, 0) / Math.max(1, ws.length);
          });
          return tableOf(QuadratureSchema, [int32(q.map((x) => x.freq)), int32(q.map((x) => x.neurons)), float64(q.map((x) => x.maxError)), float64(q.map((x) => x.meanError)), float64(fit)], configMeta(c));
        }),
      ),
  });
}

function targetName(t: AblationTarget): string {
  return t.kind === 'head' ? `head.${t.head}` : t.kind === 'neuron' ? `neuron.${t.neuron}` : `fourier.${t.k}@${t.hook}`;
}

/**
 * Ablation of heads, neurons and Fourier directions (zero / mean / resample) with Δloss and Δaccuracy over all p^2
 * inputs. Default targets: every attention head. One row per (target, mode).
 */
export function ablations(tf: Tf, options: { readonly targets?: readonly AblationTarget[]; readonly modes?: readonly AblationMode[]; readonly task?: Task; readonly seed?: number; readonly column?: WeightsColumn } = {}): Stage<Weights, Ablations> {
  const name = 'circuits/ablations';
  return defineStage({
    name,
    version: '1',
    options: { ...options },
    input: WeightsSchema,
    output: AblationsSchema,
    apply: map((t: Table<Weights>) => {
      const m = loadModel(t, options.column ?? 'effective', name);
      const labels = inputGrid(m.config.p, options.task ?? 'add').labels;
      const targets = options.targets ?? Array.from({ length: m.config.nHeads }, (_, h): AblationTarget => ({ kind: 'head', head: h }));
      const modes = options.modes ?? ['zero', 'mean', 'resample'];
      const base = modes.length === 0 || targets.length === 0 ? undefined : crossEntropy(gridLogits(tf, m), labels, m.config.dVocabOut);
      const res = targets.flatMap((tg) => modes.map((md) => ablate(tf, m, labels, tg, md, { seed: options.seed ?? 0, ...(base === undefined ? {} : { base }) })));
      return tableOf(
        AblationsSchema,
        [
          utf8(res.map((r) => targetName(r.target))),
          utf8(res.map((r) => r.mode)),
          float64(res.map((r) => r.baseLoss)),
          float64(res.map((r) => r.loss)),
          float64(res.map((r) => r.deltaLoss)),
          float64(res.map((r) => r.baseAccuracy)),
          float64(res.map((r) => r.accuracy)),
          float64(res.map((r) => r.deltaAccuracy)),
        ],
        configMeta(m.config),
      );
    }),
  });
}

/**
 * Direct logit attribution over all p^2 inputs from activation tables holding (last position) `hook_embed`,
 * `blocks.0.attn.hook_z`, `blocks.0.mlp.hook_post`, `logits` (and `ln_final.hook_scale` for li; see `dlaHooks`): per
 * component, mean contribution to the correct logit and mean |contribution| over all logits. No forward pass.
 */
export function attribution(tf: Tf, options: { readonly task?: Task; readonly column?: WeightsColumn } = {}): JoinStage<{ weights: Weights; activations: Activations }, Attribution> {
  const name = 'circuits/attribution';
  return defineJoin({
    name,
    version: '2',
    options: { ...options },
    inputs: { weights: WeightsSchema, activations: ActivationsSchema },
    output: AttributionSchema,
    apply: ({ weights, activations: actsIn }) =>
      forkJoin({ w: weights.pipe(toArray()), a: actsIn.pipe(toArray()) }).pipe(
        map(({ w, a }) => {
          const m = loadModel(only(w, name, 'weights'), options.column ?? 'effective', name);
          const labels = inputGrid(m.config.p, options.task ?? 'add').labels;
          const acts = new Map(dlaHooks(m.config).map((h) => [h, activationMatrix(a, h, { lastPosition: true, requireGrid: true, stage: name })]));
          const logits = activationMatrix(a, 'logits', { lastPosition: true, requireGrid: true, stage: name });
          const dla = directLogitAttributionFrom(tf, m, acts, logits.data, logits.rows);
          const o = m.config.dVocabOut;
          const n = dla.rows.length;
          const meanCorrect = dla.contributions.map((cb) => {
            let s = 0;
            for (let i = 0; i < n; i++) s += cb[i * o + (labels[dla.rows[i] ?? 0] ?? 0)] ?? 0;
            return s / n;
          });
          const meanAbs = dla.contributions.map((cb) => cb.reduce((s, v) => s + Math.abs(v), 0) / cb.length);
          return tableOf(AttributionSchema, [utf8(dla.components), float64(meanCorrect), float64(meanAbs), bool(dla.components.map(() => dla.exact))], configMeta(m.config));
        }),
      ),
  });
}

/** Activation patching between clean and corrupted inputs at one hook (optionally one head / neuron slice). */
export function patching(
  tf: Tf,
  options: { readonly pairs: readonly { readonly clean: readonly [number, number]; readonly corrupt: readonly [number, number] }[]; readonly hook: string; readonly slice?: AblationTarget; readonly task?: Task; readonly column?: WeightsColumn },
): Stage<Weights, Patching> {
  const name = 'circuits/patching';
  return defineStage({
    name,
    version: '1',
    options: { ...options },
    input: WeightsSchema,
    output: PatchingSchema,
    apply: map((t: Table<Weights>) => {
      const m = loadModel(t, options.column ?? 'effective', name);
      const p = m.config.p;
      const labels = inputGrid(p, options.task ?? 'add').labels;
      const res = patchActivation(tf, m, options.pairs, options.hook, (a, b) => labels[a * p + b] ?? 0, options.slice);
      return tableOf(
        PatchingSchema,
        [
          int32(res.map((r) => r.clean[0])),
          int32(res.map((r) => r.clean[1])),
          int32(res.map((r) => r.corrupt[0])),
          int32(res.map((r) => r.corrupt[1])),
          utf8(res.map((r) => r.hook)),
          float64(res.map((r) => r.cleanDiff)),
          float64(res.map((r) => r.corruptDiff)),
          float64(res.map((r) => r.patchedDiff)),
          float64(res.map((r) => r.restored)),
        ],
        configMeta(m.config),
      );
    }),
  });
}

/**
 * The mechanism numbers of one model in one row (input of {@link compareMechanisms}): key frequencies by both methods,
 * neuron clustering, losses, FFS/FCR, Ginis and clock/pizza metrics.
 */
export function mechanismSummary(options: { readonly model: string; readonly sparsity?: SparsityThreshold }): JoinStage<
  { norms: FourierNorms; neurons: NeuronFreqs; keys: KeyFreqs; losses: Losses; clockPizza: ClockPizza },
  Mechanism
> {
  const name = 'circuits/mechanism-summary';
  return defineJoin({
    name,
    version: '1',
    options: { ...options },
    inputs: { norms: FourierNormsSchema, neurons: NeuronFreqsSchema, keys: KeyFreqsSchema, losses: LossesSchema, clockPizza: ClockPizzaSchema },
    output: MechanismSchema,
    apply: (ins) =>
      forkJoin({ f: ins.norms.pipe(toArray()), n: ins.neurons.pipe(toArray()), k: ins.keys.pipe(toArray()), l: ins.losses.pipe(toArray()), c: ins.clockPizza.pipe(toArray()) }).pipe(
        map(({ f, n, k, l, c }) => {
          const ft = only(f, name, 'norms');
          const nt = only(n, name, 'neurons');
          const kt = only(k, name, 'keys');
          const lt = only(l, name, 'losses');
          const ct = only(c, name, 'clockPizza');
          const config = configFromTable(kt);
          const matrices = strings(ft, 'matrix');
          const norms = numbers(ft, 'norm');
          const weNorms = Float64Array.from(norms.filter((_, i) => matrices[i] === 'W_E'));
          const gini = (mname: string): number => numbers(ft, 'gini')[matrices.indexOf(mname)] ?? Number.NaN;
          const sp = fourierSparsity({ rowNorms: weNorms, constNorm: weNorms[0] ?? 0, freqNorms: new Float64Array(0), gini: gini('W_E') }, options.sparsity);
          const alive = booleans(nt, 'alive');
          const clustered = booleans(nt, 'clustered');
          const energy = numbers(nt, 'energy');
          const neuronKeys = keysOf(kt, 'neurons');
          const K = (config.p - 1) / 2;
          let explained = 0;
          let total = 0;
          for (let i = 0; i < nt.numRows; i++) {
            if (!alive[i]) continue;
            const fve = listRow(nt, 'fve', i);
            total += energy[i] ?? 0;
            for (const kk of neuronKeys) if (kk <= K) explained += (energy[i] ?? 0) * (fve[kk - 1] ?? 0);
          }
          const nAlive = alive.filter(Boolean).length;
          const variants = strings(lt, 'variant');
          const subsets = strings(lt, 'subset');
          const losses = numbers(lt, 'loss');
          const accs = numbers(lt, 'accuracy');
          const keyLens = Array.from({ length: lt.numRows }, (_, i) => listRow(lt, 'keys', i).length);
          const allKeysLen = Math.max(0, ...keyLens);
          const find = (v: string, s?: string): number => variants.findIndex((x, i) => x === v && (s === undefined || subsets[i] === s) && (v === 'full' || keyLens[i] === allKeysLen));
          const fullI = find('full', 'all');
          return tableOf(
            MechanismSchema,
            [
              utf8([options.model]),
              int32([config.p]),
              utf8([config.preset]),
              int32List([keysOf(kt, 'embed')]),
              int32List([neuronKeys]),
              float64([Number(kt.schema.metadata.get(EMBED_GAP_RATIO_KEY) ?? 'NaN')]),
              float64([nAlive === 0 ? 0 : clustered.filter(Boolean).length / nAlive]),
              float64([total === 0 ? 0 : explained / total]),
              float64([losses[fullI] ?? Number.NaN]),
              float64([accs[fullI] ?? Number.NaN]),
              float64([losses[find('restricted')] ?? Number.NaN]),
              float64([losses[find('excluded')] ?? Number.NaN]),
              float64([sp.ffs]),
              float64([sp.fcr]),
              float64([sp.eps]),
              float64([gini('W_E')]),
              float64([gini('W_L')]),
              float64(numbers(ct, 'gradient_symmetricity').slice(0, 1)),
              float64(numbers(ct, 'distance_irrelevance').slice(0, 1)),
              float64(numbers(ct, 'circularity').slice(0, 1)),
            ],
            configMeta(config),
          );
        }),
      ),
  });
}
