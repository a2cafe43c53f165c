import { checkBoolean, checkOptions, describeValue } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import type { BlockMask, MaskMod } from './blockMask.js';
import { checkFiniteInputs, checkFiniteOutput, checkQkv, repeatKvHeads, resolveScale } from './validate.js';

/** Options of `denseAttention`. */
export interface DenseAttentionOptions {
  /**
   * Which pairs attend: a mask function, a `BlockMask` (its token mask), or a tensor broadcastable
   * to `[batch, heads, qLen, kvLen]` (nonzero / true = attend). Omitted: every pair.
   */
  mask?: MaskMod | BlockMask | tf.Tensor;
  /** Softmax scale (default 1/sqrt(dim)). */
  scale?: number;
}

/** Output and log-sum-exp of an attention call. */
export interface AttentionWithLse {
  output: tf.Tensor4D;
  /** `[batch, heads, qLen]`; -Infinity for rows with no allowed key. */
  lse: tf.Tensor3D;
}

function maskTensor(mask: MaskMod | BlockMask | tf.Tensor, b: number, h: number, lq: number, lk: number): tf.Tensor {
  if (mask instanceof tf.Tensor) return tf.cast(mask, 'bool');
  if (typeof mask === 'function') {
    const bits = new Uint8Array(lq * lk);
    const out = new Int32Array(b * h * lq * lk);
    for (let bi = 0; bi < b; bi++) {
      for (let hi = 0; hi < h; hi++) {
        for (let q = 0; q < lq; q++) for (let k = 0; k < lk; k++) bits[q * lk + k] = mask(bi, hi, q, k) ? 1 : 0;
        out.set(bits, (bi * h + hi) * lq * lk);
      }
    }
    return tf.tensor4d(out, [b, h, lq, lk], 'bool');
  }
  const [mb, mh, mq, mk] = mask.shape;
  if (mq !== lq || mk !== lk) {
    throw new Error(
      `denseAttention: blockMask was built for shape [${mask.shape.join(', ')}] but attention has qLen ${lq}, kvLen ${lk}`,
    );
  }
  return tf.tensor4d(Int32Array.from(mask.toTokenMask()), [mb, mh, lq, lk], 'bool');
}

/**
 * Reference attention from tfjs ops: `softmax(scale * q kᵀ, masked) v` on `[batch, heads, seq, dim]`,
 * grouped-query when query heads are a multiple of key/value heads. Rows with no allowed key give 0.
 * Differentiable by tfjs autodiff.
 */
export function denseAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  opts: DenseAttentionOptions & { returnLse: true },
): AttentionWithLse;
export function denseAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  opts?: DenseAttentionOptions & { returnLse?: false },
): tf.Tensor4D;
export function denseAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  opts: DenseAttentionOptions & { returnLse?: boolean } = {},
): tf.Tensor4D | AttentionWithLse {
  const s = checkQkv(q, k, v, 'denseAttention');
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts))
    throw new Error(`denseAttention: options must be an object, got ${describeValue(opts)}`);
  checkOptions('denseAttention', opts, ['mask', 'scale', 'returnLse']);
  if (opts.returnLse !== undefined) checkBoolean('denseAttention: returnLse', opts.returnLse);
  if (
    opts.mask !== undefined &&
    typeof opts.mask !== 'function' &&
    !(opts.mask instanceof tf.Tensor) &&
    !(opts.mask && (opts.mask as BlockMask).kvIndices instanceof Int32Array)
  ) {
    throw new Error(
      `denseAttention: mask must be a mask function, a BlockMask or a tf.Tensor, got ${describeValue(opts.mask)}`,
    );
  }
  const scale = resolveScale(opts.scale, s.d, 'denseAttention');
  const host = checkFiniteInputs('denseAttention', [
    ['q', q],
    ['k', k],
    ['v', v],
  ]);
  const result = tf.tidy(() => {
    const group = s.hq / s.hkv;
    const kk = repeatKvHeads(k as tf.Tensor4D, group);
    const vv = repeatKvHeads(v as tf.Tensor4D, group);
    const scores = tf.mul(tf.matMul(q as tf.Tensor4D, kk, false, true), scale);
    if (opts.mask === undefined) {
      const lse = tf.logSumExp(scores, -1);
      const p = tf.exp(tf.sub(scores, tf.expandDims(lse, -1)));
      return { output: tf.matMul(p, vv) as tf.Tensor4D, lse: lse as tf.Tensor3D };
    }
    const m = maskTensor(opts.mask, s.batch, s.hq, s.lq, s.lk);
    // Masked entries get a large finite negative score, then an explicit zero weight, so rows with
    // no allowed key give 0 output, -Infinity log-sum-exp and finite gradients.
    const masked = tf.where(m, scores, tf.fill(scores.shape, -1e30));
    const mx = tf.max(masked, -1, true);
    const e = tf.mul(tf.exp(tf.sub(masked, mx)), tf.cast(m, 'float32'));
    const l = tf.sum(e, -1, true);
    const positive = tf.any(m, -1, true); // from the mask, so no gradient flows through the test
    const safeL = tf.where(positive, l, tf.onesLike(l));
    const p = tf.div(e, safeL);
    const lse = tf.squeeze(
      tf.where(positive, tf.add(mx, tf.log(safeL)), tf.fill(l.shape, -Infinity)),
      [3],
    ) as tf.Tensor3D;
    return { output: tf.matMul(p, vv) as tf.Tensor4D, lse };
  });
  if (host) {
    try {
      checkFiniteOutput('denseAttention', result.output, q, k, scale);
    } catch (e) {
      result.lse.dispose();
      throw e;
    }
  }
  if (opts.returnLse) return result;
  result.lse.dispose();
  return result.output;
}
