import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { describeBackends, expectClose, useBackend } from '@blockwise/tensor/testing';
import { BlockwiseFlow } from './blockwise.js';
import { trainClassifier } from './classifier.js';
import { solveOde, type VelocityFn } from './ode.js';
import { affinePath } from './path.js';
import { condOTScheduler } from './schedulers.js';

// WebGPU in Node cannot read back synchronously (dataSync goes through OffscreenCanvas), so
// everything here reads with `await data()`; tiny sizes keep the software adapter quick.

const path = affinePath(condOTScheduler());
// dx/dt = x cos(t)  =>  x(t) = x(0) exp(sin t).
const field: VelocityFn = (x, t) => tf.mul(x, Math.cos(t));

describeBackends(['cpu', 'webgpu'], (backend) => {
  describe(`flow on ${backend}`, () => {
    it('solveOde: euler and dopri5 reach the known solution; NaN names the step', async () => {
      const x0 = tf.tensor1d([1, 2]);
      const want = [1, 2].map((a) => a * Math.exp(Math.sin(1)));
      // Euler with h = 1/64 on this field: global error about 1.5% (first order).
      const euler = await solveOde(field, x0, { method: 'euler', stepSize: 1 / 64 });
      expect(euler.nfe).toBe(64);
      expectClose(await euler.x.data(), want, { rtol: 0.03, label: 'euler' });
      const dp = await solveOde(field, x0, { method: 'dopri5', rtol: 1e-4, atol: 1e-4 });
      expectClose(await dp.x.data(), want, { rtol: 1e-3, label: 'dopri5' });
      expect(dp.steps).toBeGreaterThan(0);
      const bad: VelocityFn = (x, t) => (t >= 0.5 ? tf.mul(x, NaN) : tf.mul(x, 1));
      await expect(solveOde(bad, x0, { method: 'euler', stepSize: 0.25 })).rejects.toThrow(
        /NaN or Inf at step 2 \(t = 0.5\)/,
      );
      tf.dispose([x0, euler.x, dp.x]);
    });

    it('BlockwiseFlow: train and sample (K = 2), classifier features and accuracy', async () => {
      const rng = createRng(3);
      const data = new Float32Array(256);
      for (let i = 0; i < data.length; i++) data[i] = (i % 2 === 0 ? 1.5 : -1) + rng.normal(0, 0.3);
      const f = new BlockwiseFlow({ dim: 2, segments: 2, hidden: [16], frequencies: 2, seed: 1 });
      const n0 = tf.memory().numTensors;
      const losses = await f.train({
        data,
        path,
        steps: 20,
        batchSize: 32,
        learningRate: 1e-2,
        logEvery: 19,
        stratified: true,
      });
      expect(losses).toHaveLength(2);
      expect(losses[1]).toBeLessThan(losses[0]!);
      const x0 = rng.normalTensor([64, 2]) as tf.Tensor2D;
      const r = await f.sample(x0, { steps: 4, method: 'midpoint' });
      expect(r.nfe).toBe(8);
      expect(r.flopsPerSample).toBe(f.flopsPerSample({ steps: 4, method: 'midpoint' }));
      const x = await r.x.data();
      expect(x.every(Number.isFinite)).toBe(true);
      // After 20 steps the samples have moved from the noise towards the data mean (1.5, -1).
      let m0 = 0;
      for (let i = 0; i < 64; i++) m0 += x[2 * i]! / 64;
      expect(m0).toBeGreaterThan(0.5);
      tf.dispose([x0, r.x]);
      expect(tf.memory().numTensors).toBe(n0);
      f.dispose();

      const n1 = tf.memory().numTensors;
      const y = Int32Array.from({ length: 128 }, (_, i) => (data[2 * i]! > 1.5 ? 1 : 0));
      const clf = trainClassifier(data, y, 2, 2, { hidden: [8, 4], steps: 5, seed: 1 });
      const feats = await clf.features(data.subarray(0, 20));
      expect(feats).toHaveLength(10 * 4);
      const acc = await clf.accuracy(data, y);
      expect(acc).toBeGreaterThanOrEqual(0);
      expect(acc).toBeLessThanOrEqual(1);
      clf.dispose();
      // training and disposing a classifier leaves nothing behind (it leaked a label tensor per step)
      expect(tf.memory().numTensors).toBe(n1);
    });
  });
});

describe('host reads', () => {
  useBackend('cpu');
  afterEach(() => vi.restoreAllMocks());

  it('solves, BFM sampling and training never read synchronously and read a scalar only every few steps', async () => {
    const sync = vi.spyOn(tf.Tensor.prototype, 'dataSync');
    const arraySync = vi.spyOn(tf.Tensor.prototype, 'arraySync');
    const reads = vi.spyOn(tf.Tensor.prototype, 'data');
    const x0 = tf.tensor2d([[1, 2]]);
    const r = await solveOde(field, x0, { method: 'rk4', stepSize: 0.05 });
    expect(r.steps).toBe(20);
    expect(reads).toHaveBeenCalledTimes(2); // the NaN/Inf flag after step 16 (syncEvery) and at the end
    const unchecked = await solveOde(field, x0, { method: 'rk4', stepSize: 0.05, checkFinite: false });
    expect(reads).toHaveBeenCalledTimes(3); // one element of x after step 16, nothing at the end
    reads.mockClear();
    const once = await solveOde(field, x0, { method: 'euler', stepSize: 0.05, syncEvery: 20 });
    expect(reads).toHaveBeenCalledTimes(1);
    const f = new BlockwiseFlow({ dim: 2, segments: 4, hidden: [8], seed: 1 });
    reads.mockClear();
    const s = await f.sample(x0 as tf.Tensor2D, { steps: 16 });
    expect(reads).toHaveBeenCalledTimes(4); // one per segment, not one per step
    await f.train({ data: Float32Array.from([1, 2, 3, 4]), path, steps: 10, batchSize: 8, logEvery: 5 });
    expect(reads).toHaveBeenCalledTimes(4 + 3); // logged steps 0, 5 and 9 (9 is also the syncEvery = 10 step)
    reads.mockClear();
    const logged = await f.train({
      data: Float32Array.from([1, 2, 3, 4]),
      path,
      steps: 25,
      batchSize: 8,
      logEvery: 100,
      syncEvery: 4,
    });
    expect(logged).toHaveLength(2); // steps 0 and 24
    expect(reads).toHaveBeenCalledTimes(2 + 6); // logged steps 0 and 24, and steps 3, 7, ..., 23 (syncEvery)
    expect(sync).not.toHaveBeenCalled();
    expect(arraySync).not.toHaveBeenCalled();
    tf.dispose([x0, r.x, unchecked.x, once.x, s.x]);
    f.dispose();
  });
});
