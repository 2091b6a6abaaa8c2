import type { ModelConfig } from '@bitlens/model';

const f32 = Math.fround;
/** Added to masked attention scores, as the model's forward does. */
const MASKED = -1e9;

/** Inputs of {@link attend}: per-head projections, rows b * n + position, width nHeads * dHead. */
export interface AttentionInputs {
  readonly q: Float32Array; // [B * nq, h*dh], query positions `qpos`
  readonly k: Float32Array; // rows of keys, width h*dh: row b * n + j, or kvRows[b * n + j] when given
  readonly v: Float32Array; // like k
  /** Row of k and v for (batch row b, position j) at b * n + j (the first block's keys come from its token table). */
  readonly kvRows?: Int32Array;
  /**
   * With `kvRows`: the token-table row of each query (q's rows are then the table's rows, one per distinct row), so that
   * the scores are computed once per (query row, key row, head) pair: the same float32 dot products, fewer of them.
   */
  readonly qRows?: Int32Array;
  /** The block input at the query positions [B * nq, d] (for the gates of gated attention). */
  readonly xq: Float32Array;
  readonly batch: number;
  readonly qpos: readonly number[];
  readonly gateW?: Float32Array; // [h, dh]
  readonly gateB?: Float32Array; // [h]
}

/**
 * Attention of the model's forward on host arrays (float32 results; softmax sums in float64): scores q·k / attnScale
 * with the causal mask, softmax (or clipped softmax), Zhong's alpha mixing, the weighted sum of values, and the gates
 * of gated attention. Returns z [B * nq, h*dh]. The sequence is 3 tokens long, so this is a small part of the forward.
 */
export function attend(c: ModelConfig, a: AttentionInputs): Float32Array {
  const { nHeads: h, dHead: dh, nCtx: n, dModel: d } = c, w = h * dh, nq = a.qpos.length;
  const table = a.qRows !== undefined && a.kvRows !== undefined ? scoreTable(c, a.q, a.k) : undefined, kRowsTotal = a.k.length / w;
  const z = new Float32Array(a.batch * nq * w), s = new Float64Array(n), p = new Float64Array(n), ko = new Int32Array(n);
  const { q, k, v } = a;
  for (let b = 0; b < a.batch; b++) {
    for (let j = 0; j < n; j++) ko[j] = (a.kvRows === undefined ? b * n + j : (a.kvRows[b * n + j] ?? 0)) * w;
    for (let qi = 0; qi < nq; qi++) {
      const i = a.qpos[qi] ?? 0, zo = (b * nq + qi) * w;
      const qr = table === undefined ? 0 : (a.qRows?.[b * nq + qi] ?? 0);
      for (let hd = 0; hd < h; hd++) {
        let max = -Infinity;
        const qh = (table === undefined ? zo : qr * w) + hd * dh; // q rows are z's rows, or table rows
        for (let j = 0; j < n; j++) {
          const kh = (ko[j] ?? 0) + hd * dh;
          const raw = table === undefined ? dotAt(q, qh, k, kh, dh) : (table[(qr * kRowsTotal + (ko[j] ?? 0) / w) * h + hd] ?? 0);
          s[j] = f32(raw / c.attnScale) + (c.causal && j > i ? MASKED : 0);
          max = Math.max(max, s[j] ?? 0);
        }
        let sum = 0;
        for (let j = 0; j < n; j++) { p[j] = Math.exp((s[j] ?? 0) - max); sum += p[j] ?? 0; }
        for (let j = 0; j < n; j++) p[j] = pattern(c, f32((p[j] ?? 0) / sum), !c.causal || j <= i);
        const gate = gateOf(c, a, b * nq + qi, hd, d);
        const zh = zo + hd * dh;
        for (let j = 0; j < n; j++) {
          const pj = p[j] ?? 0, vh = (ko[j] ?? 0) + hd * dh;
          for (let e = 0; e < dh; e++) z[zh + e] = (z[zh + e] ?? 0) + pj * (v[vh + e] ?? 0);
        }
        if (gate !== 1) for (let e = 0; e < dh; e++) z[zh + e] = (z[zh + e] ?? 0) * gate;
      }
    }
  }
  return z;
}

/** The float32 dot product of q[qh, qh + dh) and k[kh, kh + dh), accumulated in float64 and rounded once. */
function dotAt(q: Float32Array, qh: number, k: Float32Array, kh: number, dh: number): number {
  let dot = 0;
  for (let e = 0; e < dh; e++) dot += (q[qh + e] ?? 0) * (k[kh + e] ?? 0);
  return f32(dot);
}

/** Every (query row, key row, head) dot product of two token tables: [qRows, kRows, h]. */
function scoreTable(c: ModelConfig, q: Float32Array, k: Float32Array): Float32Array {
  const w = c.nHeads * c.dHead, rq = q.length / w, rk = k.length / w, out = new Float32Array(rq * rk * c.nHeads);
  for (let i = 0; i < rq; i++) {
    for (let j = 0; j < rk; j++) {
      for (let hd = 0; hd < c.nHeads; hd++) out[(i * rk + j) * c.nHeads + hd] = dotAt(q, i * w + hd * c.dHead, k, j * w + hd * c.dHead, c.dHead);
    }
  }
  return out;
}

/** Clipped softmax (Bondarenko) and alpha mixing (Zhong) of one softmax probability. */
function pattern(c: ModelConfig, prob: number, visible: boolean): number {
  let v = prob;
  if (c.attention.kind === 'clipped') {
    const { zeta, gamma } = c.attention;
    v = Math.min(1, Math.max(0, f32(f32(v * (zeta - gamma)) + gamma)));
  }
  if (c.alpha !== 1) v = f32(f32(v * c.alpha) + (visible ? f32(1 - c.alpha) : 0));
  return v;
}

/** sigmoid(x_head · gate.W[h] + gate.b[h]) for gated attention, 1 otherwise. */
function gateOf(c: ModelConfig, a: AttentionInputs, row: number, hd: number, d: number): number {
  if (c.attention.kind !== 'gated' || a.gateW === undefined || a.gateB === undefined) return 1;
  let dot = 0;
  for (let e = 0; e < c.dHead; e++) dot += (a.xq[row * d + hd * c.dHead + e] ?? 0) * (a.gateW[hd * c.dHead + e] ?? 0);
  return f32(1 / (1 + Math.exp(-f32(f32(dot) + (a.gateB[hd] ?? 0)))));
}
