import type { Tf } from '@bitlens/engine';
import type { Tensor, Tensor1D } from '@tensorflow/tfjs-core';

/** Kernel names of the fused MLP block, registered by @bitlens/engine where it has one (wasm). */
const FUSED_MLP = 'BitlensFusedMlp';
const FUSED_MLP_GRAD = 'BitlensFusedMlpGrad';

/**
 * Whether rows can be gathered with a gradient on the active backend: `tf.gather`'s gradient is a scatter-add
 * (`UnsortedSegmentSum`), which tfjs's cpu and webgpu backends have and tfjs-wasm lacks unless @bitlens/engine
 * supplies it. Without it, rows are picked by one-hot products (the same values, more multiply-adds).
 */
export function canGatherRows(tf: Tf): boolean {
  return tf.getKernel('UnsortedSegmentSum', tf.getBackend()) !== undefined;
}

/** Whether the fused MLP block kernels are registered on the active backend. */
export function hasFusedMlp(tf: Tf): boolean {
  return tf.getKernel(FUSED_MLP, tf.getBackend()) !== undefined && tf.getKernel(FUSED_MLP_GRAD, tf.getBackend()) !== undefined;
}

/**
 * Rows `ids` [R] (int32) of `table` [V, w] → [R, w], with the gradient written out as one scatter-add of the rows of
 * dy into a [V, w] table (`tf.unsortedSegmentSum`); tfjs's own gather gradient adds reshapes, identity transposes and
 * copies around the same scatter-add.
 */
export function gatherRows(tf: Tf, table: Tensor, ids: Tensor1D): Tensor {
  const rows = table.shape[0] ?? 0;
  const f = tf.customGrad((...args) => {
    const t = args[0] as Tensor;
    // Saved, not captured: tensors of the forward that are not on the tape are disposed before the backward runs.
    (args[1] as unknown as (ts: Tensor[]) => void)([ids]);
    return {
      value: tf.gather(t, ids),
      gradFunc: (dy: Tensor, saved: Tensor[]) => [tf.unsortedSegmentSum(dy, saved[0] as Tensor1D, rows)],
    };
  });
  return f(table);
}

/**
 * The MLP block relu(x wIn + bIn) wOut + bOut on x [B, d] (biases optional) as one op: the fused kernels
 * `BitlensFusedMlp` / `BitlensFusedMlpGrad` (check {@link hasFusedMlp} first). The backward takes the saved ReLU
 * output: relu'(pre) = post > 0.
 */
export function fusedMlp(tf: Tf, x: Tensor, wIn: Tensor, bIn: Tensor | undefined, wOut: Tensor, bOut: Tensor | undefined): Tensor {
  const inputs = [x, wIn, wOut, ...(bIn === undefined ? [] : [bIn]), ...(bOut === undefined ? [] : [bOut])];
  const f = tf.customGrad((...args) => {
    const [xx, wi, wo] = args as Tensor[] as [Tensor, Tensor, Tensor];
    const save = args[args.length - 1] as unknown as (ts: Tensor[]) => void;
    const biases = { ...(bIn === undefined ? {} : { bIn: args[3] as Tensor }), ...(bOut === undefined ? {} : { bOut: args[bIn === undefined ? 3 : 4] as Tensor }) };
    const [out, post] = tf.engine().runKernel(FUSED_MLP, { x: xx, wIn: wi, wOut: wo, ...biases }) as Tensor[] as [Tensor, Tensor];
    save([xx, post, wi, wo]);
    return {
      value: out,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, spost, swi, swo] = saved as [Tensor, Tensor, Tensor, Tensor];
        const attrs = { biasIn: bIn !== undefined, biasOut: bOut !== undefined };
        return tf.engine().runKernel(FUSED_MLP_GRAD, { dy, x: sx, post: spost, wIn: swi, wOut: swo }, attrs) as Tensor[];
      },
    };
  });
  return f(...inputs);
}

/** Kernel names of the last-position attention, registered by @bitlens/engine where it has them (wasm). */
const ATTEND_LAST = 'BitlensAttendLast';
const ATTEND_LAST_GRAD = 'BitlensAttendLastGrad';

/** Whether the last-position attention kernels are registered on the active backend. */
export function hasFusedAttention(tf: Tf): boolean {
  return tf.getKernel(ATTEND_LAST, tf.getBackend()) !== undefined && tf.getKernel(ATTEND_LAST_GRAD, tf.getBackend()) !== undefined;
}

/**
 * Softmax attention of one query per row over n keys by the kernels `BitlensAttendLast` / `BitlensAttendLastGrad`
 * (check {@link hasFusedAttention} first): q [B, h*dh], k and v [B*n, h*dh] (rows b*n + j) → z [B, h*dh]; or, with
 * `ids` (int32 [B*n]), k and v are tables [R, h*dh] and key j of query b is their row ids[b*n + j] (the gradient
 * reaches the tables directly: no [B*n, h*dh] gather and scatter-add around the kernel). The backward takes the saved
 * attention probabilities.
 */
export function fusedAttendLast(tf: Tf, q: Tensor, k: Tensor, v: Tensor, B: number, n: number, h: number, dh: number, scale: number, ids?: Tensor1D): Tensor {
  const attrs = { batch: B, keys: n, heads: h, headDim: dh, scale };
  const withIds: Record<string, Tensor> = ids === undefined ? {} : { ids };
  const f = tf.customGrad((...args) => {
    const [qq, kk, vv] = args as Tensor[] as [Tensor, Tensor, Tensor];
    const save = args[3] as unknown as (ts: Tensor[]) => void;
    const [z, a] = tf.engine().runKernel(ATTEND_LAST, { q: qq, k: kk, v: vv, ...withIds }, attrs) as Tensor[] as [Tensor, Tensor];
    // Saved, not captured: tensors of the forward that are not on the tape are disposed before the backward runs.
    save([qq, kk, vv, a, ...(ids === undefined ? [] : [ids])]);
    return {
      value: z,
      gradFunc: (dz: Tensor, saved: Tensor[]) => {
        const [sq, sk, sv, sa, sids] = saved as [Tensor, Tensor, Tensor, Tensor, Tensor | undefined];
        const inputs: Record<string, Tensor> = { dz, q: sq, k: sk, v: sv, a: sa, ...(sids === undefined ? {} : { ids: sids }) };
        return tf.engine().runKernel(ATTEND_LAST_GRAD, inputs, attrs) as Tensor[];
      },
    };
  });
  return f(q, k, v);
}
