import { BitlensError, readRegularFile } from '@bitlens/core';
import type { z } from 'zod';
import { assertSafeKeyPath, emptyRecord, safeClone, setKeyPath } from './safe-object.js';
import { parse as parseYaml } from 'yaml';

const STAGE = 'cli/config';
/** Config files are small JSON objects; a larger file is not one (and is not read past this). */
export const MAX_CONFIG_BYTES = 4 * 2 ** 20;

/** What a JSON value is, in words (`null`, `an array`, `a string`). */
export function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v} (${JSON.stringify(v)})`;
}

/**
 * Parses one `--set key=value`: the value is JSON when it parses as JSON, a string otherwise. Dots nest keys.
 * Refuses empty keys and keys that reach a prototype (`__proto__`, `constructor`, `prototype`) with `INVALID_CONFIG`.
 */
export function parseSet(assignment: string): { path: string[]; value: unknown } {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: '--set', expected: 'key=value', found: JSON.stringify(assignment) });
  const path = assignment.slice(0, eq).split('.');
  if (path.some((p) => p.trim() === '')) throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: '--set', expected: 'a key like a or a.b', found: JSON.stringify(assignment.slice(0, eq)) });
  assertSafeKeyPath(path, { stage: STAGE, field: '--set' });
  const raw = assignment.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    /* not JSON: keep the string */
  }
  return { path, value };
}

/** Whether a config file is read as YAML (by its extension: `.yaml`, `.yml`); JSON otherwise. */
export const isYamlFile = (file: string): boolean => /\.ya?ml$/i.test(file);

/**
 * Reads `--config file.json` (or `file.yaml` / `file.yml`): a regular file of at most 4 MiB holding one object (no
 * prototype keys). YAML is parsed by the `yaml` package with duplicate keys refused and at most 100 alias expansions
 * (a bounded "billion laughs").
 */
export function readConfigFile(file: string): Record<string, unknown> {
  const yaml = isYamlFile(file);
  const kind = yaml ? 'YAML' : 'JSON';
  const bytes = readRegularFile(file, { stage: STAGE, field: '--config', maxBytes: MAX_CONFIG_BYTES, what: `a regular ${kind} file` });
  let parsed: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    parsed = yaml ? parseYaml(text, { uniqueKeys: true, maxAliasCount: 100, merge: false }) : JSON.parse(text);
  } catch (e) {
    throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: '--config', expected: `a ${kind} object`, found: `unparseable ${kind} in ${JSON.stringify(file)}` }, (e as Error).message, { cause: e });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: '--config', expected: 'a JSON object', found: `${describeJson(parsed)} in ${JSON.stringify(file)}` });
  }
  return safeClone(parsed, { stage: STAGE, field: `--config ${file}` }) as Record<string, unknown>;
}

/**
 * Reads `--config file.json` (an object), then applies `--set` assignments and `--backend`. The result and every
 * object in it have no prototype, and no key path reaches one.
 */
export function assembleConfig(options: { file?: string; sets: readonly string[]; backend?: string }): Record<string, unknown> {
  const config = options.file === undefined ? emptyRecord() : readConfigFile(options.file);
  const seen: string[][] = [];
  for (const s of options.sets) {
    const { path, value } = parseSet(s);
    // The same key twice (or a key and a key inside it) would silently keep the last: refuse it.
    const clash = seen.find((q) => q.length <= path.length ? q.every((k, i) => path[i] === k) : path.every((k, i) => q[i] === k));
    if (clash !== undefined) {
      throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field: '--set', expected: 'each key set once', found: `${JSON.stringify(path.join('.'))} after ${JSON.stringify(clash.join('.'))}` });
    }
    seen.push(path);
    setKeyPath(config, path, value, { stage: STAGE, field: '--set' });
  }
  if (options.backend !== undefined) config['backend'] = options.backend;
  return config;
}

/** How a value found in a config reads in a message (short). */
function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * Validates a config against a pipeline's schema; every problem names its key, what was expected and the value
 * found. Throws `INVALID_CONFIG`.
 */
export function validateConfig<C extends z.ZodType>(pipeline: string, schema: C, config: unknown): z.output<C> {
  const result = schema.safeParse(config, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return `${issue.keys.map((k) => `'${base === '' ? k : `${base}.${k}`}'`).join(', ')}: unknown key`;
    }
    if (issue.input === undefined && issue.code === 'invalid_type') return `'${base || '(config)'}': required (${issue.expected})`;
    return `'${base || '(config)'}': ${issue.message}, found ${shown(issue.input)}`;
  });
  throw new BitlensError('INVALID_CONFIG', { stage: `pipeline ${pipeline}`, field: 'config' }, `bad value(s): ${problems.join('; ')}`);
}
