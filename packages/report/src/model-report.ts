import { keysOf } from '@bitlens/circuits';
import type { Table } from 'apache-arrow';
import { readModelViews } from './read-views.js';
import type { MechanismReport, ModelReport } from './report-data.js';

/** Values of a column over several tables, as numbers (NaN for null or a missing column). */
export function columnValues(tables: readonly Table[], name: string): number[] {
  return tables.flatMap((t) => {
    const c = t.getChild(name);
    return Array.from({ length: t.numRows }, (_, i) => {
      const v = c?.get(i) as number | bigint | null | undefined;
      return v === null || v === undefined ? Number.NaN : Number(v);
    });
  });
}

function texts(tables: readonly Table[], name: string): string[] {
  return tables.flatMap((t) => Array.from({ length: t.numRows }, (_, i) => String(t.getChild(name)?.get(i) ?? '')));
}

function flags(tables: readonly Table[], name: string): boolean[] {
  return tables.flatMap((t) => Array.from({ length: t.numRows }, (_, i) => t.getChild(name)?.get(i) === true));
}

/** Per-frequency embedding norms sqrt(n_cos^2 + n_sin^2) from `FourierNormsSchema` tables of @bitlens/circuits (matrix W_E). */
export function embedFrequencyNorms(norms: readonly Table[]): { freq: number; norm: number }[] {
  const matrix = texts(norms, 'matrix');
  const freq = columnValues(norms, 'freq');
  const kind = texts(norms, 'kind');
  const norm = columnValues(norms, 'norm');
  const sq = new Map<number, number>();
  matrix.forEach((m, i) => {
    const k = freq[i] ?? 0;
    if (m !== 'W_E' || kind[i] === 'const' || k < 1) return;
    sq.set(k, (sq.get(k) ?? 0) + (norm[i] ?? 0) ** 2);
  });
  return [...sq.entries()].sort((a, b) => a[0] - b[0]).map(([f, s]) => ({ freq: f, norm: Math.sqrt(s) }));
}

/** Clustered neurons per best frequency, and the alive neurons that are not clustered (`NeuronFreqsSchema`). */
export function neuronHistogram(neurons: readonly Table[]): { bins: { freq: number; neurons: number }[]; unclustered: number } {
  const freq = columnValues(neurons, 'freq');
  const alive = flags(neurons, 'alive');
  const clustered = flags(neurons, 'clustered');
  const counts = new Map<number, number>();
  let unclustered = 0;
  freq.forEach((f, i) => {
    if (!alive[i]) return;
    if (clustered[i]) counts.set(f, (counts.get(f) ?? 0) + 1);
    else unclustered++;
  });
  return { bins: [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([f, n]) => ({ freq: f, neurons: n })), unclustered };
}

/** The mechanism numbers of one `MechanismSchema` row (undefined when there is none). */
export function mechanismReport(mech: readonly Table[]): MechanismReport | undefined {
  if (mech.reduce((n, t) => n + t.numRows, 0) === 0) return undefined;
  const v = (c: string): number => columnValues(mech, c)[0] ?? Number.NaN;
  return {
    fullLoss: v('full_loss'),
    accuracy: v('accuracy'),
    restrictedLoss: v('restricted_loss'),
    excludedLoss: v('excluded_loss'),
    varianceExplainedByKeys: v('variance_explained_by_keys'),
    shareClustered: v('share_clustered'),
    ffs: v('ffs'),
    fcr: v('fcr'),
    giniEmbed: v('gini_embed'),
    giniNeuronLogit: v('gini_wl'),
    gradientSymmetricity: v('gradient_symmetricity'),
    distanceIrrelevance: v('distance_irrelevance'),
    circularity: v('circularity'),
  };
}

/** The analysis tables of one model that the report reads (nodes of the mechanism subgraph, and `modelViews`). */
export interface AnalysisTables {
  readonly norms: readonly Table[];
  readonly neurons: readonly Table[];
  readonly keys: readonly Table[];
  readonly mechanism: readonly Table[];
  /** The model-views table; without it the report has no pictures of this model. */
  readonly views?: readonly Table[];
}

/**
 * What the report shows about one analysed model, from its analysis tables: embedding Fourier norms, the
 * neuron-frequency histogram, key frequencies by both methods, the mechanism numbers and the pictures.
 * @example const model = modelReportFromTables('fp32', { norms, neurons, keys, mechanism, views })
 */
export function modelReportFromTables(name: string, t: AnalysisTables): ModelReport {
  const hist = neuronHistogram(t.neurons);
  const mechanism = mechanismReport(t.mechanism);
  const keyTable = t.keys[0];
  return {
    name,
    embedFourierNorms: embedFrequencyNorms(t.norms),
    neuronFrequencies: hist.bins,
    unclusteredNeurons: hist.unclustered,
    keyFrequencies: keyTable === undefined ? { embed: [], neurons: [] } : { embed: keysOf(keyTable, 'embed'), neurons: keysOf(keyTable, 'neurons') },
    ...(mechanism === undefined ? {} : { mechanism }),
    ...(t.views === undefined || t.views.length === 0 ? {} : { views: readModelViews(t.views) }),
  };
}
