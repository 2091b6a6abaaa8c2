import { BitlensError, columnData, float64, int32, tableOf, utf8 } from '@bitlens/core';
import { forwardLast, toTensors } from '@bitlens/model';
import type { Weights } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { packedForwardLast } from './forward.js';
import type { ActivationMode } from './forward.js';
import { packModel } from './pack.js';
import { checkBackends, forwardMacs, gridTokens } from './parity.js';
import type { PackedParityOptions } from './parity.js';
import { PackedInferenceSchema, PackedSpeedSchema } from './schemas.js';
import type { PackedInferenceColumns, PackedParityColumns, PackedSpeedColumns } from './schemas.js';

/** Options of {@link measurePackedSpeed}. */
export interface PackedSpeedOptions extends PackedParityOptions {
  /** Timed rounds after one warm-up round (default 5). */
  readonly rounds?: number;
}

/** The speed columns the joined record adds after the parity ones. */
const SPEED_ONLY = [
  'rounds', 'packed_int8_ms', 'packed_fp32act_ms', 'tfjs_fp32_ms', 'packed_int8_gmacs', 'packed_fp32act_gmacs', 'tfjs_fp32_gmacs', 'speedup_int8', 'speedup_fp32act', 'timing',
] as const satisfies readonly (keyof PackedSpeedColumns)[];

const TIMING = 'interleaved rounds (tfjs, packed int8, packed fp32 activations in turn) after one warm-up round; ms = best round, speed-up = median over rounds of tfjs ms / packed ms of the same round (adjacent in time, so under the same load); one forward over all p^2 inputs, logits read back; weights resident (tfjs tensors uploaded, model packed, outside the timing)';

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : ((s[(s.length - 1) >> 1] ?? NaN) + (s[s.length >> 1] ?? NaN)) / 2;
}

/**
 * Measures the forward over all p^2 inputs (the batch of {@link packedParity}) on the packed kernels, with int8 and
 * with fp32 activations, against the fp32 tfjs forward of the same weights on `options.tf`, interleaved round by round
 * so that load on a shared machine hits all three alike. Reads the clock: call it from a pipeline sink or a
 * benchmark, not inside a stage. Returns one {@link PackedSpeedSchema} row; join it with the parity row by
 * {@link packedInferenceRecord}. Restores the tfjs engine that `tf` was on.
 */
export async function measurePackedSpeed(weights: Table<Weights>, options: PackedSpeedOptions): Promise<Table<PackedSpeedColumns>> {
  const rounds = options.rounds ?? 5;
  if (!Number.isInteger(rounds) || rounds < 1) throw new BitlensError('INVALID_OPTION', { stage: 'inference/speed', field: 'rounds', expected: 'an integer >= 1', found: String(rounds) });
  checkBackends(options);
  const model = packModel(weights, options.precision === undefined ? {} : { precision: options.precision });
  const { tf } = options, c = model.config, { tokens } = gridTokens(c, options.task), batch = tokens.length / c.nCtx, engine = tf.getBackend();
  const params = toTensors(tf, model.effective), tt = tf.tensor2d(tokens, [batch, c.nCtx], 'int32');
  const timed = async (f: () => Promise<unknown>): Promise<number> => { const t0 = performance.now(); await f(); return performance.now() - t0; };
  const tfjs = async (): Promise<void> => {
    if (tf.getBackend() !== engine) await tf.setBackend(engine);
    const y = tf.tidy(() => forwardLast(tf, c, params, tt));
    await y.data();
    y.dispose();
  };
  const packed = (activations: ActivationMode) => () => packedForwardLast(model, tokens, { registry: options.registry, backend: options.backend, denseBackend: options.denseBackend, activations });
  const best = { tfjs: Infinity, int8: Infinity, fp32: Infinity }, ratios = { int8: [] as number[], fp32: [] as number[] };
  try {
    for (let r = 0; r <= rounds; r++) {
      const t = { tfjs: await timed(tfjs), int8: await timed(packed('int8')), fp32: await timed(packed('fp32')) };
      if (r === 0) continue; // warm-up: kernel compilation, engine switches, first allocations
      for (const k of ['tfjs', 'int8', 'fp32'] as const) best[k] = Math.min(best[k], t[k]);
      ratios.int8.push(t.tfjs / t.int8);
      ratios.fp32.push(t.tfjs / t.fp32);
    }
  } finally {
    tf.dispose([...params.values(), tt]);
    if (tf.getBackend() !== engine) await tf.setBackend(engine);
  }
  const macs = forwardMacs(c, batch), g = (ms: number): number => macs / ms / 1e6;
  return tableOf(PackedSpeedSchema, [
    utf8([options.label ?? model.quantizer]), int32([batch]), int32([rounds]),
    float64([best.int8]), float64([best.fp32]), float64([best.tfjs]),
    float64([g(best.int8)]), float64([g(best.fp32)]), float64([g(best.tfjs)]),
    float64([median(ratios.int8)]), float64([median(ratios.fp32)]),
    utf8([TIMING]),
  ]);
}

/**
 * Joins parity rows with speed rows by `model` into the {@link PackedInferenceSchema} record (one row per parity row,
 * in its order). Throws NOT_FOUND naming the model when a parity row has no speed row, SCHEMA_MISMATCH when the
 * batches differ.
 */
export function packedInferenceRecord(parity: Table<PackedParityColumns>, speed: Table<PackedSpeedColumns>): Table<PackedInferenceColumns> {
  const models = Array.from({ length: speed.numRows }, (_, i) => String(speed.getChild('model')?.get(i)));
  const rowOf = Array.from({ length: parity.numRows }, (_, i) => {
    const name = String(parity.getChild('model')?.get(i)), j = models.indexOf(name);
    if (j < 0) throw new BitlensError('NOT_FOUND', { stage: 'inference/record', field: 'model', expected: `a speed row for model ${JSON.stringify(name)}`, found: `speed rows for ${JSON.stringify(models)}` });
    if (Number(speed.getChild('batch')?.get(j)) !== Number(parity.getChild('batch')?.get(i))) {
      throw new BitlensError('SCHEMA_MISMATCH', { stage: 'inference/record', field: 'batch', expected: `the parity batch ${String(parity.getChild('batch')?.get(i))}`, found: String(speed.getChild('batch')?.get(j)) });
    }
    return j;
  });
  const pick = (name: keyof PackedSpeedColumns) => {
    const col = speed.getChild(name);
    const values = rowOf.map((j) => col?.get(j) as unknown);
    return name === 'timing' ? utf8(values.map(String)) : name === 'rounds' ? int32(values.map(Number)) : float64(values.map(Number));
  };
  const cols = [
    ...parity.schema.fields.map((f) => columnData(parity, f.name)),
    ...SPEED_ONLY.map(pick),
  ];
  return tableOf(PackedInferenceSchema, cols, parity.schema.metadata);
}
