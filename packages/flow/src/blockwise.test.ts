import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { expectClose, useBackend } from '@blockwise/tensor/testing';
import { BlockwiseFlow, segmentBoundaries } from './blockwise.js';
import { affinePath } from './path.js';
import { condOTScheduler } from './schedulers.js';
import { flowMatchingLoss } from './training.js';
import { trainClassifier } from './classifier.js';

useBackend('cpu');
const path = affinePath(condOTScheduler());

describe('segments', () => {
  it('uniform or given boundaries, and segmentOf routes t', () => {
    expect(segmentBoundaries(4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(segmentBoundaries([0, 0.3, 1])).toEqual([0, 0.3, 1]);
    const f = new BlockwiseFlow({ dim: 2, segments: [0, 0.3, 0.6, 1], hidden: [4] });
    expect([0, 0.29, 0.3, 0.59, 0.6, 1].map((t) => f.segmentOf(t))).toEqual([0, 0, 1, 1, 2, 2]);
    f.dispose();
  });
  it('rejects K < 1 and bad boundaries', () => {
    expect(() => segmentBoundaries(0)).toThrow(/segments \(K\) must be an integer >= 1 <= 1024, got 0/);
    expect(() => segmentBoundaries(2.5)).toThrow(/got 2.5/);
    expect(() => segmentBoundaries([0, 0.7, 0.5, 1])).toThrow(/strictly monotone/);
    expect(() => segmentBoundaries([0.1, 1])).toThrow(/increase from 0 to 1/);
    expect(() => new BlockwiseFlow({ dim: 2, segments: 2, hidden: [[4]] })).toThrow(
      /one width list per segment \(2\), got 1/,
    );
  });
});

describe('BlockwiseFlow training', () => {
  it('the routed loss is the row-weighted sum of each segment network on its own rows', async () => {
    const f = new BlockwiseFlow({ dim: 2, segments: 2, hidden: [[8], [6]], seed: 3 });
    const rng = createRng(1);
    const x0 = rng.normalTensor([6, 2]) as tf.Tensor2D;
    const x1 = rng.normalTensor([6, 2]) as tf.Tensor2D;
    const t = Float32Array.from([0.1, 0.7, 0.2, 0.9, 0.55, 0.3]);
    const { fm, total } = f.losses(path, x0, x1, t);
    // Rows 0, 2, 5 go to net 0 and rows 1, 3, 4 to net 1; each half has mean loss l_k, so fm = (l_0 + l_1) / 2.
    const pick = (x: tf.Tensor2D, r: number[]): tf.Tensor2D => tf.gather(x, r) as tf.Tensor2D;
    const l0 = flowMatchingLoss(f.nets[0]!, path, pick(x0, [0, 2, 5]), pick(x1, [0, 2, 5]), [0.1, 0.2, 0.3]);
    const l1 = flowMatchingLoss(f.nets[1]!, path, pick(x0, [1, 3, 4]), pick(x1, [1, 3, 4]), [0.7, 0.9, 0.55]);
    expectClose(fm, ((await l0.data())[0]! + (await l1.data())[0]!) / 2, { rtol: 1e-5 });
    expectClose(total, fm);
    f.dispose();
  });

  it('stratified training gives every segment its share of each batch', async () => {
    const f = new BlockwiseFlow({ dim: 1, segments: [0, 1 / 3, 0.9, 1], hidden: [4], seed: 1 });
    const seen: number[][] = [];
    const orig = f.losses.bind(f);
    f.losses = (p, a, b, t) => {
      const c = [0, 0, 0];
      for (const ti of t) c[f.segmentOf(ti)]! += 1;
      seen.push(c);
      return orig(p, a, b, t);
    };
    await f.train({ data: Float32Array.from([1, 2, 3]), path, steps: 3, batchSize: 9, stratified: true });
    expect(seen).toEqual([
      [3, 3, 3],
      [3, 3, 3],
      [3, 3, 3],
    ]);
    // With OT, noise is paired within each segment's rows: on 1-D data the pairing is monotone per group
    // (read synchronously inside the override: this spec runs on the cpu backend).
    const pairs: number[][] = [];
    f.losses = (p, a, b, t) => {
      const x0 = a.dataSync();
      const x1 = b.dataSync();
      for (let k = 0; k < 3; k++)
        pairs.push(
          [0, 1, 2]
            .map((j) => j * 3 + k)
            .sort((i, j) => x1[i]! - x1[j]!)
            .map((i) => x0[i]!),
        );
      return orig(p, a, b, t);
    };
    await f.train({
      data: Float32Array.from({ length: 1000 }, (_, i) => i / 100),
      path,
      steps: 2,
      batchSize: 9,
      stratified: true,
      ot: true,
      seed: 3,
    });
    for (const g of pairs) expect([...g].sort((a, b) => a - b)).toEqual(g);
    f.dispose();
  });

  it('a step only updates the networks of the segments that received rows', () => {
    const f = new BlockwiseFlow({ dim: 2, segments: 2, hidden: [4], seed: 1 });
    const before = f.nets.map((n) => n.trainableVariables.map((v) => Array.from(v.dataSync())));
    const opt = tf.train.adam(0.01);
    const x0 = tf.ones([4, 2]) as tf.Tensor2D;
    const x1 = tf.fill([4, 2], 2) as tf.Tensor2D;
    opt.minimize(
      () => f.losses(path, x0, x1, Float32Array.from([0.1, 0.2, 0.3, 0.4])).total,
      false,
      f.trainableVariables,
    );
    const changed = f.nets.map((n, k) =>
      n.trainableVariables.some((v, i) => Array.from(v.dataSync()).some((a, j) => a !== before[k]![i]![j])),
    );
    expect(changed).toEqual([true, false]);
    f.dispose();
  });

  it('trains with a caller-given optimizer and leaves it to the caller', async () => {
    // SGD with learning rate 0 must leave every weight unchanged (and the optimizer usable after).
    const f = new BlockwiseFlow({ dim: 2, segments: 2, hidden: [4], seed: 3 });
    const before = f.trainableVariables.map((v) => Array.from(v.dataSync()));
    const sgd = tf.train.sgd(0);
    const data = createRng(1).fillNormal(new Float32Array(64));
    const losses = await f.train({ data, path, steps: 3, batchSize: 8, optimizer: sgd, logEvery: 1 });
    expect(losses.length).toBe(3);
    f.trainableVariables.forEach((v, i) => expect(Array.from(v.dataSync())).toEqual(before[i]));
    const w = tf.variable(tf.ones([1]));
    sgd.minimize(() => tf.sum(w) as tf.Scalar, false, [w]); // not disposed: still works
    tf.dispose(w);
    sgd.dispose();
    f.dispose();
  });
  it('learns a shifted Gaussian with K = 2 and does not leak', async () => {
    const rng = createRng(2);
    const data = new Float32Array(2000);
    for (let i = 0; i < 2000; i++) data[i] = (i % 2 === 0 ? 2 : -1) + rng.normal(0, 0.5);
    const f = new BlockwiseFlow({ dim: 2, segments: 2, hidden: [32], frequencies: 2, seed: 4 });
    const nBefore = tf.memory().numTensors;
    const losses = await f.train({ data, path, steps: 300, batchSize: 128, learningRate: 3e-3, logEvery: 100 });
    // Training leaves no tensors behind (the optimizer's slots are disposed with it).
    expect(tf.memory().numTensors).toBe(nBefore);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]!);
    const x0 = rng.normalTensor([400, 2]) as tf.Tensor2D;
    const n0 = tf.memory().numTensors;
    const r = await f.sample(x0, { steps: 10, method: 'midpoint' });
    expect(r.nfe).toBe(20);
    const v = await r.x.data();
    r.x.dispose();
    expect(tf.memory().numTensors).toBe(n0);
    let m0 = 0;
    let m1 = 0;
    for (let i = 0; i < 400; i++) {
      m0 += v[2 * i]! / 400;
      m1 += v[2 * i + 1]! / 400;
    }
    expect(m0).toBeCloseTo(2, 0);
    expect(m1).toBeCloseTo(-1, 0);
    f.dispose();
  });
});

