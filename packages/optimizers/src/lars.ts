import * as tf from '@tensorflow/tfjs-core';
import { checkHyper, matchesAny, nonNegative, toPatterns, unitInterval, type HyperParameter } from './hyper.js';
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
  /** Variables whose name matches get no trust ratio (default: `excludeFromWeightDecay`). */
  excludeFromLayerAdaptation?: (string | RegExp)[];
}

/**
 * LARS (You et al.; the classic-momentum form used for 1904.00962's baselines and the TF model
 * garden): `g += wd p`; trust `eeta ||p|| / (||g|| + eps)` (1 when a norm is 0 or the name is
 * excluded); `v = mu v + lr * trust * g`; `p -= v` (Nesterov: `mu v + lr * trust * g`).
 */
export class LARS extends BlockwiseOptimizer {
  /** Name under which tfjs serialization knows this class. */
  static get className(): string {
    return 'LARS';
  }
  private readonly specs: Record<string, HyperSpec>;
  /** Nesterov momentum. */
  readonly nesterov: boolean;
  private readonly decayExcl: RegExp[];
  private readonly adaptExcl: RegExp[];

  constructor(o: LARSOptions = {}) {
    super();
    this.specs = {
      learningRate: { value: checkHyper('learningRate', o.learningRate ?? 0.01, nonNegative), check: nonNegative },
      momentum: { value: checkHyper('momentum', o.momentum ?? 0.9, unitInterval), check: unitInterval },
      weightDecay: { value: checkHyper('weightDecay', o.weightDecay ?? 0, nonNegative), check: nonNegative },
      eeta: { value: checkHyper('eeta', o.eeta ?? 0.001, nonNegative), check: nonNegative },
      epsilon: { value: checkHyper('epsilon', o.epsilon ?? 0, nonNegative), check: nonNegative },
    };
    this.nesterov = o.nesterov ?? false;
    this.decayExcl = toPatterns('excludeFromWeightDecay', o.excludeFromWeightDecay);
    this.adaptExcl = o.excludeFromLayerAdaptation === undefined ? this.decayExcl : toPatterns('excludeFromLayerAdaptation', o.excludeFromLayerAdaptation);
  }

  protected hypers(): Record<string, HyperSpec> {
    return this.specs;
  }

  protected updateVariable(name: string, p: tf.Variable, grad: tf.Tensor, h: Record<string, number>): void {
    const v = this.ensureSlot(name, 'momentum', () => tf.zerosLike(p));
    const { g: g0, ok } = finiteGrad(grad);
    const wd = matchesAny(this.decayExcl, name) ? 0 : h.weightDecay!;
    const g = wd > 0 ? tf.add(g0, tf.mul(p, wd)) : g0;
    const scaled = matchesAny(this.adaptExcl, name)
      ? tf.mul(g, h.learningRate!)
      : tf.mul(g, tf.mul(trustRatio(p, g, h.eeta!, h.epsilon!), h.learningRate!));
    const mu = h.momentum!;
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
