import { fmt, fmtEpoch, fmtSet, last } from './internal/format.js';
import type { ReportData } from './report-data.js';

/**
 * A short plain-text summary for the terminal: the setting, one line per precision (grokking epoch, final accuracy and
 * loss, key frequencies) and one line per compared pair (verdict and why). Pure.
 */
export function textSummary(data: ReportData): string[] {
  const lines: string[] = [
    `${data.provenance.pipeline}: p=${data.p} ${data.task}, train fraction ${data.trainFraction}, ${data.modelPreset} preset, cap ${data.epochCap} epochs, grokking = test acc >= ${data.grokThreshold}`,
    ...(data.training === undefined ? [] : [`  training: ${data.training}`]),
  ];
  const width = Math.max(...data.precisions.map((r) => `${r.name} (${r.quantizer})`.length), 0);
  for (const r of data.precisions) {
    const t = r.training;
    const delay = r.grokEpoch !== null && r.trainFitEpoch !== null ? `, delay ${r.grokEpoch - r.trainFitEpoch}` : '';
    const grok = r.grokEpoch === null ? `NOT grokked within ${data.epochCap} epochs` : `grokked at epoch ${r.grokEpoch} (train fit ${fmtEpoch(r.trainFitEpoch)}${delay})`;
    lines.push(
      `  ${`${r.name} (${r.quantizer})`.padEnd(width)}  ${grok}; final epoch ${r.finalEpoch}: train acc ${fmt(last(t.trainAcc))}, test acc ${fmt(last(t.testAcc))}, test loss ${fmt(last(t.testLoss))}; key freqs embed ${fmtSet(r.keyFrequencies.embed)}, neurons ${fmtSet(r.keyFrequencies.neurons)}`,
    );
  }
  for (const c of data.comparisons) {
    lines.push(`  ${c.modelA} vs ${c.modelB}: ${c.verdict.toUpperCase()} (key-frequency Jaccard ${fmt(c.jaccard, 2)}, information only) — ${c.reason}`);
  }
  return lines;
}
