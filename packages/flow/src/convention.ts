import * as tf from '@tensorflow/tfjs-core';

/**
 * Helpers between our convention (t = 0 noise, t = 1 data, velocity v = dx/dt towards data) and the
 * opposite one used by diffusers' flow-match schedulers and the BFM code (sigma = 0 data, sigma = 1
 * noise, x_sigma = (1 - sigma) data + sigma noise, model output u = noise - data = dx/dsigma).
 * With sigma = 1 - t the same point is described, and u = -v.
 */

/** Our time t from the opposite convention's sigma (and back: the map is its own inverse). */
export function flipTime(t: number): number {
  if (!Number.isFinite(t) || t < 0 || t > 1) throw new Error(`t must be a number in [0, 1], got ${t}`);
  return 1 - t;
}

/** A time grid in the opposite convention (e.g. diffusers sigmas 1 -> 0) as our grid (0 -> 1). */
export function flipTimeGrid(grid: ArrayLike<number>): number[] {
  return Array.from(grid, (s) => flipTime(s));
}

/** Velocity in the opposite convention (dx/dsigma) from ours (dx/dt), or back: u = -v. */
export function flipVelocity(v: tf.Tensor): tf.Tensor {
  return tf.neg(v);
}

/**
 * Wraps a model trained in the opposite convention, `model(x, sigma)` returning noise - data, as a
 * velocity field in ours: v(x, t) = -model(x, 1 - t).
 */
export function fromNoiseAtOne(
  model: (x: tf.Tensor, sigma: number) => tf.Tensor,
): (x: tf.Tensor, t: number) => tf.Tensor {
  return (x, t) => tf.tidy(() => tf.neg(model(x, flipTime(t))));
}

/** Wraps one of our velocity fields for code that expects the opposite convention: u(x, sigma) = -v(x, 1 - sigma). */
export function toNoiseAtOne(
  velocity: (x: tf.Tensor, t: number) => tf.Tensor,
): (x: tf.Tensor, sigma: number) => tf.Tensor {
  return (x, sigma) => tf.tidy(() => tf.neg(velocity(x, flipTime(sigma))));
}
