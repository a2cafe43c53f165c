import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** Options of `StableEmbedding`. */
export interface StableEmbeddingArgs {
  /** Vocabulary size. */
  inputDim: number;
  /** Embedding width. */
  outputDim: number;
  /** Layer-norm epsilon (default 1e-5, as torch.nn.LayerNorm). */
  epsilon?: number;
  /** Layer name; the default `stable_embedding_N` matches the 8-bit optimizers' float32 patterns. */
  name?: string;
  /** Shape of the inputs without the batch axis (for a first layer). */
  inputShape?: number[];
  /** Whether the weights train (default true). */
  trainable?: boolean;
}

/**
 * The stable embedding of arXiv 2110.02861 (bitsandbytes `StableEmbedding`): Xavier-uniform
 * initialization, then layer normalization of the looked-up vectors. Its weights are named
 * `stable_embedding*`, so the 8-bit optimizers keep float32 state for them by default.
 */
export class StableEmbedding extends tfl.layers.Layer {
  /** Name under which tfjs serialization knows this class. */
  static className = 'StableEmbedding';
  /** Vocabulary size. */
  readonly inputDim: number;
  /** Embedding width. */
  readonly outputDim: number;
  /** Layer-norm epsilon. */
  readonly epsilon: number;
  private embeddings?: tfl.LayerVariable;
  private gamma?: tfl.LayerVariable;
  private beta?: tfl.LayerVariable;

  constructor(args: StableEmbeddingArgs) {
    super({ name: args.name, inputShape: args.inputShape, trainable: args.trainable });
    for (const key of ['inputDim', 'outputDim'] as const) {
      const v = args[key];
      if (!Number.isInteger(v) || v <= 0)
        throw new Error(`StableEmbedding: ${key} must be a positive integer, got ${String(v)}`);
    }
    this.inputDim = args.inputDim;
    this.outputDim = args.outputDim;
    this.epsilon = args.epsilon ?? 1e-5;
    if (!(this.epsilon > 0)) throw new Error(`StableEmbedding: epsilon must be > 0, got ${this.epsilon}`);
  }

  override build(): void {
    this.embeddings = this.addWeight(
      'embeddings',
      [this.inputDim, this.outputDim],
      'float32',
      tfl.initializers.glorotUniform({}),
    );
    this.gamma = this.addWeight('gamma', [this.outputDim], 'float32', tfl.initializers.ones());
    this.beta = this.addWeight('beta', [this.outputDim], 'float32', tfl.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return [...(inputShape as tfl.Shape), this.outputDim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const ids = tf.cast(Array.isArray(inputs) ? inputs[0]! : inputs, 'int32');
      const e = tf.gather(this.embeddings!.read(), ids);
      const { mean, variance } = tf.moments(e, -1, true);
      const normed = tf.div(tf.sub(e, mean), tf.sqrt(tf.add(variance, this.epsilon)));
      return tf.add(tf.mul(normed, this.gamma!.read()), this.beta!.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), inputDim: this.inputDim, outputDim: this.outputDim, epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(StableEmbedding);
