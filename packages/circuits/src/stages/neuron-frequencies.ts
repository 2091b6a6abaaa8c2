import type { Tf } from '@bitlens/engine';
import { type Stage, defineStage } from '@bitlens/core';
import type { HookName } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { type Observable, map, toArray } from 'rxjs';
import { activationMatrix } from '../activations.js';
import { bool, float64, float64List, int32, tableOf } from '../internal/arrow.js';
import { neuronFrequencyFve } from '../neurons.js';
import { type Activations, ActivationsSchema, type NeuronFreqs, NeuronFreqsSchema } from '../schemas.js';
import { configMeta } from './internal.js';

const MLP_POST = 'blocks.0.mlp.hook_post';

/** Metadata key of the neuron table: the max-FVE threshold for a clustered neuron. */
export const NEURON_THRESHOLD_KEY = 'bitlens.neuron_threshold';
/** Metadata key of the neuron table: clustered neurons a frequency needs to be key. */
export const NEURON_MIN_COUNT_KEY = 'bitlens.neuron_min_count';

/**
 * Neuron-frequency clustering (docs/science.md#neuron-frequencies-and-clusters) from activation tables holding `hook` (default the MLP post-activation)
 * at the last position for all p^2 inputs. Reduces the whole stream, then emits one row per neuron.
 */
export function neuronFrequencies(tf: Tf, options: { readonly hook?: HookName; readonly threshold?: number; readonly minCount?: number } = {}): Stage<Activations, NeuronFreqs> {
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
