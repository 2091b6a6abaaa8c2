import { BitlensError } from '@bitlens/core';
import { seededPermutation } from '@bitlens/circuits';
import type { Tf } from '@bitlens/engine';
import {
  type HookName, type HostTensor, type ModelConfig, type Ptq, type PtqLayer, QUANTIZABLE_LAYERS, forwardFull, isPtqQuantized, toTensors, validateConfig,
} from '@bitlens/model';
import { symmetricQuantizer, updateRange } from '@bitlens/quantization';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { ResolvedW8A8 } from './options.js';

/** One activation-quantization site: the hook whose tensor is the input of `layers` (full weight names), in forward order. */
export interface CalibrationSite {
  readonly hook: HookName;
  readonly layers: readonly string[];
}

/**
 * The quantized linear inputs of a config in forward order: per block the Q/K/V input (resid_pre), the W_O input (z),
 * the W_in input (resid_mid) and the W_out input (the MLP post-activation), then the unembedding's input (the final
 * norm's output, or the last resid_post). Only sites of listed layers.
 */
export function calibrationSites(config: ModelConfig, layers: readonly PtqLayer[]): CalibrationSite[] {
  const sites: CalibrationSite[] = [];
  const pick = (l: number, names: readonly string[]): string[] => names.filter((n) => layers.includes(n as PtqLayer)).map((n) => `blocks.${l}.${n}`);
  for (let l = 0; l < config.nLayers; l++) {
    const b = `blocks.${l}` as const;
    for (const [hook, names] of [
      [`${b}.hook_resid_pre`, ['attn.W_Q', 'attn.W_K', 'attn.W_V']],
      [`${b}.attn.hook_z`, ['attn.W_O']],
      [`${b}.hook_resid_mid`, ['mlp.W_in']],
      [`${b}.mlp.hook_post`, ['mlp.W_out']],
    ] as const) {
      const ls = pick(l, names);
      if (ls.length > 0) sites.push({ hook, layers: ls });
    }
  }
  if (layers.includes('unembed.W_U')) sites.push({ hook: config.finalNorm ? 'ln_final.hook_out' : `blocks.${config.nLayers - 1}.hook_resid_post`, layers: ['unembed.W_U'] });
  return sites;
}

/** How the calibration was run (recorded beside the quantized model). */
export interface CalibrationRecord {
  readonly batches: number;
  readonly batchSize: number;
  /** Training rows available (the batches cycle through a seeded shuffle of them). */
  readonly trainRows: number;
  readonly estimator: string;
  readonly momentum: number;
  readonly seed: number;
}

/** A post-training-quantized model: its config (with `ptq` and the calibrated ranges) and its effective weights. */
export interface QuantizedModel {
  readonly config: ModelConfig;
  readonly effective: Map<string, HostTensor>;
  readonly calibration: CalibrationRecord;
}

/** Calibration batches: a seeded shuffle of the training rows, cut into `batches` batches of `size`, cycling when short. */
function calibrationBatches(trainRows: Int32Array, o: ResolvedW8A8): { rows: Int32Array[]; size: number } {
  const n = trainRows.length;
  const size = o.calibrationBatchSize ?? Math.ceil(n / o.calibrationBatches);
  const perm = seededPermutation(n, o.seed);
  const rows = Array.from({ length: o.calibrationBatches }, (_, b) => Int32Array.from({ length: size }, (_, i) => trainRows[perm[(b * size + i) % n] ?? 0] ?? 0));
  return { rows, size };
}

function tokensOf(tf: Tf, p: number, rows: Int32Array): Tensor {
  const t = new Int32Array(rows.length * 3);
  rows.forEach((r, i) => {
    t[3 * i] = Math.floor(r / p);
    t[3 * i + 1] = r % p;
    t[3 * i + 2] = p;
  });
  return tf.tensor2d(t, [rows.length, 3], 'int32');
}

