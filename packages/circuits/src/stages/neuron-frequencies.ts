import type { Tf } from '@bitlens/engine';
import { type Stage, defineStage } from '@bitlens/core';
import type { HookName } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { type Observable, map, toArray } from 'rxjs';
import { activationMatrix } from '../activations.js';
import { bool, float64, float64List, int32, tableOf } from '../internal/arrow.js';
import { neuronFrequencyFve, neuronFrequencyFveIn } from '../neurons.js';
import { type Activations, ActivationsSchema, type NeuronFreqs, NeuronFreqsSchema } from '../schemas.js';
import { isPlainBasis, taskBasis } from '../task-basis.js';
import { type Task, resolveTask } from '../task.js';
import { configMeta } from './internal.js';

const MLP_POST = 'blocks.0.mlp.hook_post';

/** Metadata key of the neuron table: the max-FVE threshold for a clustered neuron. */
export const NEURON_THRESHOLD_KEY = 'bitlens.neuron_threshold';
/** Metadata key of the neuron table: clustered neurons a frequency needs to be key. */
export const NEURON_MIN_COUNT_KEY = 'bitlens.neuron_min_count';
/** Metadata key of the neuron table: the coordinates of the 2D transform (a task basis' description, or `a, b (mod p)`). */
export const NEURON_BASIS_KEY = 'bitlens.neuron_basis';
/**
 * Metadata key of the neuron table: `true` when its frequencies are those of the operands themselves over Z_p (add,
 * sub, the polynomials: coordinates ±a, ±b), `false` for re-indexed coordinates (2a + 3b, discrete logs of mul / div).
 */
export const NEURON_PLAIN_KEY = 'bitlens.neuron_plain';

/**
 * Neuron-frequency clustering (docs/science.md#neuron-frequencies-and-clusters) from activation tables holding `hook` (default the MLP post-activation)
 * at the last position for all p^2 inputs. The 2D transform runs in the task's coordinates (`neuronFrequencyFveIn`:
 * frequencies of the label's combination; discrete logs over a, b != 0 for mul and div), over (a, b) mod p for add
 * and for a task without structure. Reduces the whole stream, then emits one row per neuron.
 */
export function neuronFrequencies(tf: Tf, options: { readonly hook?: HookName; readonly threshold?: number; readonly minCount?: number; readonly task?: Task } = {}): Stage<Activations, NeuronFreqs> {
  const name = 'circuits/neuron-frequencies';
  const threshold = options.threshold ?? 0.85;
  const minCount = options.minCount ?? 5;
  const task = resolveTask(options.task ?? 'add', name);
  return defineStage({
    name,
    version: '2',
    options: { ...options },
    input: ActivationsSchema,
    output: NeuronFreqsSchema,
    apply: (src: Observable<Table<Activations>>) =>
      src.pipe(
        toArray(),
        map((tables) => {
          const act = activationMatrix(tables, options.hook ?? MLP_POST, { lastPosition: true, requireGrid: true, stage: name });
          const n = act.shape.reduce((a, b) => a * b, 1);
          const basis = taskBasis(task, act.config.p);
          const nf = basis === undefined ? neuronFrequencyFve(tf, act.data, act.config.p, n) : neuronFrequencyFveIn(tf, act.data, basis, n);
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
            configMeta(act.config, { [NEURON_THRESHOLD_KEY]: String(threshold), [NEURON_MIN_COUNT_KEY]: String(minCount), [NEURON_BASIS_KEY]: basis?.description ?? `a, b (mod ${act.config.p})`, [NEURON_PLAIN_KEY]: String(isPlainBasis(basis)) }),
          );
        }),
      ),
  });
}
