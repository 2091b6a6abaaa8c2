import type { Tf } from '@bitlens/engine';
import { BitlensError } from '@bitlens/core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config.js';
import { type ForwardOptions, type ParamTensors, forwardFull } from './forward.js';
import { type BlockActName, type GlobalActName, type HookName, type HookSelector, actName, hookPredicate } from './hooks.js';
import type { HostTensor } from './params.js';

const STAGE = 'model/activation-cache';

/**
 * Activations of one forward pass by hook name, owning its tensors (TransformerLens's `ActivationCache`): look them up
 * by full name or by TransformerLens short name and layer, copy them to the host, and dispose them all at once —
 * explicitly, with `using` (it is `Disposable`), or through {@link withCache}.
 * @example const t = cache.get('pattern', 0); // = cache.get('blocks.0.attn.hook_pattern')
 */
export class ActivationCache implements Disposable {
  readonly #tensors: Map<HookName, Tensor>;
  #disposed = false;

  /** Takes ownership of `tensors` (in forward order); {@link dispose} frees them. */
  constructor(tensors: ReadonlyMap<HookName, Tensor>) {
    this.#tensors = new Map(tensors);
  }

  /** The cached activation; throws NOT_FOUND naming the hook when it was not captured (or the cache is disposed). */
  get(name: HookName): Tensor;
  /** By TransformerLens short name and layer: `get('resid_pre', 0)`, `get('pattern', 1)`. */
  get(name: BlockActName, layer: number): Tensor;
  /** By TransformerLens short name outside the blocks: `get('embed')`, `get('scale')` (the final norm's). */
  get(name: GlobalActName): Tensor;
  get(name: HookName | BlockActName | GlobalActName, layer?: number): Tensor {
    const full = actName(name, layer);
    this.#live(full);
    const t = this.#tensors.get(full);
    if (t === undefined) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: full, expected: `a cached hook (${[...this.#tensors.keys()].join(', ') || 'none cached'})`, found: 'not captured' });
    return t;
  }

  /** Whether the hook is cached (false once disposed). Takes the same names as {@link get}. */
  has(name: HookName | BlockActName | GlobalActName, layer?: number): boolean {
    return !this.#disposed && this.#tensors.has(actName(name, layer));
  }

  /** The cached hook names, in forward order. */
  names(): HookName[] {
    return [...this.#tensors.keys()];
  }

  /** Number of cached hooks. */
  get size(): number {
    return this.#tensors.size;
  }

  /** True once {@link dispose} ran. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Host copies (row-major float32) of every cached activation, by name; the tensors stay alive. */
  toHost(): Map<HookName, HostTensor> {
    this.#live('toHost');
    const out = new Map<HookName, HostTensor>();
    for (const [name, t] of this.#tensors) out.set(name, { shape: [...t.shape], data: Float32Array.from(t.dataSync()) });
    return out;
  }

  /** Frees every cached tensor; idempotent. Later `get` / `toHost` throw. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const t of new Set(this.#tensors.values())) t.dispose();
  }

  /** `using cache = …` calls {@link dispose} at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  #live(what: string): void {
    if (this.#disposed) throw new BitlensError('NOT_FOUND', { stage: STAGE, field: what, expected: 'a live activation cache', found: 'a disposed one' });
  }
}

/** Options of {@link runWithCache}. */
export interface RunWithCacheOptions {
  /** Hooks to cache (names checked against the config, a regular expression, or a predicate); default every hook. */
  readonly names?: HookSelector;
  /** Interventions during the pass (see {@link ForwardOptions.intervene}); cached values are post-intervention. */
  readonly intervene?: ForwardOptions['intervene'];
  /** Per-head attention outputs for interventions (see {@link ForwardOptions.attnResult}). */
  readonly attnResult?: boolean;
}

/** What {@link runWithCache} returns: the logits and the cache, disposable together. */
export interface CachedRun extends Disposable {
  /** [B, nCtx, dVocabOut]. */
  readonly logits: Tensor;
  readonly cache: ActivationCache;
  /** Disposes the logits and every cached tensor. */
  dispose(): void;
}

/**
 * One forward pass over `tokens` ([B, nCtx] int32, or rows of token ids) that keeps the selected activations
 * (TransformerLens's `run_with_cache`). Every intermediate it does not return is freed before it returns (it runs in
 * `tf.tidy`); the logits and the cache are the caller's: dispose them (`run.dispose()`, `using run = …`) or use
 * {@link withCache}. Throws INVALID_OPTION for a name the model lacks, before any work.
 * @example using run = runWithCache(tf, cfg, params, [[3, 5, 113]], { names: ['blocks.0.mlp.hook_post'] });
 */
export function runWithCache(tf: Tf, config: ModelConfig, params: ParamTensors, tokens: Tensor | readonly (readonly number[])[], options: RunWithCacheOptions = {}): CachedRun {
  // Checked here, before any work, so that the error names this function's option.
  const capture = options.names === undefined ? (): boolean => true : hookPredicate(config, options.names, { field: 'names', stage: STAGE });
  const kept = tf.tidy(() => {
    const t = Array.isArray(tokens) ? tf.tensor2d(tokens.map((r) => [...r]), [tokens.length, tokens[0]?.length ?? 0], 'int32') : (tokens as Tensor);
    const res = forwardFull(tf, config, params, t, {
      capture,
      ...(options.intervene === undefined ? {} : { intervene: options.intervene }),
      ...(options.attnResult === undefined ? {} : { attnResult: options.attnResult }),
    });
    // The `logits` hook is the logits tensor itself: the cache gets its own copy, so each can be disposed alone.
    const entries = [...res.cache].map(([n, x]): [HookName, Tensor] => [n, x === res.logits ? tf.clone(x) : x]);
    return { logits: res.logits, names: entries.map(([n]) => n), tensors: entries.map(([, x]) => x) };
  });
  const cache = new ActivationCache(new Map(kept.names.map((n, i) => [n, kept.tensors[i] as Tensor])));
  const dispose = (): void => {
    cache.dispose();
    kept.logits.dispose();
  };
  return { logits: kept.logits, cache, dispose, [Symbol.dispose]: dispose };
}

/**
 * Runs {@link runWithCache}, hands the result to `fn` and disposes the logits and the cache when `fn` returns, throws,
 * or (for an async `fn`) settles. Return host values from `fn`, not the tensors.
 * @example const post = withCache(tf, cfg, params, tokens, { names: ['blocks.0.mlp.hook_post'] }, ({ cache }) => cache.get('post', 0).arraySync());
 */
export function withCache<R>(tf: Tf, config: ModelConfig, params: ParamTensors, tokens: Tensor | readonly (readonly number[])[], options: RunWithCacheOptions, fn: (run: CachedRun) => R): R {
  const run = runWithCache(tf, config, params, tokens, options);
  let result: R;
  try {
    result = fn(run);
  } catch (e) {
    run.dispose();
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => run.dispose()) as R; // the same promise type, settled after disposal
  run.dispose();
  return result;
}
