import * as tf from '@tensorflow/tfjs-core';
import { checkOptions } from '@blockwise/tensor';
import { EIGHT_BIT_KEYS, EightBitOptimizer, type EightBitOptions } from './eightBit.js';
import { ALGO } from './fused8bit.js';
import {
  adaptationPatterns,
  checkHyper,
  matchesAny,
  nonNegative,
  toPatterns,
  unitInterval,
  type HyperParameter,
} from './hyper.js';
import type { KernelChoice } from './kernelDefs.js';
import { BlockwiseOptimizer, finiteGrad, type FusedRunner, type HyperSpec } from './optimizerBase.js';
import { trustRatio } from './trustRatio.js';

/** Options of `LAMB` (tensorflow-addons names in camelCase and its defaults). */
export interface LAMBOptions {
  /** Step size (default 1e-3). */
  learningRate?: HyperParameter;
  /** First-moment decay, in [0, 1) (default 0.9). */
  beta1?: HyperParameter;
  /** Second-moment decay, in [0, 1) (default 0.999). */
  beta2?: HyperParameter;
  /** Added outside the root of the bias-corrected second moment (default 1e-6). */
  epsilon?: HyperParameter;
  /** Weight decay added to the update (default 0). */
  weightDecay?: HyperParameter;
  /** Variables whose name matches (regex search) get no weight decay. */
  excludeFromWeightDecay?: (string | RegExp)[];
  /**
   * Variables whose name matches get no trust ratio. Unset or empty (`[]`): the
   * `excludeFromWeightDecay` list, as tensorflow-addons reads an empty list (like `None`).
   */
  excludeFromLayerAdaptation?: (string | RegExp)[];
  /** Implementation of the fused step on cpu and wasm: 'auto' (default), 'simd' or 'js'. */
  kernel?: KernelChoice;
}

/** Names of LAMB's hyperparameters. */
export type LambHyper = 'learningRate' | 'beta1' | 'beta2' | 'epsilon' | 'weightDecay';
const LAMB_KEYS = [
  'learningRate',
  'beta1',
  'beta2',
  'epsilon',
  'weightDecay',
  'excludeFromWeightDecay',
  'excludeFromLayerAdaptation',
  'kernel',
] as const;

function lambHypers(o: LAMBOptions): Record<LambHyper, HyperSpec> {
  return {
    learningRate: { value: checkHyper('learningRate', o.learningRate ?? 1e-3, nonNegative), check: nonNegative },
    beta1: { value: checkHyper('beta1', o.beta1 ?? 0.9, unitInterval), check: unitInterval },
    beta2: { value: checkHyper('beta2', o.beta2 ?? 0.999, unitInterval), check: unitInterval },
    epsilon: { value: checkHyper('epsilon', o.epsilon ?? 1e-6, nonNegative), check: nonNegative },
    weightDecay: { value: checkHyper('weightDecay', o.weightDecay ?? 0, nonNegative), check: nonNegative },
  };
}

/** Exclusion lists shared by LAMB and LAMB8bit. */
class Exclusions {
  readonly decay: RegExp[];
  readonly adapt: RegExp[];
  constructor(o: LAMBOptions) {
    this.decay = toPatterns('excludeFromWeightDecay', o.excludeFromWeightDecay);
    this.adapt = adaptationPatterns(o.excludeFromLayerAdaptation, this.decay);
  }
  config(): tf.serialization.ConfigDict {
    return {
      excludeFromWeightDecay: this.decay.map((p) => p.source),
      excludeFromLayerAdaptation: this.adapt.map((p) => p.source),
    };
  }
}

/** `p -= lr * ratio * u`, with the trust ratio unless the name is excluded. */
function applyTrust(p: tf.Variable, u: tf.Tensor, lr: number, adapt: boolean): void {
  const step = adapt ? tf.mul(trustRatio(p, u), lr) : lr;
  p.assign(tf.sub(p, tf.mul(u, step)));
}

/**
 * One float32 LAMB step: the fused kernel (a pass for the moments, the update and both norms,
 * a pass for the parameter) where the backend has one, else `lambStep32`.
 */
function lambUpdate(
  opt: FusedRunner,
  name: string,
  p: tf.Variable,
  grad: tf.Tensor,
  m: tf.Variable,
  v: tf.Variable,
  h: Record<LambHyper, number>,
  t: number,
  excl: Exclusions,
): void {
  const { beta1: b1, beta2: b2 } = h;
  const constants = {
    b1,
    c1: 1 - b1,
    b2,
    c2: 1 - b2,
    bc1: 1 - b1 ** t,
    bc2: 1 - b2 ** t,
    eps: h.epsilon,
    wd: matchesAny(excl.decay, name) ? 0 : h.weightDecay,
  };
  const call = {
    rule: 'lamb' as const,
    constants,
    adapt: !matchesAny(excl.adapt, name),
    lr: h.learningRate,
    eta: 1,
    trustEps: 0,
  };
  if (!opt.runFused32(p, grad, [m, v], call)) lambStep32(name, p, grad, m, v, h, t, excl);
}

