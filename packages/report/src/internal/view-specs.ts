import type { TopLevelSpec } from 'vega-lite';
import type { RasterScale } from './raster.js';

/** Config shared by the view charts (smaller type than the curve plots: many small panels). */
const VIEW_CONFIG = {
  background: 'white',
  font: 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif',
  axis: { labelFontSize: 9, titleFontSize: 10, grid: false, tickCount: 6 },
  header: { labelFontSize: 9, labelFontWeight: 'normal' as const, labelPadding: 3 },
  legend: { labelFontSize: 9, titleFontSize: 10, gradientLength: 120, gradientThickness: 10 },
  title: { fontSize: 12, anchor: 'start' as const },
  view: { stroke: '#d0d5dc' },
  facet: { spacing: 14 },
};

/** A heatmap panel: its title (unique within the grid) and its raster as a data URI. */
export interface ImagePanel {
  readonly title: string;
  readonly url: string;
}

/** A position axis of a heatmap: the data range the raster covers, and optional tick positions. */
export interface HeatmapAxis {
  readonly title: string;
  readonly domain: readonly [number, number];
  readonly values?: readonly number[];
}

/** A shared colour legend for every panel of a grid. */
export interface HeatmapLegend {
  readonly title: string;
  readonly scale: RasterScale;
}

function positionScale(a: HeatmapAxis, reverse: boolean) {
  return { domain: [...a.domain], nice: false, zero: false, ...(reverse ? { reverse: true } : {}) };
}

function positionEncoding(a: HeatmapAxis, reverse: boolean) {
  // A datum encoding takes no title from the channel: the axis is given it.
  return { datum: a.domain[0], type: 'quantitative' as const, scale: positionScale(a, reverse), axis: { title: a.title, ...(a.values === undefined ? {} : { values: [...a.values] }) } };
}

/** The raster layer: one image per panel covering the plot area; row 0 of the raster at the top. */
function imageLayer(width: number, height: number, x: HeatmapAxis, y: HeatmapAxis) {
  return {
    mark: { type: 'image', width, height, aspect: false, smooth: false, align: 'left', baseline: 'top', aria: false },
    encoding: { x: positionEncoding(x, false), y: positionEncoding(y, true), url: { field: 'url', type: 'nominal' } },
  };
}

/** An invisible mark whose colour encoding draws the gradient legend of the rasters' scale. */
function legendLayer(legend: HeatmapLegend, x: HeatmapAxis, y: HeatmapAxis) {
  const s = legend.scale;
  return {
    mark: { type: 'point', opacity: 0, aria: false },
    encoding: {
      x: { datum: x.domain[0], type: 'quantitative' },
      y: { datum: y.domain[0], type: 'quantitative' },
      color: { field: 'legend', type: 'quantitative', title: legend.title, scale: { domain: [...s.domain], scheme: s.scheme, ...(s.reverse === true ? { reverse: true } : {}) } },
    },
  };
}

/**
 * A grid of raster heatmaps (one panel per image, `columns` per row, titles as headers) with shared axes and an
 * optional shared colour legend. The rasters are PNG data URIs drawn by Vega image marks; the axes and legend are SVG.
 */
export function imageGridSpec(o: {
  readonly panels: readonly ImagePanel[];
  readonly width: number;
  readonly height: number;
  readonly columns: number;
  readonly x: HeatmapAxis;
  readonly y: HeatmapAxis;
  readonly legend?: HeatmapLegend;
}): TopLevelSpec {
  const values = o.panels.map((p) => ({ panel: p.title, url: p.url, legend: o.legend?.scale.domain[0] ?? 0 }));
  return {
    config: VIEW_CONFIG,
    data: { values },
    facet: { field: 'panel', type: 'nominal', sort: o.panels.map((p) => p.title), title: null },
    columns: o.columns,
    // Flush bounds: a header wider than its panel does not widen the column.
    bounds: 'flush',
    spacing: { column: 18, row: 22 },
    spec: { width: o.width, height: o.height, layer: [imageLayer(o.width, o.height, o.x, o.y), ...(o.legend === undefined ? [] : [legendLayer(o.legend, o.x, o.y)])] },
  } as TopLevelSpec;
}

/** A marker on a heatmap, in data coordinates. */
export interface HeatmapMarker {
  readonly x: number;
  readonly y: number;
}

