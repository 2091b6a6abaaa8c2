import { type JoinStage, defineJoin } from '@bitlens/core';
import { type ModelConfig, configFromTable } from '@bitlens/model';
import type { Data, Table } from 'apache-arrow';
import { forkJoin, map, toArray } from 'rxjs';
import { bool, booleans, float64, int32, int32List, listRow, numbers, strings, tableOf, utf8 } from '../internal/arrow.js';
import {
  type Asymmetry,
  AsymmetrySchema,
  type ClockPizza,
  ClockPizzaSchema,
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
} from '../schemas.js';
import { DEFAULT_SPARSITY, type SparsityThreshold, describeSparsity, fourierSparsity } from '../spectra.js';
import { type Task, resolveTask } from '../task.js';
import { LOSS_BASIS_KEY } from './frequency-losses.js';
import { configMeta, only } from './internal.js';
import { EMBED_GAP_RATIO_KEY, keysOf } from './key-frequencies.js';

type Inputs = { norms: FourierNorms; neurons: NeuronFreqs; keys: KeyFreqs; losses: Losses; clockPizza: ClockPizza; asymmetry: Asymmetry };

/** Share of clustered neurons and the energy-weighted share of MLP variance in the neuron key frequencies. */
function neuronColumns(nt: Table, neuronKeys: readonly number[], config: ModelConfig): Data[] {
  const alive = booleans(nt, 'alive');
  const clustered = booleans(nt, 'clustered');
  const energy = numbers(nt, 'energy');
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
  return [float64([nAlive === 0 ? 0 : clustered.filter(Boolean).length / nAlive]), float64([total === 0 ? 0 : explained / total])];
}

/** The loss rows the mechanism row reads: full (all valid pairs), restricted / excluded with all keys, the basis' full loss. */
function lossNumbers(lt: Table) {
  const variants = strings(lt, 'variant');
  const subsets = strings(lt, 'subset');
  const losses = numbers(lt, 'loss');
  const accs = numbers(lt, 'accuracy');
  const counts = numbers(lt, 'count');
  const keyLens = Array.from({ length: lt.numRows }, (_, i) => listRow(lt, 'keys', i).length);
  const allKeysLen = Math.max(0, ...keyLens.filter((_, i) => variants[i] === 'restricted'));
  const find = (v: string, s?: string): number => variants.findIndex((x, i) => x === v && (s === undefined || subsets[i] === s) && (v === 'full' || keyLens[i] === allKeysLen));
  const full = find('full', 'all');
  const restricted = find('restricted');
  const basisFull = restricted < 0 ? -1 : find('full', subsets[restricted]);
  const at = (i: number, xs: number[]): number => (i < 0 ? Number.NaN : (xs[i] ?? Number.NaN));
  return {
    full: at(full, losses),
    accuracy: at(full, accs),
    restricted: at(restricted, losses),
    excluded: at(find('excluded'), losses),
    basisFull: at(basisFull, losses),
    rows: restricted < 0 ? 0 : (counts[restricted] ?? 0),
    keys: restricted < 0 ? [] : listRow(lt, 'keys', restricted),
  };
}

/** The losses table's record of its directions (written by the frequency-losses stage). */
function lossBasis(lt: Table): { readonly applicable: boolean; readonly description: string; readonly keyMethod: string } {
  const raw = lt.schema.metadata.get(LOSS_BASIS_KEY);
  if (raw === undefined) return { applicable: true, description: 'a+b', keyMethod: 'embed' };
  return JSON.parse(raw) as { applicable: boolean; description: string; keyMethod: string };
}

