import type { BitlensError } from '@bitlens/core';

/** The exit status of every bitlens command (the README's "Exit codes" table). */
export const EXIT = {
  /** The command did what was asked. */
  ok: 0,
  /** The run failed: a stage, the store, the backend or the disk, or a benchmark gate (regression, nothing measured). */
  failure: 1,
  /** The command line, the config or a file it names is wrong; found before any work, nothing was run or written. */
  usage: 2,
} as const;

/** When an error was raised: while checking what was asked (`usage`) or while doing it (`run`). */
export type ErrorPhase = 'usage' | 'run';

/** Codes of faults in the environment rather than in what was asked: a run failure even when found up front. */
const ENVIRONMENT_CODES: ReadonlySet<string> = new Set(['STORE_UNAVAILABLE', 'BACKEND_UNAVAILABLE', 'QUEUE_UNAVAILABLE']);
/** Codes that always mean a wrong option or config, wherever found (e.g. a value a stage refuses). */
const USAGE_CODES: ReadonlySet<string> = new Set(['INVALID_CONFIG', 'INVALID_OPTION']);

/**
 * The exit status of an error: 2 for a usage, config or option error (any error while checking the command line, the
 * config and the files it names, and `INVALID_CONFIG` / `INVALID_OPTION` wherever they arise); 1 for everything else,
 * including an unusable store or backend found up front.
 */
export function exitCodeOf(error: BitlensError, phase: ErrorPhase): number {
  if (ENVIRONMENT_CODES.has(error.code)) return EXIT.failure;
  if (USAGE_CODES.has(error.code) || phase === 'usage') return EXIT.usage;
  return EXIT.failure;
}
