import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectClose, useBackend } from '@blockwise/tensor/testing';
import { solveOde, type OdeMethod, type VelocityFn } from './ode.js';
import { affinePath } from './path.js';
import { condOTScheduler } from './schedulers.js';
import { classifierFreeGuidance, guidedVelocity } from './guidance.js';

useBackend('cpu');

// dx/dt = x cos(t)  =>  x(t) = x(0) exp(sin t). Smooth, time-dependent, known solution.
const field: VelocityFn = (x, t) => tf.mul(x, Math.cos(t));
const T = 2;
const exact = Math.exp(Math.sin(T));

async function error(method: OdeMethod, steps: number): Promise<number> {
  const x0 = tf.tensor1d([1]);
  const r = await solveOde(field, x0, { method, timeGrid: [0, T], stepSize: T / steps });
  const v = (await r.x.data())[0] as number;
  tf.dispose([x0, r.x]);
  return Math.abs(v - exact);
}

describe('solveOde fixed-step orders', () => {
  // Halving the step divides the global error by 2^order.
  const cases: [OdeMethod, number, number, number][] = [
    ['euler', 32, 1.8, 2.2],
    ['midpoint', 32, 3.5, 4.5],
    ['heun', 32, 3.5, 4.5],
    ['rk4', 4, 13, 19],
  ];
  for (const [method, n, lo, hi] of cases) {
    it(`${method}: error ratio when halving the step is in [${lo}, ${hi}]`, async () => {
      const e1 = await error(method, n);
      const e2 = await error(method, 2 * n);
      const ratio = e1 / e2;
      expect(ratio, `${method} errors ${e1} -> ${e2}`).toBeGreaterThan(lo);
      expect(ratio).toBeLessThan(hi);
    });
  }

  it('counts function evaluations and returns grid states', async () => {
    const x0 = tf.tensor1d([1]);
    const r = await solveOde(field, x0, { method: 'rk4', timeGrid: [0, 0.5, 1], stepSize: 0.25, returnIntermediates: true });
    // Two grid intervals of 2 steps each, 4 evaluations per rk4 step.
    expect(r.nfe).toBe(16);
    expect(r.steps).toBe(4);
    expect(r.intermediates?.length).toBe(3);
    expectClose(r.intermediates?.[1] as tf.Tensor, [Math.exp(Math.sin(0.5))], { rtol: 1e-4 });
    expectClose(r.x, [Math.exp(Math.sin(1))], { rtol: 1e-4 });
    tf.dispose([x0, r.x, ...(r.intermediates ?? [])]);
  });

  it('a field returning its own input (dx/dt = x) leaves x0 intact', async () => {
    const x0 = tf.tensor1d([1]);
    const r = await solveOde((x) => x, x0, { method: 'rk4', stepSize: 0.1 });
    expectClose(r.x, [Math.E], { rtol: 1e-5 });
    expectClose(x0, [1]);
    tf.dispose([x0, r.x]);
  });

  it('integrates backward on a decreasing grid', async () => {
    const x1 = tf.tensor1d([Math.exp(Math.sin(1))]);
    const r = await solveOde(field, x1, { method: 'rk4', timeGrid: [1, 0], stepSize: 0.05 });
    expectClose(r.x, [1], { rtol: 1e-5 });
    tf.dispose([x1, r.x]);
  });

  it('does not leak tensors', async () => {
    const x0 = tf.tensor2d([[1, 2]]);
    for (const method of ['euler', 'midpoint', 'heun', 'rk4', 'dopri5'] as OdeMethod[]) {
      const before = tf.memory().numTensors;
      const r = await solveOde(field, x0, { method, stepSize: 0.1, returnIntermediates: true, timeGrid: [0, 0.5, 1] });
      tf.dispose([r.x, ...(r.intermediates ?? [])]);
      expect(tf.memory().numTensors, method).toBe(before);
    }
    x0.dispose();
  });
});

describe('solveOde dopri5', () => {
  it('meets its tolerance and adapts the number of steps', async () => {
    const errs: number[] = [];
    const nfes: number[] = [];
    for (const tol of [1e-3, 1e-5]) {
      const x0 = tf.tensor1d([1, 2, 0.5]);
      const r = await solveOde(field, x0, { method: 'dopri5', timeGrid: [0, T], rtol: tol, atol: tol });
      const got = Array.from(await r.x.data());
      const want = [1, 2, 0.5].map((a) => a * exact);
      // Global error stays within a small multiple of the local tolerance scale (atol + rtol |x|).
      const err = Math.max(...got.map((g, i) => Math.abs(g - (want[i] as number)) / (tol + tol * Math.abs(want[i] as number))));
      expect(err, `tol ${tol}`).toBeLessThan(5);
      errs.push(err);
      nfes.push(r.nfe);
      tf.dispose([x0, r.x]);
    }
    expect(nfes[1]).toBeGreaterThan(nfes[0] as number);
  });

  it('lands on every grid time', async () => {
    const x0 = tf.tensor1d([1]);
    const grid = [0, 0.3, 1.1, 2];
    const r = await solveOde(field, x0, { method: 'dopri5', timeGrid: grid, rtol: 1e-6, atol: 1e-6, returnIntermediates: true });
    r.intermediates?.forEach((s, i) => expectClose(s, [Math.exp(Math.sin(grid[i] as number))], { rtol: 1e-4 }));
    tf.dispose([x0, r.x, ...(r.intermediates ?? [])]);
  });

  it('rejects bad tolerances', async () => {
    const x0 = tf.tensor1d([1]);
    await expect(solveOde(field, x0, { method: 'dopri5', rtol: 0 })).rejects.toThrow(/rtol must be a positive number, got 0/);
    await expect(solveOde(field, x0, { method: 'dopri5', rtol: -1 })).rejects.toThrow(/rtol must be a positive number, got -1/);
    await expect(solveOde(field, x0, { method: 'dopri5', atol: -1 })).rejects.toThrow(/atol must be a non-negative number/);
    x0.dispose();
  });
});

