import { scheme } from 'vega';
import { encodePalettePng } from './png.js';

/** A colour scale of a raster heatmap: a Vega colour scheme over `domain` (values outside are clamped). */
export interface RasterScale {
  /** Vega scheme name (`viridis` for magnitudes, `redblue` for signed values). */
  readonly scheme: 'viridis' | 'redblue';
  /** Reverse the scheme (`redblue` reversed: negative blue, positive red). */
  readonly reverse?: boolean;
  readonly domain: readonly [number, number];
}

const LEVELS = 255; // palette index 255 is kept for NaN
const NAN_COLOUR: readonly [number, number, number] = [224, 228, 234];

function rgbOf(css: string): [number, number, number] {
  const m = /^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/.exec(css);
  if (m !== null) return [Number(m[1]), Number(m[2]), Number(m[3])];
  const h = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(css);
  if (h !== null) return [parseInt(h[1] ?? '0', 16), parseInt(h[2] ?? '0', 16), parseInt(h[3] ?? '0', 16)];
  return [0, 0, 0];
}

/** The 255 colours of a scheme (the same interpolator Vega uses for the legend), then the NaN colour. */
function paletteOf(name: RasterScale['scheme'], reverse: boolean): (readonly [number, number, number])[] {
  const f = scheme(name) as (t: number) => string;
  const colours = Array.from({ length: LEVELS }, (_, i) => {
    const t = i / (LEVELS - 1);
    return rgbOf(f(reverse ? 1 - t : t));
  });
  return [...colours, NAN_COLOUR];
}

/**
 * A row-major `[rows, cols]` matrix as a PNG data URI, one pixel per entry (row 0 at the top), coloured by `scale`.
 * NaN entries are light grey. Deterministic.
 */
export function rasterUri(values: ArrayLike<number>, rows: number, cols: number, scale: RasterScale): string {
  const [lo, hi] = scale.domain;
  const span = hi > lo ? hi - lo : 1;
  const idx = new Uint8Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) {
    const v = values[i] ?? Number.NaN;
    idx[i] = Number.isNaN(v) ? LEVELS : Math.max(0, Math.min(LEVELS - 1, Math.round(((v - lo) / span) * (LEVELS - 1))));
  }
  const png = encodePalettePng(cols, rows, idx, paletteOf(scale.scheme, scale.reverse === true));
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}

/** [min, max] of the finite entries (or [0, 1] when there are none; a constant matrix gets a unit span). */
export function extent(values: ArrayLike<number>): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? Number.NaN;
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) return [0, 1];
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

/** A symmetric domain [-m, m] with m the largest finite |value| (1 when all are zero). */
export function symmetricExtent(values: ArrayLike<number>): [number, number] {
  const [lo, hi] = extent(values);
  const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  return [-m, m];
}
