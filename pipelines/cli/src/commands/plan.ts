import type { NodePlan } from '@bitlens/core';

/** What a run would do with a node, in words. */
const STATUS_TEXT: Readonly<Record<string, string>> = {
  stored: 'in store',
  execute: 'would execute',
  resume: 'would resume',
  unused: 'not needed',
};

/** The `--dry-run` table: node, stage, version, short key, inputs, what a run would do. */
export function planLines(pipeline: string, plan: readonly NodePlan[]): string[] {
  const rows = plan.map((n) => ({
    node: n.node,
    stage: n.stage,
    version: n.version,
    key: n.key.slice(0, 12),
    inputs: Object.entries(n.inputs).map(([port, from]) => (port === 'in' ? from : `${port}=${from}`)).join(', ') || '-',
    status: STATUS_TEXT[n.status] ?? n.status,
  }));
  const cols = ['node', 'stage', 'version', 'key', 'inputs', 'status'] as const;
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)));
  const line = (cells: readonly string[]): string => cells.map((v, i) => v.padEnd(width[i] ?? 0)).join('  ').trimEnd();
  const count = (s: string): number => plan.filter((n) => n.status === s).length;
  return [
    `${pipeline}: ${plan.length} nodes; ${count('stored')} in store, ${count('execute')} would execute, ${count('resume')} would resume, ${count('unused')} not needed (dry run: nothing ran, nothing was written)`,
    line(cols),
    line(width.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(cols.map((c) => r[c]))),
  ];
}
