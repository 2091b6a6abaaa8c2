import type { Tf } from '@bitlens/engine';
import { type JoinStage, defineJoin } from '@bitlens/core';
import { type Weights, WeightsSchema } from '@bitlens/model';
import { forkJoin, map, toArray } from 'rxjs';
import { activationMatrix } from '../activations.js';
import { directLogitAttributionFrom, dlaHooks } from '../attribution.js';
import { bool, float64, tableOf, utf8 } from '../internal/arrow.js';
import { type WeightsColumn, loadModel } from '../model.js';
import { type Activations, ActivationsSchema, type Attribution, AttributionSchema } from '../schemas.js';
import { type Task, inputGrid, resolveTask } from '../task.js';
import { configMeta, only } from './internal.js';

/**
 * Direct logit attribution over all p^2 inputs from activation tables holding (last position) `hook_embed`,
 * `blocks.0.attn.hook_z`, `blocks.0.mlp.hook_post`, `logits` (and `ln_final.hook_scale` for li; see `dlaHooks`): per
 * component, mean contribution to the correct logit and mean |contribution| over all logits. No forward pass.
 */
export function attribution(tf: Tf, options: { readonly task?: Task; readonly column?: WeightsColumn } = {}): JoinStage<{ weights: Weights; activations: Activations }, Attribution> {
  const name = 'circuits/attribution';
  const task = resolveTask(options.task ?? 'add', name);
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
          const { labels, valid, nValid } = inputGrid(m.config.p, task);
          const acts = new Map(dlaHooks(m.config).map((h) => [h, activationMatrix(a, h, { lastPosition: true, requireGrid: true, stage: name })]));
          const logits = activationMatrix(a, 'logits', { lastPosition: true, requireGrid: true, stage: name });
          const dla = directLogitAttributionFrom(tf, m, acts, logits.data, logits.rows);
          const o = m.config.dVocabOut;
          const n = dla.rows.length;
          // The correct logit exists on the task's valid pairs only (div: b != 0).
          const meanCorrect = dla.contributions.map((cb) => {
            let s = 0;
            for (let i = 0; i < n; i++) {
              const r = dla.rows[i] ?? 0;
              if (valid[r] === 1) s += cb[i * o + (labels[r] ?? 0)] ?? 0;
            }
            return s / nValid;
          });
          const meanAbs = dla.contributions.map((cb) => cb.reduce((s, v) => s + Math.abs(v), 0) / cb.length);
          return tableOf(AttributionSchema, [utf8(dla.components), float64(meanCorrect), float64(meanAbs), bool(dla.components.map(() => dla.exact))], configMeta(m.config));
        }),
      ),
  });
}
