import { BitlensError } from '@bitlens/core';
import { fromFloat32, readSafetensors, readSafetensorsHeader, toFloat32, writeSafetensors, type TensorEntry } from '@bitlens/safetensors';
import type { ModelConfig, ModelPreset } from './config.js';
import { modelConfig, upgradeConfig, validateConfig } from './config.js';
import { checkParams, paramSpecs, type HostParams, type HostTensor } from './params.js';
import { type HookedTransformerConfig, checkAgainstTransformerLens, fromTransformerLensConfig, toTransformerLensConfig } from './transformer-lens-config.js';
import { MODEL_CONFIG_KEY } from './weights.js';

const IMPORT = 'model/import-transformer-lens';
const EXPORT = 'model/export-transformer-lens';

/** `__metadata__` key of the HookedTransformerConfig JSON (the key the converted Nanda checkpoint uses). */
export const TRANSFORMER_LENS_CONFIG_KEY = 'config';
/** `__metadata__` key saying why an export carries no TransformerLens config (the model is one TransformerLens cannot express). */
export const TRANSFORMER_LENS_UNSUPPORTED_KEY = 'bitlens.transformer_lens_unsupported';

/** TransformerLens buffers and hook points that a state dict may carry and that are not parameters. */
function isBuffer(name: string): boolean {
  return /(^|\.)hook_[^.]*$/.test(name) || /\.attn\.(mask|IGNORE)$/.test(name) || /(^|\.)(IGNORE|mask)$/.test(name);
}

const FLOAT_DTYPES = new Set(['F32', 'F64', 'F16', 'BF16']);

/** What the caller knows about the file's model (all optional when the file carries a config). */
export interface TransformerLensConfigOptions {
  /** A full config: its architecture must agree with the file's configs; its other fields (quantizer, ptq) are used as given. */
  readonly config?: ModelConfig;
  /** The modulus: must equal the file's when the file has a config; needed when it has none. */
  readonly p?: number;
  /** The preset: must equal the file's when the file has a config; default `nanda` when it has none. */
  readonly preset?: ModelPreset;
}

/** The model config of a TransformerLens safetensors file, and where it came from. */
export interface TransformerLensFileConfig {
  readonly config: ModelConfig;
  /** `bitlens`: the file's `bitlens.model_config`; `transformer-lens`: its HookedTransformerConfig (`config`); `given`: the options (the file has neither, or a full config was given). */
  readonly source: 'bitlens' | 'transformer-lens' | 'given';
  /** The file's HookedTransformerConfig as written, when it has one. */
  readonly transformerLens?: Readonly<Record<string, unknown>>;
}

/** Everything {@link readTransformerLens} reads: the config and the parameters for it. */
export interface TransformerLensImport extends TransformerLensFileConfig {
  readonly params: Map<string, HostTensor>;
}

function parseJson(metadata: Readonly<Record<string, string>>, key: string): unknown {
  const raw = metadata[key];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch (e) {
    throw new BitlensError('INVALID_CONFIG', { stage: IMPORT, field: `__metadata__.${key}`, expected: 'JSON', found: raw.slice(0, 80) }, undefined, { cause: e });
  }
}

function disagree(field: string, file: unknown, given: unknown, whose: string): BitlensError {
  return new BitlensError('INVALID_CONFIG', { stage: IMPORT, field, expected: `${JSON.stringify(file)} (${whose})`, found: `${JSON.stringify(given)} (given)` }, 'the given value disagrees with the weights file');
}

/** The ModelConfig fields that fix what the tensors mean; a given config must agree with the file on each. */
const ARCHITECTURE = ['p', 'dVocab', 'dVocabOut', 'nCtx', 'nLayers', 'dModel', 'nHeads', 'dHead', 'dMlp', 'posEmbed', 'causal', 'attnScale', 'alpha', 'attention', 'finalNorm', 'biases'] as const;

function checkGiven(file: TransformerLensFileConfig, options: TransformerLensConfigOptions): void {
  const whose = file.source === 'bitlens' ? "the file's bitlens config" : "the file's TransformerLens config";
  const f = file.config;
  if (options.p !== undefined && options.p !== f.p) throw disagree('p', f.p, options.p, whose);
  if (options.preset !== undefined && options.preset !== f.preset) throw disagree('preset', f.preset, options.preset, whose);
  const g = options.config;
  if (g === undefined) return;
  for (const k of ARCHITECTURE) {
    // TransformerLens always has W_pos and biases: a given config without them reads all-zero tensors (checked on import).
    if ((k === 'posEmbed' || k === 'biases') && file.source === 'transformer-lens' && g[k] === false) continue;
    if (JSON.stringify(g[k]) !== JSON.stringify(f[k])) throw disagree(k, f[k], g[k], whose);
  }
}

