import type { Tf } from '@bitlens/engine';
import { type JoinStage, defineJoin } from '@bitlens/core';
import { type Weights, WeightsSchema } from '@bitlens/model';
import { forkJoin, map, toArray } from 'rxjs';
import { activationMatrix } from '../activations.js';
import { gradientSymmetricity } from '../attribution.js';
import { circularity, correctLogits, distanceIrrelevance } from '../clock-pizza.js';
import { float64, int32, tableOf } from '../internal/arrow.js';
import { type WeightsColumn, loadModel, tensorOf } from '../model.js';
import { type Activations, ActivationsSchema, type ClockPizza, ClockPizzaSchema } from '../schemas.js';
import { type Task, inputGrid } from '../task.js';
import { configMeta, only } from './internal.js';

/**
 * Clock vs pizza metrics (docs/science.md#clock-vs-pizza): gradient symmetricity (through the model, seeded triples), distance
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
