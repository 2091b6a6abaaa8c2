import { type JoinStage, defineJoin } from '@bitlens/core';
import { configFromTable } from '@bitlens/model';
import { forkJoin, map, toArray } from 'rxjs';
import { booleans, float64, int32, int32List, listRow, numbers, strings, tableOf, utf8 } from '../internal/arrow.js';
import {
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
import { type SparsityThreshold, fourierSparsity } from '../spectra.js';
import { configMeta, only } from './internal.js';
import { EMBED_GAP_RATIO_KEY, keysOf } from './key-frequencies.js';

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
