import * as tf from '@tensorflow/tfjs-core';
import { checkOptions } from '@blockwise/tensor';
import { EIGHT_BIT_KEYS, EightBitOptimizer, type EightBitOptions } from './eightBit.js';
import { ALGO } from './fused8bit.js';
import { checkHyper, nonNegative, unitInterval, type HyperParameter } from './hyper.js';
import type { KernelChoice } from './kernelDefs.js';
import { BlockwiseOptimizer, finiteGrad, type FusedRunner, type HyperSpec } from './optimizerBase.js';

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
  /** Implementation of the fused step on cpu and wasm: 'auto' (default), 'simd' or 'js'. */
  kernel?: KernelChoice;
}

/** Names of Lion's hyperparameters. */
export type LionHyper = 'learningRate' | 'beta1' | 'beta2' | 'weightDecay';
const LION_KEYS = ['learningRate', 'beta1', 'beta2', 'weightDecay', 'kernel'] as const;

function lionHypers(o: LionOptions): Record<LionHyper, HyperSpec> {
  return {
    learningRate: { value: checkHyper('learningRate', o.learningRate ?? 1e-4, nonNegative), check: nonNegative },
    beta1: { value: checkHyper('beta1', o.beta1 ?? 0.9, unitInterval), check: unitInterval },
    beta2: { value: checkHyper('beta2', o.beta2 ?? 0.99, unitInterval), check: unitInterval },
    weightDecay: { value: checkHyper('weightDecay', o.weightDecay ?? 0, nonNegative), check: nonNegative },
  };
}

/**
 * One float32 Lion step (arXiv 2302.06675) with tfjs ops (WebGPU and other backends without the
 * fused kernel): `c = b1 m + (1-b1) g`, `p = p (1 - lr wd) - lr sign(c)`, `m = b2 m + (1-b2) g`;
 * non-finite gradient elements are left untouched. The sign comes from comparisons: tfjs's wasm
 * `Sign` returns 0 for |c| < 1.19e-7, which would skip every tiny update.
 */
export function lionStep32(p: tf.Variable, grad: tf.Tensor, m: tf.Variable, h: Record<LionHyper, number>): void {
  const { learningRate: lr, beta1: b1, beta2: b2, weightDecay: wd } = h;
  const { g, ok } = finiteGrad(grad);
  const c = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
  const p0 = wd !== 0 ? tf.mul(p, 1 - lr * wd) : p;
  const sign = tf.sub(tf.cast(tf.greater(c, 0), 'float32'), tf.cast(tf.less(c, 0), 'float32'));
  const np = tf.sub(p0, tf.mul(sign, lr));
  const nm = tf.add(tf.mul(m, b2), tf.mul(g, 1 - b2));
  m.assign(tf.where(ok, nm, m));
  p.assign(tf.where(ok, np, p));
}

/** One float32 Lion step: the fused kernel where the backend has one, else `lionStep32`. */
function lionUpdate(
  opt: FusedRunner,
  p: tf.Variable,
  grad: tf.Tensor,
  m: tf.Variable,
  h: Record<LionHyper, number>,
): void {
  const { learningRate: lr, beta1: b1, beta2: b2, weightDecay: wd } = h;
  const constants = { b1, c1: 1 - b1, b2, c2: 1 - b2, decay: 1 - lr * wd, lr };
  if (!opt.runFused32(p, grad, [m], { rule: 'lion', constants })) lionStep32(p, grad, m, h);
}

/** Lion with float32 momentum; every hyperparameter takes a number or a schedule. */
export class Lion extends BlockwiseOptimizer<LionHyper> {
  /** Name under which tfjs serialization knows this class. */
  static get className(): string {
    return 'Lion';
  }
  private readonly specs: Record<LionHyper, HyperSpec>;

  constructor(options?: LionOptions) {
    const o = checkOptions('Lion', options, LION_KEYS);
    super(o.kernel);
    this.specs = lionHypers(o);
  }

  protected hypers(): Record<LionHyper, HyperSpec> {
    return this.specs;
  }

  protected updateVariable(name: string, variable: tf.Variable, grad: tf.Tensor, h: Record<LionHyper, number>): void {
    lionUpdate(
      this,
      variable,
      grad,
      this.ensureSlot(name, 'm', () => tf.zerosLike(variable)),
      h,
    );
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...this.hyperConfig() };
  }
}
tf.serialization.registerClass(Lion);

/** Options of `Lion8bit`. */
export interface Lion8bitOptions extends LionOptions, EightBitOptions {}

/** Lion with its momentum in 8-bit block-wise state (signed dynamic map), one fused kernel per tensor. */
export class Lion8bit extends EightBitOptimizer<LionHyper> {
  /** Name under which tfjs serialization knows this class. */
  static get className(): string {
    return 'Lion8bit';
  }
  private readonly specs: Record<LionHyper, HyperSpec>;

  constructor(options?: Lion8bitOptions) {
    const o = checkOptions('Lion8bit', options, [...LION_KEYS, ...EIGHT_BIT_KEYS]);
    super(o);
    this.specs = lionHypers(o);
  }

  protected hypers(): Record<LionHyper, HyperSpec> {
    return this.specs;
  }

  protected updateVariable(name: string, variable: tf.Variable, grad: tf.Tensor, h: Record<LionHyper, number>): void {
    if (!this.quantizes(name, variable.size)) {
      lionUpdate(
        this,
        variable,
        grad,
        this.ensureSlot(name, 'm', () => tf.zerosLike(variable)),
        h,
      );
      return;
    }
    const next = this.fusedUpdate(name, variable, grad, {
      algo: ALGO.lion,
      lr: h.learningRate,
      beta1: h.beta1,
      beta2: h.beta2,
      eps: 0,
      weightDecay: h.weightDecay,
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
