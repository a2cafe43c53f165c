import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { describeBackends, expectClose } from '@blockwise/tensor/testing';
import { decodePackedState } from './fused8bit.js';
import { Lion, Lion8bit } from './lion.js';
import { Momentum8bit } from './momentum8bit.js';
import { applyGrad, gradSequence, makeVar, values64 } from './testUtil.js';

/**
 * torch.optim.SGD `_single_tensor_sgd` on Float64 arrays: g += wd p; the buffer is a copy of
 * the first gradient, then b = mu b + (1 - dampening) g; nesterov: g + mu b, else b; p -= lr * that.
 */
function sgdReference(
  p0: Float32Array,
  grads: Float32Array[],
  o: { lr: number; mu: number; damp: number; wd: number; nesterov: boolean },
): Float64Array {
  const p = Float64Array.from(p0);
  const b = new Float64Array(p.length);
  grads.forEach((g, k) => {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! + o.wd * p[i]!;
      b[i] = k === 0 ? gi : o.mu * b[i]! + (1 - o.damp) * gi;
      p[i]! -= o.lr * (o.nesterov ? gi + o.mu * b[i]! : b[i]!);
    }
  });
  return p;
}

/** Lion (arXiv 2302.06675, Algorithm 2) on Float64 arrays. */
function lionReference(
  p0: Float32Array,
  grads: Float32Array[],
  o: { lr: number; b1: number; b2: number; wd: number },
): Float64Array {
  const p = Float64Array.from(p0);
  const m = new Float64Array(p.length);
  for (const g of grads) {
    for (let i = 0; i < p.length; i++) {
      const c = o.b1 * m[i]! + (1 - o.b1) * g[i]!;
      p[i] = p[i]! * (1 - o.lr * o.wd) - o.lr * Math.sign(c);
      m[i] = o.b2 * m[i]! + (1 - o.b2) * g[i]!;
    }
  }
  return p;
}

// Every reference comparison runs on cpu and wasm: their kernels differ at the edges.
describeBackends(['cpu', 'wasm'], () => {
  describe('Momentum8bit with optimBits 32 (torch.optim.SGD)', () => {
    for (const nesterov of [false, true]) {
      it(`matches PyTorch SGD momentum${nesterov ? ' (Nesterov)' : ''} within 1e-6 after 20 steps`, () => {
        const n = 40;
        const p0 = createRng(61).fillNormal(new Float32Array(n));
        const grads = gradSequence(62, 20, n);
        const w = makeVar(p0, [5, 8]);
        const o = { lr: 0.01, mu: 0.9, damp: nesterov ? 0 : 0.1, wd: 1e-3, nesterov };
        const opt = new Momentum8bit({
          optimBits: 32,
          learningRate: o.lr,
          momentum: o.mu,
          dampening: o.damp,
          weightDecay: o.wd,
          nesterov,
        });
        for (const g of grads) applyGrad(opt, w, g);
        expectClose(values64(w), sgdReference(p0, grads, o), { atol: 1e-6, rtol: 0 });
        opt.dispose();
      });
    }

    it('rejects Nesterov with dampening and bad momentum', () => {
      expect(() => new Momentum8bit({ nesterov: true, dampening: 0.5 })).toThrow(/nesterov requires dampening 0/);
      expect(() => new Momentum8bit({ momentum: 1 })).toThrow(/momentum must be a number in \[0, 1\), got 1/);
      expect(() => new Momentum8bit({ learningRate: -0.1 })).toThrow(/learningRate/);
    });
  });

  describe('Lion', () => {
    it('matches the Lion update rule within 1e-6 after 20 steps', () => {
      const n = 50;
      const p0 = createRng(71).fillNormal(new Float32Array(n));
      const grads = gradSequence(72, 20, n);
      const w = makeVar(p0, [n]);
      const opt = new Lion({ learningRate: 1e-3, weightDecay: 0.1 });
      for (const g of grads) applyGrad(opt, w, g);
      expectClose(values64(w), lionReference(p0, grads, { lr: 1e-3, b1: 0.9, b2: 0.99, wd: 0.1 }), {
        atol: 1e-6,
        rtol: 0,
      });
      opt.dispose();
    });
  });

  /** 8-bit vs float32 with the float32 state reset to the dequantized 8-bit state each step. */
  async function parity(
    make8: () => tf.Optimizer,
    make32: () => tf.Optimizer,
    slot32: string,
    steps: number,
  ): Promise<{ abs: number; rel: number }> {
    const shape = [32, 256];
    const n = 32 * 256;
    const p0 = createRng(81).fillNormal(new Float32Array(n), 0, 0.1);
    const w8 = makeVar(p0, shape);
    const w32 = makeVar(p0, shape);
    const o8 = make8() as Lion8bit;
    const o32 = make32() as Lion;
    let abs = 0;
    let rel = 0;
    for (const g of gradSequence(82, steps, n, 0.01)) {
      applyGrad(o8, w8, g);
      applyGrad(o32, w32, g);
      const a = w8.dataSync();
      const b = w32.dataSync();
      for (let i = 0; i < n; i++) {
        const d = Math.abs(a[i]! - b[i]!);
        abs += d / n / steps;
        rel += d / (Math.abs(b[i]!) + 1e-9) / n / steps;
      }
      const st = o8
        .stateVariables()
        .find((s) => s.name === `${w8.name}/q8`)!
        .variable.dataSync() as Int32Array;
      const ws = await o32.getWeights();
      await o32.setWeights([
        ws[0]!,
        { name: `${w32.name}/${slot32}`, tensor: tf.tensor(decodePackedState(st, n, 1, 256, 0), shape) },
      ]);
      w32.assign(w8);
    }
    o8.dispose();
    o32.dispose();
    return { abs, rel };
  }

  describe('8-bit Lion and momentum', () => {
    it('Lion8bit tracks Lion under the parity protocol', async () => {
      const r = await parity(
        () => new Lion8bit({ learningRate: 1e-4 }),
        () => new Lion({ learningRate: 1e-4 }),
        'm',
        20,
      );
      expect(r.abs).toBeLessThan(6e-5);
      expect(r.rel).toBeLessThan(6e-4);
    });

    it('Momentum8bit tracks float32 SGD momentum under the parity protocol', async () => {
      const r = await parity(
        () => new Momentum8bit({ learningRate: 1e-3, nesterov: true }),
        () => new Momentum8bit({ learningRate: 1e-3, nesterov: true, optimBits: 32 }),
        'momentum',
        20,
      );
      expect(r.abs).toBeLessThan(6e-5);
      expect(r.rel).toBeLessThan(6e-4);
    });
  });
});
