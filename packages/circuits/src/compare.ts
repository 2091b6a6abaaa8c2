import { BitlensError, type Stage, defineStage } from '@bitlens/core';
import type { Table } from 'apache-arrow';
import { type Observable, map, toArray } from 'rxjs';
import { booleans, float64, listRow, numbers, strings, tableOf, utf8 } from './internal/arrow.js';
import { type Comparison, ComparisonSchema, type Mechanism, MechanismSchema } from './schemas.js';

/** Thresholds of the same-algorithm rule (all recorded in the stage options). */
export interface VerdictRule {
  /** Sparse: 1..maxKeys key frequencies by embedding (default 15). */
  readonly maxKeys: number;
  /** Most MLP variance explained by the key frequencies: >= this (default 0.7). */
  readonly minVarianceExplained: number;
  /** Restricted loss at or below the full loss: restricted <= full + this, in nats (default 0.05). */
  readonly restrictedSlack: number;
  /** Large excluded loss: >= this x log(p) (default 0.5). */
  readonly minExcludedOverLogP: number;
  /** The model solves the task: accuracy over all inputs >= this (default 0.99). */
  readonly minAccuracy: number;
  /** Same clock/pizza signature: |Δ gradient symmetricity| and |Δ distance irrelevance| both <= this (default 0.2). */
  readonly signatureTolerance: number;
}

/** The default rule (docs/science.md#same-algorithm-verdict). */
export const DEFAULT_VERDICT_RULE: VerdictRule = { minAccuracy: 0.99, maxKeys: 15, minVarianceExplained: 0.7, restrictedSlack: 0.05, minExcludedOverLogP: 0.5, signatureTolerance: 0.2 };

/** The mechanism numbers the verdict reads (one model). */
export interface MechanismNumbers {
  readonly model: string;
  readonly p: number;
  readonly embedKeys: readonly number[];
  readonly varianceExplainedByKeys: number;
  readonly accuracy: number;
  readonly fullLoss: number;
  readonly restrictedLoss: number;
  readonly excludedLoss: number;
  readonly gradientSymmetricity: number;
  readonly distanceIrrelevance: number;
  /** FFS / FCR (information; not used by the rule). */
  readonly ffs?: number;
  readonly fcr?: number;
  /** False for a task without group structure: restricted / excluded loss are not defined (default true). */
  readonly lossesApplicable?: boolean;
  /** Key frequencies of the losses, in the task's basis (default: `embedKeys`); what `sparse` counts. */
  readonly lossKeys?: readonly number[];
  /** Full loss over the rows restricted loss averages over (default: `fullLoss`; differs for mul and div). */
  readonly basisLoss?: number;
  /** The task (information). */
  readonly task?: string;
}

/**
 * Which mechanism checks a model passes. `sparse` counts the key frequencies of the losses (in the task's basis),
 * `restricted` compares restricted loss with the full loss over the same rows. For a task without structure
 * (`lossesApplicable: false`) `restricted` and `excluded` cannot pass and `applicable` is false.
 */
export function mechanismChecks(m: MechanismNumbers, rule: VerdictRule = DEFAULT_VERDICT_RULE): { readonly passed: boolean; readonly applicable: boolean; readonly checks: Record<'accurate' | 'sparse' | 'explained' | 'restricted' | 'excluded', boolean> } {
  const applicable = m.lossesApplicable !== false;
  const keys = m.lossKeys ?? m.embedKeys;
  const checks = {
    accurate: m.accuracy >= rule.minAccuracy,
    sparse: keys.length >= 1 && keys.length <= rule.maxKeys,
    explained: m.varianceExplainedByKeys >= rule.minVarianceExplained,
    restricted: applicable && m.restrictedLoss <= (m.basisLoss ?? m.fullLoss) + rule.restrictedSlack,
    excluded: applicable && m.excludedLoss >= rule.minExcludedOverLogP * Math.log(m.p),
  };
  return { passed: Object.values(checks).every(Boolean), applicable, checks };
}

/** Jaccard overlap of two sets (1 when both are empty). */
export function jaccard(a: readonly number[], b: readonly number[]): number {
  const A = new Set(a);
  const B = new Set(b);
  const inter = [...A].filter((x) => B.has(x)).length;
  const union = new Set([...A, ...B]).size;
  return union === 0 ? 1 : inter / union;
}

/** A verdict and why. */
export interface Verdict {
  readonly verdict: 'same' | 'different' | 'inconclusive';
  readonly reason: string;
}