/** Builds the one mechanism row. */
function mechanismRow(model: string, task: Task, sparsity: SparsityThreshold, t: { [K in keyof Inputs]: Table }) {
  const config = configFromTable(t.keys);
  const matrices = strings(t.norms, 'matrix');
  const weNorms = Float64Array.from(numbers(t.norms, 'norm').filter((_, i) => matrices[i] === 'W_E'));
  const gini = (mname: string): number => numbers(t.norms, 'gini')[matrices.indexOf(mname)] ?? Number.NaN;
  const sp = fourierSparsity({ rowNorms: weNorms, constNorm: weNorms[0] ?? 0, freqNorms: new Float64Array(0), gini: gini('W_E') }, sparsity);
  const neuronKeys = keysOf(t.keys, 'neurons');
  const l = lossNumbers(t.losses);
  const basis = lossBasis(t.losses);
  const structure = resolveTask(task, 'circuits/mechanism-summary').structure?.kind ?? 'none';
  const first = (tb: Table, c: string): Data => float64(numbers(tb, c).slice(0, 1));
  return tableOf(
    MechanismSchema,
    [
      utf8([model]),
      int32([config.p]),
      utf8([config.preset]),
      int32List([keysOf(t.keys, 'embed')]),
      int32List([neuronKeys]),
      float64([Number(t.keys.schema.metadata.get(EMBED_GAP_RATIO_KEY) ?? 'NaN')]),
      ...neuronColumns(t.neurons, neuronKeys, config),
      float64([l.full]),
      float64([l.accuracy]),
      float64([l.restricted]),
      float64([l.excluded]),
      float64([sp.ffs]),
      float64([sp.fcr]),
      float64([sp.eps]),
      float64([gini('W_E')]),
      float64([gini('W_L')]),
      first(t.clockPizza, 'gradient_symmetricity'),
      first(t.clockPizza, 'distance_irrelevance'),
      first(t.clockPizza, 'circularity'),
      utf8([task]),
      utf8([structure]),
      bool([basis.applicable]),
      utf8([basis.description]),
      utf8([basis.keyMethod]),
      int32List([l.keys]),
      int32([l.rows]),
      float64([l.basisFull]),
      int32List([keysOf(t.keys, 'embed-log')]),
      first(t.asymmetry, 'logit_asymmetry'),
      first(t.asymmetry, 'attention_asymmetry'),
      utf8([describeSparsity(sparsity)]),
      float64([sp.cosShare]),
    ],
    configMeta(config),
  );
}

/**
 * The mechanism numbers of one model in one row (input of {@link compareMechanisms}; columns in `MechanismSchema`):
 * key frequencies by every method, neuron clustering, losses in the task's basis (NaN and `losses_applicable: false`
 * for a task without structure), FFS/FCR with the eps rule, Ginis, clock/pizza metrics and operand asymmetry.
 */
export function mechanismSummary(options: { readonly model: string; readonly task?: Task; readonly sparsity?: SparsityThreshold }): JoinStage<Inputs, Mechanism> {
  const name = 'circuits/mechanism-summary';
  const task = options.task ?? 'add';
  resolveTask(task, name); // an unknown task fails here, before any work
  const sparsity = options.sparsity ?? DEFAULT_SPARSITY;
  return defineJoin({
    name,
    version: '3',
    options: { ...options },
    inputs: { norms: FourierNormsSchema, neurons: NeuronFreqsSchema, keys: KeyFreqsSchema, losses: LossesSchema, clockPizza: ClockPizzaSchema, asymmetry: AsymmetrySchema },
    output: MechanismSchema,
    apply: (ins) =>
      forkJoin({ f: ins.norms.pipe(toArray()), n: ins.neurons.pipe(toArray()), k: ins.keys.pipe(toArray()), l: ins.losses.pipe(toArray()), c: ins.clockPizza.pipe(toArray()), s: ins.asymmetry.pipe(toArray()) }).pipe(
        map(({ f, n, k, l, c, s }) =>
          mechanismRow(options.model, task, sparsity, {
            norms: only(f, name, 'norms'),
            neurons: only(n, name, 'neurons'),
            keys: only(k, name, 'keys'),
            losses: only(l, name, 'losses'),
            clockPizza: only(c, name, 'clockPizza'),
            asymmetry: only(s, name, 'asymmetry'),
          }),
        ),
      ),
  });
}