describe('feature guidance and FLOPs', () => {
  it('counts FLOPs analytically and the count matches the evaluations made', async () => {
    // dim 2, 1 frequency: input 2 + 3 = 5; net [8]: 2 * (5 * 8 + 8 * 2) = 112 per call.
    const f = new BlockwiseFlow({ dim: 2, segments: 2, hidden: [8], frequencies: 1 });
    expect(f.flopsPerSample({ steps: 4 })).toBe(4 * 112);
    expect(f.flopsPerSample({ steps: 4, method: 'rk4' })).toBe(16 * 112);
    expect(() => f.flopsPerSample({ steps: 3 })).toThrow(/steps must be a positive multiple of K = 2, got 3/);
    f.dispose();

    const target = (x: tf.Tensor2D): tf.Tensor2D => tf.concat([x, tf.square(x)], 1) as tf.Tensor2D;
    const g = new BlockwiseFlow({
      dim: 2,
      segments: 2,
      hidden: [8],
      frequencies: 1,
      features: { featureDim: 3, hidden: [10], target, targetDim: 4, residual: { hidden: [5] } },
    });
    // F: [2 + 3 -> 10 -> 3] = 2 (50 + 30) = 160. R: [2 + 3 + 3 + 3 -> 5 -> 3] = 2 (55 + 15) = 140.
    // Net: input 5 + 3 = 8: 2 (64 + 16) = 160. Euler, 3 steps per segment: per segment 3 * 160 + 160 + 2 * 140.
    const want = 2 * (3 * 160 + 160 + 2 * 140);
    expect(g.flopsPerSample({ steps: 6 })).toBe(want);
    // Without the residual approximation F runs at every evaluation.
    expect(g.flopsPerSample({ steps: 6, residual: false })).toBe(2 * (3 * 160 + 3 * 160));
    const x0 = tf.randomNormal([5, 2]) as tf.Tensor2D;
    const n0 = tf.memory().numTensors;
    const r = await g.sample(x0, { steps: 6 });
    expect(r.flopsPerSample).toBe(want);
    const heun = await g.sample(x0, { steps: 6, method: 'heun', residual: false });
    expect(heun.flopsPerSample).toBe(g.flopsPerSample({ steps: 6, method: 'heun', residual: false }));
    tf.dispose([r.x, heun.x]);
    expect(tf.memory().numTensors).toBe(n0);
    x0.dispose();
    g.dispose();
  });

  it('training aligns the shared features with the frozen target and fits the residual', async () => {
    const rng = createRng(5);
    const n = 400;
    const x = new Float32Array(2 * n);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 2;
      x[2 * i] = (y[i] ? 2 : -2) + rng.normal(0, 0.3);
      x[2 * i + 1] = rng.normal(0, 0.3);
    }
    const clf = trainClassifier(x, y, 2, 2, { hidden: [16, 8], steps: 150, seed: 1 });
    expect(await clf.accuracy(x, y)).toBeGreaterThan(0.95);
    const g = new BlockwiseFlow({
      dim: 2,
      segments: 2,
      hidden: [16],
      frequencies: 2,
      seed: 2,
      features: {
        featureDim: 8,
        hidden: [16],
        target: (x1) => clf.featureTensor(x1),
        targetDim: 8,
        weight: 1,
        residual: { hidden: [16] },
      },
    });
    const x0 = rng.normalTensor([128, 2]) as tf.Tensor2D;
    const x1 = tf.tensor2d(x.subarray(0, 256), [128, 2]);
    const t = rng.fillUniform(new Float32Array(128));
    const first = g.losses(path, x0, x1, t);
    const a0 = (await first.align!.data())[0]!;
    const r0 = (await first.residual!.data())[0]!;
    const nBefore = tf.memory().numTensors;
    await g.train({ data: x, path, steps: 200, batchSize: 128, learningRate: 3e-3 });
    expect(tf.memory().numTensors).toBe(nBefore);
    const last = g.losses(path, x0, x1, t);
    expect((await last.align!.data())[0]).toBeLessThan(a0 * 0.7);
    expect((await last.residual!.data())[0]).toBeLessThan(r0);
    g.dispose();
    clf.dispose();
  });
});

