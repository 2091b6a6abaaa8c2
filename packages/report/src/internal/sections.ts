import type { MechanismReport, ModelReport, ReportProvenance } from '../report-data.js';
import { escapeHtml as esc, fmt, fmtSet } from './format.js';
import { type FrequencyBar, facetedFrequencyBarsSpec, renderSvg } from './plots.js';

/** A `figure.plot` holding one SVG. */
export function figure(id: string, caption: string, svg: string): string {
  return `<figure class="plot" id="${id}"><figcaption>${esc(caption)}</figcaption>${svg}</figure>`;
}

/**
 * The two per-frequency bar figures of the analysed models (`plot-embed-fourier`, `plot-neuron-frequencies`): one
 * panel per model, every frequency 1..K drawn (0 when absent) so that every model has its panel, even an empty one.
 */
export async function frequencyFigures(models: readonly ModelReport[], p: number, what: string): Promise<string[]> {
  const names = models.map((r) => r.name);
  const maxFreq = Math.max(1, ...models.flatMap((r) => r.embedFourierNorms.map((x) => x.freq)), Math.floor((p - 1) / 2));
  const bars = (r: ModelReport, values: readonly { readonly freq: number; readonly value: number }[], keys: readonly number[]): FrequencyBar[] => {
    const byFreq = new Map(values.map((x) => [x.freq, x.value]));
    const keySet = new Set(keys);
    return Array.from({ length: maxFreq }, (_, i) => ({ precision: r.name, freq: i + 1, value: byFreq.get(i + 1) ?? 0, key: keySet.has(i + 1) }));
  };
  const embedBars = models.flatMap((r) => bars(r, r.embedFourierNorms.map((x) => ({ freq: x.freq, value: x.norm })), r.keyFrequencies.embed));
  const neuronBars = models.flatMap((r) => bars(r, r.neuronFrequencies.map((x) => ({ freq: x.freq, value: x.neurons })), r.keyFrequencies.neurons));
  const unclustered = models.map((r) => `${r.name}: ${r.unclusteredNeurons === undefined ? '—' : r.unclusteredNeurons}`).join(', ');
  return [
    figure(
      'plot-embed-fourier',
      `Embedding Fourier norms per frequency of ${what} (√(n_cos² + n_sin²)); key frequencies (by embedding norm) highlighted.`,
      await renderSvg(facetedFrequencyBarsSpec({ bars: embedBars, precisions: names, maxFreq, yTitle: '‖F W_E‖ per frequency' }), 'plot-embed-fourier'),
    ),
    figure(
      'plot-neuron-frequencies',
      `Neuron-frequency histogram of ${what}: clustered MLP neurons per best frequency; key frequencies (by neurons) highlighted. Unclustered alive neurons: ${unclustered}.`,
      await renderSvg(facetedFrequencyBarsSpec({ bars: neuronBars, precisions: names, maxFreq, yTitle: 'neurons' }), 'plot-neuron-frequencies'),
    ),
  ];
}

/** `table#key-frequencies`: one row per model. */
export function keyFrequencyTable(models: readonly ModelReport[], heading: string): string {
  const rows = models.map(
    (r) => `<tr data-precision="${esc(r.name)}"><td>${esc(r.name)}</td><td>${esc(fmtSet(r.keyFrequencies.embed))}</td><td>${esc(fmtSet(r.keyFrequencies.neurons))}</td><td class="num">${r.keyFrequencies.embed.length}</td><td class="num">${r.keyFrequencies.neurons.length}</td></tr>`,
  );
  return `<table id="key-frequencies"><thead><tr><th>${esc(heading)}</th><th>key frequencies (embedding)</th><th>key frequencies (neurons)</th><th># embed</th><th># neurons</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

const MECHANISM_COLUMNS: readonly (readonly [keyof MechanismReport, string])[] = [
  ['accuracy', 'accuracy (all p²)'],
  ['fullLoss', 'full loss'],
  ['restrictedLoss', 'restricted loss'],
  ['excludedLoss', 'excluded loss'],
  ['varianceExplainedByKeys', 'MLP var. explained by keys'],
  ['shareClustered', 'share of neurons clustered'],
  ['ffs', 'FFS'],
  ['fcr', 'FCR'],
  ['giniEmbed', 'Gini W_E'],
  ['giniNeuronLogit', 'Gini W_L'],
  ['gradientSymmetricity', 'gradient symmetricity'],
  ['distanceIrrelevance', 'distance irrelevance'],
  ['circularity', 'circularity'],
];

/** `table#mechanism`: one column per model that has mechanism numbers. */
export function mechanismTable(models: readonly ModelReport[]): string {
  const withM = models.filter((r) => r.mechanism !== undefined);
  if (withM.length === 0) return '<p class="note">No mechanism numbers (the models were not analysed).</p>';
  const head = `<tr><th>measure</th>${withM.map((r) => `<th>${esc(r.name)}</th>`).join('')}</tr>`;
  const rows = MECHANISM_COLUMNS.map(([k, label]) => `<tr><td>${esc(label)}</td>${withM.map((r) => `<td class="num">${fmt(r.mechanism?.[k])}</td>`).join('')}</tr>`);
  return `<table id="mechanism"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`;
}

/** `section#provenance`: where the report came from, the config and the stages. */
export function provenanceSection(p: ReportProvenance): string {
  const items: [string, string | undefined][] = [
    ['pipeline', p.pipeline],
    ['config hash', p.configHash],
    ['backend', p.backend],
    ['seed', String(p.seed)],
    ['bitlens version', p.bitlensVersion],
    ['git revision', p.gitRevision],
    ['generated at', p.generatedAt],
    ['wall time', p.wallSeconds === undefined ? undefined : `${p.wallSeconds.toFixed(1)} s`],
  ];
  const dl = items.filter((x): x is [string, string] => x[1] !== undefined).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('');
  const stages = p.stages ?? [];
  const stageTable =
    stages.length === 0
      ? ''
      : `<table id="stages"><thead><tr><th>node</th><th>stage</th><th>artifact key</th><th>this run</th></tr></thead><tbody>${stages
          .map((s) => `<tr><td>${esc(s.node)}</td><td>${esc(s.stage)}</td><td><code>${esc(s.key.slice(0, 16))}</code></td><td>${s.cached ? 'read from store' : 'computed'}</td></tr>`)
          .join('')}</tbody></table>`;
  return `<section id="provenance"><h2>Provenance</h2><dl>${dl}</dl><h3>Config</h3><pre id="config">${esc(JSON.stringify(p.config, null, 2))}</pre>${stageTable}</section>`;
}
