/** Work per second and time left of one stage's progress, from the first report seen and the latest. */
export interface RateMeter {
  /** Records a report; returns the rate (units per second, undefined until two reports) and the seconds left. */
  update(done: number, total: number): { readonly rate?: number; readonly etaSeconds?: number };
}

/** A rate meter over wall time `now()` in ms (injectable for tests). */
export function rateMeter(now: () => number = () => performance.now()): RateMeter {
  let first: { done: number; at: number } | undefined;
  return {
    update(done, total) {
      const at = now();
      first ??= { done, at };
      const seconds = (at - first.at) / 1000;
      if (seconds <= 0 || done <= first.done) return {};
      const rate = (done - first.done) / seconds;
      return { rate, etaSeconds: Math.max(0, (total - done) / rate) };
    },
  };
}

/** `12.3/s`, `4.5/min`, or '' when unknown. */
export function formatRate(rate: number | undefined, unit = ''): string {
  if (rate === undefined || !Number.isFinite(rate)) return '';
  const u = unit === '' ? '' : ` ${unit}`;
  return rate >= 1 ? `${rate.toFixed(rate >= 100 ? 0 : 1)}${u}/s` : `${(rate * 60).toFixed(1)}${u}/min`;
}

/** `42s`, `3m05s`, `1h02m`, or '' when unknown. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
