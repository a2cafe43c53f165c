import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { describeBackends, expectClose, expectNoLeaks } from '@blockwise/tensor/testing';
import { AdamW } from './adamw.js';
import { Adam8bit } from './adam8bit.js';
import { applyGrad, gradSequence, makeVar, values64 } from './testUtil.js';

/**
 * Reference: torch.optim.Adam/AdamW `_single_tensor_adam`, written out on Float64 arrays.
 * AdamW: p *= 1 - lr*wd. Adam: g += wd*p. Then m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * bc1 = 1 - b1^t; bc2 = 1 - b2^t; p -= (lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps).
 */
function adamReference(
  p0: Float32Array,
  grads: Float32Array[],
  o: { lr: (t: number) => number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean },
): Float64Array {
  const p = Float64Array.from(p0);
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  grads.forEach((g, k) => {
    const t = k + 1;
    const lr = o.lr(k);
    for (let i = 0; i < p.length; i++) {
      let gi = g[i]!;
      if (o.decoupled) p[i]! *= 1 - lr * o.wd;
      else gi += o.wd * p[i]!;
      m[i] = o.b1 * m[i]! + (1 - o.b1) * gi;
      v[i] = o.b2 * v[i]! + (1 - o.b2) * gi * gi;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - o.b2 ** t) + o.eps;
      p[i]! -= (lr / (1 - o.b1 ** t)) * (m[i]! / denom);
    }
  });
  return p;
}

// Every reference comparison runs on cpu and wasm: their kernels differ at the edges.
describeBackends(['cpu', 'wasm'], () => {
  describe('AdamW (float32 state)', () => {
    it('matches the PyTorch AdamW rule within 1e-6 after 20 steps', () => {
      const n = 48;
      const p0 = createRng(1).fillNormal(new Float32Array(n));
      const grads = gradSequence(2, 20, n);
      const w = makeVar(p0, [6, 8]);
      const opt = new AdamW({ learningRate: 1e-2, weightDecay: 0.1 });
      for (const g of grads) applyGrad(opt, w, g);
      const ref = adamReference(p0, grads, { lr: () => 1e-2, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1, decoupled: true });
      expectClose(values64(w), ref, { atol: 1e-6, rtol: 0, label: 'AdamW params' });
      opt.dispose();
      w.dispose();
    });

    it('takes a schedule for the learning rate and other hyperparameters', () => {
      const n = 20;
      const p0 = createRng(3).fillNormal(new Float32Array(n));
      const grads = gradSequence(4, 20, n);
      const lr = (s: number): number => 0.02 * (1 - s / 40);
      const w = makeVar(p0, [n]);
      const opt = new AdamW({ learningRate: lr, beta1: () => 0.8, weightDecay: 0.05, epsilon: 1e-6 });
      for (const g of grads) applyGrad(opt, w, g);
      const ref = adamReference(p0, grads, { lr, b1: 0.8, b2: 0.999, eps: 1e-6, wd: 0.05, decoupled: true });
      expectClose(values64(w), ref, { atol: 1e-6, rtol: 0 });
      opt.dispose();
    });

    it('Adam8bit with optimBits 32 is PyTorch Adam with L2 weight decay within 1e-6', () => {
      const n = 30;
      const p0 = createRng(5).fillNormal(new Float32Array(n));
      const grads = gradSequence(6, 20, n);
      const w = makeVar(p0, [n]);
      const opt = new Adam8bit({ optimBits: 32, learningRate: 5e-3, weightDecay: 0.1 });
      for (const g of grads) applyGrad(opt, w, g);
      const ref = adamReference(p0, grads, {
        lr: () => 5e-3,
        b1: 0.9,
        b2: 0.999,
        eps: 1e-8,
        wd: 0.1,
        decoupled: false,
      });
      expectClose(values64(w), ref, { atol: 1e-6, rtol: 0 });
      opt.dispose();
    });

    it('leaves elements with non-finite gradients untouched', () => {
      const p0 = Float32Array.of(1, 2, 3, 4);
      const w = makeVar(p0, [4]);
      const opt = new AdamW({ learningRate: 0.1 });
      applyGrad(opt, w, Float32Array.of(1, NaN, Infinity, -1));
      const after = w.dataSync();
      expect(after[1]).toBe(2);
      expect(after[2]).toBe(3);
      expect(after[0]).not.toBe(1);
      expect(Array.from(after).every(Number.isFinite)).toBe(true);
      opt.dispose();
    });

    it('rejects bad hyperparameters naming the option', () => {
      expect(() => new AdamW({ learningRate: -1 })).toThrow(/learningRate must be a finite number >= 0, got -1/);
      expect(() => new AdamW({ beta1: 1 })).toThrow(/beta1 must be a number in \[0, 1\), got 1/);
      expect(() => new AdamW({ beta2: -0.1 })).toThrow(/beta2/);
      const w = makeVar(Float32Array.of(1, 2), [2]);
      const opt = new AdamW({ learningRate: () => NaN });
      expect(() => applyGrad(opt, w, Float32Array.of(1, 1))).toThrow(/learningRate schedule returned NaN at step 0/);
      expect(Array.from(w.dataSync())).toEqual([1, 2]);
      opt.dispose();
    });

    it('serializes through tfjs (getConfig / fromConfig / registerClass)', () => {
      const opt = new AdamW({ learningRate: 3e-4, weightDecay: 0.2 });
      const cfg = opt.getConfig();
      expect(cfg).toMatchObject({ learningRate: 3e-4, weightDecay: 0.2, beta1: 0.9 });
      const map = tf.serialization.SerializationMap.getMap().classNameMap;
      expect(map['AdamW']).toBeDefined();
      const back = AdamW.fromConfig(AdamW, cfg);
      expect(back.getConfig()).toEqual(cfg);
    });

    it('keeps tf.memory stable across steps', async () => {
      const w = makeVar(createRng(7).fillNormal(new Float32Array(64)), [8, 8]);
      const opt = new AdamW();
      const g = tf.randomNormal([8, 8]);
      opt.applyGradients({ [w.name]: g });
      await expectNoLeaks(() => {
        for (let k = 0; k < 5; k++) opt.applyGradients({ [w.name]: g });
      });
      g.dispose();
      opt.dispose();
    });
  });
});
