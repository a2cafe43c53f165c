import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { useBackend } from '@blockwise/tensor/testing';
import { affinePath } from './path.js';
import { condOTScheduler } from './schedulers.js';
import { solveOde } from './ode.js';
import { drawFlowBatch, flowMatchingLoss, otCoupling, trainFlowMatching } from './training.js';
import { asVelocityFn, createVelocityMlp, velocityFromLayersModel } from './velocity.js';
import { createMlp, denseFlops } from './mlp.js';
import { squaredDistances } from './assignment.js';

useBackend('cpu');

function gaussianData(n: number, mean: number[], std: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n * mean.length);
  for (let i = 0; i < out.length; i++) out[i] = mean[i % mean.length]! + rng.normal(0, std);
  return out;
}

describe('flow-matching training', () => {
  it('learns a shifted Gaussian: sample mean and std match the data', async () => {
    const data = gaussianData(2000, [2, -1], 0.5, 1);
    const model = createVelocityMlp({ dim: 2, hidden: [32, 32], frequencies: 2, seed: 1 });
    const path = affinePath(condOTScheduler());
    const losses = await trainFlowMatching(model, {
      data,
      dim: 2,
      path,
      steps: 300,
      batchSize: 128,
      learningRate: 3e-3,
      seed: 2,
      logEvery: 100,
    });
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]!);
    const x0 = createRng(5).normalTensor([500, 2]);
    const r = await solveOde(asVelocityFn(model), x0, { method: 'midpoint', stepSize: 0.1 });
    const v = await r.x.data();
    const m = [0, 1].map((k) => {
      let a = 0;
      for (let i = 0; i < 500; i++) a += v[2 * i + k]! / 500;
      return a;
    });
    const s = [0, 1].map((k) => {
      let a = 0;
      for (let i = 0; i < 500; i++) a += (v[2 * i + k]! - m[k]!) ** 2 / 499;
      return a;
    });
    expect(m[0]).toBeCloseTo(2, 0);
    expect(m[1]).toBeCloseTo(-1, 0);
    for (const k of [0, 1]) expect(Math.abs(Math.sqrt(s[k]!) - 0.5)).toBeLessThan(0.15);
    tf.dispose([x0, r.x]);
    model.dispose();
  });

  it('the loss of the exact conditional velocity is zero for a single data point', async () => {
    // With x1 fixed, the CondOT target x1 - x0 is exactly the model "v = (x1 - x_t) / (1 - t)".
    const x1 = tf.tensor2d([
      [1, 2],
      [1, 2],
    ]);
    const x0 = tf.tensor2d([
      [0, 0],
      [-1, 3],
    ]);
    const exact = {
      predict: (x: tf.Tensor2D, t: tf.Tensor1D | number) =>
        tf.tidy(() => tf.div(tf.sub(x1, x), tf.reshape(tf.sub(1, t as tf.Tensor1D), [-1, 1]))) as tf.Tensor2D,
      trainableVariables: [],
      flopsPerCall: 0,
      dispose() {},
    };
    const loss = flowMatchingLoss(exact, affinePath(condOTScheduler()), x0, x1, [0.3, 0.8]);
    expect((await loss.data())[0]).toBeCloseTo(0, 6);
  });

  it('OT coupling minimizes the total squared distance of the batch', () => {
    const rng = createRng(4);
    const b = drawFlowBatch(gaussianData(100, [3, 3], 1, 2), 2, 64, rng);
    const cost = (x0: Float32Array): number => {
      const c = squaredDistances(x0, b.x1, 2);
      let s = 0;
      for (let i = 0; i < 64; i++) s += c[i * 64 + i]!;
      return s;
    };
    const paired = otCoupling(b.x0, b.x1, 2);
    expect(cost(paired)).toBeLessThan(cost(b.x0));
    // Same rows, reordered.
    expect(Array.from(paired).sort()).toEqual(Array.from(b.x0).sort());
    // No swap of two rows can lower an optimal pairing's cost.
    for (let i = 0; i < 10; i++) {
      const j = (i * 7 + 3) % 64;
      const sw = Float32Array.from(paired);
      sw.set(paired.subarray(2 * j, 2 * j + 2), 2 * i);
      sw.set(paired.subarray(2 * i, 2 * i + 2), 2 * j);
      expect(cost(sw)).toBeGreaterThanOrEqual(cost(paired) - 1e-4);
    }
  });

  it('counts FLOPs analytically and adapts tfjs-layers models', async () => {
    expect(denseFlops([3, 4, 2])).toBe(2 * (12 + 8));
    const n0 = tf.memory().numTensors;
    const m = createMlp({ inputDim: 3, hidden: [4], outputDim: 2 });
    expect(tf.memory().numTensors).toBe(n0 + 4); // two layers' weights and biases, nothing else
    expect(m.flops).toBe(40);
    m.dispose();
    expect(tf.memory().numTensors).toBe(n0);
    const v = createVelocityMlp({ dim: 2, hidden: [8], frequencies: 1 });
    // Input 2 + 1 + 2 = 5: 2 * (5 * 8 + 8 * 2).
    expect(v.flopsPerCall).toBe(2 * (40 + 16));
    v.dispose();
    const layers = tfl.sequential({
      layers: [tfl.layers.dense({ inputShape: [5], units: 8, activation: 'relu' }), tfl.layers.dense({ units: 2 })],
    });
    const lv = velocityFromLayersModel(layers, { frequencies: 1 });
    expect(lv.flopsPerCall).toBe(2 * (40 + 16));
    const data = gaussianData(200, [1, 1], 0.3, 3);
    const path = affinePath(condOTScheduler());
    const losses = await trainFlowMatching(lv, {
      data,
      dim: 2,
      path,
      steps: 30,
      batchSize: 32,
      logEvery: 29,
      learningRate: 1e-2,
    });
    expect(losses[1]).toBeLessThan(losses[0]!);
    layers.dispose();
  });

  it('rejects bad arguments', async () => {
    const v = createVelocityMlp({ dim: 2, hidden: [4] });
    await expect(
      trainFlowMatching(v, { data: new Float32Array(4), dim: 2, path: affinePath(condOTScheduler()), steps: 0 }),
    ).rejects.toThrow(/trainFlowMatching: steps must be an integer >= 1 <= 100000000, got 0/);
    await expect(
      trainFlowMatching(v, {
        data: new Float32Array(4),
        dim: 2,
        path: affinePath(condOTScheduler()),
        steps: 5,
        syncEvery: 1.5,
      }),
    ).rejects.toThrow(/syncEvery must be an integer >= 1, got 1.5/);
    expect(() => createMlp({ inputDim: 2, hidden: [0], outputDim: 1 })).toThrow(
      /createMlp: hidden\[0\] must be an integer >= 1 <= 65536, got 0/,
    );
    expect(() => otCoupling(new Float32Array(4), new Float32Array(6), 2)).toThrow(/same length, got 4 and 6/);
    v.dispose();
  });
});

