import * as tf from '@tensorflow/tfjs-core';
import { checkBoolean, checkOptions } from '@blockwise/tensor';
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
import { BlockwiseOptimizer, finiteGrad, type HyperSpec } from './optimizerBase.js';
import { trustRatio } from './trustRatio.js';

/** Options of `LARS` (the TF model-garden LARS names in camelCase and its defaults). */
export interface LARSOptions {
  /** Base step size (default 0.01). */
  learningRate?: HyperParameter;
  /** Momentum, in [0, 1) (default 0.9). */
  momentum?: HyperParameter;
  /** L2 weight decay added to the gradient before the trust ratio (default 0). */
  weightDecay?: HyperParameter;
  /** Trust coefficient eta (default 0.001). */
  eeta?: HyperParameter;
  /** Added to the gradient norm in the trust ratio (default 0). */
  epsilon?: HyperParameter;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
  /** Variables whose name matches (regex search) get no weight decay. */
  excludeFromWeightDecay?: (string | RegExp)[];
  /**
   * Variables whose name matches get no trust ratio. Unset or empty (`[]`): the
   * `excludeFromWeightDecay` list, as tensorflow-addons and the TF model garden read an empty list.
   */
  excludeFromLayerAdaptation?: (string | RegExp)[];
  /** Implementation of the fused step on cpu and wasm: 'auto' (default), 'simd' or 'js'. */
  kernel?: KernelChoice;
}

/** Names of LARS's hyperparameters. */
export type LarsHyper = 'learningRate' | 'momentum' | 'weightDecay' | 'eeta' | 'epsilon';
const LARS_KEYS = [
  'learningRate',
  'momentum',
  'weightDecay',
  'eeta',
  'epsilon',
  'nesterov',
  'excludeFromWeightDecay',
  'excludeFromLayerAdaptation',
  'kernel',
] as const;

/**
 * LARS (You et al.; the classic-momentum form used for 1904.00962's baselines and the TF model
 * garden): `g += wd p`; trust `eeta ||p|| / (||g|| + eps)` (1 when a norm is 0 or the name is
 * excluded); `v = mu v + lr * trust * g`; `p -= v` (Nesterov: `mu v + lr * trust * g`).
 */
export class LARS extends BlockwiseOptimizer<LarsHyper> {
  /** Name under which tfjs serialization knows this class. */
  static get className(): string {
    return 'LARS';
  }
  private readonly specs: Record<LarsHyper, HyperSpec>;
  /** Nesterov momentum. */
  readonly nesterov: boolean;
  private readonly decayExcl: RegExp[];
  private readonly adaptExcl: RegExp[];

  constructor(options?: LARSOptions) {
    const o = checkOptions('LARS', options, LARS_KEYS);
    super(o.kernel);
    this.specs = {
      learningRate: { value: checkHyper('learningRate', o.learningRate ?? 0.01, nonNegative), check: nonNegative },
      momentum: { value: checkHyper('momentum', o.momentum ?? 0.9, unitInterval), check: unitInterval },
      weightDecay: { value: checkHyper('weightDecay', o.weightDecay ?? 0, nonNegative), check: nonNegative },
      eeta: { value: checkHyper('eeta', o.eeta ?? 0.001, nonNegative), check: nonNegative },
      epsilon: { value: checkHyper('epsilon', o.epsilon ?? 0, nonNegative), check: nonNegative },
    };
    this.nesterov = checkBoolean('nesterov', o.nesterov ?? false);
    this.decayExcl = toPatterns('excludeFromWeightDecay', o.excludeFromWeightDecay);
    this.adaptExcl = adaptationPatterns(o.excludeFromLayerAdaptation, this.decayExcl);
  }

  protected hypers(): Record<LarsHyper, HyperSpec> {
    return this.specs;
  }

  protected updateVariable(name: string, p: tf.Variable, grad: tf.Tensor, h: Record<LarsHyper, number>): void {
    const v = this.ensureSlot(name, 'momentum', () => tf.zerosLike(p));
    const wd = matchesAny(this.decayExcl, name) ? 0 : h.weightDecay;
    const adapt = !matchesAny(this.adaptExcl, name);
    const mu = h.momentum;
    const call = {
      rule: 'lars' as const,
      constants: { mu, wd, nesterov: this.nesterov ? 1 : 0 },
      adapt,
      lr: h.learningRate,
      eta: h.eeta,
      trustEps: h.epsilon,
    };
    if (this.runFused32(p, grad, [v], call)) return;
    const { g: g0, ok } = finiteGrad(grad);
    const g = wd > 0 ? tf.add(g0, tf.mul(p, wd)) : g0;
    const scaled = adapt
      ? tf.mul(g, tf.mul(trustRatio(p, g, h.eeta, h.epsilon), h.learningRate))
      : tf.mul(g, h.learningRate);
    const nv = tf.add(tf.mul(v, mu), scaled);
    const upd = this.nesterov ? tf.add(tf.mul(nv, mu), scaled) : nv;
    v.assign(tf.where(ok, nv, v));
    p.assign(tf.where(ok, tf.sub(p, upd), p));
  }

  getConfig(): tf.serialization.ConfigDict {
    return {
      ...this.hyperConfig(),
      nesterov: this.nesterov,
      excludeFromWeightDecay: this.decayExcl.map((p) => p.source),
      excludeFromLayerAdaptation: this.adaptExcl.map((p) => p.source),
    };
  }
}
tf.serialization.registerClass(LARS);
