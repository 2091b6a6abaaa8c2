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

/** A plain table for the terminal and the report (e.g. Bondarenko's Table 2 on our runs, the joined record). */
export interface TextTable {
  readonly id: string;
  readonly title: string;
  readonly note?: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

const g3 = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(3));

/** Bondarenko et al.'s Table 2 in its shape — FP accuracy / max inf-norm / mean kurtosis / W8A8 accuracy — one row per cell. */
export function bondarenkoTable(cells: readonly CellSummary[]): TextTable {
  return {
    id: 'table-2',
    title: "Bondarenko et al.'s Table 2 on our runs",
    note: 'accuracy over all p² inputs; max inf-norm and mean kurtosis over the tracked activations (all inputs); W8A8: int8 weights and static int8 activation ranges calibrated on the training split',
    header: ['attention', 'quantizer', 'FP acc', 'max inf-norm', 'mean kurtosis', 'W8A8 acc', 'W8A8 test acc', 'W8A8 vs FP'],
    rows: cells.map((c) => [c.attention, c.quantizer, g3(c.record?.w8a8AccuracyBefore ?? c.testAcc), g3(c.record?.maxInfNorm), g3(c.record?.meanKurtosis), g3(c.record?.w8a8AccuracyAfter), g3(c.record?.w8a8TestAccuracyAfter), c.record?.w8a8Verdict ?? '—']),
  };
}

/** The joined record of every cell: outliers, W8A8 and its circuit fidelity, packed inference (parity and speed). */
export function joinedRecordTable(cells: readonly CellSummary[]): TextTable {
  return {
    id: 'joined-record',
    title: 'Joined record: kernels, accuracy, circuit fidelity, outliers',
    note: 'packed = the ternary/binary layers on the WebAssembly packed kernels (I2_S weights, int8 activations); speed measured when the cell ran, median over interleaved rounds of (tfjs fp32 forward ms / packed forward ms), one forward over all p² inputs',
    header: ['cell', 'acc FP', 'acc W8A8', 'acc packed', 'max |Δlogit| packed (tol)', 'restricted loss FP → W8A8', 'key Jaccard W8A8', 'W8A8 verdict', 'packed ms / tfjs ms', 'speed-up', 'packed GMAC/s', 'max inf-norm', 'mean / max kurtosis'],
    rows: cells.map((c) => {
      const r = c.record;
      return [
        c.cell,
        g3(r?.w8a8AccuracyBefore),
        g3(r?.w8a8AccuracyAfter),
        g3(r?.packedInt8Accuracy),
        r?.packedInt8MaxAbsDelta === null || r === null ? '—' : `${g3(r.packedInt8MaxAbsDelta)} (${g3(r.packedInt8Tolerance)})`,
        `${g3(r?.w8a8RestrictedLossBefore)} → ${g3(r?.w8a8RestrictedLossAfter)}`,
        g3(r?.w8a8KeyJaccard),
        r?.w8a8Verdict ?? '—',
        r?.packedInt8Ms === null || r === null ? '—' : `${r.packedInt8Ms.toFixed(1)} / ${g3(r.tfjsFp32Ms)}`,
        r?.speedupInt8 === null || r === null ? '—' : `${r.speedupInt8.toFixed(2)}x`,
        g3(r?.packedInt8Gmacs),
        g3(r?.maxInfNorm),
        `${g3(r?.meanKurtosis)} / ${g3(r?.maxKurtosis)}`,
      ];
    }),
  };
}

/**
 * Bondarenko et al. 2023's claims, checked per precision against the vanilla-attention cell of the same settings:
 * clipped softmax and gated attention reduce activation outliers (max infinity norm, mean kurtosis) and the accuracy
 * lost to W8A8 quantization. At this toy scale "no" is a finding, not a failure.
 */
export function bondarenkoClaims(cells: readonly CellSummary[]): Claim[] {
  const same = (a: CellSummary, b: CellSummary): boolean => a.quantizer === b.quantizer && a.task === b.task && a.seed === b.seed && a.p === b.p && a.model === b.model && a.weightDecay === b.weightDecay;
  const vanillaOf = (c: CellSummary): CellSummary | undefined => cells.find((o) => o.attention === 'vanilla' && same(o, c));
  const drop = (c: CellSummary): number | null => (c.record?.w8a8AccuracyBefore === null || c.record?.w8a8AccuracyAfter === null || c.record === null ? null : c.record.w8a8AccuracyBefore - c.record.w8a8AccuracyAfter);
  const claims: Claim[] = [];
  for (const variant of ['clipped', 'gated'] as const) {
    const vs = cells.filter((c) => c.attention === variant);
    const pair = (metric: (c: CellSummary) => number | null, label: string) =>
      check(
        vs,
        (c) => {
          const v = vanillaOf(c);
          const a = metric(c);
          const b = v === undefined ? null : metric(v);
          return a === null || b === null ? null : a < b;
        },
        (c) => `${label} ${g3(metric(c))} vs vanilla ${g3(vanillaOf(c) === undefined ? null : metric(vanillaOf(c) as CellSummary))}`,
      );
    claims.push({ claim: `${variant === 'clipped' ? 'clipped softmax' : 'gated attention'} reduces the max infinity norm of activations (vs vanilla, same precision)`, ...pair((c) => c.record?.maxInfNorm ?? null, 'max inf-norm') });
    claims.push({ claim: `${variant === 'clipped' ? 'clipped softmax' : 'gated attention'} reduces the mean kurtosis of activations`, ...pair((c) => c.record?.meanKurtosis ?? null, 'mean kurtosis') });
    claims.push({ claim: `${variant === 'clipped' ? 'clipped softmax' : 'gated attention'} reduces the accuracy lost to W8A8`, ...pair(drop, 'accuracy lost') });
  }
  return claims;
}