/**
 * The same-algorithm rule (docs/science.md#same-algorithm-verdict): both models must pass every mechanism check (solves the task, sparse key set, MLP variance
 * explained by key frequencies, restricted loss at or below the full loss, large excluded loss); then `same` when
 * their clock/pizza signatures agree within the tolerance, else `different`. A model failing a check makes the pair
 * `inconclusive` (not a Fourier-feature algorithm, or not cleaned up yet). Key-frequency overlap is NOT used.
 */
export function sameAlgorithmVerdict(a: MechanismNumbers, b: MechanismNumbers, rule: VerdictRule = DEFAULT_VERDICT_RULE): Verdict {
  const ca = mechanismChecks(a, rule);
  const cb = mechanismChecks(b, rule);
  const na = [a, b].filter((m) => m.lossesApplicable === false);
  if (na.length > 0) {
    return { verdict: 'inconclusive', reason: `n/a: restricted / excluded loss are not defined for ${[...new Set(na.map((m) => m.task ?? m.model))].join(', ')} (no group structure to project onto)` };
  }
  const failed = (m: MechanismNumbers, c: ReturnType<typeof mechanismChecks>): string[] => Object.entries(c.checks).filter(([, ok]) => !ok).map(([k]) => `${m.model}: ${k}`);
  if (!ca.passed || !cb.passed) return { verdict: 'inconclusive', reason: `failed checks: ${[...failed(a, ca), ...failed(b, cb)].join(', ')}` };
  const dg = Math.abs(a.gradientSymmetricity - b.gradientSymmetricity);
  const dd = Math.abs(a.distanceIrrelevance - b.distanceIrrelevance);
  if (dg <= rule.signatureTolerance && dd <= rule.signatureTolerance) {
    return { verdict: 'same', reason: `both pass all mechanism checks; |Δ grad sym| ${dg.toFixed(3)}, |Δ dist irr| ${dd.toFixed(3)} <= ${rule.signatureTolerance}` };
  }
  return { verdict: 'different', reason: `both pass the mechanism checks but clock/pizza signatures differ: |Δ grad sym| ${dg.toFixed(3)}, |Δ dist irr| ${dd.toFixed(3)} (tolerance ${rule.signatureTolerance})` };
}

/** The mechanism numbers of row `i` of a mechanism table (`MechanismSchema`). */
export function mechanismNumbers(t: Table, i: number): MechanismNumbers {
  return {
    model: strings(t, 'model')[i] ?? '',
    p: numbers(t, 'p')[i] ?? 0,
    embedKeys: listRow(t, 'embed_keys', i),
    varianceExplainedByKeys: numbers(t, 'variance_explained_by_keys')[i] ?? Number.NaN,
    accuracy: numbers(t, 'accuracy')[i] ?? Number.NaN,
    fullLoss: numbers(t, 'full_loss')[i] ?? Number.NaN,
    restrictedLoss: numbers(t, 'restricted_loss')[i] ?? Number.NaN,
    excludedLoss: numbers(t, 'excluded_loss')[i] ?? Number.NaN,
    gradientSymmetricity: numbers(t, 'gradient_symmetricity')[i] ?? Number.NaN,
    distanceIrrelevance: numbers(t, 'distance_irrelevance')[i] ?? Number.NaN,
    ffs: numbers(t, 'ffs')[i] ?? Number.NaN,
    fcr: numbers(t, 'fcr')[i] ?? Number.NaN,
    ...optionalColumns(t, i),
  };
}

/** The columns a mechanism table has had since tasks other than add were analysed (absent in older tables). */
function optionalColumns(t: Table, i: number): Pick<MechanismNumbers, 'lossesApplicable' | 'lossKeys' | 'basisLoss' | 'task'> {
  if (t.getChild('losses_applicable') === null) return {};
  return {
    lossesApplicable: booleans(t, 'losses_applicable')[i] ?? true,
    lossKeys: listRow(t, 'loss_keys', i),
    basisLoss: numbers(t, 'basis_loss')[i] ?? Number.NaN,
    task: strings(t, 'task')[i] ?? '',
  };
}

/**
 * Same-algorithm comparison: mechanism rows of two or more models (any number of tables; a reduction over the whole
 * stream) → one row per pair with the Jaccard overlap of embedding key frequencies (information only), each model's
 * checks, MLP variance explained by key frequencies, restricted/full loss ratio, FFS/FCR and clock/pizza metrics, and
 * the verdict of {@link sameAlgorithmVerdict}.
 * @example of(mechA, mechB).pipe(compareMechanisms())
 */
