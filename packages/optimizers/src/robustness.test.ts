import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { describeBackends } from '@blockwise/tensor/testing';
import { AdamW } from './adamw.js';
import { Adam8bit, AdamW8bit } from './adam8bit.js';
import { LAMB, LAMB8bit } from './lamb.js';
import { LARS } from './lars.js';
import { Lion, Lion8bit, lionStep32 } from './lion.js';
import { Momentum8bit } from './momentum8bit.js';
import type { BlockwiseOptimizer } from './optimizerBase.js';
import { makeVar } from './testUtil.js';

type Make = () => BlockwiseOptimizer;

const ALL: [string, Make][] = [
  ['AdamW', () => new AdamW({ learningRate: 1e-2 })],
  ['Adam8bit', () => new Adam8bit({ learningRate: 1e-2, weightDecay: 0.01 })],
  ['AdamW8bit', () => new AdamW8bit({ learningRate: 1e-2 })],
  ['LAMB', () => new LAMB({ learningRate: 1e-2, weightDecay: 0.01 })],
  ['LAMB8bit', () => new LAMB8bit({ learningRate: 1e-2, weightDecay: 0.01 })],
  ['LARS', () => new LARS({ learningRate: 0.1, weightDecay: 1e-3 })],
  ['Lion', () => new Lion({ learningRate: 1e-3 })],
  ['Lion8bit', () => new Lion8bit({ learningRate: 1e-3 })],
  ['Momentum8bit', () => new Momentum8bit({ learningRate: 1e-2, nesterov: true })],
  ['Momentum8bit(optimBits 32)', () => new Momentum8bit({ learningRate: 1e-2, optimBits: 32 })],
];

/** Optimizers with a second moment: a gradient of 1e30 overflows v = b2 v + (1 - b2) g^2. */
const ADAM_LIKE = new Set(['AdamW', 'Adam8bit', 'AdamW8bit', 'LAMB', 'LAMB8bit']);

const isFiniteArray = (a: ArrayLike<number>): boolean => Array.from(a).every(Number.isFinite);

