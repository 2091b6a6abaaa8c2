import type { CellSummary } from './summary.js';

/** A claim from a paper, checked on a sweep's cells: true, false, or not decidable from them (null). */
export interface Claim {
  readonly claim: string;
  readonly holds: boolean | null;
  /** What was measured, per cell. */
  readonly measured: string;
}

/**
 * Thresholds that turn Furuta et al.'s qualitative claims into checks on our numbers (FFS with the analysis's eps,
 * FCR, logit asymmetry). A claim holds when every cell of the task passes; the measured values are printed beside it
 * so the reader can apply other thresholds.
 */
export const FURUTA_RULES = {
  /** A sparse spectrum: at most this fraction of the frequencies significant. */
  sparseFfs: 0.35,
  /** A dense spectrum: at least this fraction significant. */
  denseFfs: 0.6,
  /** FCR "near 1": at least this. */
  fcrHigh: 0.6,
  /** FCR "near 0" (cosine-biased): at most this. */
  fcrLow: 0.4,
  /** Asymmetric: logit asymmetry at least this much larger than the addition cell's of the same precision. */
  asymmetryRatio: 2,
} as const;

const f = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(3));
const label = (c: CellSummary): string => `${c.quantizer}${c.seed === 0 ? '' : ` seed ${c.seed}`}`;

function check(cells: readonly CellSummary[], ok: (c: CellSummary) => boolean | null, show: (c: CellSummary) => string): { holds: boolean | null; measured: string } {
  if (cells.length === 0) return { holds: null, measured: 'no cell of this task in the sweep' };
  const results = cells.map(ok);
  const holds = results.some((r) => r === null) ? null : results.every(Boolean);
  return { holds, measured: cells.map((c, i) => `${label(c)}: ${show(c)} → ${results[i] === null ? 'n/a' : results[i] ? 'yes' : 'no'}`).join('; ') };
}

const byTask = (cells: readonly CellSummary[], task: string): CellSummary[] => cells.filter((c) => c.task === task);

/**
 * Furuta et al. 2024's claims about one-layer transformers on modular operations, checked on the cells of a sweep:
 * addition learns a sparse spectrum with FCR near 1; multiplication (and division, its inverse) needs cosine-biased
 * components at all frequencies (dense, FCR near 0); subtraction makes the model asymmetric in (a, b); the symmetric
 * polynomials a²+b² and a²+ab+b² grok; and what the polynomials' spectra look like (a description, not a check).
 */
export function furutaClaims(cells: readonly CellSummary[]): Claim[] {
  const R = FURUTA_RULES;
  const spectrum = (c: CellSummary): string => `FFS ${f(c.ffs)}, FCR ${f(c.fcr)}`;
  const add = check(byTask(cells, 'add'), (c) => (c.ffs === null || c.fcr === null ? null : c.ffs <= R.sparseFfs && c.fcr >= R.fcrHigh), spectrum);
  const dense = (c: CellSummary): boolean | null => (c.ffs === null || c.fcr === null ? null : c.ffs >= R.denseFfs && c.fcr <= R.fcrLow);
  const mul = check(byTask(cells, 'mul'), dense, spectrum);
  const div = check(byTask(cells, 'div'), dense, spectrum);
  const addOf = (c: CellSummary): CellSummary | undefined => cells.find((o) => o.task === 'add' && o.quantizer === c.quantizer && o.seed === c.seed && o.model === c.model && o.p === c.p);
  const sub = check(
    byTask(cells, 'sub'),
    (c) => {
      const base = addOf(c)?.asymmetry ?? null;
      return c.asymmetry === null || base === null ? null : c.asymmetry >= R.asymmetryRatio * base;
    },
    (c) => `asymmetry ${f(c.asymmetry)} vs add ${f(addOf(c)?.asymmetry ?? null)}`,
  );
  const polys = cells.filter((c) => c.task === 'x2_y2' || c.task === 'x2_xy_y2');
  const grok = check(polys, (c) => c.grokEpoch !== null, (c) => `${c.task} ${c.grokEpoch === null ? 'did not grok' : `grokked at ${c.grokEpoch}`}`);
  const look = polys.map((c) => `${c.task} ${label(c)}: FFS ${f(c.ffs)}, FCR ${f(c.fcr)}, key frequencies {${c.embedKeys.join(', ')}}, asymmetry ${f(c.asymmetry)}`).join('; ');
  return [
    { claim: `addition has a sparse spectrum (FFS <= ${R.sparseFfs}) with FCR near 1 (>= ${R.fcrHigh})`, ...add },
    { claim: `multiplication needs cosine-biased components at all frequencies: dense (FFS >= ${R.denseFfs}), FCR near 0 (<= ${R.fcrLow})`, ...mul },
    { claim: `division (multiplication by an inverse) looks like multiplication: dense, FCR near 0`, ...div },
    { claim: `subtraction makes the model asymmetric: logit asymmetry >= ${R.asymmetryRatio}x the addition model's of the same precision`, ...sub },
    { claim: 'the symmetric polynomials a²+b² and a²+ab+b² grok', ...grok },
    { claim: 'what the polynomials look like (description)', holds: null, measured: look.length === 0 ? 'no polynomial cell in the sweep' : look },
  ];
}
