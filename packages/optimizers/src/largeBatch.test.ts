import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { describeBackends, expectClose } from '@blockwise/tensor/testing';
import { decodePackedState } from './fused8bit.js';
import { LAMB, LAMB8bit } from './lamb.js';
import { LARS } from './lars.js';
import { applyGrad, gradSequence, makeVar, values64 } from './testUtil.js';

const norm = (a: ArrayLike<number>): number => Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));

/**
 * tensorflow-addons LAMB `_resource_apply_dense` on Float64 arrays: m, v with bias correction,
 * u = m_hat / (sqrt(v_hat) + eps) (+ wd p unless excluded), ratio = ||p|| / ||u|| when both > 0
 * (1 if excluded from adaptation), p -= ratio * lr * u.
 */
function lambReference(
  p0: Float32Array,
  grads: Float32Array[],
  o: { lr: number; b1: number; b2: number; eps: number; wd: number; decay: boolean; adapt: boolean },
): Float64Array {
  const p = Float64Array.from(p0);
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  const u = new Float64Array(p.length);
  grads.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      m[i] = o.b1 * m[i]! + (1 - o.b1) * g[i]!;
      v[i] = o.b2 * v[i]! + (1 - o.b2) * g[i]! * g[i]!;
      u[i] = m[i]! / (1 - o.b1 ** t) / (Math.sqrt(v[i]! / (1 - o.b2 ** t)) + o.eps) + (o.decay ? o.wd * p[i]! : 0);
    }
    const wn = norm(p);
    const un = norm(u);
    const ratio = o.adapt && wn > 0 && un > 0 ? wn / un : 1;
    for (let i = 0; i < p.length; i++) p[i]! -= ratio * o.lr * u[i]!;
  });
  return p;
}

/**
 * TF model-garden LARS (classic momentum) on Float64 arrays: g += wd p; trust = eeta ||p|| / ||g||
 * when both norms are positive, else 1; v = mu v + lr trust g; p -= v (Nesterov: mu v + lr trust g).
 */
function larsReference(
  p0: Float32Array,
  grads: Float32Array[],
  o: { lr: number; mu: number; wd: number; eeta: number; nesterov: boolean },
): Float64Array {
  const p = Float64Array.from(p0);
  const v = new Float64Array(p.length);
  const g = new Float64Array(p.length);
  for (const g0 of grads) {
    for (let i = 0; i < p.length; i++) g[i] = g0[i]! + o.wd * p[i]!;
    const wn = norm(p);
    const gn = norm(g);
    const trust = wn > 0 && gn > 0 ? (o.eeta * wn) / gn : 1;
    for (let i = 0; i < p.length; i++) {
      const scaled = o.lr * trust * g[i]!;
      v[i] = o.mu * v[i]! + scaled;
      p[i]! -= o.nesterov ? o.mu * v[i]! + scaled : v[i]!;
    }
  }
  return p;
}

