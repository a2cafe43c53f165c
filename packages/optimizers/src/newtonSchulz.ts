import * as tf from '@tensorflow/tfjs-core';
import { checkNumber, describeValue } from '@blockwise/tensor';

/** Default quintic Newton-Schulz coefficients of Muon (torch.optim.Muon). */
export const NS_COEFFICIENTS: [number, number, number] = [3.4445, -4.775, 2.0315];

/**
 * Approximate orthogonalization `U V^T` of a matrix by Newton-Schulz iteration, as
 * torch.optim.Muon's `_zeropower_via_newtonschulz` (in float32 here, bfloat16 there): divide by
 * max(||X||_F, eps), then `X <- a X + (b A + c A A) X` with `A = X X^T` (wide), or the same on the
 * transpose for tall matrices, without materializing a transpose.
 */
export function newtonSchulz(
  g: tf.Tensor2D,
  steps = 5,
  coefficients: [number, number, number] = NS_COEFFICIENTS,
  eps = 1e-7,
): tf.Tensor2D {
  if (!(g instanceof tf.Tensor) || g.rank !== 2)
    throw new Error(
      `newtonSchulz: g must be a 2-D tf.Tensor, got ${g instanceof tf.Tensor ? `rank ${g.rank}` : describeValue(g)}`,
    );
  if (g.dtype !== 'float32') throw new Error(`newtonSchulz: g must be float32, got ${g.dtype}`);
  checkNumber('newtonSchulz: steps', steps, { min: 0, max: 100, integer: true });
  if (
    !Array.isArray(coefficients) ||
    coefficients.length !== 3 ||
    !coefficients.every((c) => typeof c === 'number' && Number.isFinite(c))
  ) {
    throw new Error(`newtonSchulz: coefficients must be three finite numbers, got ${describeValue(coefficients)}`);
  }
  checkNumber('newtonSchulz: eps', eps, { min: 0, exclusiveMin: true });
  return tf.tidy(() => {
    const [a, b, c] = coefficients;
    // A tall X is not transposed: with A = X^T X (the small Gram matrix) the iteration
    // X <- a X + X (b A + c A A) is the wide form's transposed exactly (A is symmetric), and the
    // backend's matMul reads the transpose through its flag.
    const tall = g.shape[0] > g.shape[1];
    let x: tf.Tensor2D = tf.div(g, tf.maximum(tf.norm(g), eps));
    for (let k = 0; k < steps; k++) {
      const gram = tall ? tf.matMul(x, x, true, false) : tf.matMul(x, x, false, true);
      const poly = tf.add(tf.mul(gram, b), tf.mul(tf.matMul(gram, gram), c));
      x = tf.add(tf.mul(x, a), tall ? tf.matMul(x, poly) : tf.matMul(poly, x));
    }
    return x;
  });
}
