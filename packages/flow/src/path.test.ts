import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, useBackend } from '@blockwise/tensor/testing';
import { affinePath } from './path.js';
import { condOTScheduler, cosineScheduler, polynomialScheduler, vpScheduler } from './schedulers.js';
import { flipTime, flipTimeGrid, flipVelocity, fromNoiseAtOne, toNoiseAtOne } from './convention.js';

useBackend('cpu');

const schedulers = [condOTScheduler(), polynomialScheduler(2), cosineScheduler(), vpScheduler()];

describe('schedulers', () => {
  it('derivatives match central finite differences', () => {
    for (const s of schedulers) {
      for (const t of [0.1, 0.37, 0.5, 0.8]) {
        const h = 1e-6;
        const o = s.at(t);
        const fd = {
          a: (s.at(t + h).alpha - s.at(t - h).alpha) / (2 * h),
          s: (s.at(t + h).sigma - s.at(t - h).sigma) / (2 * h),
        };
        expect(o.dAlpha, `${s.name} dAlpha at ${t}`).toBeCloseTo(fd.a, 4);
        expect(o.dSigma, `${s.name} dSigma at ${t}`).toBeCloseTo(fd.s, 4);
      }
    }
  });
  it('endpoints: data at t = 1, (almost) noise at t = 0', () => {
    for (const s of schedulers) {
      expect(s.at(1).alpha).toBeCloseTo(1, 6);
      expect(s.at(1).sigma).toBeCloseTo(0, 6);
      // VP: sigma_0 = sqrt(1 - exp(-10.05)) = 0.99998.
      expect(s.at(0).sigma).toBeCloseTo(1, 4);
      // VP: alpha_0 = exp(-(0.1 + 20) / 4) = exp(-5.025) ~ 0.0066, not exactly 0.
      expect(s.at(0).alpha).toBeLessThan(0.01);
    }
  });
  it('VP matches the flow_matching formula at t = 0.5 (evaluated by hand)', () => {
    // s = 1 - t = 0.5, T = 0.5 * 0.25 * 19.9 + 0.5 * 0.1 = 2.5375, dT/dt = -(0.5 * 19.9 + 0.1) = -10.05;
    // alpha = exp(-T/2) = 0.281183, sigma = sqrt(1 - exp(-T)) = 0.959654,
    // dAlpha = -dT/2 * alpha = 1.412944, dSigma = dT/2 * exp(-T) / sigma = -0.413999.
    const o = vpScheduler().at(0.5);
    expect(o.alpha).toBeCloseTo(0.281183, 5);
    expect(o.sigma).toBeCloseTo(0.959654, 5);
    expect(o.dAlpha).toBeCloseTo(1.412944, 5);
    expect(o.dSigma).toBeCloseTo(-0.413999, 5);
    // Polynomial n = 3 at t = 0.5: alpha = 0.125, dAlpha = 3 * 0.25 = 0.75.
    expect(polynomialScheduler(3).at(0.5)).toEqual({ alpha: 0.125, sigma: 0.875, dAlpha: 0.75, dSigma: -0.75 });
  });

  it('cosine and VP preserve variance: alpha^2 + sigma^2 = 1', () => {
    for (const s of [cosineScheduler(), vpScheduler()]) {
      for (const t of [0, 0.2, 0.6, 0.99]) {
        const o = s.at(t);
        expect(o.alpha ** 2 + o.sigma ** 2).toBeCloseTo(1, 6);
      }
    }
  });
  it('rejects bad arguments', () => {
    expect(() => polynomialScheduler(0)).toThrow(/n must be a positive number, got 0/);
    expect(() => condOTScheduler().at(1.5)).toThrow(/t must be a number in \[0, 1\], got 1.5/);
    expect(() => vpScheduler(1, 0.5)).toThrow(/betaMax must be >= betaMin/);
  });
});