// Every reference comparison runs on cpu and wasm: their kernels differ at the edges.
describeBackends(['cpu', 'wasm'], (backend) => {
  describe('LAMB', () => {
    it('matches tensorflow-addons LAMB within 1e-6 after 20 steps, with exclusion lists', () => {
      const n = 36;
      const p0 = createRng(91).fillNormal(new Float32Array(n));
      const grads = gradSequence(92, 20, n);
      const kernel = makeVar(p0, [6, 6], `layer/kernel_lamb_${backend}`);
      const bias = makeVar(p0, [6, 6], `layer/bias_lamb_${backend}`);
      const opt = new LAMB({ learningRate: 1e-2, weightDecay: 0.01, excludeFromWeightDecay: ['bias'] });
      for (const g of grads) {
        const gt = tf.tensor(g, [6, 6]);
        opt.applyGradients({ [kernel.name]: gt, [bias.name]: gt });
        gt.dispose();
      }
      const o = { lr: 1e-2, b1: 0.9, b2: 0.999, eps: 1e-6, wd: 0.01 };
      expectClose(values64(kernel), lambReference(p0, grads, { ...o, decay: true, adapt: true }), {
        atol: 1e-6,
        rtol: 0,
        label: 'kernel',
      });
      // excludeFromLayerAdaptation defaults to excludeFromWeightDecay: bias gets neither.
      expectClose(values64(bias), lambReference(p0, grads, { ...o, decay: false, adapt: false }), {
        atol: 1e-6,
        rtol: 0,
        label: 'bias',
      });
      opt.dispose();
    });

    it('LAMB8bit tracks LAMB under the parity protocol', async () => {
      const shape = [32, 256];
      const n = 32 * 256;
      const p0 = createRng(93).fillNormal(new Float32Array(n), 0, 0.1);
      const w8 = makeVar(p0, shape);
      const w32 = makeVar(p0, shape);
      const o8 = new LAMB8bit({ learningRate: 1e-3, weightDecay: 0.01 });
      const o32 = new LAMB({ learningRate: 1e-3, weightDecay: 0.01 });
      let abs = 0;
      const steps = 10;
      for (const g of gradSequence(94, steps, n, 0.01)) {
        applyGrad(o8, w8, g);
        applyGrad(o32, w32, g);
        const a = w8.dataSync();
        const b = w32.dataSync();
        for (let i = 0; i < n; i++) abs += Math.abs(a[i]! - b[i]!) / n / steps;
        const st = o8
          .stateVariables()
          .find((s) => s.name === `${w8.name}/q8`)!
          .variable.dataSync() as Int32Array;
        const ws = await o32.getWeights();
        await o32.setWeights([
          ws[0]!,
          { name: `${w32.name}/m`, tensor: tf.tensor(decodePackedState(st, n, 2, 256, 0), shape) },
          { name: `${w32.name}/v`, tensor: tf.tensor(decodePackedState(st, n, 2, 256, 1), shape) },
        ]);
        w32.assign(w8);
      }
      expect(abs).toBeLessThan(6e-5);
      o8.dispose();
      o32.dispose();
    });
  });

  describe('LARS', () => {
    for (const nesterov of [false, true]) {
      it(`matches the model-garden LARS rule within 1e-6 after 20 steps${nesterov ? ' (Nesterov)' : ''}`, () => {
        const n = 30;
        const p0 = createRng(95).fillNormal(new Float32Array(n));
        const grads = gradSequence(96, 20, n);
        const w = makeVar(p0, [5, 6]);
        const opt = new LARS({ learningRate: 0.5, momentum: 0.9, weightDecay: 1e-3, eeta: 0.01, nesterov });
        for (const g of grads) applyGrad(opt, w, g);
        expectClose(values64(w), larsReference(p0, grads, { lr: 0.5, mu: 0.9, wd: 1e-3, eeta: 0.01, nesterov }), {
          atol: 1e-6,
          rtol: 0,
        });
        opt.dispose();
      });
    }

    it('skips the trust ratio and decay for excluded names', () => {
      const p0 = Float32Array.of(1, 2, 3);
      const w = makeVar(p0, [3], `bn/gamma_lars_${backend}`);
      const opt = new LARS({ learningRate: 0.1, momentum: 0, weightDecay: 0.5, excludeFromWeightDecay: ['gamma'] });
      applyGrad(opt, w, Float32Array.of(1, 1, 1));
      // Plain SGD: p - 0.1 * g.
      expectClose(w.dataSync(), [0.9, 1.9, 2.9], { atol: 1e-6 });
      expect(() => new LARS({ excludeFromWeightDecay: [3 as unknown as string] })).toThrow(
        /excludeFromWeightDecay\[0\]/,
      );
      opt.dispose();
    });

    it('reads excludeFromLayerAdaptation: [] as unset (the weight-decay list), as tensorflow-addons and the model garden', () => {
      for (const Cls of [LARS, LAMB]) {
        const w = makeVar(Float32Array.of(1, 2, 3), [3], `bn/gamma_empty_${Cls.className}_${backend}`);
        const opt = new Cls({
          learningRate: 0.1,
          weightDecay: 0.5,
          excludeFromWeightDecay: ['gamma'],
          excludeFromLayerAdaptation: [],
        });
        expect((opt.getConfig() as { excludeFromLayerAdaptation: string[] }).excludeFromLayerAdaptation).toEqual([
          'gamma',
        ]);
        applyGrad(opt, w, Float32Array.of(1, 1, 1));
        // No trust ratio (it would scale by ||w|| / ||u|| = sqrt(14) / sqrt(3) for LAMB, eeta * that for LARS):
        // LARS is plain SGD, p - 0.1 g; LAMB's first update is m^/(sqrt(v^)+eps) = g/(|g|+1e-6) ~ 1, so p - 0.1.
        expectClose(w.dataSync(), [0.9, 1.9, 2.9], { atol: 1e-6, label: Cls.className });
        opt.dispose();
        w.dispose();
      }
    });
  });
});
