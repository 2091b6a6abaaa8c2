import type { Tf } from '@bitlens/engine';
import { type JoinStage, defineJoin } from '@bitlens/core';
import { type Weights, WeightsSchema } from '@bitlens/model';
import { forkJoin, map, toArray } from 'rxjs';
import { activationMatrix } from '../activations.js';
import { gradientSymmetricity } from '../attribution.js';
import { circularity, correctLogits, distanceIrrelevanceIn } from '../clock-pizza.js';
import { float64, int32, tableOf, utf8 } from '../internal/arrow.js';
import { type WeightsColumn, loadModel, tensorOf } from '../model.js';
import { type Activations, ActivationsSchema, type ClockPizza, ClockPizzaSchema } from '../schemas.js';
import { taskBasis } from '../task-basis.js';
import { type Task, inputGrid, resolveTask } from '../task.js';
import { configMeta, only } from './internal.js';

/**
 * Clock vs pizza metrics (docs/science.md#clock-vs-pizza): gradient symmetricity (through the model, seeded triples;
 * a property of the model, the same for every task), distance irrelevance in the task's basis (from the logits in the
 * activation tables; s = the label's combination, d = the other one: a + b / a − b for add, a − b / a + b for sub,
 * αa ± βb for linear forms, the same in discrete-log coordinates for mul and div; NaN with `distance_basis` = `n/a`
 * for a task without structure) and circularity (from W_E).
 */
export function clockPizza(tf: Tf, options: { readonly samples?: number; readonly seed?: number; readonly task?: Task; readonly column?: WeightsColumn } = {}): JoinStage<{ weights: Weights; activations: Activations }, ClockPizza> {
  const name = 'circuits/clock-pizza';
  const samples = options.samples ?? 100;
  const seed = options.seed ?? 42;
  const task = resolveTask(options.task ?? 'add', name);
  return defineJoin({
    name,
    version: '2',
    options: { ...options },
    inputs: { weights: WeightsSchema, activations: ActivationsSchema },
    output: ClockPizzaSchema,
    apply: ({ weights, activations: acts }) =>
      forkJoin({ w: weights.pipe(toArray()), a: acts.pipe(toArray()) }).pipe(
        map(({ w, a }) => {
          const m = loadModel(only(w, name, 'weights'), options.column ?? 'effective', name);
          const logits = activationMatrix(a, 'logits', { lastPosition: true, requireGrid: true, stage: name });
          const p = m.config.p;
          const basis = taskBasis(task, p);
          const gs = gradientSymmetricity(tf, m, { samples, seed });
          const di = basis === undefined ? Number.NaN : distanceIrrelevanceIn(correctLogits(logits.data, inputGrid(p, task).labels, m.config.dVocabOut), basis);
          const ci = circularity(tensorOf(m, 'embed.W_E', name).data, p, m.config.dModel);
          return tableOf(ClockPizzaSchema, [float64([gs]), float64([di]), float64([ci]), int32([samples]), int32([seed]), utf8([basis?.description ?? 'n/a'])], configMeta(m.config));
        }),
      ),
  });
}
