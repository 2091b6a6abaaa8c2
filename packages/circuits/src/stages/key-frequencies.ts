import { type JoinStage, defineJoin } from '@bitlens/core';
import { type Weights, WeightsSchema } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { forkJoin, map, toArray } from 'rxjs';
import { bool, booleans, float64, int32, numbers, strings, tableOf, utf8 } from '../internal/arrow.js';
import { DEFAULT_KEY_RULE, type KeyFrequencyRule, keyFrequenciesFromNorms } from '../key-frequencies.js';
import { type WeightsColumn, loadModel, tensorOf } from '../model.js';
import { type KeyFreqs, KeyFreqsSchema, type NeuronFreqs, NeuronFreqsSchema } from '../schemas.js';
import { discreteLogs } from '../discrete-log.js';
import { embeddingSpectrum, logEmbeddingSpectrum } from '../spectra.js';
import { configMeta, only } from './internal.js';
import { NEURON_MIN_COUNT_KEY } from './neuron-frequencies.js';

/** Metadata key of the key-frequency table: the gap ratio of the embedding cut. */
export const EMBED_GAP_RATIO_KEY = 'bitlens.embed_gap_ratio';
/** Metadata key of the key-frequency table: the gap ratio of the discrete-log embedding cut. */
export const EMBED_LOG_GAP_RATIO_KEY = 'bitlens.embed_log_gap_ratio';
/** Metadata key of the key-frequency table: the primitive root of the `embed-log` coordinates. */
export const EMBED_LOG_GENERATOR_KEY = 'bitlens.embed_log_generator';

/**
 * Key frequencies by three methods: `embed` (every frequency of Z_p, score = embedding Fourier norm, keys by
 * `rule`), `embed-log` (every frequency 1..(p−1)/2 of Z_{p−1}, score = Fourier norm of the embedding rows 1..p−1
 * reindexed by discrete log to the smallest primitive root, keys by `rule`: the key frequencies of multiplicative
 * tasks) and `neurons` (frequencies that are some clustered neuron's argmax, score = clustered count, key when >= the
 * neuron table's min count).
 */
export function keyFrequencies(options: { readonly rule?: KeyFrequencyRule; readonly column?: WeightsColumn } = {}): JoinStage<{ weights: Weights; neurons: NeuronFreqs }, KeyFreqs> {
  const name = 'circuits/key-frequencies';
  return defineJoin({
    name,
    version: '2',
    options: { ...options },
    inputs: { weights: WeightsSchema, neurons: NeuronFreqsSchema },
    output: KeyFreqsSchema,
    apply: ({ weights, neurons }) =>
      forkJoin({ w: weights.pipe(toArray()), n: neurons.pipe(toArray()) }).pipe(
        map(({ w, n }) => {
          const m = loadModel(only(w, name, 'weights'), options.column ?? 'effective', name);
          const nt = only(n, name, 'neurons');
          const embed = tensorOf(m, 'embed.W_E', name).data;
          const spec = embeddingSpectrum(embed, m.config.p, m.config.dModel);
          const kf = keyFrequenciesFromNorms(spec.freqNorms, options.rule ?? DEFAULT_KEY_RULE);
          const logs = discreteLogs(m.config.p);
          const logSpec = logEmbeddingSpectrum(embed, logs, m.config.dModel);
          const kl = keyFrequenciesFromNorms(logSpec.freqNorms, options.rule ?? DEFAULT_KEY_RULE);
          const minCount = Number(nt.schema.metadata.get(NEURON_MIN_COUNT_KEY) ?? '5');
          const counts = new Map<number, number>();
          const freqs = numbers(nt, 'freq');
          booleans(nt, 'clustered').forEach((c, i) => {
            if (c) counts.set(freqs[i] ?? 0, (counts.get(freqs[i] ?? 0) ?? 0) + 1);
          });
          const method: string[] = [];
          const freq: number[] = [];
          const score: number[] = [];
          const isKey: boolean[] = [];
          spec.freqNorms.forEach((v, i) => {
            method.push('embed');
            freq.push(i + 1);
            score.push(v);
            isKey.push(kf.keys.includes(i + 1));
          });
          logSpec.freqNorms.forEach((v, i) => {
            method.push('embed-log');
            freq.push(i + 1);
            score.push(v);
            isKey.push(kl.keys.includes(i + 1));
          });
          for (const [k, c] of [...counts.entries()].sort((x, y) => x[0] - y[0])) {
            method.push('neurons');
            freq.push(k);
            score.push(c);
            isKey.push(c >= minCount);
          }
          return tableOf(KeyFreqsSchema, [utf8(method), int32(freq), float64(score), bool(isKey)], configMeta(m.config, { [EMBED_GAP_RATIO_KEY]: String(kf.gapRatio), [EMBED_LOG_GAP_RATIO_KEY]: String(kl.gapRatio), [EMBED_LOG_GENERATOR_KEY]: String(logs.g) }));
        }),
      ),
  });
}

/** Key frequencies of one method from a key-frequency table. */
export function keysOf(table: Table, method: 'embed' | 'embed-log' | 'neurons'): number[] {
  const ms = strings(table, 'method');
  const fs = numbers(table, 'freq');
  const ks = booleans(table, 'is_key');
  return fs.filter((_, i) => ms[i] === method && ks[i] === true).sort((x, y) => x - y);
}
