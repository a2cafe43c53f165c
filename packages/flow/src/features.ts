import * as tf from '@tensorflow/tfjs-core';
import { checkNumber, checkOptions } from '@blockwise/tensor';
import { createMlp, timeFeatures, type Activation, type Mlp } from './mlp.js';

/** Semantic feature guidance of Blockwise Flow Matching, with optional feature residual approximation. */
export interface FeatureGuidanceConfig {
  /** Width of the shared features h that condition every block. */
  featureDim: number;
  /** Hidden widths of the shared feature network F(x_t, t). */
  hidden: number[];
  /** Frozen pretrained features of clean data, phi(x1) [n, targetDim] (e.g. a classifier's penultimate layer). */
  target: (x1: tf.Tensor2D) => tf.Tensor2D;
  targetDim: number;
  /** Weight of the alignment loss 1 - cos(P h, phi(x1)) (default 0.5). */
  weight?: number;
  /**
   * Feature residual approximation: a small network predicts h(x_t, t) - h(x_a, t_a) from the
   * segment's first evaluation (t_a = segment start), so only that first evaluation runs F.
   */
  residual?: { hidden: number[] };
}

/** The networks of feature guidance and their losses. */
export interface FeatureGuidance {
  readonly config: FeatureGuidanceConfig;
  readonly featureNet: Mlp;
  /** Linear projection of h to the target features (training only). */
  readonly alignHead: Mlp;
  readonly residualNet?: Mlp;
  readonly variables: tf.Variable[];
  /** h = F(x, t) [n, featureDim]. */
  features(x: tf.Tensor2D, t: tf.Tensor1D | number): tf.Tensor2D;
  /** h_a + R(x, t, h_a, t_a): the residual approximation of F(x, t). */
  approximate(
    x: tf.Tensor2D,
    t: tf.Tensor1D | number,
    hAnchor: tf.Tensor2D,
    tAnchor: tf.Tensor1D | number,
  ): tf.Tensor2D;
  /** Mean over rows of 1 - cos(P h, phi(x1)). */
  alignLoss(h: tf.Tensor2D, x1: tf.Tensor2D): tf.Scalar;
  dispose(): void;
}

/** Builds the feature network, its alignment head and (optionally) the residual network. */
export function createFeatureGuidance(
  config: FeatureGuidanceConfig,
  dim: number,
  frequencies: number,
  activation: Activation | undefined,
  seed: number,
): FeatureGuidance {
  checkOptions('features', config, ['featureDim', 'hidden', 'target', 'targetDim', 'weight', 'residual']);
  checkNumber('features: featureDim', config.featureDim, { integer: true, min: 1, max: 1 << 14 });
  checkNumber('features: targetDim', config.targetDim, { integer: true, min: 1, max: 1 << 15 });
  if (config.residual !== undefined) checkOptions('features.residual', config.residual, ['hidden']);
  if (typeof config.target !== 'function') throw new Error('target must be a function x1 => features');
  const weight = config.weight ?? 0.5;
  if (!Number.isFinite(weight) || weight < 0) throw new Error(`weight must be a non-negative number, got ${weight}`);
  const tf1 = 1 + 2 * frequencies;
  const featureNet = createMlp({
    inputDim: dim + tf1,
    hidden: config.hidden,
    outputDim: config.featureDim,
    activation,
    seed,
  });
  const alignHead = createMlp({ inputDim: config.featureDim, hidden: [], outputDim: config.targetDim, seed: seed + 1 });
  const residualNet = config.residual
    ? createMlp({
        inputDim: dim + 2 * tf1 + config.featureDim,
        hidden: config.residual.hidden,
        outputDim: config.featureDim,
        activation,
        seed: seed + 2,
      })
    : undefined;
  const variables = [...featureNet.variables, ...alignHead.variables, ...(residualNet?.variables ?? [])];
  return {
    config,
    featureNet,
    alignHead,
    residualNet,
    variables,
    features(x, t) {
      return tf.tidy(() =>
        featureNet.apply(tf.concat([x, timeFeatures(t, x.shape[0], frequencies)], 1) as tf.Tensor2D),
      );
    },
    approximate(x, t, hAnchor, tAnchor) {
      if (!residualNet) throw new Error('approximate needs feature guidance configured with `residual`');
      return tf.tidy(() => {
        const n = x.shape[0];
        const inp = tf.concat(
          [x, timeFeatures(t, n, frequencies), timeFeatures(tAnchor, n, frequencies), hAnchor],
          1,
        ) as tf.Tensor2D;
        return tf.add(hAnchor, residualNet.apply(inp)) as tf.Tensor2D;
      });
    },
    alignLoss(h, x1) {
      return tf.tidy(() => {
        const p = alignHead.apply(h);
        const q = config.target(x1);
        if (q.shape[1] !== config.targetDim)
          throw new Error(`target must return ${config.targetDim} columns, got ${q.shape[1]}`);
        const dot = tf.sum(tf.mul(p, q), 1);
        const norm = tf.mul(tf.norm(p, 'euclidean', 1), tf.norm(q, 'euclidean', 1));
        return tf.mul(tf.mean(tf.sub(1, tf.div(dot, tf.add(norm, 1e-8)))), weight) as tf.Scalar;
      });
    },
    dispose() {
      featureNet.dispose();
      alignHead.dispose();
      residualNet?.dispose();
    },
  };
}