function configOfMetadata(metadata: Readonly<Record<string, string>>, options: TransformerLensConfigOptions): TransformerLensFileConfig {
  const oursJson = parseJson(metadata, MODEL_CONFIG_KEY);
  const tl = parseJson(metadata, TRANSFORMER_LENS_CONFIG_KEY);
  const tlField = tl === undefined ? {} : { transformerLens: tl as Record<string, unknown> };
  let file: TransformerLensFileConfig | undefined;
  if (oursJson !== undefined) {
    const ours = validateConfig(upgradeConfig(oursJson) as ModelConfig);
    if (tl !== undefined) checkAgainstTransformerLens(ours, tl, "the file's bitlens config", IMPORT);
    file = { config: ours, source: 'bitlens', ...tlField };
  } else if (tl !== undefined) {
    // The preset is checked by checkGiven (naming both); p too, but fromTransformerLensConfig says why d_vocab decides it.
    file = { config: fromTransformerLensConfig(tl, options.p === undefined ? {} : { p: options.p }), source: 'transformer-lens', ...tlField };
  }
  if (file === undefined) {
    if (options.config !== undefined) return { config: validateConfig(options.config), source: 'given' };
    if (options.p === undefined) {
      throw new BitlensError('INVALID_CONFIG', { stage: IMPORT, field: 'p', expected: `a modulus p (and a preset): the file carries no model config (no ${MODEL_CONFIG_KEY}, no TransformerLens ${TRANSFORMER_LENS_CONFIG_KEY})`, found: 'nothing' });
    }
    return { config: modelConfig(options.preset ?? 'nanda', options.p), source: 'given' };
  }
  checkGiven(file, options);
  return options.config === undefined ? file : { ...file, config: validateConfig(options.config), source: 'given' };
}

/**
 * The model config of a TransformerLens-named safetensors file, from its header only (cheap): the file's
 * `bitlens.model_config` when present (checked against its TransformerLens `config` when both are there), else its
 * HookedTransformerConfig (see {@link fromTransformerLensConfig}: p = d_vocab - 1, preset nanda), else the options.
 * A `p`, `preset` or `config` option that disagrees with the file throws INVALID_CONFIG naming the field and both values;
 * a file without any config and no `p` (or `config`) throws INVALID_CONFIG naming `p`.
 * @example transformerLensFileConfig(bytes).config.p // 113 for the Nanda checkpoint
 */
export function transformerLensFileConfig(bytes: Uint8Array, options: TransformerLensConfigOptions = {}): TransformerLensFileConfig {
  return configOfMetadata(readSafetensorsHeader(bytes).metadata, options);
}

/**
 * Reads a TransformerLens HookedTransformer state dict saved as safetensors: its config (see
 * {@link transformerLensFileConfig}) and the parameters for it. Checks every name, shape and dtype (F32/F64/F16/BF16
 * are accepted and converted to float32): a missing tensor throws NOT_FOUND, a wrong shape SHAPE_MISMATCH, a non-float
 * dtype or an unknown tensor SCHEMA_MISMATCH, each naming the tensor. Buffers (`*.attn.mask`, `*.attn.IGNORE`,
 * `hook_*`) are ignored. Tensors TransformerLens always allocates but the config lacks (biases for li,
 * `pos_embed.W_pos` without a positional embedding) are accepted only when all zero. The li final-norm gain is `ln_final.w`.
 * @example const { config, params } = readTransformerLens(new Uint8Array(readFileSync(path)));
 */
export function readTransformerLens(bytes: Uint8Array, options: TransformerLensConfigOptions = {}): TransformerLensImport {
  const file = readSafetensors(bytes);
  const resolved = configOfMetadata(file.metadata, options);
  return { ...resolved, params: tensorsFor(resolved.config, file.tensors) };
}

/**
 * The parameters of a TransformerLens safetensors file for `config` (default: the file's own config, see
 * {@link readTransformerLens}); a given config must agree with the file's configs on the architecture.
 * @example const params = importTransformerLens(new Uint8Array(readFileSync(path)), modelConfig('nanda', 113));
 */
export function importTransformerLens(bytes: Uint8Array, config?: ModelConfig): Map<string, HostTensor> {
  return readTransformerLens(bytes, config === undefined ? {} : { config }).params;
}