/** One raster heatmap with a legend and markers drawn over it (open circles), e.g. the key frequencies per checkpoint. */
export function markedHeatmapSpec(o: {
  readonly url: string;
  readonly width: number;
  readonly height: number;
  readonly x: HeatmapAxis;
  readonly y: HeatmapAxis;
  readonly legend: HeatmapLegend;
  readonly markers: readonly HeatmapMarker[];
  readonly markerLabel: string;
}): TopLevelSpec {
  const values = [{ layer: 'image', url: o.url, legend: o.legend.scale.domain[0] }, ...o.markers.map((m) => ({ layer: 'marker', mx: m.x, my: m.y, kind: o.markerLabel }))];
  return {
    config: VIEW_CONFIG,
    width: o.width,
    height: o.height,
    data: { values },
    layer: [
      { transform: [{ filter: "datum.layer === 'image'" }], ...imageLayer(o.width, o.height, o.x, o.y) },
      { transform: [{ filter: "datum.layer === 'image'" }], ...legendLayer(o.legend, o.x, o.y) },
      {
        transform: [{ filter: "datum.layer === 'marker'" }],
        mark: { type: 'point', shape: 'circle', filled: false, size: 18, strokeWidth: 1.2 },
        encoding: {
          x: { field: 'mx', type: 'quantitative', title: o.x.title },
          y: { field: 'my', type: 'quantitative', title: o.y.title },
          stroke: { field: 'kind', type: 'nominal', title: null, scale: { range: ['#ffffff'] }, legend: { orient: 'right', symbolStrokeColor: '#444444', symbolFillColor: 'transparent', labelLimit: 220 } },
        },
      },
    ],
    resolve: { scale: { color: 'independent' } },
  } as TopLevelSpec;
}

/** One token's position in a clock plane (coordinates scaled so that the farthest token of its panel is at radius 1). */
export interface PlanePoint {
  readonly panel: string;
  readonly token: number;
  readonly x: number;
  readonly y: number;
}

/** Scatter panels of the tokens in each key frequency's (cos, sin) plane, coloured by token (cyclic) and labelled. */
export function clockSpec(o: { readonly points: readonly PlanePoint[]; readonly panels: readonly string[]; readonly p: number; readonly columns: number; readonly size: number }): TopLevelSpec {
  const axis = (title: string) => ({ type: 'quantitative' as const, title, scale: { domain: [-1.25, 1.25], nice: false }, axis: { values: [-1, 0, 1], grid: true, gridColor: '#eceff3' } });
  return {
    config: VIEW_CONFIG,
    data: { values: o.points.map((d) => ({ ...d })) },
    facet: { field: 'panel', type: 'nominal', sort: [...o.panels], title: null },
    columns: o.columns,
    spec: {
      width: o.size,
      height: o.size,
      encoding: { x: { field: 'x', ...axis('cos direction') }, y: { field: 'y', ...axis('sin direction') } },
      layer: [
        { mark: { type: 'point', filled: true, size: 22, opacity: 0.9, aria: false }, encoding: { color: { field: 'token', type: 'quantitative', title: 'token', scale: { scheme: 'sinebow', domain: [0, o.p] }, legend: null } } },
        { mark: { type: 'text', fontSize: 7, dy: -6, color: '#333333', aria: false }, encoding: { text: { field: 'token', type: 'quantitative' } } },
      ],
    },
  } as TopLevelSpec;
}

/** Grouped bars: per head, the mean attention from the last position to each position. */
export function attentionBarsSpec(o: { readonly bars: readonly { readonly head: string; readonly position: string; readonly value: number }[]; readonly positions: readonly string[] }): TopLevelSpec {
  return {
    config: VIEW_CONFIG,
    width: 220,
    height: 120,
    data: { values: o.bars.map((b) => ({ ...b })) },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'head', type: 'nominal', title: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'position', type: 'nominal', sort: [...o.positions] },
      y: { field: 'value', type: 'quantitative', title: 'mean attention from =', scale: { domain: [0, 1] } },
      color: { field: 'position', type: 'nominal', title: 'to', sort: [...o.positions], scale: { domain: [...o.positions], range: ['#1f77b4', '#ff7f0e', '#7f7f7f', '#2ca02c'] }, legend: { orient: 'right' } },
    },
  } as TopLevelSpec;
}
