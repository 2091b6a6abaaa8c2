import { BitlensError } from '@bitlens/core';
import type { ModelConfig } from './config.js';

/**
 * Hook points inside block `l`, as they follow `blocks.<l>.` (TransformerLens spelling, in forward order).
 * `attn.hook_gate` exists only with gated attention (a bitlens extension); `attn.hook_result` (per-head outputs,
 * TransformerLens's `use_attn_result`) is computed only when it is captured or `attnResult` is set.
 */
export const BLOCK_HOOKS = [
  'hook_resid_pre',
  'attn.hook_q',
  'attn.hook_k',
  'attn.hook_v',
  'attn.hook_attn_scores',
  'attn.hook_pattern',
  'attn.hook_gate',
  'attn.hook_z',
  'attn.hook_result',
  'hook_attn_out',
  'hook_resid_mid',
  'mlp.hook_pre',
  'mlp.hook_post',
  'hook_mlp_out',
  'hook_resid_post',
] as const;
/** One hook point inside a block (without the `blocks.<l>.` prefix). */
export type BlockHook = (typeof BLOCK_HOOKS)[number];

/** Hook points before the blocks (`hook_pos_embed` only with a positional embedding). */
export const INPUT_HOOKS = ['hook_embed', 'hook_pos_embed'] as const;
/**
 * Hook points after the blocks: the final norm's `ln_final.hook_scale`, `ln_final.hook_normalized` (TransformerLens
 * values) and `ln_final.hook_out` (bitlens: the gain-applied output the unembedding reads), only with a final norm;
 * then `logits` (bitlens: the unembedding's output).
 */
export const OUTPUT_HOOKS = ['ln_final.hook_scale', 'ln_final.hook_normalized', 'ln_final.hook_out', 'logits'] as const;

/**
 * A hook name: TransformerLens's spelling where TransformerLens has the hook (`hook_embed`, `blocks.0.attn.hook_pattern`,
 * `ln_final.hook_scale`, …), and bitlens's own names for what TransformerLens does not hook (`blocks.<l>.attn.hook_gate`,
 * `ln_final.hook_out`, `logits`). A misspelt literal is a type error; {@link hookNames} lists the hooks of one config.
 */
export type HookName = (typeof INPUT_HOOKS)[number] | `blocks.${number}.${BlockHook}` | (typeof OUTPUT_HOOKS)[number];

/**
 * Which hooks to capture: a list of names (each checked against the config at run time), a regular expression (it must
 * match at least one hook of the config), or a predicate (not checked: it may select nothing).
 */
export type HookSelector = readonly HookName[] | RegExp | ((hook: HookName) => boolean);

const STAGE = 'model/hooks';
const BLOCK_RE = /^blocks\.(0|[1-9]\d*)\.(.+)$/;

/** True when `name` is spelt like a hook (whatever the config); see {@link hookNames} for one config's hooks. */
export function isHookName(name: string): name is HookName {
  if ((INPUT_HOOKS as readonly string[]).includes(name) || (OUTPUT_HOOKS as readonly string[]).includes(name)) return true;
  const m = BLOCK_RE.exec(name);
  return m !== null && (BLOCK_HOOKS as readonly string[]).includes(m[2] ?? '');
}

/**
 * Every hook a forward pass of `config` has, in the order the forward reaches them (`hook_embed`, `hook_pos_embed`,
 * then per block {@link BLOCK_HOOKS}, then the final norm's hooks and `logits`). Hooks a config lacks are left out:
 * `hook_pos_embed` without a positional embedding, `attn.hook_gate` without gated attention, `ln_final.*` without a final norm.
 * @example hookNames(modelConfig('nanda', 113)).length // 17
 */
export function hookNames(config: ModelConfig): HookName[] {
  const out: HookName[] = ['hook_embed'];
  if (config.posEmbed) out.push('hook_pos_embed');
  for (let l = 0; l < config.nLayers; l++) {
    for (const h of BLOCK_HOOKS) if (h !== 'attn.hook_gate' || config.attention.kind === 'gated') out.push(`blocks.${l}.${h}`);
  }
  if (config.finalNorm) out.push('ln_final.hook_scale', 'ln_final.hook_normalized', 'ln_final.hook_out');
  out.push('logits');
  return out;
}

function unknownHook(config: ModelConfig, name: string, field: string, stage: string): BitlensError {
  const known = hookNames(config);
  const spelt = isHookName(name);
  const detail = spelt ? `the ${config.preset} config (${config.nLayers} layer${config.nLayers === 1 ? '' : 's'}) has no such hook` : 'not a hook name';
  return new BitlensError('INVALID_OPTION', { stage, field, expected: `a hook of this model (${known.join(', ')})`, found: JSON.stringify(name) }, detail);
}