describe('BlockwiseFlow and training: bad options and bad numbers', () => {
  const data = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
  const values = async (vars: tf.Variable[]): Promise<number[]> =>
    (await Promise.all(vars.map((v) => v.data()))).flatMap((d) => Array.from(d));

  it('misspelt options throw naming the nearest valid one (config, train, sample)', async () => {
    expect(() => new BlockwiseFlow({ dim: 2, segment: 2, hidden: [4] } as never)).toThrow(
      /BlockwiseFlow: unknown option "segment"; did you mean "segments"\?/,
    );
    expect(() => new BlockwiseFlow(null as never)).toThrow(/BlockwiseFlow: options must be an object, got null/);
    expect(() => new BlockwiseFlow({ dim: 2, segments: 1e6, hidden: [4] })).toThrow(
      /segments \(K\) must be an integer >= 1 <= 1024, got 1000000/,
    );
    const f = new BlockwiseFlow({ dim: 2, segments: 2, hidden: [4], seed: 1 });
    await expect(f.train({ data, path, steps: 2, learningrate: 0.5 } as never)).rejects.toThrow(
      /BlockwiseFlow.train: unknown option "learningrate"; did you mean "learningRate"\?/,
    );
    await expect(f.train({ data, path, steps: 2, stratified: 'yes' } as never)).rejects.toThrow(
      /stratified must be true or false, got "yes"/,
    );
    await expect(f.train({ data, path, steps: 2, learningRate: Infinity })).rejects.toThrow(
      /learningRate must be a finite number > 0, got Infinity/,
    );
    await expect(f.train({ data, path, steps: 2, batchSize: 2 ** 30 })).rejects.toThrow(
      /batchSize must be an integer >= 1 <= 1048576/,
    );
    await expect(f.train({ data, path, steps: 2, optimizer: tf.train.sgd(0.1), learningRate: 0.1 })).rejects.toThrow(
      /learningRate applies to the default Adam only/,
    );
    const x0 = tf.zeros([3, 2]);
    await expect(f.sample(x0 as tf.Tensor2D, { steps: 2, methd: 'euler' } as never)).rejects.toThrow(
      /unknown option "methd"; did you mean "method"\?/,
    );
    await expect(f.sample(x0 as tf.Tensor2D, { steps: 2, method: 'dopri5' } as never)).rejects.toThrow(
      /method must be one of euler, midpoint, heun, heun2, heun3, rk4, rk4-classic, got "dopri5"/,
    );
    await expect(f.sample(x0 as tf.Tensor2D, { steps: 1e9 })).rejects.toThrow(
      /steps must be an integer >= 1 <= 1000000, got 1000000000/,
    );
    expect(() => f.flopsPerSample({ steps: 3 })).toThrow(/steps must be a positive multiple of K = 2, got 3/);
    tf.dispose(x0);
    f.dispose();
  });

  it('NaN data throws before training and leaves the parameters untouched', async () => {
    const f = new BlockwiseFlow({ dim: 2, segments: 2, hidden: [4], seed: 1 });
    const before = await values(f.trainableVariables);
    const bad = data.slice();
    bad[7] = NaN;
    await expect(f.train({ data: bad, path, steps: 5 })).rejects.toThrow(
      /data must be finite, got NaN at index 7 \(row 3\)/,
    );
    expect(await values(f.trainableVariables)).toEqual(before);
    f.dispose();
  });

  it('a diverging run restores the parameters to the last finite checked values and throws', async () => {
    const f = new BlockwiseFlow({ dim: 2, segments: 2, hidden: [8], seed: 1 });
    const n0 = tf.memory().numTensors;
    // Plain SGD at rate 1e6 on a quadratic loss blows up within a few steps (loss Inf, then NaN).
    const sgd = tf.train.sgd(1e6);
    await expect(f.train({ data, path, steps: 50, optimizer: sgd, syncEvery: 1 })).rejects.toThrow(
      /training diverged: .* at step \d+; the parameters were restored to (their initial values|their values after step \d+)/,
    );
    const after = await values(f.trainableVariables);
    expect(after.every(Number.isFinite)).toBe(true);
    sgd.dispose();
    expect(tf.memory().numTensors).toBe(n0);
    f.dispose();
  });
});
