import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectClose, useBackend } from '@blockwise/tensor/testing';
import { divergence, logLikelihood, standardNormalLogProb } from './likelihood.js';

useBackend('cpu');

describe('logLikelihood', () => {
  it('constant velocity c: log p1(x) = log N(x - c) exactly, even with one Euler step', async () => {
    // x_t = x0 + c t has zero divergence, so the density is just shifted.
    const c = tf.tensor1d([1.5, -0.5]);
    const x1 = tf.tensor2d([
      [0, 0],
      [1, 2],
      [-3, 0.5],
    ]);
    const r = await logLikelihood((x) => tf.add(tf.zerosLike(x), c), x1, { method: 'euler', steps: 1 });
    // A field that ignores x entirely works too (zero divergence).
    const r2 = await logLikelihood((x) => tf.tile(tf.reshape(c, [1, 2]), [x.shape[0], 1]), x1, {
      method: 'heun',
      steps: 3,
      divergence: 'hutchinson',
    });
    expectClose(r2.logLikelihood, r.logLikelihood, { atol: 1e-5 });
    const want = standardNormalLogProb(tf.sub(x1, c) as tf.Tensor2D);
    expectClose(r.logLikelihood, want, { atol: 1e-5 });
    expectClose(r.x0, tf.sub(x1, c), { atol: 1e-6 });
    // Row 0: x - c = [-1.5, 0.5]: -(2.25 + 0.25) / 2 - log(2 pi) = -3.0879.
    expect((await r.logLikelihood.data())[0]).toBeCloseTo(-1.25 - Math.log(2 * Math.PI), 4);
  });

  it('linear field v = a x: log p1(x) = log N(x e^-a) - a d (exact divergence and Hutchinson)', async () => {
    // x1 = x0 e^a, so p1(x1) = N(x1 e^-a) e^(-a d).
    const a = 0.7;
    const x1 = tf.tensor2d([
      [0.2, -1],
      [1, 1],
      [2, -0.3],
    ]);
    const want = tf.sub(standardNormalLogProb(tf.mul(x1, Math.exp(-a)) as tf.Tensor2D), a * 2);
    const field = (x: tf.Tensor): tf.Tensor => tf.mul(x, a);
    const exact = await logLikelihood(field, x1, { method: 'rk4', steps: 10 });
    expectClose(exact.logLikelihood, want, { atol: 1e-4 });
    // For a diagonal Jacobian a I, Rademacher probes give eps^T (a I) eps = a d exactly.
    const hutch = await logLikelihood(field, x1, { method: 'rk4', steps: 10, divergence: 'hutchinson' });
    expectClose(hutch.logLikelihood, want, { atol: 1e-4 });
    const adaptive = await logLikelihood(field, x1, { method: 'dopri5', rtol: 1e-6, atol: 1e-6 });
    expectClose(adaptive.logLikelihood, want, { atol: 1e-3 });
  });

  it('exact divergence of a non-diagonal field equals the Jacobian trace', async () => {
    // v = [x0 * x1, x0 + 3 x1^2]: trace = x1 + 6 x1.
    const x = tf.tensor2d([
      [1, 2],
      [-1, 0.5],
    ]);
    const v = (z: tf.Tensor): tf.Tensor => {
      const p = tf.slice(z, [0, 0], [-1, 1]);
      const q = tf.slice(z, [0, 1], [-1, 1]);
      return tf.concat([tf.mul(p, q), tf.add(p, tf.mul(tf.square(q), 3))], 1);
    };
    const { div } = divergence(v, x, 0);
    expectClose(div, [14, 3.5], { atol: 1e-5 });
  });

  it('does not leak and validates input', async () => {
    const x1 = tf.tensor2d([[0.1, 0.2]]);
    const before = tf.memory().numTensors;
    const r = await logLikelihood((x) => tf.mul(x, 0.1), x1, { steps: 2 });
    tf.dispose([r.logLikelihood, r.x0]);
    expect(tf.memory().numTensors).toBe(before);
    await expect(logLikelihood((x) => x, x1, { steps: 0 })).rejects.toThrow(
      /logLikelihood: steps must be an integer >= 1 <= 1000000, got 0/,
    );
    await expect(logLikelihood((x) => x, x1, { step: 4 } as never)).rejects.toThrow(
      /logLikelihood: unknown option "step"; did you mean "steps"\?/,
    );
    await expect(logLikelihood((x) => x, x1, { method: 'dopri5', steps: 4 })).rejects.toThrow(
      /steps applies to fixed-step methods; dopri5/,
    );
    await expect(logLikelihood((x) => x, tf.zeros([3]) as never)).rejects.toThrow(/x1 must be a 2-D tf.Tensor/);
  });
});
