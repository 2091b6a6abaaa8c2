import type { Tf } from '@bitlens/engine';
import { type Stage, defineStage } from '@bitlens/core';
import { type Weights, WeightsSchema } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { map } from 'rxjs';
import { float64, tableOf, utf8 } from '../internal/arrow.js';
import { type AblationMode, type AblationTarget, ablate, unablatedLoss } from '../interventions.js';
import { type WeightsColumn, loadModel } from '../model.js';
import { type Ablations, AblationsSchema } from '../schemas.js';
import { type Task, inputGrid, resolveTask } from '../task.js';
import { configMeta } from './internal.js';

function targetName(t: AblationTarget): string {
  return t.kind === 'head' ? `head.${t.head}` : t.kind === 'neuron' ? `neuron.${t.neuron}` : `fourier.${t.k}@${t.hook}`;
}

/**
 * Ablation of heads, neurons and Fourier directions (zero / mean / resample) with Δloss and Δaccuracy over the task's
 * valid pairs (all p^2 but division's b = 0). Default targets: every attention head. One row per (target, mode).
 */
export function ablations(tf: Tf, options: { readonly targets?: readonly AblationTarget[]; readonly modes?: readonly AblationMode[]; readonly task?: Task; readonly seed?: number; readonly column?: WeightsColumn } = {}): Stage<Weights, Ablations> {
  const name = 'circuits/ablations';
  const task = resolveTask(options.task ?? 'add', name);
  return defineStage({
    name,
    version: '2', // 2: the base loss comes from the same full forward as the ablated runs
    options: { ...options },
    input: WeightsSchema,
    output: AblationsSchema,
    apply: map((t: Table<Weights>) => {
      const m = loadModel(t, options.column ?? 'effective', name);
      const { labels, valid: mask } = inputGrid(m.config.p, task);
      const targets = options.targets ?? Array.from({ length: m.config.nHeads }, (_, h): AblationTarget => ({ kind: 'head', head: h }));
      const modes = options.modes ?? ['zero', 'mean', 'resample'];
      const base = modes.length === 0 || targets.length === 0 ? undefined : unablatedLoss(tf, m, labels, { mask });
      const res = targets.flatMap((tg) => modes.map((md) => ablate(tf, m, labels, tg, md, { seed: options.seed ?? 0, mask, ...(base === undefined ? {} : { base }) })));
      return tableOf(
        AblationsSchema,
        [
          utf8(res.map((r) => targetName(r.target))),
          utf8(res.map((r) => r.mode)),
          float64(res.map((r) => r.baseLoss)),
          float64(res.map((r) => r.loss)),
          float64(res.map((r) => r.deltaLoss)),
          float64(res.map((r) => r.baseAccuracy)),
          float64(res.map((r) => r.accuracy)),
          float64(res.map((r) => r.deltaAccuracy)),
        ],
        configMeta(m.config),
      );
    }),
  });
}