/** One float32 LAMB step with tfjs ops on a variable and its `m`/`v` state (non-finite gradient elements untouched). */
function lambStep32(
  name: string,
  p: tf.Variable,
  grad: tf.Tensor,
  m: tf.Variable,
  v: tf.Variable,
  h: Record<LambHyper, number>,
  t: number,
  excl: Exclusions,
): void {
  const { beta1: b1, beta2: b2 } = h;
  const { g, ok } = finiteGrad(grad);
  const nm = tf.where(ok, tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)), m);
  const nv = tf.where(ok, tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)), v);
  const mHat = tf.div(nm, 1 - b1 ** t);
  const vHat = tf.div(nv, 1 - b2 ** t);
  let u = tf.div(mHat, tf.add(tf.sqrt(vHat), h.epsilon));
  if (h.weightDecay > 0 && !matchesAny(excl.decay, name)) u = tf.add(u, tf.mul(p, h.weightDecay));
  u = tf.where(ok, u, tf.zerosLike(u));
  m.assign(nm);
  v.assign(nv);
  applyTrust(p, u, h.learningRate, !matchesAny(excl.adapt, name));
}

/**
 * LAMB (arXiv 1904.00962) as tensorflow-addons implements it: Adam moments with bias correction,
 * `u = m_hat / (sqrt(v_hat) + eps) + wd * p`, and a layer-wise trust ratio `||p|| / ||u||`;
 * exclusion regexes switch off weight decay and adaptation per variable name.
 */
export class LAMB extends BlockwiseOptimizer<LambHyper> {
  /** Name under which tfjs serialization knows this class. */
  static get className(): string {
    return 'LAMB';
  }
  private readonly specs: Record<LambHyper, HyperSpec>;
  private readonly excl: Exclusions;

  constructor(options?: LAMBOptions) {
    const o = checkOptions('LAMB', options, LAMB_KEYS);
    super(o.kernel);
    this.specs = lambHypers(o);
    this.excl = new Exclusions(o);
  }

  protected hypers(): Record<LambHyper, HyperSpec> {
    return this.specs;
  }

  protected updateVariable(
    name: string,
    p: tf.Variable,
    grad: tf.Tensor,
    h: Record<LambHyper, number>,
    t: number,
  ): void {
    const m = this.ensureSlot(name, 'm', () => tf.zerosLike(p));
    const v = this.ensureSlot(name, 'v', () => tf.zerosLike(p));
    lambUpdate(this, name, p, grad, m, v, h, t, this.excl);
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...this.hyperConfig(), ...this.excl.config() };
  }
}
tf.serialization.registerClass(LAMB);

/** Options of `LAMB8bit`. */
export interface LAMB8bitOptions extends LAMBOptions, EightBitOptions {}

/**
 * LAMB with both moments in 8-bit block-wise state: the fused kernel returns the raw update
 * `u`, the trust ratio (two norms) is applied on the device afterwards.
 */
export class LAMB8bit extends EightBitOptimizer<LambHyper> {
  /** Name under which tfjs serialization knows this class. */
  static get className(): string {
    return 'LAMB8bit';
  }
  private readonly specs: Record<LambHyper, HyperSpec>;
  private readonly excl: Exclusions;

  constructor(options?: LAMB8bitOptions) {
    const o = checkOptions('LAMB8bit', options, [...LAMB_KEYS, ...EIGHT_BIT_KEYS]);
    super(o);
    this.specs = lambHypers(o);
    this.excl = new Exclusions(o);
  }

  protected hypers(): Record<LambHyper, HyperSpec> {
    return this.specs;
  }

  protected updateVariable(
    name: string,
    p: tf.Variable,
    grad: tf.Tensor,
    h: Record<LambHyper, number>,
    t: number,
  ): void {
    if (!this.quantizes(name, p.size)) {
      const m = this.ensureSlot(name, 'm', () => tf.zerosLike(p));
      const v = this.ensureSlot(name, 'v', () => tf.zerosLike(p));
      lambUpdate(this, name, p, grad, m, v, h, t, this.excl);
      return;
    }
    const b1 = h.beta1;
    const b2 = h.beta2;
    const decay = matchesAny(this.excl.decay, name) ? 0 : h.weightDecay;
    const u = this.fusedUpdate(name, p, grad, {
      algo: ALGO.lamb,
      lr: h.learningRate,
      beta1: b1,
      beta2: b2,
      eps: h.epsilon,
      weightDecay: decay,
      decoupled: 1,
      bc1: 1 - b1 ** t,
      bc2: 1 - b2 ** t,
      momentum: 0,
      dampening: 0,
      nesterov: 0,
    });
    // The trust ratio and the parameter update in one more fused call (norms pass, update pass).
    const adapt = !matchesAny(this.excl.adapt, name);
    const uShaped = tf.reshape(u, p.shape);
    if (
      !this.runFused32(p, uShaped, [], { rule: 'trust', constants: {}, adapt, lr: h.learningRate, eta: 1, trustEps: 0 })
    ) {
      applyTrust(p, uShaped, h.learningRate, adapt);
    }
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...this.hyperConfig(), ...this.excl.config(), ...this.eightBitConfig() };
  }
}
tf.serialization.registerClass(LAMB8bit);
