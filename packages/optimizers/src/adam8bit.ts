import * as tf from '@tensorflow/tfjs-core';
import { checkOptions } from '@blockwise/tensor';
import { ADAMW_KEYS, adamHypers, adamUpdate, type AdamHyper, type AdamWOptions } from './adamw.js';
import { EIGHT_BIT_KEYS, EightBitOptimizer, type EightBitOptions } from './eightBit.js';
import { ALGO } from './fused8bit.js';
import type { HyperSpec } from './optimizerBase.js';

/** Options of `Adam8bit` and `AdamW8bit`. */
export interface Adam8bitOptions extends AdamWOptions, EightBitOptions {}

abstract class Adam8bitBase extends EightBitOptimizer<AdamHyper> {
  private readonly specs: Record<AdamHyper, HyperSpec>;
  protected abstract readonly decoupled: boolean;

  constructor(what: string, options: Adam8bitOptions | undefined, defaultWeightDecay: number) {
    const o = checkOptions(what, options, [...ADAMW_KEYS, ...EIGHT_BIT_KEYS]);
    super(o);
    this.specs = adamHypers(o, defaultWeightDecay);
  }

  protected hypers(): Record<AdamHyper, HyperSpec> {
    return this.specs;
  }

  protected updateVariable(
    name: string,
    variable: tf.Variable,
    grad: tf.Tensor,
    h: Record<AdamHyper, number>,
    t: number,
  ): void {
    if (!this.quantizes(name, variable.size)) {
      const m = this.ensureSlot(name, 'm', () => tf.zerosLike(variable));
      const v = this.ensureSlot(name, 'v', () => tf.zerosLike(variable));
      adamUpdate(this, variable, grad, m, v, h, t, this.decoupled);
      return;
    }
    const b1 = h.beta1;
    const b2 = h.beta2;
    const next = this.fusedUpdate(name, variable, grad, {
      algo: ALGO.adam,
      lr: h.learningRate,
      beta1: b1,
      beta2: b2,
      eps: h.epsilon,
      weightDecay: h.weightDecay,
      decoupled: this.decoupled ? 1 : 0,
      bc1: 1 - b1 ** t,
      bc2: 1 - b2 ** t,
      momentum: 0,
      dampening: 0,
      nesterov: 0,
    });
    variable.assign(tf.reshape(next, variable.shape));
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...this.hyperConfig(), ...this.eightBitConfig() };
  }
}

/**
 * Adam with 8-bit block-wise state (arXiv 2110.02861) and PyTorch Adam's L2 weight decay
 * (`g += wd * p`, default 0). `optimBits: 32` gives plain float32 Adam.
 */
export class Adam8bit extends Adam8bitBase {
  /** Name under which tfjs serialization knows this class. */
  static get className(): string {
    return 'Adam8bit';
  }
  protected readonly decoupled = false;
  constructor(options?: Adam8bitOptions) {
    super('Adam8bit', options, 0);
  }
}
tf.serialization.registerClass(Adam8bit);

/**
 * AdamW with 8-bit block-wise state: first moment on the signed dynamic map, second on the
 * unsigned one, one float32 absmax per block, the whole step fused into one kernel per tensor.
 * Decoupled weight decay, default 0.01 as torch.optim.AdamW.
 */
export class AdamW8bit extends Adam8bitBase {
  /** Name under which tfjs serialization knows this class. */
  static get className(): string {
    return 'AdamW8bit';
  }
  protected readonly decoupled = true;
  constructor(options?: Adam8bitOptions) {
    super('AdamW8bit', options, 1e-2);
  }
}
tf.serialization.registerClass(AdamW8bit);