function tensorsFor(config: ModelConfig, tensors: ReadonlyMap<string, TensorEntry>): Map<string, HostTensor> {
  const c = config;
  const specs = new Map(paramSpecs(c).map((s) => [s.name, s]));
  const out = new Map<string, HostTensor>();
  for (const [name, entry] of tensors) {
    if (isBuffer(name)) continue;
    const spec = specs.get(name);
    if (!FLOAT_DTYPES.has(entry.dtype)) {
      throw new BitlensError('SCHEMA_MISMATCH', { stage: IMPORT, field: name, expected: 'a float dtype (F32, F64, F16, BF16)', found: entry.dtype });
    }
    const data = toFloat32(entry, name);
    if (spec === undefined) {
      // TransformerLens always saves biases and W_pos: a config without them can drop them only when they are exactly zero.
      const lacks = (/\.b_(Q|K|V|O|in|out|U)$/.test(name) && !c.biases) || (name === 'pos_embed.W_pos' && !c.posEmbed);
      if (lacks) {
        if (data.every((v) => v === 0)) continue;
        throw new BitlensError('SCHEMA_MISMATCH', { stage: IMPORT, field: name, expected: `all zeros (the ${c.preset} config has no ${name === 'pos_embed.W_pos' ? 'positional embedding' : 'biases'})`, found: 'non-zero values' });
      }
      throw new BitlensError('SCHEMA_MISMATCH', { stage: IMPORT, field: name, expected: `a tensor of the ${c.preset} config`, found: `an unknown tensor [${entry.shape.join(', ')}]` });
    }
    if (entry.shape.length !== spec.shape.length || entry.shape.some((d, i) => d !== spec.shape[i])) {
      throw new BitlensError('SHAPE_MISMATCH', { stage: IMPORT, field: name, expected: `[${spec.shape.join(', ')}]`, found: `[${entry.shape.join(', ')}]` });
    }
    out.set(name, { shape: [...spec.shape], data });
  }
  for (const name of specs.keys()) {
    if (!out.has(name)) throw new BitlensError('NOT_FOUND', { stage: IMPORT, field: name, expected: `a tensor of shape [${specs.get(name)?.shape.join(', ')}]`, found: 'nothing in the file' });
  }
  checkParams(c, out, IMPORT);
  return out;
}

/** Options of {@link exportTransformerLens}. */
export interface ExportTransformerLensOptions {
  /**
   * Also write the all-zero tensors a HookedTransformer of this config has but the config lacks (biases for li,
   * `pos_embed.W_pos` without a positional embedding), so that TransformerLens finds every weight it expects.
   */
  readonly zeroFill?: boolean;
  /** The earlier name of {@link zeroFill}; the same effect. */
  readonly zeroBiases?: boolean;
  /**
   * `if-representable` (default): write the HookedTransformerConfig when TransformerLens can express the model, else
   * say why under `bitlens.transformer_lens_unsupported`; `required`: throw INVALID_CONFIG when it cannot.
   */
  readonly transformerLensConfig?: 'if-representable' | 'required';
}

function zeroTensors(c: ModelConfig): Map<string, TensorEntry> {
  const out = new Map<string, TensorEntry>();
  const zeros = (name: string, shape: readonly number[]): void => void out.set(name, fromFloat32(new Float32Array(shape.reduce((a, x) => a * x, 1)), shape));
  if (!c.posEmbed) zeros('pos_embed.W_pos', [c.nCtx, c.dModel]);
  if (!c.biases) {
    for (let l = 0; l < c.nLayers; l++) {
      const b = `blocks.${l}`;
      for (const [n, shape] of [[`${b}.attn.b_Q`, [c.nHeads, c.dHead]], [`${b}.attn.b_K`, [c.nHeads, c.dHead]], [`${b}.attn.b_V`, [c.nHeads, c.dHead]],
        [`${b}.attn.b_O`, [c.dModel]], [`${b}.mlp.b_in`, [c.dMlp]], [`${b}.mlp.b_out`, [c.dModel]]] as const) zeros(n, shape);
    }
    zeros('unembed.b_U', [c.dVocabOut]);
  }
  return out;
}

/**
 * Writes host parameters as a TransformerLens-named safetensors file (F32, readable by `safetensors.torch.load_file`).
 * `__metadata__` holds `format: pt`, the bitlens config under `bitlens.model_config` (read back exactly by
 * {@link readTransformerLens}) and the HookedTransformerConfig JSON under `config` (see {@link toTransformerLensConfig};
 * when TransformerLens cannot express the model, `bitlens.transformer_lens_unsupported` says why instead). Pass the
 * effective weights to export what the model computes with, or the latent ones to resume training elsewhere.
 * @example const bytes = exportTransformerLens(cfg, params, { zeroFill: true, transformerLensConfig: 'required' });
 */
export function exportTransformerLens(config: ModelConfig, params: HostParams, options: ExportTransformerLensOptions = {}): Uint8Array {
  const c = validateConfig(config);
  checkParams(c, params, EXPORT);
  let tl: HookedTransformerConfig | undefined;
  let why: string | undefined;
  try {
    tl = toTransformerLensConfig(c);
  } catch (e) {
    if (options.transformerLensConfig === 'required' || !(e instanceof BitlensError)) throw e;
    why = e.message;
  }
  const tensors = new Map<string, TensorEntry>();
  for (const s of paramSpecs(c)) {
    const t = params.get(s.name) as HostTensor; // checked above
    tensors.set(s.name, fromFloat32(t.data, t.shape, 'F32'));
  }
  if (options.zeroFill === true || options.zeroBiases === true) for (const [n, t] of zeroTensors(c)) tensors.set(n, t);
  const meta: Record<string, string> = { format: 'pt', [MODEL_CONFIG_KEY]: JSON.stringify(c) };
  if (tl !== undefined) meta[TRANSFORMER_LENS_CONFIG_KEY] = JSON.stringify(tl);
  if (why !== undefined) meta[TRANSFORMER_LENS_UNSUPPORTED_KEY] = why;
  return writeSafetensors(tensors, meta);
}
