import { resolve } from 'node:path';
import { BitlensError, readRegularFile } from '@bitlens/core';
import { z } from 'zod';
import type { SuiteReport } from './types.js';

const STAGE = 'bench';
/** Baselines are a few KiB; anything past this is not one. */
const MAX_BASELINE_BYTES = 64 * 2 ** 20;

const finite = z.number().refine(Number.isFinite, { error: 'expected a finite number' });
const TaskSummarySchema = z.looseObject({
  name: z.string().min(1),
  reference: z.string().min(1),
  meta: z.looseObject({}).default({}),
  p50Ms: finite,
  meanMs: finite,
  opsPerSec: z.number(),
  p99Ms: finite,
  rme: finite,
  samples: z.number().int().min(0),
  ratio: z.number(),
  spread: z.number().min(0),
});
const SuiteReportSchema = z.looseObject({
  suite: z.string().min(1),
  created: z.string(),
  quick: z.boolean(),
  rounds: z.number().int().min(1),
  machine: z.looseObject({ cpu: z.string(), cores: z.number(), node: z.string(), platform: z.string() }),
  tasks: z.array(TaskSummarySchema),
});

/**
 * Reads a `--compare` baseline: a regular file of at most 64 MiB holding the JSON that `--save` writes (one suite
 * report or an array of them). Throws `INVALID_OPTION` naming `--compare`, the file and, for a wrongly shaped file,
 * the first bad field with what was found.
 */
export function readBaseline(path: string, cwd: string): SuiteReport[] {
  let bytes: Uint8Array;
  try {
    bytes = readRegularFile(resolve(cwd, path), { stage: STAGE, field: '--compare', maxBytes: MAX_BASELINE_BYTES, what: 'a baseline JSON file written by --save' });
  } catch (e) {
    // A missing baseline is a wrong option here (exit 2), whatever the reader calls it.
    if (e instanceof BitlensError && e.code === 'NOT_FOUND') throw new BitlensError('INVALID_OPTION', e.site, undefined, { cause: e });
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: '--compare', expected: 'a JSON file written by --save', found: `unparseable JSON in ${JSON.stringify(path)}` }, (e as Error).message, { cause: e });
  }
  // One report or an array of them: parse with the matching schema, so the first bad field is named.
  const parsed = (Array.isArray(json) ? z.array(SuiteReportSchema).min(1) : SuiteReportSchema).safeParse(json, { reportInput: true });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '(top level)' : issue.path.map(String).join('.');
    const found = issue?.input === undefined ? 'nothing' : JSON.stringify(issue.input)?.slice(0, 80) ?? String(issue.input);
    throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: '--compare', expected: `a baseline written by --save (a suite report or an array of them)`, found: `${JSON.stringify(path)} with ${where}: ${issue?.message ?? 'invalid'}, found ${found}` });
  }
  // Checked by the schema above; extra fields of later versions are kept.
  return (Array.isArray(parsed.data) ? parsed.data : [parsed.data]) as SuiteReport[];
}