export function compareMechanisms(options: { readonly rule?: Partial<VerdictRule> } = {}): Stage<Mechanism, Comparison> {
  const name = 'circuits/compare-mechanisms';
  const rule: VerdictRule = { ...DEFAULT_VERDICT_RULE, ...options.rule };
  return defineStage({
    name,
    version: '1',
    options: { rule },
    input: MechanismSchema,
    output: ComparisonSchema,
    apply: (src: Observable<Table<Mechanism>>) =>
      src.pipe(
        toArray(),
        map((tables) => {
          const ms = tables.flatMap((t) => Array.from({ length: t.numRows }, (_, i) => mechanismNumbers(t, i)));
          if (ms.length < 2) throw new BitlensError('INVALID_OPTION', { stage: name, field: 'models', expected: 'at least two analysed models', found: String(ms.length) });
          const rows: { a: MechanismNumbers; b: MechanismNumbers; v: Verdict }[] = [];
          for (let i = 0; i < ms.length; i++) for (let j = i + 1; j < ms.length; j++) {
            const a = ms[i];
            const b = ms[j];
            if (a !== undefined && b !== undefined) rows.push({ a, b, v: sameAlgorithmVerdict(a, b, rule) });
          }
          const checks = (m: MechanismNumbers): string => Object.entries(mechanismChecks(m, rule).checks).map(([k, ok]) => `${k}=${ok ? 'pass' : 'FAIL'}`).join(' ');
          const col = (f: (m: MechanismNumbers) => number, side: 'a' | 'b'): ReturnType<typeof float64> => float64(rows.map((r) => f(r[side])));
          return tableOf(ComparisonSchema, [
            utf8(rows.map((r) => r.a.model)),
            utf8(rows.map((r) => r.b.model)),
            float64(rows.map((r) => jaccard(r.a.embedKeys, r.b.embedKeys))),
            utf8(rows.map((r) => checks(r.a))),
            utf8(rows.map((r) => checks(r.b))),
            col((m) => m.varianceExplainedByKeys, 'a'),
            col((m) => m.varianceExplainedByKeys, 'b'),
            col((m) => m.restrictedLoss / m.fullLoss, 'a'),
            col((m) => m.restrictedLoss / m.fullLoss, 'b'),
            col((m) => m.ffs ?? Number.NaN, 'a'),
            col((m) => m.ffs ?? Number.NaN, 'b'),
            col((m) => m.fcr ?? Number.NaN, 'a'),
            col((m) => m.fcr ?? Number.NaN, 'b'),
            col((m) => m.gradientSymmetricity, 'a'),
            col((m) => m.gradientSymmetricity, 'b'),
            col((m) => m.distanceIrrelevance, 'a'),
            col((m) => m.distanceIrrelevance, 'b'),
            utf8(rows.map((r) => r.v.verdict)),
            utf8(rows.map((r) => r.v.reason)),
          ]);
        }),
      ),
  });
}

/** Printable lines for mechanism rows and a comparison table: the numbers behind each verdict. */
export function formatComparison(mechanisms: readonly Table[], comparison: Table): string[] {
  const lines: string[] = ['model | keys(embed) | keys(neurons) | var.expl | full loss | restricted | excluded | FFS | FCR | grad.sym | dist.irr | circ'];
  const f = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? 'n/a' : Math.abs(x) < 1e-3 && x !== 0 ? x.toExponential(2) : x.toFixed(3));
  for (const t of mechanisms) {
    for (let i = 0; i < t.numRows; i++) {
      const g = (c: string): number | undefined => numbers(t, c)[i];
      lines.push(
        [strings(t, 'model')[i], `{${listRow(t, 'embed_keys', i).join(',')}}`, `{${listRow(t, 'neuron_keys', i).join(',')}}`, f(g('variance_explained_by_keys')), f(g('full_loss')), f(g('restricted_loss')), f(g('excluded_loss')), f(g('ffs')), f(g('fcr')), f(g('gradient_symmetricity')), f(g('distance_irrelevance')), f(g('circularity'))].join(' | '),
      );
    }
  }
  for (let i = 0; i < comparison.numRows; i++) {
    const s = (c: string): string => strings(comparison, c)[i] ?? '';
    lines.push(`${s('model_a')} vs ${s('model_b')}: ${s('verdict').toUpperCase()} (Jaccard of key frequencies ${f(numbers(comparison, 'jaccard')[i])}, information only) — ${s('reason')}`);
    lines.push(`  ${s('model_a')}: ${s('checks_a')}; ${s('model_b')}: ${s('checks_b')}`);
  }
  return lines;
}
