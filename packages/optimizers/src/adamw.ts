import * as tf from '@tensorflow/tfjs-core';
import { checkOptions } from '@blockwise/tensor';
import { checkHyper, nonNegative, unitInterval, type HyperParameter } from './hyper.js';
import type { KernelChoice } from './kernelDefs.js';
import { BlockwiseOptimizer, finiteGrad, type FusedRunner, type HyperSpec } from './optimizerBase.js';

/** Options of `AdamW` (PyTorch names in camelCase, PyTorch defaults). */
export interface AdamWOptions {
  /** Step size (default 1e-3). */
  learningRate?: HyperParameter;
  /** First-moment decay, in [0, 1) (default 0.9). */
  beta1?: HyperParameter;
  /** Second-moment decay, in [0, 1) (default 0.999). */
  beta2?: HyperParameter;
  /** Added to the bias-corrected root of the second moment (default 1e-8). */
  epsilon?: HyperParameter;
  /** Decoupled weight decay (default 0.01, as torch.optim.AdamW). */
  weightDecay?: HyperParameter;
  /**
   * Implementation of the fused step on cpu and wasm: 'auto' (default: WebAssembly SIMD on the
   * wasm backend, the typed-array reference on cpu), 'simd' or 'js'. All give the same bits;
   * `lastKernel()` says which ran.
   */
  kernel?: KernelChoice;
}

/** Names of Adam's hyperparameters. */
export type AdamHyper = 'learningRate' | 'beta1' | 'beta2' | 'epsilon' | 'weightDecay';
/** Option names of `AdamW`. */
export const ADAMW_KEYS = ['learningRate', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'kernel'] as const;

/** Validated Adam hyperparameters, shared by AdamW and the 8-bit classes. */
export function adamHypers(o: AdamWOptions, defaultWeightDecay: number): Record<AdamHyper, HyperSpec> {
  return {
    learningRate: { value: checkHyper('learningRate', o.learningRate ?? 1e-3, nonNegative), check: nonNegative },
    beta1: { value: checkHyper('beta1', o.beta1 ?? 0.9, unitInterval), check: unitInterval },
    beta2: { value: checkHyper('beta2', o.beta2 ?? 0.999, unitInterval), check: unitInterval },
    epsilon: { value: checkHyper('epsilon', o.epsilon ?? 1e-8, nonNegative), check: nonNegative },
    weightDecay: {
      value: checkHyper('weightDecay', o.weightDecay ?? defaultWeightDecay, nonNegative),
      check: nonNegative,
    },
  };
}

/**
 * One float32 Adam step with PyTorch's rule, in place on the variable and its `m`/`v` state:
 * decoupled (AdamW) `p *= 1 - lr*wd`, or L2 (Adam) `g += wd*p`; `m = b1 m + (1-b1) g`,
 * `v = b2 v + (1-b2) g^2`, `p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)`.
 * Elements with a non-finite gradient keep their parameter and state.
 */
export function adamStep32(
  p: tf.Variable,
  grad: tf.Tensor,
  m: tf.Variable,
  v: tf.Variable,
  h: Record<AdamHyper, number>,
  t: number,
  decoupled: boolean,
): void {
  const { learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd } = h;
  const { g: g0, ok } = finiteGrad(grad);
  const g = decoupled || wd === 0 ? g0 : tf.add(g0, tf.mul(p, wd));
  const nm = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
  const nv = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
  const bc1 = 1 - b1 ** t;
  const bc2 = 1 - b2 ** t;
  const denom = tf.add(tf.div(tf.sqrt(nv), Math.sqrt(bc2)), eps);
  const p0 = decoupled && wd !== 0 ? tf.mul(p, 1 - lr * wd) : p;
  const np = tf.sub(p0, tf.mul(tf.div(nm, denom), lr / bc1));
  m.assign(tf.where(ok, nm, m));
  v.assign(tf.where(ok, nv, v));
  p.assign(tf.where(ok, np, p));
}

/**
 * One float32 Adam step: the fused kernel where the backend has one, else `adamStep32`.
 * `(lr/bc1)` and `1/sqrt(bc2)` are folded into float64 constants before rounding to float32.
 */
export function adamUpdate(
  opt: FusedRunner,
  p: tf.Variable,
  grad: tf.Tensor,
  m: tf.Variable,
  v: tf.Variable,
  h: Record<AdamHyper, number>,
  t: number,
  decoupled: boolean,
): void {
  const { learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd } = h;
  const bc1 = 1 - b1 ** t;
  const bc2 = 1 - b2 ** t;
  const constants = {
    b1,
    c1: 1 - b1,
    b2,
    c2: 1 - b2,
    l2: decoupled ? 0 : wd,
    decay: decoupled ? 1 - lr * wd : 1,
    stepSize: lr / bc1,
    invSqrtBc2: 1 / Math.sqrt(bc2),
    eps,
  };
  if (!opt.runFused32(p, grad, [m, v], { rule: 'adam', constants })) adamStep32(p, grad, m, v, h, t, decoupled);
}

/**
 * AdamW (Loshchilov & Hutter) with float32 state, exactly torch.optim.AdamW's update. Every
 * hyperparameter takes a number or a schedule `(step) => value`.
 */
export class AdamW extends BlockwiseOptimizer<AdamHyper> {
  /** Name under which tfjs serialization knows this class. */
  static get className(): string {
    return 'AdamW';
  }
  private readonly specs: Record<AdamHyper, HyperSpec>;

  constructor(options?: AdamWOptions) {
    const o = checkOptions('AdamW', options, ADAMW_KEYS);
    super(o.kernel);
    this.specs = adamHypers(o, 1e-2);
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
    const m = this.ensureSlot(name, 'm', () => tf.zerosLike(variable));
    const v = this.ensureSlot(name, 'v', () => tf.zerosLike(variable));
    adamUpdate(this, variable, grad, m, v, h, t, true);
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...this.hyperConfig() };
  }
}
tf.serialization.registerClass(AdamW);
