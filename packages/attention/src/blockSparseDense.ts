import * as tf from '@tensorflow/tfjs-core';
import type { BlockMask } from './blockMask.js';

/**
 * The dense path for nearly dense masks: the forward is one batched matMul, masked softmax, matMul
 * on the backend (XNNPACK on wasm beats the typed-array tiles there); the gradient is the
 * block-sparse backward kernel (faster than the dense backward in tfjs ops, and it needs no
 * registered tfjs gradients). Used by `'auto'` on cpu and wasm when the block sparsity is low and
 * the score matrix is small.
 */

const bits = new WeakMap<BlockMask, { bias: Float32Array | null; valid: Float32Array }>();

function maskData(m: BlockMask): { bias: Float32Array | null; valid: Float32Array } {
  const hit = bits.get(m);
  if (hit) return hit;
  const tok = m.toTokenMask();
  const rows = m.batch * m.heads * m.qLen;
  const valid = new Float32Array(rows);
  let all = true;
  const bias = new Float32Array(tok.length);
  for (let r = 0; r < rows; r++) {
    let any = false;
    for (let j = 0; j < m.kvLen; j++) {
      const a = tok[r * m.kvLen + j] === 1;
      any ||= a;
      all &&= a;
      bias[r * m.kvLen + j] = a ? 0 : -1e30;
    }
    valid[r] = any ? 1 : 0;
  }
  const out = { bias: all ? null : bias, valid };
  bits.set(m, out);
  return out;
}

/** Whether `'auto'` should take the dense path: block sparsity under 25% and at most 2^24 scores. */
export function preferDense(m: BlockMask, batch: number, heads: number): boolean {
  return m.sparsity() < 25 && batch * heads * m.qLen * m.kvLen <= 1 << 24;
}

/** Dense masked attention forward with the block-sparse backward kernel as its gradient (LSE without gradient). */
export function blockSparseAttentionDense(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  mask: BlockMask,
  scale: number,
  backward: (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, o: tf.Tensor, lse: tf.Tensor, dO: tf.Tensor) => tf.Tensor[],
): { output: tf.Tensor4D; lse: tf.Tensor3D } {
  const [b, h, lq, d] = q.shape;
  const hkv = k.shape[1];
  const lk = k.shape[2];
  const group = h / hkv;
  const { bias, valid } = maskData(mask);
  const expand = (x: tf.Tensor): tf.Tensor =>
    group === 1 ? x : tf.reshape(tf.tile(tf.reshape(x, [b * hkv, 1, lk * d]), [1, group, 1]), [b, h, lk, d]);
  let lseOut: tf.Tensor3D | undefined;
  const f = tf.customGrad(((qx: tf.Tensor, kx: tf.Tensor, vx: tf.Tensor, save: tf.GradSaveFunc) => {
    const kk = expand(kx);
    const vv = expand(vx);
    let s = tf.mul(tf.matMul(qx, kk, false, true), scale);
    if (bias) s = tf.add(s, tf.tensor4d(bias, [mask.batch, mask.heads, lq, lk]));
    const m = tf.max(s, -1, true);
    const e = tf.exp(tf.sub(s, m));
    const l = tf.sum(e, -1, true);
    const rowValid = tf.tensor4d(valid, [mask.batch, mask.heads, lq, 1]);
    const p = tf.mul(tf.div(e, l), rowValid);
    const out = tf.matMul(p, vv);
    const lse = tf.add(m, tf.log(l));
    const lse3 = tf.squeeze(
      tf.where(tf.cast(tf.add(tf.zerosLike(lse), rowValid), 'bool'), lse, tf.fill(lse.shape, -Infinity)),
      [3],
    );
    lseOut = tf.keep(lse3 as tf.Tensor3D);
    save([qx, kx, vx, out, lse3]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, so, sl] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        return backward(sq, sk, sv, so, sl, dy);
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const output = f(q, k, v) as tf.Tensor4D;
  return { output, lse: lseOut! };
}
