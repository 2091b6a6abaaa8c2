import { AsyncLocalStorage } from 'node:async_hooks';
import type { Progress } from './stage.js';

/** Where progress of the node whose work is running goes. @internal */
export interface ProgressScope {
  readonly node: string;
  readonly stage: string;
  readonly report: (progress: Progress) => void;
}

const scope = new AsyncLocalStorage<ProgressScope>();

/**
 * Reports how far the running stage has come (e.g. batches of a grid done out of all), for progress bars. Call it from
 * inside a stage's computation; a graph run attributes it to the node whose work is running and emits a
 * `stage-progress` event. Outside a graph run it does nothing. It is a report, not an output: it never changes a
 * stage's result, so stages stay pure in every sense that matters for caching.
 * @example for (let b = 0; b < batches; b++) { compute(b); reportProgress({ done: b + 1, total: batches, label: 'grid batches' }); }
 */
export function reportProgress(progress: Progress): void {
  scope.getStore()?.report(progress);
}

/** Runs `f` with progress attributed to `s` (and everything `f` starts asynchronously). @internal */
export function withProgressScope<T>(s: ProgressScope, f: () => T): T {
  return scope.run(s, f);
}
