import { type JoinStage, defineJoin } from '@bitlens/core';
import { type Weights, WeightsSchema } from '@bitlens/model';
import { forkJoin, map, toArray } from 'rxjs';
import { activationMatrix } from '../activations.js';
import { booleans, float64, int32, numbers, tableOf } from '../internal/arrow.js';
import { type WeightsColumn, loadModel, tensorOf } from '../model.js';
import { clusterQuadrature, fitNeuronWaves } from '../quadrature.js';
import { type Activations, ActivationsSchema, type NeuronFreqs, NeuronFreqsSchema, type Quadrature, QuadratureSchema } from '../schemas.js';
import { neuronLogitMap } from '../spectra.js';
import { configMeta, only } from './internal.js';
import { NEURON_PLAIN_KEY } from './neuron-frequencies.js';

const MLP_PRE = 'blocks.0.mlp.hook_pre';

/**
 * Yip's quadrature view (docs/science.md#quadrature-yip) per frequency cluster of clustered neurons: fits each neuron's input wave from
 * the MLP pre-activations (hook_pre, last position) and its output wave from W_L, then the quadrature error of the
 * cluster's phases against the closed form. Empty when the neuron table was computed in re-indexed coordinates
 * (discrete logs for mul and div, α a and β b for 2a + 3b): the waves are fits over Z_p in a and b.
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
          // The waves are fitted over Z_p in a and b: neuron frequencies of re-indexed coordinates have no fit here.
          if (nt.schema.metadata.get(NEURON_PLAIN_KEY) === 'false') return tableOf(QuadratureSchema, [int32([]), int32([]), float64([]), float64([]), float64([])], configMeta(c));
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