describe('solveOde exactness and bad input', () => {
  it('one Euler step integrates the OT path between two points exactly', async () => {
    // The conditional OT velocity towards x1 = b is (b - x) / (1 - t); from x0 = a at t = 0 one
    // Euler step of size 1 gives a + (b - a) = b.
    const path = affinePath(condOTScheduler());
    const a = tf.tensor2d([[0.3, -1.2], [2, 5]]);
    const b = tf.tensor2d([[4, 0.5], [-1, -1]]);
    const r = await solveOde((x, t) => path.targetToVelocity(b, x, t), a, { method: 'euler' });
    expect(r.nfe).toBe(1);
    expectClose(r.x, b, { atol: 1e-6 });
    tf.dispose([a, b, r.x]);
  });

  it('stops on NaN from the model, naming the step and time', async () => {
    const x0 = tf.tensor1d([1]);
    const bad: VelocityFn = (x, t) => (t >= 0.5 ? tf.mul(x, NaN) : tf.mul(x, 1));
    const before = tf.memory().numTensors;
    await expect(solveOde(bad, x0, { method: 'euler', stepSize: 0.25 })).rejects.toThrow(/NaN or Inf at step 2 \(t = 0.5\)/);
    await expect(solveOde(bad, x0, { method: 'rk4', timeGrid: [0, 0.5, 1], stepSize: 0.25, returnIntermediates: true })).rejects.toThrow(
      /NaN or Inf at step 1 \(t = 0.5\)/, // rk4's 4th stage of step 1 (t = 0.25 + 0.25) is the first at t >= 0.5
    );
    await expect(solveOde(bad, x0, { method: 'dopri5' })).rejects.toThrow(/NaN or Inf at step \d+ \(t = 0\.\d+/);
    // The flag is read every syncEvery steps, so a diverged solve stops early: NaN from step 50
    // (t = 0.5) on, read after every step, stops it after step 50's evaluation.
    let calls = 0;
    const counting: VelocityFn = (x, t) => {
      calls++;
      return bad(x, t);
    };
    await expect(solveOde(counting, x0, { method: 'euler', stepSize: 0.01, syncEvery: 1 })).rejects.toThrow(/NaN or Inf at step 50 \(t = 0.5\)/);
    expect(calls).toBe(51);
    // Without the check, NaN flows through to the result.
    const r = await solveOde(bad, x0, { method: 'euler', stepSize: 0.25, checkFinite: false });
    expect(Number.isNaN((await r.x.data())[0])).toBe(true);
    r.x.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x0.dispose();
  });

  it('rejects non-monotone grids, bad step sizes, methods and shapes', async () => {
    const x0 = tf.tensor1d([1]);
    await expect(solveOde(field, x0, { timeGrid: [0, 0.6, 0.5, 1] })).rejects.toThrow(/timeGrid must be strictly monotone, got 0.6 then 0.5/);
    await expect(solveOde(field, x0, { stepSize: 0 })).rejects.toThrow(/stepSize must be a positive number, got 0/);
    await expect(solveOde(field, x0, { syncEvery: 0 })).rejects.toThrow(/syncEvery must be a positive integer, got 0/);
    await expect(solveOde(field, x0, { method: 'rk45' as OdeMethod })).rejects.toThrow(/method must be one of/);
    await expect(solveOde(() => tf.zeros([2]), x0)).rejects.toThrow(/state's shape \[1\], got \[2\] at step 0 \(t = 0\)/);
    x0.dispose();
  });
});

describe('classifier-free guidance', () => {
  it('names its convention and the two conventions agree with g = 1 + w', () => {
    const c = tf.tensor1d([2, 0]);
    const u = tf.tensor1d([1, 1]);
    // ho-salimans w = 2: 3 * [2, 0] - 2 * [1, 1] = [4, -2]; diffusers g = 3: [1, 1] + 3 * [1, -1] = [4, -2].
    expectClose(guidedVelocity(c, u, { scale: 2, convention: 'ho-salimans' }), [4, -2]);
    expectClose(guidedVelocity(c, u, { scale: 3, convention: 'diffusers' }), [4, -2]);
    expectClose(guidedVelocity(c, u, { scale: 1, convention: 'diffusers' }), c);
    expect(() => guidedVelocity(c, u, { scale: 1 } as never)).toThrow(/convention must be 'ho-salimans' or 'diffusers', got undefined/);
    const model = (x: tf.Tensor, _t: number, cond: tf.Tensor | null): tf.Tensor => (cond ? tf.add(x, cond) : x);
    const v = classifierFreeGuidance(model, tf.tensor1d([1, 1]), { scale: 0, convention: 'ho-salimans' });
    expectClose(v(tf.tensor1d([0, 1]), 0), [1, 2]);
  });
});
