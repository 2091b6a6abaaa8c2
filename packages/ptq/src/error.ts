import { BitlensError } from '@bitlens/core';
import { type LoadedModel, runGrid } from '@bitlens/circuits';
import type { Tf } from '@bitlens/engine';
import { type BlockHook, type HookName, isPtqQuantized } from '@bitlens/model';
import { sqnrDb, sqnrFromSums, sqnrSums } from '@bitlens/quantization';

/** The hook holding the output of a linear layer (full weight name) in the TransformerLens forward. */
export function outputHookOf(layer: string): HookName {
  if (layer === 'embed.W_E') return 'hook_embed';
  if (layer === 'unembed.W_U') return 'logits';
  const m = /^blocks\.(\d+)\.(attn\.W_[QKVO]|mlp\.W_in|mlp\.W_out)$/.exec(layer);
  const out: Record<string, BlockHook> = { 'attn.W_Q': 'attn.hook_q', 'attn.W_K': 'attn.hook_k', 'attn.W_V': 'attn.hook_v', 'attn.W_O': 'hook_attn_out', 'mlp.W_in': 'mlp.hook_pre', 'mlp.W_out': 'hook_mlp_out' };
  const hook = m === null ? undefined : out[m[2] ?? ''];
  if (m === null || hook === undefined) throw new BitlensError('INVALID_OPTION', { stage: 'ptq/error', field: 'layer', expected: 'a linear layer weight name', found: layer });
  return `blocks.${Number(m[1])}.${hook}`;
}

/** What quantization changed in a model's computation over all p^2 inputs. */
export interface QuantizationError {
  /** Last-position logits of the reference and the quantized model, `[p^2, dVocabOut]` each. */
  readonly referenceLogits: Float32Array;
  readonly quantizedLogits: Float32Array;
  /** Quantized layers (full weight names), in parameter order. */
  readonly layers: string[];
  /** Per layer: SQNR of its quantized weights against the reference's, in dB (+Infinity when exact). */
  readonly weightSqnrDb: number[];
  /** Per layer: SQNR of its output in the quantized forward against the reference forward (every input and position). */
  readonly outputSqnrDb: number[];
  /** SQNR of the last-position logits. */
  readonly logitsSqnrDb: number;
  /** Fraction of inputs whose predicted class is the same in both models. */
  readonly agreement: number;
}

function argmaxAgreement(a: Float32Array, b: Float32Array, classes: number): number {
  const n = a.length / classes;
  let same = 0;
  for (let r = 0; r < n; r++) {
    let ia = 0;
    let ib = 0;
    for (let c = 1; c < classes; c++) {
      if ((a[r * classes + c] ?? 0) > (a[r * classes + ia] ?? 0)) ia = c;
      if ((b[r * classes + c] ?? 0) > (b[r * classes + ib] ?? 0)) ib = c;
    }
    if (ia === ib) same++;
  }
  return n === 0 ? 1 : same / n;
}

/**
 * Runs a reference model and its quantized version over all p^2 inputs in lockstep (batches of `batchSize`) and
 * measures the error quantization introduced: weight and output SQNR of every quantized layer, logits SQNR and the
 * agreement of predictions. Both models must have the same tensors; the quantized one's config says which are quantized.
 */
export function quantizationError(tf: Tf, reference: LoadedModel, quantized: LoadedModel, batchSize = 2048): QuantizationError {
  const layers = [...quantized.params.keys()].filter((n) => isPtqQuantized(quantized.config, n));
  const weightSqnrDb = layers.map((n) => sqnrDb(reference.params.get(n)?.data ?? new Float32Array(0), quantized.params.get(n)?.data ?? new Float32Array(0)));
  const hooks = new Map(layers.map((n) => [outputHookOf(n), { signal: 0, noise: 0 }]));
  const capture = (h: HookName): boolean => hooks.has(h);
  const { p, dVocabOut } = reference.config;
  const referenceLogits = new Float32Array(p * p * dVocabOut);
  const quantizedLogits = new Float32Array(p * p * dVocabOut);
  const a = runGrid(tf, reference, { capture, batchSize });
  const b = runGrid(tf, quantized, { capture, batchSize });
  let off = 0;
  try {
    for (let ra = a.next(), rb = b.next(); ra.done !== true && rb.done !== true; ra = a.next(), rb = b.next()) {
      referenceLogits.set(ra.value.logits, off);
      quantizedLogits.set(rb.value.logits, off);
      off += ra.value.logits.length;
      for (const [h, acc] of hooks) {
        const s = sqnrSums(ra.value.acts.get(h)?.data ?? new Float32Array(0), rb.value.acts.get(h)?.data ?? new Float32Array(0));
        acc.signal += s.signal;
        acc.noise += s.noise;
      }
    }
  } finally {
    a.return(undefined);
    b.return(undefined);
  }
  const outputSqnrDb = layers.map((n) => {
    const acc = hooks.get(outputHookOf(n)) ?? { signal: 0, noise: 0 };
    return sqnrFromSums(acc.signal, acc.noise);
  });
  return { referenceLogits, quantizedLogits, layers, weightSqnrDb, outputSqnrDb, logitsSqnrDb: sqnrDb(referenceLogits, quantizedLogits), agreement: argmaxAgreement(referenceLogits, quantizedLogits, dVocabOut) };
}
