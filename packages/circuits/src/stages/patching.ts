import type { Tf } from '@bitlens/engine';
import { BitlensError, type Stage, defineStage } from '@bitlens/core';
import { type HookName, type Weights, WeightsSchema } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { map } from 'rxjs';
import { float64, int32, tableOf, utf8 } from '../internal/arrow.js';
import { type AblationTarget, patchActivation } from '../interventions.js';
import { type WeightsColumn, loadModel } from '../model.js';
import { type Patching, PatchingSchema } from '../schemas.js';
import { type Task, inputGrid, resolveTask } from '../task.js';
import { configMeta } from './internal.js';

/** Activation patching between clean and corrupted inputs at one hook (optionally one head / neuron slice). */
export function patching(
  tf: Tf,
  options: { readonly pairs: readonly { readonly clean: readonly [number, number]; readonly corrupt: readonly [number, number] }[]; readonly hook: HookName; readonly slice?: AblationTarget; readonly task?: Task; readonly column?: WeightsColumn },
): Stage<Weights, Patching> {
  const name = 'circuits/patching';
  const task = resolveTask(options.task ?? 'add', name);
  return defineStage({
    name,
    version: '1',
    options: { ...options },
    input: WeightsSchema,
    output: PatchingSchema,
    apply: map((t: Table<Weights>) => {
      const m = loadModel(t, options.column ?? 'effective', name);
      const p = m.config.p;
      const { labels, valid } = inputGrid(p, task);
      for (const pr of options.pairs) {
        for (const [a, b] of [pr.clean, pr.corrupt]) {
          if (a >= 0 && b >= 0 && a < p && b < p && valid[a * p + b] !== 1) {
            throw new BitlensError('INVALID_OPTION', { stage: name, field: 'pairs', expected: `pairs in ${task.name}'s domain`, found: `(${a}, ${b})` });
          }
        }
      }
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