describe('affinePath', () => {
  let x0: tf.Tensor2D;
  let x1: tf.Tensor2D;
  const t = [0.2, 0.5, 0.9];
  beforeAll(() => {
    x0 = tf.tensor2d([
      [1, -2],
      [0.5, 3],
      [-1, 0],
    ]);
    x1 = tf.tensor2d([
      [3, 1],
      [-2, 0.25],
      [4, -4],
    ]);
  });

  it('condOT: x_t = (1 - t) x0 + t x1 and dx_t = x1 - x0', () => {
    const { xt, dxt } = affinePath(condOTScheduler()).sample(x0, x1, t);
    // Row 0 at t = 0.2: 0.8 * [1, -2] + 0.2 * [3, 1] = [1.4, -1.4].
    expectClose(tf.slice(xt, [0, 0], [1, 2]), [1.4, -1.4], { atol: 1e-6 });
    expectClose(dxt, tf.sub(x1, x0), { atol: 1e-6 });
  });

  it('conversions reproduce the conditional velocity and invert each other on every path', () => {
    for (const s of schedulers) {
      const p = affinePath(s);
      const { xt, dxt } = p.sample(x0, x1, t);
      // On the conditional path, the velocity from the true x1 (or the true noise x0) is dx_t.
      expectClose(p.targetToVelocity(x1, xt, t), dxt, { atol: 1e-3, rtol: 1e-4, label: `${s.name} target->v` });
      expectClose(p.epsilonToVelocity(x0, xt, t), dxt, { atol: 1e-3, rtol: 1e-4, label: `${s.name} eps->v` });
      expectClose(p.velocityToTarget(dxt, xt, t), x1, { atol: 1e-3, rtol: 1e-4, label: `${s.name} v->target` });
      expectClose(p.velocityToEpsilon(dxt, xt, t), x0, { atol: 1e-3, rtol: 1e-4, label: `${s.name} v->eps` });
      expectClose(p.targetToEpsilon(x1, xt, t), x0, { atol: 1e-3, rtol: 1e-4, label: `${s.name} target->eps` });
      expectClose(p.epsilonToTarget(x0, xt, t), x1, { atol: 1e-3, rtol: 1e-4, label: `${s.name} eps->target` });
    }
  });

  it('scalar t broadcasts and there are no leaks', () => {
    const p = affinePath(cosineScheduler());
    const before = tf.memory().numTensors;
    const { xt, dxt } = p.sample(x0, x1, 0.5);
    // cos(pi/4) = sin(pi/4) = 0.7071: row 0 = 0.7071 * ([1, -2] + [3, 1]).
    const row0 = Array.from(xt.dataSync()).slice(0, 2);
    tf.dispose([xt, dxt]);
    expectClose(row0, [4 * Math.SQRT1_2, -Math.SQRT1_2], { atol: 1e-5 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects mismatched shapes and t counts', () => {
    const p = affinePath(condOTScheduler());
    expect(() => p.sample(x0, tf.zeros([2, 2]), 0.5)).toThrow(/x0 and x1 must have the same shape/);
    expect(() => p.sample(x0, x1, [0.1, 0.2])).toThrow(/one time per row \(3\), got 2/);
    // sigma_1 = 0: the data prediction cannot be turned into a velocity at t = 1.
    expect(() => p.targetToVelocity(x1, x0, 1)).toThrow(/not finite at t = 1/);
  });
});

describe('opposite convention (t = 1 noise)', () => {
  it('flips times and velocities', () => {
    expect(flipTime(0.25)).toBe(0.75);
    expect(flipTimeGrid([1, 0.5, 0])).toEqual([0, 0.5, 1]);
    expectClose(flipVelocity(tf.tensor1d([1, -2])), [-1, 2]);
  });
  it('a diffusers-style model (noise - data at sigma) becomes our velocity (data - noise at t)', () => {
    // For the pair (noise n, data d), diffusers' target is n - d at sigma = 1 - t; ours is d - n at t.
    const n = tf.tensor2d([[1, 2]]);
    const d = tf.tensor2d([[-3, 5]]);
    const diffusersModel = (_x: tf.Tensor, sigma: number): tf.Tensor =>
      tf.mul(tf.sub(n, d), Math.abs(sigma - 0.3) < 1e-12 ? 1 : NaN);
    const v = fromNoiseAtOne(diffusersModel)(n, 0.7);
    expectClose(v, tf.sub(d, n));
    const back = toNoiseAtOne(fromNoiseAtOne(diffusersModel))(n, 0.3);
    expectClose(back, tf.sub(n, d));
  });
});
