import { BitlensError } from '@bitlens/core';

/** An edge of a computational graph, sender → receiver. */
export interface GraphEdge {
  readonly from: string;
  readonly to: string;
}

/** Result of {@link acdc}. */
export interface AcdcResult {
  readonly kept: GraphEdge[];
  readonly removed: GraphEdge[];
  /** Mean KL(clean || patched) of the final circuit. */
  readonly kl: number;
}

/** Mean over inputs of KL(p || q) for row-major probability rows of width `classes`. */
export function meanKl(p: ArrayLike<number>, q: ArrayLike<number>, classes: number): number {
  const n = p.length / classes;
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i] ?? 0;
    if (a > 0) s += a * (Math.log(a) - Math.log(Math.max(q[i] ?? 0, 1e-300)));
  }
  return s / n;
}

/**
 * ACDC-style edge pruning (Conmy et al. 2023, docs/science.md#attribution-ablation-patching-acdc). `edges` are visited from the output towards the inputs
 * (pass them in reverse topological order of their receivers); `run(patched)` returns the output probabilities
 * (row-major, `classes` wide, over a fixed set of inputs) when every edge in `patched` carries its value from the
 * corrupted run. An edge is dropped for good when patching it (on top of those already dropped) raises
 * KL(clean || patched) by less than `tau`.
 */
export function acdc(edges: readonly GraphEdge[], run: (patched: ReadonlySet<GraphEdge>) => ArrayLike<number>, classes: number, tau: number): AcdcResult {
  if (!(tau >= 0)) throw new BitlensError('INVALID_OPTION', { stage: 'circuits/acdc', field: 'tau', expected: 'a threshold >= 0', found: String(tau) });
  const clean = run(new Set());
  const patched = new Set<GraphEdge>();
  let kl = 0;
  for (const e of edges) {
    const trial = new Set(patched).add(e);
    const k = meanKl(clean, run(trial), classes);
    if (k - kl < tau) {
      patched.add(e);
      kl = k;
    }
  }
  return { kept: edges.filter((e) => !patched.has(e)), removed: edges.filter((e) => patched.has(e)), kl };
}
