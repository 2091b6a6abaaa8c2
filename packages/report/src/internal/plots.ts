import { parse, resetSVGDefIds, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Fixed colours of the usual precisions (others get the rest of the Tableau 10 palette, in order). */
const KNOWN_COLOURS: Readonly<Record<string, string>> = { fp32: '#1f77b4', ternary: '#ff7f0e', binary: '#2ca02c' };
const SPARE_COLOURS = ['#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const KEY_COLOUR = '#d62728';
const OTHER_COLOUR = '#9aa5b1';
const PANEL_WIDTH = 230;
const PANEL_HEIGHT = 150;

/** Colours for a list of precision names (stable: known names first get their fixed colour). */
export function precisionColours(names: readonly string[]): string[] {
  let spare = 0;
  return names.map((n) => KNOWN_COLOURS[n] ?? SPARE_COLOURS[spare++ % SPARE_COLOURS.length] ?? '#333333');
}

const BASE_CONFIG = {
  background: 'white',
  font: 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif',
  axis: { labelFontSize: 10, titleFontSize: 11, grid: true, gridColor: '#eceff3' },
  header: { labelFontSize: 12, labelFontWeight: 'bold' as const },
  legend: { labelFontSize: 10, titleFontSize: 11 },
  view: { stroke: '#d0d5dc' },
};

/**
 * Renders a Vega-Lite spec to an SVG string, headless (no DOM, no canvas: vega's string renderer). Definition ids
 * (clip paths, gradients) are reset before rendering and prefixed with `idPrefix`, so the output is deterministic and
 * several SVGs can be inlined in one page without id clashes.
 */
export async function renderSvg(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  const vg = compile(spec).spec;
  resetSVGDefIds();
  const view = new View(parse(vg), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return svg.replace(/\bid="([^"]+)"/g, `id="${idPrefix}-$1"`).replace(/url\(#([^)]+)\)/g, `url(#${idPrefix}-$1)`).replace(/href="#([^"]+)"/g, `href="#${idPrefix}-$1"`);
  } finally {
    view.finalize();
  }
}

/** Powers of ten spanning positive values (log-axis ticks), at most ~8 of them (every other decade when more). */
export function decades(values: readonly number[]): number[] {
  const pos = values.filter((v) => v > 0 && Number.isFinite(v));
  if (pos.length === 0) return [1];
  const lo = Math.floor(Math.log10(Math.min(...pos)));
  const hi = Math.ceil(Math.log10(Math.max(...pos)));
  const step = hi - lo > 8 ? 2 : 1;
  const out: number[] = [];
  for (let e = hi; e >= lo; e -= step) out.unshift(Number(`1e${e}`));
  return out;
}

/** One point of a line plot faceted by precision. */
export interface LinePoint {
  readonly precision: string;
  readonly epoch: number;
  readonly series: string;
  readonly value: number;
}

/** A vertical marker (e.g. the grokking epoch) in one facet. */
export interface Marker {
  readonly precision: string;
  readonly epoch: number;
  readonly label: string;
}

/** Line plots over epochs, one panel per precision, one colour per series, with dashed vertical markers. */
export function facetedLinesSpec(o: {
  readonly points: readonly LinePoint[];
  readonly markers: readonly Marker[];
  readonly precisions: readonly string[];
  readonly series: readonly string[];
  readonly seriesColours: readonly string[];
  readonly yTitle: string;
  readonly yLog: boolean;
  readonly yDomain?: readonly [number, number];
}): TopLevelSpec {
  const keep = o.points.filter((d) => Number.isFinite(d.value) && (!o.yLog || d.value > 0));
  const values = [...keep.map((d) => ({ layer: 'line', ...d })), ...o.markers.map((m) => ({ layer: 'marker', precision: m.precision, epoch: m.epoch, label: m.label }))];
  const yScale = { ...(o.yLog ? { type: 'log' as const } : {}), ...(o.yDomain === undefined ? {} : { domain: [...o.yDomain] }) };
  return facetByPrecision(values, o.precisions, { x: 'shared', y: 'shared' }, {
    layer: [
      {
        transform: [{ filter: "datum.layer === 'line'" }],
        mark: { type: 'line', strokeWidth: 1.5, clip: true },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', title: 'epoch' },
          y: { field: 'value', type: 'quantitative', title: o.yTitle, scale: yScale, ...(o.yLog ? { axis: { values: decades(keep.map((d) => d.value)), format: '~g' } } : {}) },
          color: { field: 'series', type: 'nominal', title: null, scale: { domain: [...o.series], range: [...o.seriesColours] }, legend: { orient: 'top' } },
        },
      },
      {
        transform: [{ filter: "datum.layer === 'marker'" }],
        mark: { type: 'rule', strokeDash: [4, 3], color: '#444444' },
        encoding: { x: { field: 'epoch', type: 'quantitative' } },
      },
      {
        transform: [{ filter: "datum.layer === 'marker'" }],
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, dy: 2, fontSize: 10, color: '#444444' },
        encoding: { x: { field: 'epoch', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label', type: 'nominal' } },
      },
    ],
  });
}

/** One panel per precision (columns in the given order) of the inner spec over `values`, with the given scale resolution. */
function facetByPrecision(values: readonly object[], precisions: readonly string[], scales: Readonly<Record<string, string>>, inner: Record<string, unknown>): TopLevelSpec {
  return {
    config: BASE_CONFIG,
    data: { values },
    facet: { column: { field: 'precision', type: 'nominal', sort: [...precisions], title: null } },
    spec: { width: PANEL_WIDTH, height: PANEL_HEIGHT, ...inner },
    resolve: { scale: scales },
  } as TopLevelSpec;
}

/** One line per precision in a single panel (e.g. the weight norm). */
export function linesByPrecisionSpec(o: {
  readonly points: readonly { readonly precision: string; readonly epoch: number; readonly value: number }[];
  readonly precisions: readonly string[];
  readonly yTitle: string;
  readonly yLog: boolean;
}): TopLevelSpec {
  const values = o.points.filter((d) => Number.isFinite(d.value) && (!o.yLog || d.value > 0));
  return {
    config: BASE_CONFIG,
    width: 2 * PANEL_WIDTH,
    height: PANEL_HEIGHT + 30,
    data: { values: values.map((d) => ({ ...d })) },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch' },
      y: { field: 'value', type: 'quantitative', title: o.yTitle, scale: o.yLog ? { type: 'log' } : { zero: false } },
      color: { field: 'precision', type: 'nominal', title: null, scale: { domain: [...o.precisions], range: precisionColours(o.precisions) }, legend: { orient: 'top' } },
    },
  } as TopLevelSpec;
}

