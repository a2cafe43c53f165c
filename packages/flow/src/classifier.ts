import * as tf from '@tensorflow/tfjs-core';
import { checkNumber, checkOptions, createRng, describeValue } from '@blockwise/tensor';
import { ensureGradients } from './gradients.js';
import { createMlp, type Mlp } from './mlp.js';

/** Options of `trainClassifier`. */
export interface ClassifierOptions {
  /** Hidden widths; the last one is the feature layer (default [64, 32]). */
  hidden?: number[];
  steps?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
}

/** A trained MLP classifier whose penultimate activations serve as features (FID-like scores, guidance targets). */
export interface Classifier {
  readonly mlp: Mlp;
  /** Width of the feature layer. */
  readonly featureDim: number;
  /** Penultimate features of x [n, dim] (post-activation). */
  featureTensor(x: tf.Tensor2D): tf.Tensor2D;
  /** Penultimate features of row-major x [n, dim], read back to the host (awaited). */
  features(x: Float32Array): Promise<Float32Array>;
  /** Fraction of rows whose arg-max logit equals the label (predictions read back, awaited). */
  accuracy(x: Float32Array, y: Int32Array): Promise<number>;
  dispose(): void;
}

/** Rows of row-major x with `dim` columns (throws unless a positive whole number). */
function rowsOf(x: Float32Array, dim: number, name: string): number {
  const n = x.length / dim;
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${name} must hold a positive multiple of dim = ${dim} values, got ${x.length}`);
  return n;
}

/**
 * Trains a softmax MLP classifier (ReLU, Adam, cross-entropy) on x [N, dim] with labels y in
 * [0, classes). Synchronous: training reads nothing back (on WebGPU it only queues work).
 */
export function trainClassifier(
  x: Float32Array,
  y: Int32Array,
  dim: number,
  classes: number,
  options?: ClassifierOptions,
): Classifier {
  const opts = checkOptions('trainClassifier', options, ['hidden', 'steps', 'batchSize', 'learningRate', 'seed']);
  const hidden = opts.hidden ?? [64, 32];
  const steps =
    opts.steps === undefined
      ? 300
      : checkNumber('trainClassifier: steps', opts.steps, { integer: true, min: 1, max: 1e8 });
  const batchSize =
    opts.batchSize === undefined
      ? 128
      : checkNumber('trainClassifier: batchSize', opts.batchSize, { integer: true, min: 1, max: 1 << 20 });
  const learningRate =
    opts.learningRate === undefined
      ? 3e-3
      : checkNumber('trainClassifier: learningRate', opts.learningRate, { min: 0, exclusiveMin: true });
  if (opts.seed !== undefined) checkNumber('trainClassifier: seed', opts.seed, { integer: true });
  if (!(x instanceof Float32Array))
    throw new Error(`trainClassifier: x must be a Float32Array [N * dim], got ${describeValue(x)}`);
  if (!(y instanceof Int32Array))
    throw new Error(`trainClassifier: y must be an Int32Array of labels, got ${describeValue(y)}`);
  checkNumber('trainClassifier: dim', dim, { integer: true, min: 1 });
  const n = rowsOf(x, dim, 'x');
  for (let i = 0; i < x.length; i++)
    if (!Number.isFinite(x[i])) throw new Error(`trainClassifier: x must be finite, got ${x[i]} at index ${i}`);
  if (y.length !== n) throw new Error(`y must hold one label per row (${n}), got ${y.length}`);
  if (!Number.isInteger(classes) || classes < 2) throw new Error(`classes must be an integer >= 2, got ${classes}`);
  for (let i = 0; i < n; i++) {
    const c = y[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= classes)
      throw new Error(`y[${i}] must be a label in [0, ${classes}), got ${c}`);
  }
  if (!Array.isArray(hidden) || hidden.length < 1)
    throw new Error('hidden must have at least one layer (the feature layer)');
  ensureGradients('trainClassifier');
  const mlp = createMlp({ inputDim: dim, hidden, outputDim: classes, activation: 'relu', seed: opts.seed ?? 0 });
  const rng = createRng((opts.seed ?? 0) + 1);
  const optimizer = tf.train.adam(learningRate);
  const bx = new Float32Array(batchSize * dim);
  const by = new Int32Array(batchSize);
  for (let s = 0; s < steps; s++) {
    for (let i = 0; i < batchSize; i++) {
      const r = rng.int(n);
      bx.set(x.subarray(r * dim, (r + 1) * dim), i * dim);
      by[i] = y[r]!;
    }
    const xt = tf.tensor2d(bx, [batchSize, dim]);
    const yt = tf.tidy(() => tf.oneHot(tf.tensor1d(by, 'int32'), classes));
    optimizer.minimize(() => tf.losses.softmaxCrossEntropy(yt, mlp.apply(xt)) as tf.Scalar, false, mlp.variables);
    tf.dispose([xt, yt]);
  }
  optimizer.dispose();
  const featureDim = hidden[hidden.length - 1]!;
  const featureTensor = (xx: tf.Tensor2D): tf.Tensor2D => mlp.apply(xx, true);
  return {
    mlp,
    featureDim,
    featureTensor,
    async features(xs) {
      const m = rowsOf(xs, dim, 'x');
      const f = tf.tidy(() => featureTensor(tf.tensor2d(xs, [m, dim])));
      try {
        return Float32Array.from((await f.data()) as Float32Array);
      } finally {
        f.dispose();
      }
    },
    async accuracy(xs, ys) {
      const m = rowsOf(xs, dim, 'x');
      if (ys.length !== m) throw new Error(`y must hold one label per row (${m}), got ${ys.length}`);
      const pred = tf.tidy(() => tf.argMax(mlp.apply(tf.tensor2d(xs, [m, dim])), 1));
      let p: ArrayLike<number>;
      try {
        p = await pred.data();
      } finally {
        pred.dispose();
      }
      let ok = 0;
      for (let i = 0; i < m; i++) if (p[i] === ys[i]) ok++;
      return ok / m;
    },
    dispose: () => mlp.dispose(),
  };
}
