import { defineStage } from '@bitlens/core';
import type { Stage } from '@bitlens/core';
import { MODEL_CONFIG_KEY, WeightsSchema, configFromTable } from '@bitlens/model';
import type { Weights } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { concatMap } from 'rxjs';
import { TOLERANCE_BASIS, packedParity } from './parity.js';
import type { PackedParityOptions } from './parity.js';
import { PackedParitySchema, parityTable } from './schemas.js';
import type { PackedParityColumns } from './schemas.js';

/**
 * Stage: packed-inference parity of each input model (a weights or checkpoint table, e.g. a run's final checkpoint)
 * as one {@link PackedParitySchema} row: the checkpoint packed with @bitlens/kernels' I2_S packing, run over all p^2
 * inputs on the packed kernels of `options.backend` with fp32 and with int8 activations, against the tfjs forward of
 * the same weights (see {@link packedParity}). Deterministic, so it is cached like any stage; timings are not part of
 * it (they read the clock: `measurePackedSpeed` does that, benchmark-side). The model config travels in the output's
 * metadata. Throws before any work when the checkpoint cannot be packed (fp32, or ternary into binary kernels) or a
 * backend lacks an op.
 * @example weights$.pipe(packedParityStage({ tf, registry, backend: 'wasm-packed', denseBackend: 'tfjs-wasm', label: 'ternary' }))
 */
export function packedParityStage(options: PackedParityOptions): Stage<Weights, PackedParityColumns> {
  const { backend, denseBackend, precision, task, label } = options;
  return defineStage({
    name: 'inference/packed-parity',
    version: '1',
    // the reference forward's engine is part of the key too: its float32 logits (and so the fp32 deltas) depend on it
    options: { backend, denseBackend, engine: options.tf.getBackend(), precision: precision ?? null, task: task ?? 'add', label: label ?? null },
    input: WeightsSchema,
    output: PackedParitySchema,
    apply: concatMap(async (t: Table<Weights>) => {
      const row = await packedParity(t, options);
      return parityTable([row], TOLERANCE_BASIS, new Map([[MODEL_CONFIG_KEY, JSON.stringify(configFromTable(t))]]));
    }),
  });
}
