import { BitlensError } from '@bitlens/core';
import { fromFloat32, readSafetensors, toFloat32, writeSafetensors, type TensorEntry } from '@bitlens/safetensors';
import type { ModelConfig } from './config.js';
import { validateConfig } from './config.js';
import { checkParams, paramSpecs, type HostParams, type HostTensor } from './params.js';
import { MODEL_CONFIG_KEY } from './weights.js';

const IMPORT = 'model/import-transformer-lens';
const EXPORT = 'model/export-transformer-lens';

/** TransformerLens buffers and hook points that a state dict may carry and that are not parameters. */
function isBuffer(name: string): boolean {
  return /(^|\.)hook_[^.]*$/.test(name) || /\.attn\.(mask|IGNORE)$/.test(name) || /(^|\.)(IGNORE|mask)$/.test(name);
}

const FLOAT_DTYPES = new Set(['F32', 'F64', 'F16', 'BF16']);

/**
 * Reads a TransformerLens HookedTransformer state dict saved as safetensors into host parameters for `config`.
 * Checks every name, shape and dtype (float dtypes F32/F64/F16/BF16 are accepted and converted to float32):
 * a missing tensor throws NOT_FOUND, a wrong shape SHAPE_MISMATCH, a non-float dtype or an unknown tensor
 * SCHEMA_MISMATCH, each naming the tensor. Buffers (`*.attn.mask`, `*.attn.IGNORE`, `hook_*`) are ignored. Bias
 * tensors in the file are accepted for a bias-free config (li) only when they are all zero (TransformerLens always
 * allocates them); the li final-norm gain is `ln_final.w`.
 * @example const params = importTransformerLens(new Uint8Array(readFileSync(path)), modelConfig('nanda', 113));
 */
export function importTransformerLens(bytes: Uint8Array, config: ModelConfig): Map<string, HostTensor> {
  const c = validateConfig(config);
  const file = readSafetensors(bytes);
  const specs = new Map(paramSpecs(c).map((s) => [s.name, s]));
  const out = new Map<string, HostTensor>();
  for (const [name, entry] of file.tensors) {
    if (isBuffer(name)) continue;
    const spec = specs.get(name);
    if (!FLOAT_DTYPES.has(entry.dtype)) {
      throw new BitlensError('SCHEMA_MISMATCH', { stage: IMPORT, field: name, expected: 'a float dtype (F32, F64, F16, BF16)', found: entry.dtype });
    }
    const data = toFloat32(entry, name);
    if (spec === undefined) {
      // TransformerLens always saves biases; a bias-free config can drop them only when they are exactly zero.
      const isBias = /\.b_(Q|K|V|O|in|out|U)$/.test(name);
      if (isBias && !c.biases) {
        if (data.every((v) => v === 0)) continue;
        throw new BitlensError('SCHEMA_MISMATCH', { stage: IMPORT, field: name, expected: `all zeros (the ${c.preset} config has no biases)`, found: 'non-zero values' });
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

/**
 * Writes host parameters as a TransformerLens-named safetensors file (F32, readable by `safetensors.torch.load_file`).
 * The config goes into the file's `__metadata__` under `bitlens.model_config` (plus `format: pt`). Pass the
 * effective weights to export what the model computes with, or the latent ones to resume training elsewhere.
 * With `zeroBiases`, a bias-free config also gets all-zero bias tensors, so TransformerLens can load it strictly.
 */
export function exportTransformerLens(config: ModelConfig, params: HostParams, options: { readonly zeroBiases?: boolean } = {}): Uint8Array {
  const c = validateConfig(config);
  checkParams(c, params, EXPORT);
  const tensors = new Map<string, TensorEntry>();
  for (const s of paramSpecs(c)) {
    const t = params.get(s.name) as HostTensor; // checked above
    tensors.set(s.name, fromFloat32(t.data, t.shape, 'F32'));
  }
  if (options.zeroBiases === true && !c.biases) {
    for (let l = 0; l < c.nLayers; l++) {
      const b = `blocks.${l}`;
      for (const [n, shape] of [[`${b}.attn.b_Q`, [c.nHeads, c.dHead]], [`${b}.attn.b_K`, [c.nHeads, c.dHead]], [`${b}.attn.b_V`, [c.nHeads, c.dHead]],
        [`${b}.attn.b_O`, [c.dModel]], [`${b}.mlp.b_in`, [c.dMlp]], [`${b}.mlp.b_out`, [c.dModel]]] as const) {
        tensors.set(n, fromFloat32(new Float32Array(shape.reduce((a, x) => a * x, 1)), shape));
      }
    }
    tensors.set('unembed.b_U', fromFloat32(new Float32Array(c.dVocabOut), [c.dVocabOut]));
  }
  return writeSafetensors(tensors, { format: 'pt', [MODEL_CONFIG_KEY]: JSON.stringify(c) });
}