describe('trainFlowMatching: options and bad numbers', () => {
  it('misspelt options throw; NaN data leaves the model untouched', async () => {
    const v = createVelocityMlp({ dim: 2, hidden: [4], seed: 1 });
    const path = affinePath(condOTScheduler());
    const data = gaussianData(16, [0, 0], 1, 1);
    await expect(trainFlowMatching(v, { data, dim: 2, path, steps: 2, learningrate: 0.5 } as never)).rejects.toThrow(
      /trainFlowMatching: unknown option "learningrate"; did you mean "learningRate"\?/,
    );
    await expect(trainFlowMatching(v, null as never)).rejects.toThrow(
      /trainFlowMatching: options must be an object, got null/,
    );
    await expect(trainFlowMatching(v, { data: [1, 2] as never, dim: 2, path, steps: 2 })).rejects.toThrow(
      /data must be a Float32Array/,
    );
    await expect(trainFlowMatching(v, { data, dim: 3, path, steps: 2 })).rejects.toThrow(
      /data must hold a positive multiple of dim = 3 values, got 32/,
    );
    const before = (await Promise.all(v.trainableVariables.map((w) => w.data()))).flatMap((d) => Array.from(d));
    const bad = data.slice();
    bad[0] = Infinity;
    await expect(trainFlowMatching(v, { data: bad, dim: 2, path, steps: 3 })).rejects.toThrow(
      /data must be finite, got Infinity at index 0/,
    );
    const after = (await Promise.all(v.trainableVariables.map((w) => w.data()))).flatMap((d) => Array.from(d));
    expect(after).toEqual(before);
    v.dispose();
  });
});
