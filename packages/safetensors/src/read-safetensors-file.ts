import { readRegularFile } from '@bitlens/core';
import { type SafetensorsHeader, readSafetensorsHeader } from './read-safetensors.js';

/** Options of {@link readSafetensorsFile}. */
export interface ReadSafetensorsFileOptions {
  /** Largest plausible file size in bytes; a larger file is refused before it is read. */
  readonly maxBytes: number;
  /** The option that named the path, for errors (default `path`). */
  readonly field?: string;
  /** Who reads it, for errors (default `safetensors/read-file`). */
  readonly stage?: string;
}

/**
 * Reads a safetensors file from disk with a bound: the path must be a regular file (not a FIFO, device or folder: those
 * are refused without reading, so nothing blocks) of at most `maxBytes`, read with bounded memory, and its header must
 * validate (`readSafetensorsHeader`). Returns the bytes and the parsed header. Throws `NOT_FOUND` (missing path),
 * `INVALID_OPTION` (not a regular file, too large) or `ARTIFACT_CORRUPT` (bad header), each naming the option.
 * @example const { bytes } = readSafetensorsFile('model.safetensors', { maxBytes: 64 << 20, field: 'weights' });
 */
export function readSafetensorsFile(path: string, options: ReadSafetensorsFileOptions): { readonly bytes: Uint8Array; readonly header: SafetensorsHeader } {
  const bytes = readRegularFile(path, {
    stage: options.stage ?? 'safetensors/read-file',
    field: options.field ?? 'path',
    maxBytes: options.maxBytes,
    what: 'a regular .safetensors file',
  });
  return { bytes, header: readSafetensorsHeader(bytes) };
}
