import * as tf from '@tensorflow/tfjs-core';
import { EightBitOptimizer, type EightBitOptions } from './eightBit.js';
import { ALGO } from './fused8bit.js';
import { checkHyper, nonNegative, unitInterval, type HyperParameter } from './hyper.js';
import { BlockwiseOptimizer, finiteGrad, type HyperSpec } from './optimizerBase.js';

/** Options of `Lion` and `Lion8bit` (defaults of the paper's reference code and bitsandbytes). */
export interface LionOptions {
  /** Step size (default 1e-4). */
  learningRate?: HyperParameter;
  /** Interpolation for the update direction, in [0, 1) (default 0.9). */
  beta1?: HyperParameter;
  /** Momentum decay, in [0, 1) (default 0.99). */
  beta2?: HyperParameter;
  /** Decoupled weight decay (default 0). */
  weightDecay?: HyperParameter;
}

function lionHypers(o: LionOptions): Record<string, HyperSpec> {
  return {
    learningRate: { value: checkHyper('learningRate', o.learningRate ?? 1e-4, nonNegative), check: nonNegative },
    beta1: { value: checkHyper('beta1', o.beta1 ?? 0.9, unitInterval), check: unitInterval },
    beta2: { value: checkHyper('beta2', o.beta2 ?? 0.99, unitInterval), check: unitInterval },
    weightDecay: { value: checkHyper('weightDecay', o.weightDecay ?? 0, nonNegative), check: nonNegative },
  };
}

/**
 * One float32 Lion step (arXiv 2302.06675): `c = b1 m + (1-b1) g`, `p = p (1 - lr wd) - lr sign(c)`,
 * `m = b2 m + (1-b2) g`; non-finite gradient elements are left untouched.
 */
export function lionStep32(p: tf.Variable, grad: tf.Tensor, m: tf.Variable, h: Record<string, number>): void {
  const lr = h.learningRate!;
  const b1 = h.beta1!;
  const b2 = h.beta2!;
  const wd = h.weightDecay!;
  const { g, ok } = finiteGrad(grad);
  const c = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
  const p0 = wd !== 0 ? tf.mul(p, 1 - lr * wd) : p;
  const np = tf.sub(p0, tf.mul(tf.sign(c), lr));
  const nm = tf.add(tf.mul(m, b2), tf.mul(g, 1 - b2));
  m.assign(tf.where(ok, nm, m));
  p.assign(tf.where(ok, np, p));
}

/** Lion with float32 momentum; every hyperparameter takes a number or a schedule. */
export class Lion extends BlockwiseOptimizer {
  /** Name under which tfjs serialization knows this class. */
  static get className(): string {
    return 'Lion';
  }
  private readonly specs: Record<string, HyperSpec>;

  constructor(options: LionOptions = {}) {
    super();
    this.specs = lionHypers(options);
  }

  protected hypers(): Record<string, HyperSpec> {
    return this.specs;
  }

  protected updateVariable(name: string, variable: tf.Variable, grad: tf.Tensor, h: Record<string, number>): void {
    lionStep32(variable, grad, this.ensureSlot(name, 'm', () => tf.zerosLike(variable)), h);
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...this.hyperConfig() };
  }
}
tf.serialization.registerClass(Lion);

/** Options of `Lion8bit`. */
export interface Lion8bitOptions extends LionOptions, EightBitOptions {}

/** Lion with its momentum in 8-bit block-wise state (signed dynamic map), one fused kernel per tensor. */
export class Lion8bit extends EightBitOptimizer {
  /** Name under which tfjs serialization knows this class. */
  static get className(): string {
    return 'Lion8bit';
  }
  private readonly specs: Record<string, HyperSpec>;

  constructor(options: Lion8bitOptions = {}) {
    super(options);
    this.specs = lionHypers(options);
  }

  protected hypers(): Record<string, HyperSpec> {
    return this.specs;
  }

  protected updateVariable(name: string, variable: tf.Variable, grad: tf.Tensor, h: Record<string, number>): void {
    if (!this.quantizes(name, variable.size)) {
      lionStep32(variable, grad, this.ensureSlot(name, 'm', () => tf.zerosLike(variable)), h);
      return;
    }
    const next = this.fusedUpdate(name, variable, grad, {
      algo: ALGO.lion,
      lr: h.learningRate!,
      beta1: h.beta1!,
      beta2: h.beta2!,
      eps: 0,
      weightDecay: h.weightDecay!,
      decoupled: 1,
      bc1: 1,
      bc2: 1,
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
tf.serialization.registerClass(Lion8bit);
