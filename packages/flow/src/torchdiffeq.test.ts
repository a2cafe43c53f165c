import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeBackends, expectClose } from '@blockwise/tensor/testing';
import { solveOde, type OdeMethod, type VelocityFn } from './ode.js';

// Hand-derived values of torchdiffeq's methods, on every backend (the derivations are in the
// comments). dx/dt = x cos(t) => x(t) = x(0) exp(sin t) for the interpolation check.
const field: VelocityFn = (x, t) => tf.mul(x, Math.cos(t));
const T = 2;

describeBackends(['cpu', 'wasm', 'webgpu'], (backend) => {
  describe(`torchdiffeq method semantics (hand-derived) on ${backend}`, () => {
    async function oneStep(method: OdeMethod, v: VelocityFn, x0v: number): Promise<number> {
      const x0 = tf.tensor1d([x0v]);
      const r = await solveOde(v, x0, { method, timeGrid: [0, 1] });
      const out = (await r.x.data())[0]!;
      tf.dispose([x0, r.x]);
      return out;
    }

    it("'rk4' is Kutta's 3/8 rule, 'rk4-classic' the 1/6, 1/3, 1/3, 1/6 method", async () => {
      // dx/dt = t^4, one step h = 1 from x = 0: a quadrature of t^4 over [0, 1] (exact 1/5).
      // 3/8 rule: (f(0) + 3 f(1/3) + 3 f(2/3) + f(1)) / 8 = (0 + 3/81 + 48/81 + 1) / 8 = 11/54.
      // Classic: (f(0) + 4 f(1/2) + f(1)) / 6 = (0 + 1/4 + 1) / 6 = 5/24.
      const quartic: VelocityFn = (x, t) => tf.fill(x.shape, t ** 4);
      expect(await oneStep('rk4', quartic, 0)).toBeCloseTo(11 / 54, 6);
      expect(await oneStep('rk4-classic', quartic, 0)).toBeCloseTo(5 / 24, 6);
      // dx/dt = x^2, one step h = 1 from x = 1 (exercises the stage weights a_ij):
      // k1 = 1, k2 = (1 + k1/3)^2 = 16/9, k3 = (1 + k2 - k1/3)^2 = (22/9)^2 = 484/81,
      // k4 = (1 + k1 - k2 + k3)^2 = (502/81)^2 = 252004/6561,
      // x1 = 1 + (k1 + 3 k2 + 3 k3 + k4) / 8 = 1 + 411169/52488 = 463657/52488.
      const square: VelocityFn = (x) => tf.square(x);
      expect(await oneStep('rk4', square, 1)).toBeCloseTo(463657 / 52488, 4);
      // Classic: k2 = 9/4, k3 = (1 + 9/8)^2 = 289/64, k4 = (1 + 289/64)^2 = 124609/4096,
      // x1 = 1 + (1 + 9/2 + 289/32 + 124609/4096) / 6 = 1 + 184129/24576.
      expect(await oneStep('rk4-classic', square, 1)).toBeCloseTo(1 + 184129 / 24576, 4);
      // heun3 on t^4: (f(0) + 3 f(2/3)) / 4 = 3 (16/81) / 4 = 4/27; heun2 (= heun): (f(0) + f(1)) / 2.
      expect(await oneStep('heun3', quartic, 0)).toBeCloseTo(4 / 27, 6);
      expect(await oneStep('heun2', quartic, 0)).toBeCloseTo(0.5, 6);
      expect(await oneStep('heun', quartic, 0)).toBeCloseTo(0.5, 6);
    });

    it("dopri5's error estimate is Shampine's: accepts or rejects a first step at the hand-derived threshold", async () => {
      // dx/dt = 5 t^4 from x(0) = 0, one step h = 1. The 5th-order weights b integrate t^4 exactly;
      // Shampine's b_hat (1951/21600, 0, 22642/50085, 451/720, -12231/42400, 649/6300, 1/60) at the
      // stage times c = (0, 1/5, 3/10, 4/5, 8/9, 1, 1) give sum b_hat c^4 = 80929/405000, so the
      // estimate is |err| = 5 (1/5 - 80929/405000) = 71/81000 = 8.765e-4 (the 1980 weights
      // 5179/57600, ... would give 5 * 71/270000 = 1.315e-3). With one element and rtol ~ 0 the
      // error ratio is |err| / atol: accepted for atol = 9.2e-4, rejected for atol = 8.4e-4.
      const v: VelocityFn = (x, t) => tf.fill(x.shape, 5 * t ** 4);
      const x0 = tf.tensor1d([0]);
      const ok = await solveOde(v, x0, { method: 'dopri5', firstStep: 1, atol: 9.2e-4, rtol: 1e-12 });
      expect([ok.steps, ok.rejected, ok.nfe]).toEqual([1, 0, 7]);
      expectClose(await ok.x.data(), [1], { atol: 1e-6 });
      const no = await solveOde(v, x0, { method: 'dopri5', firstStep: 1, atol: 8.4e-4, rtol: 1e-12 });
      expect(no.rejected).toBeGreaterThanOrEqual(1);
      // Even with the old weights' larger estimate, 1.2e-3 < 1.315e-3 would reject; Shampine's accepts.
      const mid = await solveOde(v, x0, { method: 'dopri5', firstStep: 1, atol: 1.2e-3, rtol: 1e-12 });
      expect(mid.rejected).toBe(0);
      tf.dispose([x0, ok.x, no.x, mid.x]);
    });

    it('dopri5 step count follows torchdiffeq step for step (hand-traced)', async () => {
      // Same field, atol 1e-4, rtol 1e-12. For a degree-4 field the estimate of a step of size h
      // is (71/81000) h^5 wherever it starts (the error weights annihilate degrees <= 3).
      // Initial step (torchdiffeq's _select_initial_step): y0 = 0 so d0 = 0 < 1e-5 and h0 = 1e-6;
      // f0 = 0 so d1 = 0; f(h0) = 5e-24 gives d2 = 5e-24 / 1e-4 / 1e-6 = 5e-14 > 1e-15, so
      // h1 = (0.01 / d2)^(1/5) = 182 and the first step is min(100 h0, h1) = 1e-4.
      // Steps 1e-4, 1e-3, 1e-2: ratio < 1e-9, growth capped at ifactor = 10. Step 0.1: ratio
      // 8.765e-5, factor 0.9 / ratio^(1/5) = 5.83, next h = 0.583 = 0.9 (atol 81000/71)^(1/5).
      // From t = 0.1111: ratio = 0.9^5 < 1, factor 1: t = 0.694, then 1.277 > 1 (torchdiffeq steps
      // past the end and interpolates). 6 accepted steps, 0 rejected,
      // nfe = 1 (f0) + 1 (initial-step probe) + 6 * 6 = 38.
      const v: VelocityFn = (x, t) => tf.fill(x.shape, 5 * t ** 4);
      const x0 = tf.tensor1d([0]);
      const r = await solveOde(v, x0, { method: 'dopri5', atol: 1e-4, rtol: 1e-12 });
      expect([r.steps, r.rejected, r.nfe]).toEqual([6, 0, 38]);
      expectClose(await r.x.data(), [1], { atol: 1e-4 });
      tf.dispose([x0, r.x]);
    });

    it('adaptive solves step through grid times and interpolate there, as torchdiffeq does', async () => {
      // Intermediate output times do not change the steps taken (torchdiffeq's _advance), only what
      // is returned: the 4th-order interpolant at each grid time.
      const x0 = tf.tensor1d([1, 2]);
      // The software WebGPU adapter is slow per read: dopri5 alone there.
      const methods: OdeMethod[] = backend === 'webgpu' ? ['dopri5'] : ['dopri5', 'bosh3', 'adaptive_heun'];
      for (const method of methods) {
        const plain = await solveOde(field, x0, { method, timeGrid: [0, T], rtol: 1e-5, atol: 1e-5 });
        const grid = [0, 0.3, 1.1, 1.7, T];
        const dense = await solveOde(field, x0, {
          method,
          timeGrid: grid,
          rtol: 1e-5,
          atol: 1e-5,
          returnIntermediates: true,
        });
        expect([dense.steps, dense.rejected, dense.nfe], method).toEqual([plain.steps, plain.rejected, plain.nfe]);
        expectClose(await dense.x.data(), await plain.x.data(), { atol: 1e-6, label: method });
        // bosh3's and adaptive_heun's midpoints (torchdiffeq's _BS_C_MID, _AH_C_MID) are low-order
        // estimates, so their interpolants are coarser than dopri5's (Shampine's dense output).
        const rtol = method === 'dopri5' ? 2e-4 : 5e-3;
        for (const [i, s] of (dense.intermediates ?? []).entries()) {
          expectClose(
            await s.data(),
            [1, 2].map((a) => a * Math.exp(Math.sin(grid[i]!))),
            { rtol, label: `${method} t=${grid[i]}` },
          );
        }
        tf.dispose([plain.x, dense.x, ...(dense.intermediates ?? [])]);
      }
      x0.dispose();
    });
  });
});