/**
 * Post-training quantization of a trained model, W8A8 by default (Bondarenko et al.'s setup): weights symmetric per
 * tensor with a min-max scale; the input of every quantized linear asymmetric per tensor over a static range estimated
 * on calibration batches of the training split. Calibration follows the reference code's range estimation: for each
 * batch, the sites are visited in forward order and each site's range is updated from its input as computed with the
 * weights already quantized and every earlier site already quantized with its current range.
 * `trainRows` are grid rows (a * p + b) of the training split. Throws INVALID_CONFIG for a model that already has
 * PTQ or per-token activation quantization, INVALID_DATA when there are no training rows.
 */
export function quantizeModel(tf: Tf, source: { readonly config: ModelConfig; readonly effective: ReadonlyMap<string, HostTensor> }, trainRows: Int32Array, o: ResolvedW8A8, stage: string): QuantizedModel {
  const c = source.config;
  if (c.ptq !== undefined) throw new BitlensError('INVALID_CONFIG', { stage, field: 'ptq', expected: 'a model that is not post-training quantized yet', found: JSON.stringify(c.ptq) });
  if (c.activationQuant !== 'none') throw new BitlensError('INVALID_CONFIG', { stage, field: 'activationQuant', expected: "'none' (static ranges replace per-token quantization)", found: JSON.stringify(c.activationQuant) });
  if (trainRows.length === 0) throw new BitlensError('INVALID_DATA', { stage, field: 'dataset.train', expected: 'training rows to calibrate on', found: 'none' });
  const layers: PtqLayer[] = [...QUANTIZABLE_LAYERS, ...(o.embed ? (['embed.W_E'] as const) : []), ...(o.unembed ? (['unembed.W_U'] as const) : [])];
  const ptqOf = (inputRanges: Record<string, readonly [number, number]>, done: readonly CalibrationSite[]): Ptq => ({
    weightBits: o.weightBits,
    activationBits: o.activationBits,
    layers: layers.filter((l) => l === 'embed.W_E' || done.some((s) => s.layers.some((n) => n === l || n.endsWith(`.${l}`)))),
    inputRanges,
  });
  const wq = symmetricQuantizer(o.weightBits);
  const all: ModelConfig = { ...c, ptq: { weightBits: o.weightBits, activationBits: o.activationBits, layers, inputRanges: {} } };
  const effective = new Map<string, HostTensor>();
  for (const [name, t] of source.effective) effective.set(name, isPtqQuantized(all, name) ? { shape: t.shape, data: wq.quantizeHost(t.data).values } : t);

  const sites = calibrationSites(c, layers);
  const ranges = new Map<string, [number, number]>();
  const { rows, size } = calibrationBatches(trainRows, o);
  const P = toTensors(tf, effective);
  try {
    for (const batch of rows) {
      sites.forEach((site, k) => {
        const done = sites.slice(0, k);
        const inputRanges = Object.fromEntries(done.flatMap((s) => s.layers.map((n) => [n, ranges.get(s.hook) as [number, number]])));
        const cfg: ModelConfig = { ...c, ptq: ptqOf(inputRanges, done) };
        const [lo, hi] = tf.tidy(() => {
          const x = forwardFull(tf, cfg, P, tokensOf(tf, c.p, batch), { capture: (h) => h === site.hook }).cache.get(site.hook) as Tensor;
          return [tf.min(x).dataSync()[0] ?? 0, tf.max(x).dataSync()[0] ?? 0];
        });
        ranges.set(site.hook, updateRange(ranges.get(site.hook), lo, hi, o.estimator, o.momentum));
      });
    }
  } finally {
    tf.dispose([...P.values()]);
  }
  // Stored widened to contain 0, which the quantizer does anyway: the config then says exactly what the grid covers.
  const inputRanges = Object.fromEntries(sites.flatMap((s) => {
    const [lo, hi] = ranges.get(s.hook) as [number, number];
    return s.layers.map((n) => [n, [Math.min(lo, 0), Math.max(hi, 0)] as const]);
  }));
  const config = validateConfig({ ...c, ptq: { weightBits: o.weightBits, activationBits: o.activationBits, layers, inputRanges } });
  return { config, effective, calibration: { batches: rows.length, batchSize: size, trainRows: trainRows.length, estimator: o.estimator, momentum: o.momentum, seed: o.seed } };
}
