import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '@blockwise/tensor';

/** Hidden-layer activation of `createMlp`. */
export type Activation = 'silu' | 'relu' | 'tanh';

/** Configuration of a dense multilayer perceptron. */
export interface MlpConfig {
  inputDim: number;
  /** Hidden widths, e.g. [128, 128]. */
  hidden: number[];
  outputDim: number;
  /** Default 'silu'. */
  activation?: Activation;
  /** Seed of the He-uniform initial weights. */
  seed?: number;
}

/** A dense MLP whose parameters are tf.Variables (train them with any tf.Optimizer). */
export interface Mlp {
  readonly config: Required<MlpConfig>;
  /** Trainable variables: kernels and biases, layer by layer. */
  readonly variables: tf.Variable[];
  /** Output [n, outputDim]; with `penultimate`, the last hidden layer after its activation instead. */
  apply(x: tf.Tensor2D, penultimate?: boolean): tf.Tensor2D;
  /** FLOPs per sample of one forward pass: 2 * in * out per dense layer (multiply + add). */
  readonly flops: number;
  dispose(): void;
}

function positiveInt(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
}

/** FLOPs per sample of a chain of dense layers with these widths (2 * in * out each, biases and activations not counted). */
export function denseFlops(widths: number[]): number {
  let f = 0;
  for (let i = 0; i + 1 < widths.length; i++) f += 2 * (widths[i] as number) * (widths[i + 1] as number);
  return f;
}

/** Builds a dense MLP with He-uniform weights and zero biases. */
export function createMlp(config: MlpConfig): Mlp {
  positiveInt(config.inputDim, 'inputDim');
  positiveInt(config.outputDim, 'outputDim');
  if (!Array.isArray(config.hidden)) throw new Error(`hidden must be an array of widths, got ${String(config.hidden)}`);
  config.hidden.forEach((h, i) => positiveInt(h, `hidden[${i}]`));
  const activation = config.activation ?? 'silu';
  if (!['silu', 'relu', 'tanh'].includes(activation)) throw new Error(`activation must be silu, relu or tanh, got ${activation}`);
  const full: Required<MlpConfig> = { ...config, activation, seed: config.seed ?? 0 };
  const widths = [config.inputDim, ...config.hidden, config.outputDim];
  const rng = createRng(full.seed);
  const variables: tf.Variable[] = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const fin = widths[l] as number;
    const fout = widths[l + 1] as number;
    const lim = Math.sqrt(6 / fin);
    const w = rng.fillUniform(new Float32Array(fin * fout), -lim, lim);
    // The last layer starts small so the initial velocity is near zero.
    if (l + 2 === widths.length) for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) * 0.1;
    // tidy disposes the initial values (a variable shares their data), not the variables.
    variables.push(...tf.tidy(() => [tf.variable(tf.tensor2d(w, [fin, fout]), true), tf.variable(tf.zeros([fout]), true)]));
  }
  const act = (x: tf.Tensor): tf.Tensor =>
    activation === 'relu' ? tf.relu(x) : activation === 'tanh' ? tf.tanh(x) : tf.mul(x, tf.sigmoid(x));
  const layers = widths.length - 1;
  return {
    config: full,
    variables,
    flops: denseFlops(widths),
    apply(x, penultimate = false) {
      if (x.rank !== 2 || x.shape[1] !== config.inputDim) {
        throw new Error(`input must be [n, ${config.inputDim}], got [${x.shape.join(', ')}]`);
      }
      return tf.tidy(() => {
        let h: tf.Tensor = x;
        const last = penultimate ? layers - 1 : layers;
        if (penultimate && layers < 2) throw new Error('penultimate features need at least one hidden layer');
        for (let l = 0; l < last; l++) {
          h = tf.add(tf.matMul(h, variables[2 * l] as tf.Variable), variables[2 * l + 1] as tf.Variable);
          if (l + 1 < layers) h = act(h);
        }
        return h as tf.Tensor2D;
      });
    },
    dispose() {
      for (const v of variables) v.dispose();
    },
  };
}

/**
 * Sinusoidal time features [n, 1 + 2 F]: t, sin(pi 2^k t), cos(pi 2^k t) for k < F. Rows of `t`
 * may differ (training) or `t` may be one number (sampling).
 */
export function timeFeatures(t: tf.Tensor1D | number, n: number, frequencies: number): tf.Tensor2D {
  if (!Number.isInteger(frequencies) || frequencies < 0) throw new Error(`frequencies must be a non-negative integer, got ${frequencies}`);
  return tf.tidy(() => {
    const tt = typeof t === 'number' ? tf.fill([n, 1], t) : tf.reshape(t, [n, 1]);
    const parts: tf.Tensor[] = [tt];
    for (let k = 0; k < frequencies; k++) {
      const a = tf.mul(tt, Math.PI * 2 ** k);
      parts.push(tf.sin(a), tf.cos(a));
    }
    return tf.concat(parts, 1) as tf.Tensor2D;
  });
}
