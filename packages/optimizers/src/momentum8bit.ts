import * as tf from '@tensorflow/tfjs-core';
import { checkBoolean, checkOptions } from '@blockwise/tensor';
import { EIGHT_BIT_KEYS, EightBitOptimizer, type EightBitOptions } from './eightBit.js';
import { ALGO } from './fused8bit.js';
import { checkHyper, closedUnit, nonNegative, unitInterval, type HyperParameter } from './hyper.js';
import { finiteGrad, type HyperSpec } from './optimizerBase.js';

/** Options of `Momentum8bit` (torch.optim.SGD names in camelCase). */
export interface Momentum8bitOptions extends EightBitOptions {
  /** Step size (default 0.01). */
  learningRate?: HyperParameter;
  /** Momentum factor, in [0, 1) (default 0.9). */
  momentum?: HyperParameter;
  /** Dampening of the gradient in the buffer, in [0, 1] (default 0). */
  dampening?: HyperParameter;
  /** L2 weight decay added to the gradient (default 0). */
  weightDecay?: HyperParameter;
  /** Nesterov momentum (default false; needs zero dampening, as in PyTorch). */
  nesterov?: boolean;
}

/**
 * SGD with momentum, PyTorch semantics (`g += wd p`; the buffer starts as the first gradient,
 * then `b = mu b + (1 - dampening) g`; Nesterov steps along `g + mu b`), with the buffer in 8-bit
 * block-wise state. `optimBits: 32` gives exactly torch.optim.SGD with momentum.
 */
/** Names of SGD momentum's hyperparameters. */
export type MomentumHyper = 'learningRate' | 'momentum' | 'dampening' | 'weightDecay';
const MOMENTUM_KEYS = [
  'learningRate',
  'momentum',
  'dampening',
  'weightDecay',
  'nesterov',
  'kernel',
  ...EIGHT_BIT_KEYS,
] as const;

export class Momentum8bit extends EightBitOptimizer<MomentumHyper> {
  /** Name under which tfjs serialization knows this class. */
  static get className(): string {
    return 'Momentum8bit';
  }
  private readonly specs: Record<MomentumHyper, HyperSpec>;
  /** Nesterov momentum. */
  readonly nesterov: boolean;

  constructor(opts?: Momentum8bitOptions) {
    const options = checkOptions('Momentum8bit', opts, MOMENTUM_KEYS);
    super(options);
    this.specs = {
      learningRate: {
        value: checkHyper('learningRate', options.learningRate ?? 0.01, nonNegative),
        check: nonNegative,
      },
      momentum: { value: checkHyper('momentum', options.momentum ?? 0.9, unitInterval), check: unitInterval },
      dampening: { value: checkHyper('dampening', options.dampening ?? 0, closedUnit), check: closedUnit },
      weightDecay: { value: checkHyper('weightDecay', options.weightDecay ?? 0, nonNegative), check: nonNegative },
    };
    this.nesterov = checkBoolean('nesterov', options.nesterov ?? false);
    if (this.nesterov && options.dampening !== undefined && options.dampening !== 0) {
      throw new Error(`nesterov requires dampening 0, got ${String(options.dampening)}`);
    }
  }

  protected hypers(): Record<MomentumHyper, HyperSpec> {
    return this.specs;
  }

  protected updateVariable(
    name: string,
    variable: tf.Variable,
    grad: tf.Tensor,
    h: Record<MomentumHyper, number>,
  ): void {
    const { learningRate: lr, momentum: mu, dampening: damp, weightDecay: wd } = h;
    if (!this.quantizes(name, variable.size)) {
      const fresh = this.getSlot(name, 'momentum') === undefined;
      const buf = this.ensureSlot(name, 'momentum', () => tf.zerosLike(variable));
      const constants = { mu, c: 1 - damp, wd, lr, nesterov: this.nesterov ? 1 : 0, fresh: fresh ? 1 : 0 };
      if (this.runFused32(variable, grad, [buf], { rule: 'momentum', constants })) return;
      const { g: g0, ok } = finiteGrad(grad);
      const g = wd !== 0 ? tf.add(g0, tf.mul(variable, wd)) : g0;
      const nb = fresh ? g : tf.add(tf.mul(buf, mu), tf.mul(g, 1 - damp));
      const upd = this.nesterov ? tf.add(g, tf.mul(nb, mu)) : nb;
      const np = tf.sub(variable, tf.mul(upd, lr));
      buf.assign(tf.where(ok, nb, buf));
      variable.assign(tf.where(ok, np, variable));
      return;
    }
    const next = this.fusedUpdate(name, variable, grad, {
      algo: ALGO.momentum,
      lr,
      beta1: 0,
      beta2: 0,
      eps: 0,
      weightDecay: wd,
      decoupled: 0,
      bc1: 1,
      bc2: 1,
      momentum: mu,
      dampening: damp,
      nesterov: this.nesterov ? 1 : 0,
    });
    variable.assign(tf.reshape(next, variable.shape));
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...this.hyperConfig(), nesterov: this.nesterov, ...this.eightBitConfig() };
  }
}
tf.serialization.registerClass(Momentum8bit);
