/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A number for tables and summaries: `—` for NaN/undefined, exponent form for tiny or huge magnitudes. */
export function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '—';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '-∞';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a < 1e-3 || a >= 1e6) return x.toExponential(2);
  return x.toFixed(digits);
}

/** An epoch or `never` (an event that did not happen within the cap). */
export function fmtEpoch(e: number | null | undefined): string {
  return e === null || e === undefined ? 'never' : String(e);
}

/** A set of frequencies as `{a, b, c}`. */
export function fmtSet(xs: readonly number[]): string {
  return `{${[...xs].sort((a, b) => a - b).join(', ')}}`;
}

/** The last element of an array, if any. */
export function last(xs: readonly number[]): number | undefined {
  return xs.length === 0 ? undefined : xs[xs.length - 1];
}
