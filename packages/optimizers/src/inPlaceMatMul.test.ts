import { describeBackends } from '@blockwise/tensor/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { AdamW } from './adamw.js';
import { AdamW8bit } from './adam8bit.js';
import { Lion, Lion8bit } from './lion.js';

/**
 * The fused steps write parameters in place on wasm; tfjs-wasm caches XNNPACK's packed copy of a
 * matmul's right operand by tensor id. A forward pass after a few steps must see the updated
 * weights: the product equals the product with a fresh copy of the same weights (a new id).
 */
describeBackends(['cpu', 'wasm'], (backend) => {
  const cases: [string, () => tf.Optimizer][] = [
    ['AdamW', () => new AdamW({ learningRate: 0.1 })],
    ['AdamW8bit', () => new AdamW8bit({ learningRate: 0.1 })],
    ['AdamW8bit 4-bit', () => new AdamW8bit({ learningRate: 0.1, optimBits: 4 })],
    ['Lion', () => new Lion({ learningRate: 0.01 })],
    ['Lion8bit', () => new Lion8bit({ learningRate: 0.01 })],
  ];
  for (const [name, make] of cases) {
    it(`${name}: matMul after in-place steps uses the updated weights on ${backend}`, async () => {
      const w = tf.variable(tf.randomNormal([256, 64], 0, 1, 'float32', 1));
      const x = tf.randomNormal([16, 256], 0, 1, 'float32', 2);
      const opt = make();
      tf.matMul(x, w).dispose();
      for (let i = 0; i < 3; i++) opt.minimize(() => tf.sum(tf.square(tf.matMul(x, w))) as tf.Scalar);
      const copy = tf.clone(w);
      const [got, want] = await Promise.all([tf.matMul(x, w).data(), tf.matMul(x, copy).data()]);
      expect(Array.from(got)).toEqual(Array.from(want));
      tf.dispose([w, x, copy]);
      opt.dispose();
    });
  }
});
