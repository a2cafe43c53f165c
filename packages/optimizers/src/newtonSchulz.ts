import * as tf from '@tensorflow/tfjs-core';

/** Default quintic Newton-Schulz coefficients of Muon (torch.optim.Muon). */
export const NS_COEFFICIENTS: [number, number, number] = [3.4445, -4.775, 2.0315];

/**
 * Approximate orthogonalization `U V^T` of a matrix by Newton-Schulz iteration, as
 * torch.optim.Muon's `_zeropower_via_newtonschulz` (in float32 here, bfloat16 there): work on the
 * wide orientation, divide by max(||X||_F, eps), then `X <- a X + (b A + c A A) X` with `A = X X^T`.
 */
export function newtonSchulz(g: tf.Tensor2D, steps = 5, coefficients: [number, number, number] = NS_COEFFICIENTS, eps = 1e-7): tf.Tensor2D {
  if (g.rank !== 2) throw new Error(`newtonSchulz needs a matrix, got rank ${g.rank}`);
  if (!Number.isInteger(steps) || steps < 0) throw new Error(`steps must be an integer >= 0, got ${steps}`);
  return tf.tidy(() => {
    const [a, b, c] = coefficients;
    const tall = g.shape[0] > g.shape[1];
    let x: tf.Tensor2D = tall ? tf.transpose(g) : g;
    x = tf.div(x, tf.maximum(tf.norm(x), eps));
    for (let k = 0; k < steps; k++) {
      const gram = tf.matMul(x, x, false, true);
      const poly = tf.add(tf.mul(gram, b), tf.mul(tf.matMul(gram, gram), c));
      x = tf.add(tf.mul(x, a), tf.matMul(poly, x));
    }
    return tall ? tf.transpose(x) : x;
  });
}
