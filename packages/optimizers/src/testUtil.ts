import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '@blockwise/tensor';

/** A variable with a unique name holding `values`. */
export function makeVar(values: Float32Array, shape: number[], name?: string): tf.Variable {
  return tf.variable(tf.tensor(values, shape), true, name ?? `w_${Math.random().toString(36).slice(2)}`);
}

/** A sequence of seeded gradient arrays. */
export function gradSequence(seed: number, steps: number, n: number, scale = 1): Float32Array[] {
  const rng = createRng(seed);
  return Array.from({ length: steps }, () => rng.fillNormal(new Float32Array(n), 0, scale));
}

/** Applies one gradient array to one variable. */
export function applyGrad(opt: tf.Optimizer, v: tf.Variable, g: Float32Array): void {
  const gt = tf.tensor(g, v.shape);
  opt.applyGradients({ [v.name]: gt });
  gt.dispose();
}

/** Float64 copy of a variable's values. */
export function values64(v: tf.Tensor): Float64Array {
  return Float64Array.from(v.dataSync() as Float32Array);
}