/** One bar of a per-frequency bar chart. */
export interface FrequencyBar {
  readonly precision: string;
  readonly freq: number;
  readonly value: number;
  readonly key: boolean;
}

/** Bars over frequencies, one panel per precision; key frequencies in a highlight colour. */
export function facetedFrequencyBarsSpec(o: { readonly bars: readonly FrequencyBar[]; readonly precisions: readonly string[]; readonly maxFreq: number; readonly yTitle: string }): TopLevelSpec {
  const values = o.bars.filter((b) => Number.isFinite(b.value)).map((b) => ({ precision: b.precision, freq: b.freq, value: b.value, kind: b.key ? 'key frequency' : 'other' }));
  return facetByPrecision(values, o.precisions, { y: 'independent' }, {
    mark: { type: 'bar' },
    encoding: {
      x: {
        field: 'freq',
        type: 'ordinal',
        title: 'frequency k',
        scale: { domain: Array.from({ length: o.maxFreq }, (_, i) => i + 1), paddingInner: 0.15 },
        axis: { labelAngle: 0, labelExpr: `datum.value % ${o.maxFreq > 30 ? 10 : 5} === 0 ? datum.label : ''` },
      },
      y: { field: 'value', type: 'quantitative', title: o.yTitle },
      color: { field: 'kind', type: 'nominal', title: null, scale: { domain: ['key frequency', 'other'], range: [KEY_COLOUR, OTHER_COLOUR] }, legend: { orient: 'top' } },
    },
  });
}
