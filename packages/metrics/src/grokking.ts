import { type Stage, defineStage } from '@bitlens/core';
import { Float64, Int32, Schema, type Table } from 'apache-arrow';
import { type Observable, map, toArray } from 'rxjs';
import { field, float64, int32, numbers, tableOf } from './internal/arrow.js';
import { type ProgressRow, ProgressSchema } from './progress.js';

/** The curves the detection reads, one entry per checkpoint in epoch order. */
export interface CurvePoint {
  readonly epoch: number;
  readonly trainAccuracy: number;
  readonly testAccuracy: number;
  readonly testLoss: number;
}

/** Epochs of memorisation and grokking, and Nanda's three phases (-1 where not reached). */
export interface GrokkingEvents {
  readonly threshold: number;
  /** First checkpoint with train accuracy >= threshold. */
  readonly memorised: number;
  /** First checkpoint with test accuracy >= threshold (default 0.99; docs/science.md#grokking-detection). */
  readonly grokked: number;
  /** grokked - memorised. */
  readonly delay: number;
  /** Memorisation: [first epoch, memorised]. Circuit formation: (memorised, cleanupStart). Cleanup: [cleanupStart, cleanupEnd]. */
  readonly cleanupStart: number;
  readonly cleanupEnd: number;
}

/**
 * Detects the events of a training run from its curves. Rule for the phases (documented, applied to log test loss):
 * after memorisation, take the highest log test loss at or after the memorisation epoch (the plateau, at e_peak) and
 * the lowest one after it; if it falls by at least `minDrop` (default ln 10, a tenfold fall), cleanup starts at the
 * first checkpoint after e_peak where 10% of that log fall is done and ends where 90% is done. Circuit formation is
 * the span between memorisation and the start of cleanup. Without memorisation or without the fall the later
 * events are -1.
 */
export function detectGrokking(points: readonly CurvePoint[], threshold = 0.99, minDrop = Math.log(10)): GrokkingEvents {
  const pts = [...points].sort((a, b) => a.epoch - b.epoch);
  const memorised = pts.find((x) => x.trainAccuracy >= threshold)?.epoch ?? -1;
  const grokked = pts.find((x) => x.testAccuracy >= threshold)?.epoch ?? -1;
  let cleanupStart = -1;
  let cleanupEnd = -1;
  if (memorised >= 0) {
    const after = pts.filter((x) => x.epoch >= memorised && x.testLoss > 0);
    let peakI = -1;
    let peak = Number.NEGATIVE_INFINITY;
    after.forEach((x, i) => {
      if (Math.log(x.testLoss) > peak) {
        peak = Math.log(x.testLoss);
        peakI = i;
      }
    });
    const tail = after.slice(peakI + 1);
    const low = Math.min(...tail.map((x) => Math.log(x.testLoss)));
    if (peakI >= 0 && tail.length > 0 && peak - low >= minDrop) {
      cleanupStart = tail.find((x) => Math.log(x.testLoss) <= peak - 0.1 * (peak - low))?.epoch ?? -1;
      cleanupEnd = tail.find((x) => Math.log(x.testLoss) <= peak - 0.9 * (peak - low))?.epoch ?? -1;
    }
  }
  return { threshold, memorised, grokked, delay: memorised >= 0 && grokked >= 0 ? grokked - memorised : -1, cleanupStart, cleanupEnd };
}

/** One row: the detected events. */
export type Grokking = { threshold: Float64; memorised: Int32; grokked: Int32; delay: Int32; cleanup_start: Int32; cleanup_end: Int32 };
/** Schema of {@link Grokking}. */
export const GrokkingSchema = new Schema<Grokking>([
  field('threshold', new Float64()),
  field('memorised', new Int32()),
  field('grokked', new Int32()),
  field('delay', new Int32()),
  field('cleanup_start', new Int32()),
  field('cleanup_end', new Int32()),
]);

/**
 * The derived measures of a progress stream: a reduction at the end (`toArray`), emitting one row with the epochs of
 * memorisation and grokking, the grokking delay and the phase boundaries of {@link detectGrokking}.
 */
export function grokkingSummary(options: { readonly threshold?: number } = {}): Stage<ProgressRow, Grokking> {
  const threshold = options.threshold ?? 0.99;
  return defineStage({
    name: 'metrics/grokking',
    version: '1',
    options: { threshold },
    input: ProgressSchema,
    output: GrokkingSchema,
    apply: (src: Observable<Table<ProgressRow>>) =>
      src.pipe(
        toArray(),
        map((tables) => {
          const pts = tables.flatMap((t) => {
            const e = numbers(t, 'epoch');
            const tr = numbers(t, 'train_accuracy');
            const te = numbers(t, 'test_accuracy');
            const tl = numbers(t, 'test_loss');
            return e.map((epoch, i) => ({ epoch, trainAccuracy: tr[i] ?? 0, testAccuracy: te[i] ?? 0, testLoss: tl[i] ?? 0 }));
          });
          const g = detectGrokking(pts, threshold);
          return tableOf(GrokkingSchema, [float64([g.threshold]), int32([g.memorised]), int32([g.grokked]), int32([g.delay]), int32([g.cleanupStart]), int32([g.cleanupEnd])]);
        }),
      ),
  });
}