describeBackends(['cpu', 'wasm'], (backend) => {
  it('Lion and Lion8bit move every weight by lr on tiny gradients (tfjs wasm Sign returns 0 below 1.19e-7)', async () => {
    // lion-pytorch: p -= lr * sign(b1 m + (1 - b1) g); with m = 0 and |g| = 1e-7 the interpolation
    // is 1e-8, below FLT_EPSILON, and must still move each weight by exactly +-lr.
    const n = 2048; // under minQuantizedSize: Lion8bit keeps float32 state here
    const g = createRng(3)
      .fillNormal(new Float32Array(n))
      .map((x) => (x >= 0 ? 1e-7 : -1e-7));
    const expected = Float32Array.from(g, (x) => Math.fround(1 - 1e-3 * Math.sign(x)));
    for (const make of [() => new Lion({ learningRate: 1e-3 }), () => new Lion8bit({ learningRate: 1e-3 })]) {
      const w = makeVar(new Float32Array(n).fill(1), [32, 64]);
      const opt = make();
      const gt = tf.tensor(g, [32, 64]);
      opt.applyGradients({ [w.name]: gt });
      expect(w.dataSync()).toEqual(expected);
      opt.dispose();
      tf.dispose([w, gt]);
    }
    // The tfjs-ops path (WebGPU and other backends) compares instead of calling tf.sign too.
    const w = makeVar(new Float32Array(n).fill(1), [n]);
    const m = tf.variable(tf.zeros([n]), false);
    const gt = tf.tensor1d(g);
    tf.tidy(() => lionStep32(w, gt, m, { learningRate: 1e-3, beta1: 0.9, beta2: 0.99, weightDecay: 0 }));
    expect(w.dataSync()).toEqual(expected);
    tf.dispose([w, m, gt]);
  });

  for (const [name, make] of ALL) {
    it(`${name}: a gradient element of 1e30 leaves no non-finite parameter or state; Adam-style ones skip that element`, async () => {
      const n = 4096; // quantized state in the 8-bit classes
      const rng = createRng(7);
      const w = makeVar(rng.fillNormal(new Float32Array(n), 0, 0.1), [64, 64]);
      const opt = make();
      const before: Float32Array[] = [];
      for (let k = 0; k < 4; k++) {
        const g = rng.fillNormal(new Float32Array(n), 0, 0.01);
        if (k === 1) g[7] = 1e30;
        const gt = tf.tensor(g, [64, 64]);
        before.push(Float32Array.from(w.dataSync()));
        opt.applyGradients({ [w.name]: gt });
        gt.dispose();
        if (k === 1 && ADAM_LIKE.has(name))
          expect(w.dataSync()[7], 'parameter of the overflowing element').toBe(before[1]![7]);
      }
      expect(isFiniteArray(w.dataSync()), 'parameters').toBe(true);
      for (const { name: sn, tensor } of await opt.getWeights()) {
        if (tensor.dtype === 'float32') expect(isFiniteArray(tensor.dataSync()), sn).toBe(true);
      }
      // The steps moved the other elements.
      const moved = (w.dataSync() as Float32Array).filter((x, i) => x !== before[0]![i]).length;
      expect(moved, 'elements moved').toBeGreaterThan(n / 2);
      opt.dispose();
      w.dispose();
    });
  }

  it('int32 gradients are applied as their float32 values (tfjs wasm isFinite misreads int32)', () => {
    for (const make of [
      () => new AdamW({ learningRate: 0.1 }),
      () => new AdamW8bit({ learningRate: 0.1 }),
      () => new Lion({ learningRate: 0.1 }),
    ]) {
      const ints = Int32Array.from({ length: 4096 }, (_, i) => (i % 7) - 3);
      const results = (['int32', 'float32'] as const).map((dtype) => {
        const w = makeVar(new Float32Array(4096).fill(0.5), [4096]);
        const opt = make();
        const g = dtype === 'int32' ? tf.tensor1d(ints, 'int32') : tf.tensor1d(Float32Array.from(ints));
        opt.applyGradients({ [w.name]: g });
        opt.applyGradients({ [w.name]: g });
        const out = Float32Array.from(w.dataSync());
        opt.dispose();
        tf.dispose([w, g]);
        return out;
      });
      expect(results[0]).toEqual(results[1]);
      // Negative elements moved too.
      expect(results[0]![0]).toBeGreaterThan(0.5);
    }
  });

  it('setWeights(await getWeights()) keeps the state: the run continues as an uninterrupted one', async () => {
    for (const make of [() => new AdamW({ learningRate: 1e-2 }), () => new AdamW8bit({ learningRate: 1e-2 })]) {
      const p0 = createRng(11).fillNormal(new Float32Array(4096));
      const grads = Array.from({ length: 4 }, (_, k) => createRng(20 + k).fillNormal(new Float32Array(4096), 0, 0.1));
      const run = async (roundTrip: boolean): Promise<Float32Array> => {
        const w = makeVar(p0, [4096]);
        const opt = make();
        for (const [k, g] of grads.entries()) {
          if (k === 2 && roundTrip) await opt.setWeights(await opt.getWeights());
          const gt = tf.tensor1d(g);
          opt.applyGradients({ [w.name]: gt });
          gt.dispose();
        }
        const out = Float32Array.from(w.dataSync());
        opt.dispose();
        w.dispose();
        return out;
      };
      expect(await run(true)).toEqual(await run(false));
    }
  });

  it('state loaded for a variable that tfjs renamed on reload (fc1/kernel -> fc1/kernel_1) follows it', async () => {
    const p0 = createRng(12).fillNormal(new Float32Array(300));
    const g = tf.tensor(createRng(13).fillNormal(new Float32Array(300)), [10, 30]);
    const tag = `ckpt_${backend}_${Math.random().toString(36).slice(2)}`;
    const a = makeVar(p0, [10, 30], `${tag}/fc1/kernel`);
    const optA = new AdamW({ learningRate: 1e-2 });
    for (let k = 0; k < 3; k++) optA.applyGradients({ [a.name]: g });
    // A second copy of the model, as tfjs-layers names it when the first still exists.
    const b = makeVar(a.dataSync() as Float32Array, [10, 30], `${tag}/fc1/kernel_1`);
    const optB = new AdamW({ learningRate: 1e-2 });
    await optB.setWeights(await optA.getWeights());
    optA.applyGradients({ [a.name]: g });
    optB.applyGradients({ [b.name]: g });
    expect(b.dataSync()).toEqual(a.dataSync());
    expect(optB.stateVariables().map((s) => s.name)).toEqual([`${b.name}/m`, `${b.name}/v`]);
    tf.dispose([a, b, g]);
    optA.dispose();
    optB.dispose();
  });

  it('corrupted state is refused at load (or at first use for packed state), and a disposed optimizer refuses to step', async () => {
    const w = makeVar(new Float32Array(4096).fill(1), [4096]);
    const g = tf.fill([4096], 0.1);
    const opt = new AdamW8bit({ optimBits: 32 });
    opt.applyGradients({ [w.name]: g });
    const ws = await opt.getWeights();
    const bad = tf.fill([4096], NaN);
    await expect(opt.setWeights([ws[0]!, { name: `${w.name}/m`, tensor: bad }])).rejects.toThrow(
      /holds NaN at index 0/,
    );
    const negative = tf.fill([4096], -1);
    await expect(opt.setWeights([ws[0]!, { name: `${w.name}/v`, tensor: negative }])).rejects.toThrow(
      /second moment .* must be >= 0/,
    );
    const iter = tf.scalar(-5);
    await expect(opt.setWeights([{ name: 'iter', tensor: iter }])).rejects.toThrow(
      /iteration count must be an integer >= 0, got -5/,
    );
    // The refused loads changed nothing.
    opt.applyGradients({ [w.name]: g });
    expect(isFiniteArray(w.dataSync())).toBe(true);

    const q = new AdamW8bit();
    q.applyGradients({ [w.name]: g });
    const [it0, packed] = await q.getWeights();
    const words = Int32Array.from(packed!.tensor.dataSync());
    new Float32Array(words.buffer)[words.length - 1] = NaN; // the last block maximum
    const corrupt = tf.tensor1d(words, 'int32');
    await q.setWeights([it0!, { name: packed!.name, tensor: corrupt }]);
    expect(() => q.applyGradients({ [w.name]: g })).toThrow(
      /block maximum NaN at block \d+; it must be finite and >= 0/,
    );

    opt.dispose();
    expect(() => opt.applyGradients({ [w.name]: g })).toThrow(/was disposed/);
    q.dispose();
    tf.dispose([w, g, bad, negative, iter, corrupt]);
  });

  it('1,000 steps of every optimizer keep the tensor count, tensor bytes and (wasm) heap size constant', () => {
    const heap = (): number => {
      const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
      return b.wasm?.HEAPU8?.buffer.byteLength ?? 0;
    };
    for (const [name, make] of ALL) {
      const w = makeVar(createRng(5).fillNormal(new Float32Array(4096), 0, 0.1), [64, 64]);
      const bias = makeVar(new Float32Array(65), [65]);
      const opt = make();
      const grads = {
        [w.name]: tf.randomNormal([64, 64], 0, 0.01, 'float32', 1),
        [bias.name]: tf.randomNormal([65], 0, 0.01, 'float32', 2),
      };
      for (let k = 0; k < 10; k++) opt.applyGradients(grads);
      const before = { ...tf.memory(), heap: heap() };
      for (let k = 0; k < 1000; k++) opt.applyGradients(grads);
      const after = { ...tf.memory(), heap: heap() };
      expect(after.numTensors, name).toBe(before.numTensors);
      expect(after.numBytes, name).toBe(before.numBytes);
      expect(after.heap, name).toBe(before.heap);
      expect(isFiniteArray(w.dataSync()), name).toBe(true);
      opt.dispose();
      tf.dispose([w, bias, ...Object.values(grads)]);
    }
  });
});
