import { GRID_MAX_P, GRID_MAX_P_REASON } from '@bitlens/circuits';
import type { PipelineDefinition } from '@bitlens/core';
import { z } from 'zod';

/** One option of a pipeline as `bitlens list` shows it. */
export interface OptionInfo {
  readonly key: string;
  /** JSON type or enum, with its range (`integer [3..307]`). */
  readonly type: string;
  readonly default?: unknown;
  readonly description?: string;
  readonly required: boolean;
}

interface JsonProp { properties?: Record<string, JsonProp>; required?: string[]; type?: string; enum?: unknown[]; default?: unknown; description?: string; minimum?: number; maximum?: number; exclusiveMinimum?: number; exclusiveMaximum?: number }

function typeOf(p: JsonProp): string {
  let type = p.enum !== undefined ? p.enum.map((v) => JSON.stringify(v)).join('|') : (p.type ?? 'any');
  const bound = (v: number | undefined): string => (v === undefined || Math.abs(v) > 1e15 ? '' : String(v));
  const lo = bound(p.minimum) !== '' ? `[${bound(p.minimum)}` : bound(p.exclusiveMinimum) !== '' ? `(${bound(p.exclusiveMinimum)}` : '';
  const hi = bound(p.maximum) !== '' ? `${bound(p.maximum)}]` : bound(p.exclusiveMaximum) !== '' ? `${bound(p.exclusiveMaximum)})` : '';
  if (lo !== '' || hi !== '') type += ` ${lo === '' ? '(' : lo}..${hi === '' ? ')' : hi}`;
  return type;
}

function flatten(props: Record<string, JsonProp>, required: readonly string[], prefix: string, parentDefault: unknown, parentDescription?: string): OptionInfo[] {
  return Object.entries(props).flatMap(([key, p]) => {
    const path = `${prefix}${key}`;
    const inherited = typeof parentDefault === 'object' && parentDefault !== null ? (parentDefault as Record<string, unknown>)[key] : undefined;
    const dflt = p.default ?? inherited;
    // Nested options are listed by their dotted key (what --set takes), each with its own type and default.
    if (p.properties !== undefined && Object.keys(p.properties).length > 0) return flatten(p.properties, p.required ?? [], `${path}.`, dflt, p.description ?? parentDescription);
    const description = p.description ?? parentDescription;
    return [{ key: path, type: typeOf(p), default: dflt, ...(description === undefined ? {} : { description }), required: required.includes(key) && dflt === undefined && prefix === '' }];
  });
}

/** The options of a pipeline's config schema: key (dotted for nested options), type with range, default, description. */
export function describeOptions(schema: z.ZodType): OptionInfo[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonProp;
  return flatten(json.properties ?? {}, json.required ?? [], '', undefined);
}

/** The option table of one pipeline, as text lines. */
export function optionLines(p: PipelineDefinition): string[] {
  const options = describeOptions(p.config);
  const width = (f: (o: OptionInfo) => string, cap: number): number => Math.min(cap, Math.max(...options.map((o) => f(o).length)));
  const dflt = (o: OptionInfo): string => (o.required ? 'required' : o.default === undefined ? 'optional' : `default ${JSON.stringify(o.default)}`);
  const [wk, wt, wd] = [width((o) => o.key, 26), width((o) => o.type, 36), width(dflt, 24)];
  return options.map((o) => `  ${o.key.padEnd(wk)}  ${o.type.padEnd(wt)}  ${dflt(o).padEnd(wd)}  ${o.description ?? ''}`.trimEnd());
}

/** A note under the list: the one bound on p that every pipeline shares, and why. */
export const MODULUS_NOTE = `p is a prime in [3..${GRID_MAX_P}] in every pipeline: ${GRID_MAX_P_REASON}.`;

/** `bitlens list`: every pipeline with its options (text or JSON). */
export function listPipelines(pipelines: readonly PipelineDefinition[], asJson: boolean, out: (line: string) => void): number {
  const described = pipelines.map((p) => ({ name: p.name, description: p.description, options: describeOptions(p.config) }));
  if (asJson) {
    out(JSON.stringify({ pipelines: described, limits: { p: { min: 3, max: GRID_MAX_P, prime: true, reason: GRID_MAX_P_REASON } } }, null, 2));
    return 0;
  }
  for (const p of pipelines) {
    out(`${p.name} — ${p.description}`);
    for (const line of optionLines(p)) out(line);
  }
  out('');
  out(MODULUS_NOTE);
  return 0;
}
