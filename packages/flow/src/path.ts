import * as tf from '@tensorflow/tfjs-core';
import type { Scheduler, SchedulerOutput } from './schedulers.js';

/** Times: one number for the whole batch, or one per row. */
export type Times = number | ArrayLike<number>;

/** A sample of an affine path: the point x_t and its conditional velocity dx_t/dt. */
export interface PathSample {
  xt: tf.Tensor;
  dxt: tf.Tensor;
}

/** An affine probability path x_t = sigma_t x0 + alpha_t x1 (t = 0 noise x0, t = 1 data x1). */
export interface AffinePath {
  readonly scheduler: Scheduler;
  /** x_t and dx_t = dSigma_t x0 + dAlpha_t x1 for noise x0 and data x1 of shape [n, ...]. */
  sample(x0: tf.Tensor, x1: tf.Tensor, t: Times): PathSample;
  /** Velocity from a data (x1) prediction: v = (dSigma/sigma) x_t + (dAlpha - dSigma alpha / sigma) x1. */
  targetToVelocity(x1: tf.Tensor, xt: tf.Tensor, t: Times): tf.Tensor;
  /** Velocity from a noise (x0) prediction: v = (dAlpha/alpha) x_t + (dSigma - dAlpha sigma / alpha) x0. */
  epsilonToVelocity(eps: tf.Tensor, xt: tf.Tensor, t: Times): tf.Tensor;
  /** Data prediction from a velocity: solves x_t = sigma x0 + alpha x1, v = dSigma x0 + dAlpha x1 for x1. */
  velocityToTarget(v: tf.Tensor, xt: tf.Tensor, t: Times): tf.Tensor;
  /** Noise prediction from a velocity (same 2x2 system, solved for x0). */
  velocityToEpsilon(v: tf.Tensor, xt: tf.Tensor, t: Times): tf.Tensor;
  /** Noise from a data prediction: x0 = (x_t - alpha x1) / sigma. */
  targetToEpsilon(x1: tf.Tensor, xt: tf.Tensor, t: Times): tf.Tensor;
  /** Data from a noise prediction: x1 = (x_t - sigma x0) / alpha. */
  epsilonToTarget(eps: tf.Tensor, xt: tf.Tensor, t: Times): tf.Tensor;
}

/**
 * Broadcastable coefficient tensor of shape [n, 1, ...] (or a scalar) from per-row values
 * computed by `f` on the scheduler output.
 */
function coef(s: Scheduler, t: Times, like: tf.Tensor, f: (o: SchedulerOutput) => number, what: string): tf.Tensor {
  const eval1 = (ti: number): number => {
    const v = f(s.at(ti));
    if (!Number.isFinite(v)) throw new Error(`${what} is not finite at t = ${ti} for the ${s.name} path`);
    return v;
  };
  if (typeof t === 'number') return tf.scalar(eval1(t));
  const n = like.shape[0];
  if (t.length !== n) throw new Error(`t must hold one time per row (${n}), got ${t.length}`);
  const vals = new Float32Array(n);
  for (let i = 0; i < n; i++) vals[i] = eval1(t[i]!);
  const shape = [n, ...like.shape.slice(1).map(() => 1)];
  return tf.tensor(vals, shape);
}

function lin(a: tf.Tensor, x: tf.Tensor, b: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return tf.add(tf.mul(a, x), tf.mul(b, y));
}

function sameShape(a: tf.Tensor, b: tf.Tensor, na: string, nb: string): void {
  if (a.shape.join() !== b.shape.join()) {
    throw new Error(
      `${na} and ${nb} must have the same shape, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`,
    );
  }
}

/** Builds the affine path of a scheduler (flow_matching's `AffineProbPath`, CondOT when scheduler is condOT). */
export function affinePath(scheduler: Scheduler): AffinePath {
  const s = scheduler;
  return {
    scheduler,
    sample(x0, x1, t) {
      sameShape(x0, x1, 'x0', 'x1');
      return tf.tidy(() => {
        const al = coef(s, t, x1, (o) => o.alpha, 'alpha');
        const si = coef(s, t, x1, (o) => o.sigma, 'sigma');
        const dal = coef(s, t, x1, (o) => o.dAlpha, 'dAlpha');
        const dsi = coef(s, t, x1, (o) => o.dSigma, 'dSigma');
        return { xt: lin(si, x0, al, x1), dxt: lin(dsi, x0, dal, x1) };
      });
    },
    targetToVelocity(x1, xt, t) {
      sameShape(x1, xt, 'x1', 'xt');
      return tf.tidy(() =>
        lin(
          coef(s, t, xt, (o) => o.dSigma / o.sigma, 'dSigma/sigma'),
          xt,
          coef(s, t, xt, (o) => o.dAlpha - (o.dSigma * o.alpha) / o.sigma, 'target coefficient'),
          x1,
        ),
      );
    },
    epsilonToVelocity(eps, xt, t) {
      sameShape(eps, xt, 'eps', 'xt');
      return tf.tidy(() =>
        lin(
          coef(s, t, xt, (o) => o.dAlpha / o.alpha, 'dAlpha/alpha'),
          xt,
          coef(s, t, xt, (o) => o.dSigma - (o.dAlpha * o.sigma) / o.alpha, 'epsilon coefficient'),
          eps,
        ),
      );
    },
    velocityToTarget(v, xt, t) {
      sameShape(v, xt, 'v', 'xt');
      // x1 = (sigma v - dSigma x_t) / (dAlpha sigma - dSigma alpha)
      return tf.tidy(() =>
        lin(
          coef(s, t, xt, (o) => -o.dSigma / (o.dAlpha * o.sigma - o.dSigma * o.alpha), 'x_t coefficient'),
          xt,
          coef(s, t, xt, (o) => o.sigma / (o.dAlpha * o.sigma - o.dSigma * o.alpha), 'v coefficient'),
          v,
        ),
      );
    },
    velocityToEpsilon(v, xt, t) {
      sameShape(v, xt, 'v', 'xt');
      // x0 = (alpha v - dAlpha x_t) / (dSigma alpha - dAlpha sigma)
      return tf.tidy(() =>
        lin(
          coef(s, t, xt, (o) => -o.dAlpha / (o.dSigma * o.alpha - o.dAlpha * o.sigma), 'x_t coefficient'),
          xt,
          coef(s, t, xt, (o) => o.alpha / (o.dSigma * o.alpha - o.dAlpha * o.sigma), 'v coefficient'),
          v,
        ),
      );
    },
    targetToEpsilon(x1, xt, t) {
      sameShape(x1, xt, 'x1', 'xt');
      return tf.tidy(() =>
        lin(
          coef(s, t, xt, (o) => 1 / o.sigma, '1/sigma'),
          xt,
          coef(s, t, xt, (o) => -o.alpha / o.sigma, 'alpha/sigma'),
          x1,
        ),
      );
    },
    epsilonToTarget(eps, xt, t) {
      sameShape(eps, xt, 'eps', 'xt');
      return tf.tidy(() =>
        lin(
          coef(s, t, xt, (o) => 1 / o.alpha, '1/alpha'),
          xt,
          coef(s, t, xt, (o) => -o.sigma / o.alpha, 'sigma/alpha'),
          eps,
        ),
      );
    },
  };
}