/**
 * Checks that every name is a hook of `config` and returns them typed; throws INVALID_OPTION naming the first unknown
 * one (a typo, or a hook this config lacks such as `ln_final.hook_scale` without a final norm).
 */
export function checkHookNames(config: ModelConfig, names: readonly string[], options: { readonly field?: string; readonly stage?: string } = {}): HookName[] {
  const known = new Set<string>(hookNames(config));
  for (const n of names) if (!known.has(n)) throw unknownHook(config, n, options.field ?? 'names', options.stage ?? STAGE);
  return names as HookName[]; // checked above
}

/**
 * Turns a {@link HookSelector} into a predicate over the hooks of `config`, checking it first: listed names must be hooks
 * of the config, a regular expression must match at least one (INVALID_OPTION naming `field` otherwise).
 */
export function hookPredicate(config: ModelConfig, selector: HookSelector, options: { readonly field?: string; readonly stage?: string } = {}): (hook: HookName) => boolean {
  if (typeof selector === 'function') return selector;
  const field = options.field ?? 'names';
  const stage = options.stage ?? STAGE;
  if (selector instanceof RegExp) {
    const re = new RegExp(selector.source, selector.flags.replace(/[gy]/g, '')); // no lastIndex state between tests
    if (!hookNames(config).some((h) => re.test(h))) {
      throw new BitlensError('INVALID_OPTION', { stage, field, expected: `a pattern matching a hook of this model (${hookNames(config).join(', ')})`, found: String(selector) }, 'it matches no hook');
    }
    return (h) => re.test(h);
  }
  const set = new Set<string>(checkHookNames(config, selector, { field, stage }));
  return (h) => set.has(h);
}

/** TransformerLens short names of block hooks (`utils.get_act_name`), with its aliases (`attn` = `pattern`, …). */
export type BlockActName =
  | 'resid_pre' | 'q' | 'k' | 'v' | 'attn_scores' | 'pattern' | 'gate' | 'z' | 'result' | 'attn_out' | 'resid_mid' | 'pre' | 'post' | 'mlp_out' | 'resid_post'
  | 'attn' | 'attn_logits' | 'query' | 'key' | 'value' | 'mlp_pre' | 'mlp_post';
/** TransformerLens short names of the hooks outside the blocks (`scale` and `normalized` are the final norm's). */
export type GlobalActName = 'embed' | 'pos_embed' | 'scale' | 'normalized';

const ALIASES: Readonly<Record<string, string>> = { attn: 'pattern', attn_logits: 'attn_scores', query: 'q', key: 'k', value: 'v', mlp_pre: 'pre', mlp_post: 'post' };
const ATTN = new Set(['q', 'k', 'v', 'attn_scores', 'pattern', 'gate', 'z', 'result']);
const MLP = new Set(['pre', 'post']);
const BLOCK_SHORT = new Set([...ATTN, ...MLP, 'resid_pre', 'attn_out', 'resid_mid', 'mlp_out', 'resid_post']);

/**
 * The full hook name of a TransformerLens short name, as `transformer_lens.utils.get_act_name` spells it:
 * `actName('resid_pre', 0)` → `blocks.0.hook_resid_pre`, `actName('pattern', 1)` → `blocks.1.attn.hook_pattern`,
 * `actName('embed')` → `hook_embed`, `actName('scale')` → `ln_final.hook_scale`. A full name passes through unchanged.
 * Throws INVALID_OPTION for an unknown short name, a block name without a layer, or a layer on a global name.
 */
export function actName(name: HookName | BlockActName | GlobalActName, layer?: number): HookName {
  if (isHookName(name)) {
    if (layer === undefined) return name;
    throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'layer', expected: `no layer with a full hook name ('${name}')`, found: String(layer) });
  }
  const short = ALIASES[name] ?? name;
  if (BLOCK_SHORT.has(short)) {
    if (layer === undefined || !Number.isInteger(layer) || layer < 0) {
      throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'layer', expected: `a layer index (a non-negative integer) for the block hook '${name}'`, found: String(layer) });
    }
    const kind = ATTN.has(short) ? 'attn.' : MLP.has(short) ? 'mlp.' : '';
    return `blocks.${layer}.${kind}hook_${short}` as HookName; // a BLOCK_HOOKS member by construction of the sets
  }
  const global: Readonly<Record<string, HookName>> = { embed: 'hook_embed', pos_embed: 'hook_pos_embed', scale: 'ln_final.hook_scale', normalized: 'ln_final.hook_normalized' };
  const g = global[short];
  if (g === undefined) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'name', expected: 'a hook name or a TransformerLens short name (resid_pre, pattern, z, post, embed, scale, …)', found: JSON.stringify(name) });
  if (layer !== undefined) throw new BitlensError('INVALID_OPTION', { stage: STAGE, field: 'layer', expected: `no layer for '${name}' (it is outside the blocks)`, found: String(layer) });
  return g;
}
