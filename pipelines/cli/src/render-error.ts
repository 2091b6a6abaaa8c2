import type { BitlensError } from '@bitlens/core';

/** How errors are shown. */
export interface ErrorStyle {
  /** One JSON object instead of text. */
  readonly json: boolean;
  /** Include the stack trace (`--debug` or `BITLENS_DEBUG=1`). */
  readonly debug: boolean;
}

/** Whether stack traces were asked for by the environment. */
export function debugFromEnv(env: NodeJS.ProcessEnv): boolean {
  const v = env['BITLENS_DEBUG'];
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

function stackOf(error: BitlensError): string | undefined {
  const frames: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e instanceof Error && depth < 5; depth++) {
    if (e.stack !== undefined) frames.push(depth === 0 ? e.stack : `caused by: ${e.stack}`);
    e = e.cause;
  }
  return frames.length === 0 ? undefined : frames.join('\n');
}

/**
 * The text of an error for stderr: `bitlens: [CODE] stage 'field': detail; expected …, found …` plus a hint, and the
 * stack only when asked for; or, as JSON, one object `{"error": {code, message, stage, field?, expected?, found?,
 * exitCode, stack?}}` on one line.
 */
export function renderError(error: BitlensError, exitCode: number, style: ErrorStyle, hint?: string): string {
  const stack = style.debug ? stackOf(error) : undefined;
  if (style.json) {
    const { stage, field, expected, found } = error.site;
    return JSON.stringify({
      error: {
        code: error.code, message: error.message, stage,
        ...(field === undefined ? {} : { field }), ...(expected === undefined ? {} : { expected }), ...(found === undefined ? {} : { found }),
        exitCode, ...(hint === undefined ? {} : { hint }), ...(stack === undefined ? {} : { stack }),
      },
    });
  }
  const lines = [`bitlens: ${error.message}`];
  if (hint !== undefined) lines.push(hint);
  if (stack !== undefined) lines.push(stack);
  else if (error.code === 'INTERNAL') lines.push('(an internal error: rerun with --debug or BITLENS_DEBUG=1 for the stack trace, and report it)');
  return lines.join('\n');
}
