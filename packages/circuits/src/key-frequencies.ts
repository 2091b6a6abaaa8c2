import { BitlensError } from '@bitlens/core';

/**
 * How key frequencies are picked from per-frequency norms.
 * - `gap` (default): sort norms descending and cut where the ratio between consecutive norms is largest, looking at
 *   the first `maxKeys` positions (n = 1..maxKeys); the keys are the top n. `gapRatio` = s[n-1] / s[n].
 * - `relative`: every frequency whose norm is at least `fraction` x the largest norm.
 */
export type KeyFrequencyRule =
  | { readonly kind: 'gap'; readonly maxKeys: number }
  | { readonly kind: 'relative'; readonly fraction: number };

/** The default rule: the largest gap among the top 15 (matches the fixture's reference analysis). */
export const DEFAULT_KEY_RULE: KeyFrequencyRule = { kind: 'gap', maxKeys: 15 };

/** Key frequencies and how clear the cut was. */
export interface KeyFrequencies {
  /** Ascending frequencies (1..K). */
  readonly keys: number[];
  /** Frequencies sorted by norm, largest first. */
  readonly ranked: number[];
  /** For `gap`: the ratio at the cut (large = a clear sparse set); for `relative`: max / largest non-key norm. */
  readonly gapRatio: number;
}

/**
 * Picks key frequencies from per-frequency norms (`norms[k-1]` is frequency k).
 * @example keyFrequenciesFromNorms(embedNorms.freqNorms, { kind: 'gap', maxKeys: 15 }).keys // [6, 23, 37, 39, 41]
 */
export function keyFrequenciesFromNorms(norms: ArrayLike<number>, rule: KeyFrequencyRule = DEFAULT_KEY_RULE): KeyFrequencies {
  const K = norms.length;
  if (K === 0) throw new BitlensError('INVALID_OPTION', { stage: 'circuits/key-frequencies', field: 'norms', expected: 'at least one frequency', found: '0' });
  const ranked = Array.from({ length: K }, (_, i) => i + 1).sort((x, y) => (norms[y - 1] ?? 0) - (norms[x - 1] ?? 0));
  const s = ranked.map((k) => norms[k - 1] ?? 0);
  if (rule.kind === 'gap') {
    if (!Number.isInteger(rule.maxKeys) || rule.maxKeys < 1) {
      throw new BitlensError('INVALID_OPTION', { stage: 'circuits/key-frequencies', field: 'maxKeys', expected: 'an integer >= 1', found: String(rule.maxKeys) });
    }
    let best = 1;
    let bestRatio = -1;
    for (let n = 1; n <= Math.min(rule.maxKeys, K - 1); n++) {
      const lo = s[n] ?? 0;
      const ratio = lo === 0 ? Number.POSITIVE_INFINITY : (s[n - 1] ?? 0) / lo;
      if (ratio > bestRatio) {
        bestRatio = ratio;
        best = n;
      }
    }
    return { keys: ranked.slice(0, best).sort((x, y) => x - y), ranked, gapRatio: bestRatio };
  }
  if (!(rule.fraction > 0 && rule.fraction <= 1)) {
    throw new BitlensError('INVALID_OPTION', { stage: 'circuits/key-frequencies', field: 'fraction', expected: 'a number in (0, 1]', found: String(rule.fraction) });
  }
  const max = s[0] ?? 0;
  const keys = ranked.filter((k) => (norms[k - 1] ?? 0) >= rule.fraction * max);
  const firstOut = s[keys.length];
  return { keys: keys.sort((x, y) => x - y), ranked, gapRatio: firstOut === undefined || firstOut === 0 ? Number.POSITIVE_INFINITY : max / firstOut };
}
