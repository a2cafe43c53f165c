import * as tf from '@tensorflow/tfjs-core';
import { checkNumber, checkOptions, describeValue } from '@blockwise/tensor';
import { createMlp, timeFeatures, type Activation } from './mlp.js';
import type { VelocityFn } from './ode.js';

/** A trainable velocity model v(x_t, t, [condition]) on batches of rows. */
export interface VelocityModel {
  /** Velocity [n, dim] for states x [n, dim], per-row times t [n] (or one time), optional condition [n, c]. */
  predict(x: tf.Tensor2D, t: tf.Tensor1D | number, cond?: tf.Tensor2D): tf.Tensor2D;
  /** Variables that training updates. */
  readonly trainableVariables: tf.Variable[];
  /** FLOPs per sample of one call (dense multiply-adds counted as 2 each). */
  readonly flopsPerCall: number;
  dispose(): void;
}

/** Configuration of `createVelocityMlp`. */
export interface VelocityMlpConfig {
  /** State dimension. */
  dim: number;
  /** Hidden widths. */
  hidden: number[];
  /** Condition width (0 = unconditional; default 0). */
  condDim?: number;
  /** Sinusoidal time frequencies (default 6). */
  frequencies?: number;
  activation?: Activation;
  seed?: number;
  /**
   * Fourier features of the state (default 0, none): sin and cos of pi 2^k x / stateScale for every
   * coordinate and k < stateFrequencies, beside x itself. A small MLP learns sharp detail of
   * low-dimensional data (the checkerboard's cell edges) slowly from raw coordinates; these
   * features make it cheap (Tancik et al. 2020, "Fourier features let networks learn high
   * frequency functions").
   */
  stateFrequencies?: number;
  /** Length scale of the state features (default 1): the lowest frequency has period 2 * stateScale. */
  stateScale?: number;
}

/**
 * Fourier features of states x [n, dim]: [n, 2 * dim * L], sin then cos of pi 2^k x / scale, ordered
 * coordinate-major (coordinate d, frequency k at column d * L + k).
 */
export function stateFeatures(x: tf.Tensor2D, frequencies: number, scale = 1): tf.Tensor2D {
  checkNumber('stateFeatures: frequencies', frequencies, { integer: true, min: 1, max: 24 });
  checkNumber('stateFeatures: scale', scale, { min: 0, exclusiveMin: true });
  return tf.tidy(() => {
    const [n, dim] = x.shape;
    const w = tf.tensor1d(Array.from({ length: frequencies }, (_, k) => (Math.PI * 2 ** k) / scale));
    const a = tf.reshape(tf.mul(tf.expandDims(x, 2), w), [n, dim * frequencies]);
    return tf.concat([tf.sin(a), tf.cos(a)], 1) as tf.Tensor2D;
  });
}

/** An MLP velocity model on [x, state features, time features, condition]. */
export function createVelocityMlp(config: VelocityMlpConfig): VelocityModel {
  if (config === undefined) throw new Error('createVelocityMlp: a config { dim, hidden } is required');
  checkOptions('createVelocityMlp', config, [
    'dim',
    'hidden',
    'condDim',
    'frequencies',
    'activation',
    'seed',
    'stateFrequencies',
    'stateScale',
  ]);
  // The network's input is [x, time features, condition]: together within createMlp's width cap.
  checkNumber('createVelocityMlp: dim', config.dim, { integer: true, min: 1, max: 1 << 15 });
  const condDim =
    config.condDim === undefined
      ? 0
      : checkNumber('createVelocityMlp: condDim', config.condDim, { integer: true, min: 0, max: 1 << 14 });
  const F =
    config.frequencies === undefined
      ? 6
      : checkNumber('createVelocityMlp: frequencies', config.frequencies, { integer: true, min: 0, max: 64 });
  // 2^24 is float32's last exact power of two times pi's scale; more state frequencies are noise.
  const L =
    config.stateFrequencies === undefined
      ? 0
      : checkNumber('createVelocityMlp: stateFrequencies', config.stateFrequencies, { integer: true, min: 0, max: 24 });
  const scale =
    config.stateScale === undefined
      ? 1
      : checkNumber('createVelocityMlp: stateScale', config.stateScale, { min: 0, exclusiveMin: true });
  const mlp = createMlp({
    inputDim: config.dim * (1 + 2 * L) + 1 + 2 * F + condDim,
    hidden: config.hidden,
    outputDim: config.dim,
    activation: config.activation,
    seed: config.seed,
  });
  return {
    trainableVariables: mlp.variables,
    flopsPerCall: mlp.flops,
    predict(x, t, cond) {
      if ((cond?.shape[1] ?? 0) !== condDim) {
        throw new Error(`cond must have ${condDim} columns, got ${cond ? cond.shape[1] : 'none'}`);
      }
      return tf.tidy(() => {
        const n = x.shape[0];
        const parts: tf.Tensor[] = [x];
        if (L > 0) parts.push(stateFeatures(x, L, scale));
        parts.push(timeFeatures(t, n, F));
        if (cond) parts.push(cond);
        return mlp.apply(tf.concat(parts, 1) as tf.Tensor2D);
      });
    },
    dispose: () => mlp.dispose(),
  };
}

/** Minimal structural view of a tfjs-layers model (so this package needs no tfjs-layers import). */
export interface LayersModelLike {
  apply(inputs: tf.Tensor, kwargs?: { training?: boolean }): unknown;
  readonly trainableWeights: { read(): tf.Tensor; shape: (number | null)[]; name: string }[];
}

/**
 * Adapts a tfjs-layers model that maps [x, time features (1 + 2 F columns), condition] to a
 * velocity [n, dim]. FLOPs are counted from its rank-2 'kernel' weights (dense layers).
 */
export function velocityFromLayersModel(model: LayersModelLike, options?: { frequencies?: number }): VelocityModel {
  const opts = checkOptions('velocityFromLayersModel', options, ['frequencies']);
  if (!model || typeof model.apply !== 'function' || !Array.isArray(model.trainableWeights)) {
    throw new Error(`velocityFromLayersModel: model must be a tfjs-layers model, got ${describeValue(model)}`);
  }
  const F =
    opts.frequencies === undefined
      ? 6
      : checkNumber('velocityFromLayersModel: frequencies', opts.frequencies, { integer: true, min: 0, max: 64 });
  let flops = 0;
  for (const w of model.trainableWeights)
    if (w.shape.length === 2 && /kernel/.test(w.name)) flops += 2 * w.shape[0]! * w.shape[1]!;
  return {
    trainableVariables: model.trainableWeights.map((w) => w.read() as tf.Variable),
    flopsPerCall: flops,
    predict(x, t, cond) {
      return tf.tidy(() => {
        const parts: tf.Tensor[] = [x, timeFeatures(t, x.shape[0], F)];
        if (cond) parts.push(cond);
        const out = model.apply(tf.concat(parts, 1), { training: true });
        if (!(out instanceof tf.Tensor)) throw new Error('the layers model must return a single tensor');
        return out as tf.Tensor2D;
      });
    },
    dispose() {
      /* the caller owns the layers model */
    },
  };
}

/** The sampling view of a velocity model: (x, t) => v for `solveOde`. */
export function asVelocityFn(model: VelocityModel, cond?: tf.Tensor2D): VelocityFn {
  return (x, t) => model.predict(x as tf.Tensor2D, t, cond);
}
