import type { HostCodes } from '@bitlens/kernels';
import { binaryScaled, binarySign, ternaryAbsmean, ternaryCentred } from './builtins.js';

export type { HostCodes };

/**
 * Ternary codes in {-1, 0, +1} and the scale, computed on the host (for packing, e.g. I2_S or two bit-planes).
 * `absmean` = BitNet b1.58 (`ternary-absmean`), `centred` = Li 2024 (`ternary-centred`).
 * @example const { codes, scale } = ternaryCodes(latent, 'absmean');
 */
export function ternaryCodes(w: Float32Array, variant: 'absmean' | 'centred' = 'absmean'): HostCodes {
  const r = (variant === 'absmean' ? ternaryAbsmean : ternaryCentred).quantizeHost(w);
  return { codes: r.codes ?? new Int8Array(0), scale: r.scale };
}

/**
 * Binary codes in {-1, +1} (Sign(W - mean W), Sign(0) = -1) and the scale: mean|W| for `scaled` (BitNet,
 * `binary-scaled`), 1 for `sign` (Li 2024, `binary-sign`).
 */
export function binaryCodes(w: Float32Array, variant: 'scaled' | 'sign' = 'scaled'): HostCodes {
  const r = (variant === 'scaled' ? binaryScaled : binarySign).quantizeHost(w);
  return { codes: r.codes ?? new Int8Array(0), scale: r.scale };
}
