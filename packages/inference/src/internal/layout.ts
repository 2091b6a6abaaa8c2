import type { HostTensor, ModelConfig } from '@bitlens/model';

/** A linear layer's weight as the matrix of y = x W: `matrix` [inDim, outDim] and `transposed` [outDim, inDim], row-major. */
export interface LinearMatrix {
  readonly inDim: number;
  readonly outDim: number;
  readonly matrix: Float32Array;
  readonly transposed: Float32Array;
}

/**
 * The matrix a TransformerLens weight acts as, the way the model's forward uses it: W_Q, W_K, W_V [h, d, dh] as
 * [d, h*dh] (column head * dh + e), W_O [h, dh, d] as [h*dh, d], W_in [d, dMlp] and W_out [dMlp, d] as they are.
 */
export function linearMatrix(c: ModelConfig, name: string, t: HostTensor): LinearMatrix {
  const layer = name.replace(/^blocks\.\d+\./, ''), v = t.data;
  const heads = layer === 'attn.W_Q' || layer === 'attn.W_K' || layer === 'attn.W_V';
  const inDim = heads ? c.dModel : layer === 'attn.W_O' ? c.nHeads * c.dHead : (t.shape[0] ?? 0);
  const outDim = heads ? c.nHeads * c.dHead : layer === 'attn.W_O' ? c.dModel : (t.shape[1] ?? 0);
  const matrix = new Float32Array(inDim * outDim), transposed = new Float32Array(inDim * outDim);
  for (let i = 0; i < inDim; i++) {
    for (let o = 0; o < outDim; o++) {
      const x = heads ? (v[(Math.floor(o / c.dHead) * c.dModel + i) * c.dHead + (o % c.dHead)] ?? 0) : (v[i * outDim + o] ?? 0);
      matrix[i * outDim + o] = x;
      transposed[o * inDim + i] = x;
    }
  }
  return { inDim, outDim, matrix, transposed };
}
