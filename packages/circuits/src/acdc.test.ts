import { describe, expect, it } from 'vitest';
import { type GraphEdge, acdc } from './index.js';

describe('ACDC edge pruning (docs/science.md#attribution-ablation-patching-acdc)', () => {
  it('removes exactly the dead edge of a planted 2-path toy graph at tau > 0', () => {
    // out = A + B, A = 2 x1, B = 3 x2 + 0 x1: the edge x1 → B is dead.
    const e = (from: string, to: string): GraphEdge => ({ from, to });
    const edges = [e('A', 'out'), e('B', 'out'), e('x1', 'A'), e('x2', 'B'), e('x1', 'B')];
    const clean = [
      [1, -1],
      [0.5, 2],
      [-1, 0.3],
    ];
    const corrupt = clean.map(([a, b]) => [-(b ?? 0), (a ?? 0) + 1]);
    const run = (patched: ReadonlySet<GraphEdge>): Float64Array => {
      const out = new Float64Array(clean.length * 2);
      clean.forEach((x, i) => {
        const y = corrupt[i] ?? [0, 0];
        const v = (edge: GraphEdge, c: number, k: number): number => (patched.has(edge) ? k : c);
        const x1 = (to: string): number => v(edges.find((q) => q.from === 'x1' && q.to === to) as GraphEdge, x[0] ?? 0, y[0] ?? 0);
        const x2 = v(edges[3] as GraphEdge, x[1] ?? 0, y[1] ?? 0);
        const A = 2 * x1('A');
        const B = 3 * x2 + 0 * x1('B');
        const Ac = 2 * (y[0] ?? 0);
        const Bc = 3 * (y[1] ?? 0);
        const o = v(edges[0] as GraphEdge, A, Ac) + v(edges[1] as GraphEdge, B, Bc);
        const z = Math.exp(o) + 1;
        out[2 * i] = Math.exp(o) / z;
        out[2 * i + 1] = 1 / z;
      });
      return out;
    };
    const r = acdc(edges, run, 2, 1e-6);
    expect(r.removed).toEqual([e('x1', 'B')]);
    expect(r.kept.length).toBe(4);
    expect(r.kl).toBeLessThan(1e-12);
    // At tau = 0 nothing that matters is removed either (the dead edge raises KL by exactly 0 < 0 is false).
    expect(acdc(edges, run, 2, 0).removed).toEqual([]);
  });
});
