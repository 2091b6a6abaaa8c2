import { BitlensError } from '@bitlens/core';

/**
 * Signal-to-quantization-noise ratio in decibels, 10 log10(sum r^2 / sum (r - q)^2), accumulated in float64.
 * +Infinity when q equals r exactly (no noise); -Infinity when r is all zeros and q is not.
 * @example sqnrDb(w, q8.quantizeHost(w).values) // about 40-50 dB for 8-bit weights
 */
export function sqnrDb(reference: ArrayLike<number>, quantized: ArrayLike<number>): number {
  const s = sqnrSums(reference, quantized);
  return sqnrFromSums(s.signal, s.noise);
}

/** The two sums of {@link sqnrDb} (to accumulate over batches): signal = sum r^2, noise = sum (r - q)^2. */
export function sqnrSums(reference: ArrayLike<number>, quantized: ArrayLike<number>): { signal: number; noise: number } {
  let signal = 0;
  let noise = 0;
  if (reference.length !== quantized.length) {
    throw new BitlensError('SHAPE_MISMATCH', { stage: 'quantization/sqnr', field: 'quantized', expected: `${reference.length} values (as the reference)`, found: String(quantized.length) });
  }
  const n = reference.length;
  for (let i = 0; i < n; i++) {
    const r = reference[i] ?? 0;
    const d = r - (quantized[i] ?? 0);
    signal += r * r;
    noise += d * d;
  }
  return { signal, noise };
}

/** SQNR in dB from accumulated sums (see {@link sqnrDb}). */
export function sqnrFromSums(signal: number, noise: number): number {
  if (noise === 0) return Number.POSITIVE_INFINITY;
  return 10 * Math.log10(signal / noise);
}
