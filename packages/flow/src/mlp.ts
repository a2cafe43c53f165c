import * as tf from '@tensorflow/tfjs-core';
import { checkNumber, checkOneOf, checkOptions, createRng, describeValue } from '@blockwise/tensor';

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

/** Largest layer width (a [width, width] float32 kernel of 2^16 is already 16 GiB). */
const MAX_WIDTH = 1 << 16;

function positiveInt(v: unknown, name: string): void {
  checkNumber(name, v, { integer: true, min: 1, max: MAX_WIDTH });
}

/** FLOPs per sample of a chain of dense layers with these widths (2 * in * out each, biases and activations not counted). */
export function denseFlops(widths: number[]): number {
  if (!Array.isArray(widths))
    throw new Error(`denseFlops: widths must be an array of layer widths, got ${describeValue(widths)}`);
  widths.forEach((w, i) => checkNumber(`denseFlops: widths[${i}]`, w, { integer: true, min: 1 }));
  let f = 0;
  for (let i = 0; i + 1 < widths.length; i++) f += 2 * widths[i]! * widths[i + 1]!;
  return f;
}

/** Builds a dense MLP with He-uniform weights and zero biases. */
export function createMlp(config: MlpConfig): Mlp {
  if (config === undefined) throw new Error('createMlp: a config { inputDim, hidden, outputDim } is required');
  checkOptions('createMlp', config, ['inputDim', 'hidden', 'outputDim', 'activation', 'seed']);
  positiveInt(config.inputDim, 'createMlp: inputDim');
  positiveInt(config.outputDim, 'createMlp: outputDim');
  if (!Array.isArray(config.hidden))
    throw new Error(`createMlp: hidden must be an array of widths, got ${describeValue(config.hidden)}`);
  if (config.hidden.length > 64)
    throw new Error(`createMlp: hidden must list at most 64 layers, got ${config.hidden.length}`);
  config.hidden.forEach((h, i) => positiveInt(h, `createMlp: hidden[${i}]`));
  const activation = checkOneOf('createMlp: activation', config.activation ?? 'silu', [
    'silu',
    'relu',
    'tanh',
  ] as const);
  const seed = config.seed === undefined ? 0 : checkNumber('createMlp: seed', config.seed, { integer: true });
  const full: Required<MlpConfig> = { ...config, activation, seed };
  const widths = [config.inputDim, ...config.hidden, config.outputDim];
  const rng = createRng(full.seed);
  const variables: tf.Variable[] = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const fin = widths[l]!;
    const fout = widths[l + 1]!;
    const lim = Math.sqrt(6 / fin);
    const w = rng.fillUniform(new Float32Array(fin * fout), -lim, lim);
    // The last layer starts small so the initial velocity is near zero.
    if (l + 2 === widths.length) for (let i = 0; i < w.length; i++) w[i] = w[i]! * 0.1;
    // tidy disposes the initial values (a variable shares their data), not the variables.
    variables.push(
      ...tf.tidy(() => [tf.variable(tf.tensor2d(w, [fin, fout]), true), tf.variable(tf.zeros([fout]), true)]),
    );
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
  // 2^k overflows float32's exactness long before k = 64; more frequencies are noise.
  checkNumber('frequencies', frequencies, { integer: true, min: 0, max: 64 });
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
