import { type Stage, defineStage } from '@bitlens/core';
import type { Table } from 'apache-arrow';
import { type Observable, map, toArray } from 'rxjs';
import { activationMatrix } from '../activations.js';
import { attentionAsymmetry, logitAsymmetry } from '../asymmetry.js';
import { float64, int32, tableOf } from '../internal/arrow.js';
import { type Activations, ActivationsSchema, type Asymmetry, AsymmetrySchema } from '../schemas.js';
import { type Task, inputGrid, resolveTask } from '../task.js';
import { configMeta } from './internal.js';

/** The attention pattern hook the asymmetry stage reads (layer 0). */
export const PATTERN_HOOK = 'blocks.0.attn.hook_pattern';

/**
 * Operand asymmetry of a model from activation tables holding `logits` (last position) and `blocks.0.attn.hook_pattern`
 * for all p^2 inputs: {@link logitAsymmetry} and {@link attentionAsymmetry} (the `=` position's attention to a and to
 * b, compared across (a, b) and (b, a)) over the pairs whose swap is in the task's domain. Reduces the whole stream,
 * then emits one row.
 */
export function asymmetry(options: { readonly task?: Task } = {}): Stage<Activations, Asymmetry> {
  const name = 'circuits/asymmetry';
  const task = resolveTask(options.task ?? 'add', name);
  return defineStage({
    name,
    version: '1',
    options: { ...options },
    input: ActivationsSchema,
    output: AsymmetrySchema,
    apply: (src: Observable<Table<Activations>>) =>
      src.pipe(
        toArray(),
        map((tables) => {
          const logits = activationMatrix(tables, 'logits', { lastPosition: true, requireGrid: true, stage: name });
          const pattern = activationMatrix(tables, PATTERN_HOOK, { requireGrid: true, stage: name });
          const c = logits.config;
          const { valid } = inputGrid(c.p, task);
          const [heads = 0, queries = 0, keys = 0] = pattern.shape;
          let pairs = 0;
          for (let a = 0; a < c.p; a++) for (let b = 0; b < c.p; b++) if (valid[a * c.p + b] && valid[b * c.p + a]) pairs++;
          return tableOf(
            AsymmetrySchema,
            [
              float64([logitAsymmetry(logits.data, c.p, c.dVocabOut, valid)]),
              float64([attentionAsymmetry(pattern.data, c.p, heads, keys, { queries, valid })]),
              int32([pairs]),
            ],
            configMeta(c),
          );
        }),
      ),
  });
}
