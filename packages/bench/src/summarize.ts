import type { RoundStats, TaskMeasurement, TaskSummary } from './types.js';

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b), n = s.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? (s[(n - 1) / 2] ?? NaN) : ((s[n / 2 - 1] ?? NaN) + (s[n / 2] ?? NaN)) / 2;
}

/**
 * Summarises measurements: ratio of each task to its reference per round (timed back to back, so machine load
 * mostly cancels),
 * the median over rounds, and its spread = max(half the range over rounds, ratio x sqrt(rme_task² + rme_ref²)).
 * Pure: the regression logic is tested on synthetic measurements.
 */
export function summarize(measurements: readonly TaskMeasurement[]): TaskSummary[] {
  const byName = new Map(measurements.map((m) => [m.name, m]));
  const base = measurements.map((m) => {
    const ref = byName.get(m.reference);
    const rounds = m.rounds.length;
    const ratios: number[] = [];
    const refRmes: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t = m.rounds[r], q = ref?.rounds[r];
      // a paired measurement (reference timed right before the task) beats the reference's own row of the round
      const refP50 = t?.refP50 ?? q?.p50, refRme = t?.refRme ?? q?.rme;
      if (t !== undefined && refP50 !== undefined && refP50 > 0) ratios.push(t.p50 / refP50);
      if (refRme !== undefined) refRmes.push(refRme);
    }
    const ratio = median(ratios);
    const range = ratios.length > 1 ? (Math.max(...ratios) - Math.min(...ratios)) / 2 : 0;
    const rme = median(m.rounds.map((s) => s.rme)), refRme = m.name === m.reference ? 0 : median(refRmes);
    const spread = m.name === m.reference ? 0 : Math.max(range, (ratio * Math.hypot(rme, refRme)) / 100);
    const p50 = median(m.rounds.map((s) => s.p50));
    const pick = (f: (s: RoundStats) => number): number => median(m.rounds.map(f));
    return {
      name: m.name, reference: m.reference, meta: m.meta,
      p50Ms: p50, meanMs: pick((s) => s.mean), opsPerSec: 1000 / pick((s) => s.mean), p99Ms: pick((s) => s.p99), rme, samples: m.rounds.reduce((n, s) => n + s.samples, 0),
      ratio, spread,
      ...(m.meta.macs !== undefined && p50 > 0 ? { macsPerSec: m.meta.macs / (p50 / 1000) } : {}),
    } satisfies TaskSummary;
  });
  const rate = new Map(base.map((s) => [s.name, s.macsPerSec]));
  return base.map((s) => {
    const vs = s.meta.speedupVs === undefined ? undefined : rate.get(s.meta.speedupVs);
    return vs !== undefined && s.macsPerSec !== undefined ? { ...s, speedup: s.macsPerSec / vs } : s;
  });
}
