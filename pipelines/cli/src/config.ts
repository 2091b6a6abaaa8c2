import { readFileSync } from 'node:fs';
import { BitlensError } from '@bitlens/core';
import type { z } from 'zod';

const STAGE = 'cli/config';

/** Parses one `--set key=value`: the value is JSON when it parses as JSON, a string otherwise. Dots nest keys. */
export function parseSet(assignment: string): { path: string[]; value: unknown } {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: '--set', expected: 'key=value', found: JSON.stringify(assignment) });
  const path = assignment.slice(0, eq).split('.');
  if (path.some((p) => p === '')) throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: '--set', expected: 'a key like a or a.b', found: JSON.stringify(assignment.slice(0, eq)) });
  const raw = assignment.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    /* not JSON: keep the string */
  }
  return { path, value };
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] ?? ''] = value;
}

/** Reads `--config file.json` (an object), then applies `--set` assignments and `--backend`. */
export function assembleConfig(options: { file?: string; sets: readonly string[]; backend?: string }): Record<string, unknown> {
  let config: Record<string, unknown> = {};
  if (options.file !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(options.file, 'utf8'));
    } catch (e) {
      throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: '--config', expected: 'a readable JSON file', found: (e as Error).message }, undefined, { cause: e });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: '--config', expected: 'a JSON object', found: Array.isArray(parsed) ? 'an array' : typeof parsed });
    }
    config = parsed as Record<string, unknown>;
  }
  for (const s of options.sets) {
    const { path, value } = parseSet(s);
    setPath(config, path, value);
  }
  if (options.backend !== undefined) config['backend'] = options.backend;
  return config;
}

/** Validates a config against a pipeline's schema; every problem names its key. */
export function validateConfig<C extends z.ZodType>(pipeline: string, schema: C, config: unknown): z.output<C> {
  const result = schema.safeParse(config);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const base = issue.path.map(String).join('.');
    const key = unknownKeys.length > 0 ? unknownKeys.map((k) => (base === '' ? k : `${base}.${k}`)).join(', ') : base || '(config)';
    return { key, message: issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message };
  });
  throw new BitlensError(
    'INVALID_CONFIG',
    { stage: `pipeline ${pipeline}`, field: 'config' },
    `bad value(s): ${problems.map((p) => `'${p.key}': ${p.message}`).join('; ')}`,
  );
}
