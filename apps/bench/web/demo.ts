import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@blockwise/tensor';

/** Trains a 64-64-10 MLP on the digits (80/20 split); returns the test accuracy. */
export async function trainDigits(
  data: { x: Float32Array; y: Int32Array; n: number },
  steps: number,
  rng: Rng,
  onStep: (step: number, loss: number, lr: number) => void,
): Promise<number> {
  const perm = rng.permutation(data.n);
  const nTrain = Math.floor(data.n * 0.8);
  const take = (idx: Int32Array) => {
    const x = new Float32Array(idx.length * 64);
    const y = new Int32Array(idx.length);
    idx.forEach((k, i) => {
      x.set(data.x.subarray(k * 64, k * 64 + 64), i * 64);
      y[i] = data.y[k]!;
    });
    return { x: tf.tensor2d(x, [idx.length, 64]), y: tf.oneHot(tf.tensor1d(y, 'int32'), 10) };
  };
  const train = take(perm.subarray(0, nTrain));
  const test = take(perm.subarray(nTrain));
  const w1 = tf.variable(rng.normalTensor([64, 64], 0, Math.sqrt(2 / 64)), true, 'dense1/kernel');
  const b1 = tf.variable(tf.zeros([64]), true, 'dense1/bias');
  const w2 = tf.variable(rng.normalTensor([64, 10], 0, Math.sqrt(1 / 64)), true, 'dense2/kernel');
  const b2 = tf.variable(tf.zeros([10]), true, 'dense2/bias');
  const logits = (x: tf.Tensor) => tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2), b2);
  const peak = 0.01;
  const warm = Math.max(1, Math.round(steps * 0.1));
  const decayFrom = Math.round(steps * 0.8);
  const lrAt = (s: number) => (s < warm ? (peak * (s + 1)) / warm : s < decayFrom ? peak : peak * (1 - (s - decayFrom) / (steps - decayFrom)));
  const opt = tf.train.adam(peak);
  const batch = 64;
  for (let s = 0; s < steps; s++) {
    const lr = lrAt(s);
    (opt as unknown as { learningRate: number }).learningRate = lr;
    const start = (s * batch) % (nTrain - batch);
    const loss = opt.minimize(() => {
      const xb = tf.slice(train.x, [start, 0], [batch, 64]);
      const yb = tf.slice(train.y, [start, 0], [batch, 10]);
      return tf.losses.softmaxCrossEntropy(yb, logits(xb)) as tf.Scalar;
    }, true)!;
    onStep(s, (await loss.data())[0]!, lr);
    loss.dispose();
    if (s % 10 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  const pred = tf.tidy(() => tf.argMax(logits(test.x), 1));
  const truth = tf.tidy(() => tf.argMax(test.y, 1));
  const acc = tf.tidy(() => tf.mean(tf.cast(tf.equal(pred, truth), 'float32')));
  const accuracy = (await acc.data())[0]!;
  tf.dispose([pred, truth, acc, train.x, train.y, test.x, test.y, w1, b1, w2, b2]);
  opt.dispose();
  return accuracy;
}

/** Placeholder until the attention package lands: dense vs dense. */
export async function checkAttention(_rng: Rng): Promise<{ maxError: number; sparsity: number; ms: number }> {
  return { maxError: 0, sparsity: 0, ms: 0 };
}
