import * as tf from '@tensorflow/tfjs-core';

/**
 * Layer-wise trust ratio as tensorflow-addons LAMB and the TF model-garden LARS compute it:
 * `eta * ||w|| / (||u|| + eps)` when both norms are positive, else 1 (a scalar tensor; no host read).
 */
export function trustRatio(w: tf.Tensor, u: tf.Tensor, eta = 1, eps = 0): tf.Tensor {
  const wn = tf.norm(w);
  const un = tf.norm(u);
  const one = tf.onesLike(wn);
  const ratio = tf.div(tf.mul(wn, eta), tf.add(un, eps));
  return tf.where(tf.greater(wn, 0), tf.where(tf.greater(un, 0), ratio, one), one);
}
