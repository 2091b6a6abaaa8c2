import { type Stage, defineStage } from '@bitlens/core';
import { type Weights, WeightsSchema } from '@bitlens/model';
import type { Table } from 'apache-arrow';
import { map } from 'rxjs';
import { float64, int32, tableOf, utf8 } from '../internal/arrow.js';
import { type WeightsColumn, loadModel, tensorOf } from '../model.js';
import { type FourierNorms, FourierNormsSchema } from '../schemas.js';
import { embeddingSpectrum, fourierSpectrum, neuronLogitMap } from '../spectra.js';
import { configMeta } from './internal.js';

/**
 * Fourier norms of W_E (token axis, first p rows) and of W_L = W_U^T W_out (output axis), per basis component, with
 * each matrix's Gini of its p component norms.
 */
export function fourierNorms(options: { readonly column?: WeightsColumn } = {}): Stage<Weights, FourierNorms> {
  const name = 'circuits/fourier-norms';
  return defineStage({
    name,
    version: '1',
    options: { ...options },
    input: WeightsSchema,
    output: FourierNormsSchema,
    apply: map((t: Table<Weights>) => {
      const m = loadModel(t, options.column ?? 'effective', name);
      const c = m.config;
      const we = embeddingSpectrum(tensorOf(m, 'embed.W_E', name).data, c.p, c.dModel);
      const wl = fourierSpectrum(neuronLogitMap(tensorOf(m, 'blocks.0.mlp.W_out', name).data, tensorOf(m, 'unembed.W_U', name).data, c.dMlp, c.dModel, c.dVocabOut), c.p, c.dMlp);
      const rows: { matrix: string; comp: number; norm: number; gini: number }[] = [];
      for (const [matrix, s] of [['W_E', we], ['W_L', wl]] as const) s.rowNorms.forEach((norm, comp) => rows.push({ matrix, comp, norm, gini: s.gini }));
      return tableOf(
        FourierNormsSchema,
        [
          utf8(rows.map((r) => r.matrix)),
          int32(rows.map((r) => r.comp)),
          int32(rows.map((r) => Math.floor((r.comp + 1) / 2))),
          utf8(rows.map((r) => (r.comp === 0 ? 'const' : r.comp % 2 === 1 ? 'cos' : 'sin'))),
          float64(rows.map((r) => r.norm)),
          float64(rows.map((r) => r.gini)),
        ],
        configMeta(c),
      );
    }),
  });
}
