import { blockSparseAttention, causal, createBlockMask, denseAttention } from '@blockwise/attention';
import { AdamW8bit } from '@blockwise/optimizers';
import { warmupStableDecay } from '@blockwise/schedules';
import type { Rng } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { timeBest } from '../src/measure.js';
import type { DigitsPart } from '../src/split.js';

/**
 * Trains a 64-128-10 MLP on the bench's digits split (70/30, see `digitsSplit`) with AdamW8bit
 * under a warmup-stable-decay schedule; returns the test accuracy. The 64x128 kernel (8,192
 * weights) gets 8-bit state.
 */
export async function trainDigits(
  split: { train: DigitsPart; test: DigitsPart },
  steps: number,
  rng: Rng,
  onStep: (step: number, loss: number, lr: number) => void,
): Promise<number> {
  const take = (p: DigitsPart) => ({
    x: tf.tensor2d(p.x, [p.n, 64]),
    y: tf.tidy(() => tf.oneHot(tf.tensor1d(p.y, 'int32'), 10)),
  });
  const nTrain = split.train.n;
  const train = take(split.train);
  const test = take(split.test);
  const w1 = tf.variable(rng.normalTensor([64, 128], 0, Math.sqrt(2 / 64)), true, 'web/dense1/kernel');
  const b1 = tf.variable(tf.zeros([128]), true, 'web/dense1/bias');
  const w2 = tf.variable(rng.normalTensor([128, 10], 0, Math.sqrt(1 / 128)), true, 'web/dense2/kernel');
  const b2 = tf.variable(tf.zeros([10]), true, 'web/dense2/bias');
  const logits = (x: tf.Tensor) => tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2), b2);
  const warm = Math.max(1, Math.round(steps * 0.1));
  const decay = Math.max(1, Math.round(steps * 0.2));
  const lr = warmupStableDecay({
    peakValue: 0.01,
    warmupSteps: warm,
    stableSteps: steps - warm - decay,
    decaySteps: decay,
    minRatio: 0.1,
  });
  const opt = new AdamW8bit({ learningRate: lr, weightDecay: 1e-4 });
  const batch = 64;
  for (let s = 0; s < steps; s++) {
    const start = (s * batch) % (nTrain - batch);
    const loss = opt.minimize(() => {
      const xb = tf.slice(train.x, [start, 0], [batch, 64]);
      const yb = tf.slice(train.y, [start, 0], [batch, 10]);
      return tf.losses.softmaxCrossEntropy(yb, logits(xb)) as tf.Scalar;
    }, true)!;
    onStep(s, (await loss.data())[0]!, lr(s));
    loss.dispose();
    if (s % 10 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  const acc = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(logits(test.x), 1), tf.argMax(test.y, 1)), 'float32')));
  const accuracy = (await acc.data())[0]!;
  tf.dispose([acc, train.x, train.y, test.x, test.y, w1, b1, w2, b2]);
  opt.dispose();
  return accuracy;
}

/** Causal block-sparse attention against dense attention with the same mask (seq 256, 2 heads). */
export async function checkAttention(rng: Rng): Promise<{ maxError: number; sparsity: number; ms: number }> {
  const seq = 256;
  const q = rng.normalTensor([1, 2, seq, 32]);
  const k = rng.normalTensor([1, 2, seq, 32]);
  const v = rng.normalTensor([1, 2, seq, 32]);
  const blockMask = createBlockMask(causal, { qLen: seq, kvLen: seq, blockSize: 32 });
  // The bench's timer: one warm-up run (shader compilation), then the best of three.
  const ms = (await timeBest(() => blockSparseAttention(q, k, v, { blockMask }), { warmup: 1, repeats: 3 })).bestMs;
  const sparse = blockSparseAttention(q, k, v, { blockMask });
  const dense = denseAttention(q, k, v, { mask: blockMask }) as tf.Tensor;
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(sparse, dense))));
  const maxError = (await diff.data())[0]!;
  tf.dispose([q, k, v, sparse, dense, diff]);
  return { maxError, sparsity: blockMask.sparsity(), ms };
}
