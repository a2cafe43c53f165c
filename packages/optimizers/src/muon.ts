import * as tf from '@tensorflow/tfjs-core';
import { checkBoolean, checkNumber, checkOneOf, checkOptions } from '@blockwise/tensor';
import { ADAMW_KEYS, adamHypers, adamUpdate, type AdamHyper, type AdamWOptions } from './adamw.js';
import type { KernelChoice } from './kernelDefs.js';
import { checkHyper, matchesAny, nonNegative, toPatterns, unitInterval, type HyperParameter } from './hyper.js';
import { newtonSchulz, NS_COEFFICIENTS } from './newtonSchulz.js';
import { BlockwiseOptimizer, finiteGrad, type HyperSpec } from './optimizerBase.js';

/** Options of `Muon` (torch.optim.Muon names in camelCase and its defaults). */
export interface MuonOptions {
  /** Step size (default 1e-3). */
  learningRate?: HyperParameter;
  /** Decoupled weight decay (default 0.1). */
  weightDecay?: HyperParameter;
  /** Momentum, in [0, 1) (default 0.95). */
  momentum?: HyperParameter;
  /** Nesterov momentum (default true). */
  nesterov?: boolean;
  /** Newton-Schulz iterations (default 5). */
  nsSteps?: number;
  /** Newton-Schulz coefficients (default [3.4445, -4.775, 2.0315]). */
  nsCoefficients?: [number, number, number];
  /** Floor of the Frobenius norm in Newton-Schulz (default 1e-7). */
  epsilon?: number;
  /** Shape-dependent scale: 'original' sqrt(max(1, A/B)) or 'match_rms_adamw' 0.2 sqrt(max(A, B)). */
  adjustLrFn?: 'original' | 'match_rms_adamw';
  /**
   * Which axis is A (fan-out) in the scale: 'tfjs' (default) reads dense kernels as [in, out], so
   * A = shape[1]; 'torch' reads [out, in] like nn.Linear weights, so A = shape[0].
   */
  matrixLayout?: 'tfjs' | 'torch';
  /** Options of the AdamW that updates non-matrix variables and `adamwPatterns` matches. */
  adamw?: AdamWOptions;
  /** Matrix variables that AdamW should update instead (embeddings, heads), as regexes. */
  adamwPatterns?: (string | RegExp)[];
  /**
   * Noise-adaptive layer-wise learning rates (after arXiv 2510.14009): per matrix layer an EMA `H`
   * of the squared nuclear norm (the dual of Muon's spectral norm, estimated as <D, NS(D)>) of the
   * change between consecutive gradients D; each layer's rate is scaled by sqrt(min H / H).
   * `true` uses beta 0.9.
   */
  noiseAdaptive?: boolean | { beta?: number };
  /** Implementation of the fused AdamW step on cpu and wasm: 'auto' (default), 'simd' or 'js'. */
  kernel?: KernelChoice;
}

/** Names of Muon's hyperparameters (the AdamW fallback's under `adamw.`). */
export type MuonHyper = 'learningRate' | 'weightDecay' | 'momentum' | `adamw.${AdamHyper}`;
const MUON_KEYS = [
  'learningRate',
  'weightDecay',
  'momentum',
  'nesterov',
  'nsSteps',
  'nsCoefficients',
  'epsilon',
  'adjustLrFn',
  'matrixLayout',
  'adamw',
  'adamwPatterns',
  'noiseAdaptive',
  'kernel',
] as const;
/** More Newton-Schulz steps than this only repeat the orthogonalization (5 is the default). */
export const MAX_NS_STEPS = 100;

/**
 * Muon (torch.optim.Muon): momentum `b = mu b + (1 - mu) g`, Nesterov `g + mu (b - g)`, Newton-Schulz
 * orthogonalization, `p *= 1 - lr wd`, `p -= lr * scale(shape) * O`. Variables that are not
 * matrices (biases, norms) and names matching `adamwPatterns` use AdamW instead.
 */
export class Muon extends BlockwiseOptimizer<MuonHyper> {
  /** Name under which tfjs serialization knows this class. */
  static get className(): string {
    return 'Muon';
  }
  private readonly specs: Record<'learningRate' | 'weightDecay' | 'momentum', HyperSpec>;
  private readonly adamSpecs: Record<AdamHyper, HyperSpec>;
  private readonly options: Required<
    Omit<
      MuonOptions,
      'learningRate' | 'weightDecay' | 'momentum' | 'adamw' | 'adamwPatterns' | 'noiseAdaptive' | 'kernel'
    >
  >;
  private readonly adamwPatterns: RegExp[];
  private readonly noiseBeta: number | null;
  private layerScales = new Map<string, tf.Tensor>();

  constructor(options?: MuonOptions) {
    const o = checkOptions('Muon', options, MUON_KEYS);
    super(o.kernel);
    this.specs = {
      learningRate: { value: checkHyper('learningRate', o.learningRate ?? 1e-3, nonNegative), check: nonNegative },
      weightDecay: { value: checkHyper('weightDecay', o.weightDecay ?? 0.1, nonNegative), check: nonNegative },
      momentum: { value: checkHyper('momentum', o.momentum ?? 0.95, unitInterval), check: unitInterval },
    };
    // The fallback's options: the same checks, named `adamw.<key>` (its kernel is Muon's).
    const adamw = checkOptions(
      'Muon adamw',
      o.adamw,
      ADAMW_KEYS.filter((k) => k !== 'kernel'),
    );
    this.adamSpecs = adamHypers(adamw, 1e-2);
    const nsSteps = checkNumber('nsSteps', o.nsSteps ?? 5, { min: 1, max: MAX_NS_STEPS, integer: true });
    const coeffs = o.nsCoefficients ?? NS_COEFFICIENTS;
    if (
      !Array.isArray(coeffs) ||
      coeffs.length !== 3 ||
      !coeffs.every((c) => typeof c === 'number' && Number.isFinite(c))
    ) {
      throw new Error(`nsCoefficients must be three finite numbers, got ${JSON.stringify(coeffs)}`);
    }
    const eps = checkNumber('epsilon', o.epsilon ?? 1e-7, { min: 0, exclusiveMin: true });
    const adjust = checkOneOf('adjustLrFn', o.adjustLrFn ?? 'original', ['original', 'match_rms_adamw'] as const);
    const layout = checkOneOf('matrixLayout', o.matrixLayout ?? 'tfjs', ['tfjs', 'torch'] as const);
    const nesterov = checkBoolean('nesterov', o.nesterov ?? true);
    this.options = {
      nesterov,
      nsSteps,
      nsCoefficients: coeffs,
      epsilon: eps,
      adjustLrFn: adjust,
      matrixLayout: layout,
    };
    this.adamwPatterns = toPatterns('adamwPatterns', o.adamwPatterns);
    const na = o.noiseAdaptive ?? false;
    let beta: number | null = null;
    if (na === true) beta = 0.9;
    else if (na !== false) {
      const nao = checkOptions('Muon noiseAdaptive', na as { beta?: number }, ['beta']);
      beta = checkNumber('noiseAdaptive.beta', nao.beta ?? 0.9, { min: 0, max: 1, exclusiveMax: true });
    }
    this.noiseBeta = beta;
  }

  protected hypers(): Record<MuonHyper, HyperSpec> {
    const out = { ...this.specs } as Record<MuonHyper, HyperSpec>;
    for (const [k, v] of Object.entries(this.adamSpecs) as [AdamHyper, HyperSpec][]) out[`adamw.${k}`] = v;
    return out;
  }

  /** True when Muon (not the AdamW fallback) updates this variable. */
  usesMuon(name: string, shape: number[]): boolean {
    return shape.length === 2 && !matchesAny(this.adamwPatterns, name);
  }

  /** Learning-rate multiplier for a [rows, cols] matrix. */
  shapeScale(shape: number[]): number {
    const [r, c] = shape as [number, number];
    const [A, B] = this.options.matrixLayout === 'tfjs' ? [c, r] : [r, c];
    return this.options.adjustLrFn === 'original' ? Math.sqrt(Math.max(1, A / B)) : 0.2 * Math.sqrt(Math.max(A, B));
  }

  protected override beforeUpdates(entries: [string, tf.Tensor | undefined][]): void {
    this.layerScales = new Map();
    const beta = this.noiseBeta;
    if (beta === null) return;
    const noise: [string, tf.Tensor][] = [];
    for (const [name, grad] of entries) {
      if (!grad || !this.usesMuon(name, grad.shape)) continue;
      const g = finiteGrad(grad).g;
      const prev = this.getSlot(name, 'prev_grad');
      const h = this.ensureSlot(name, 'noise', () => tf.scalar(0));
      if (prev) {
        const d = tf.sub(g, prev) as tf.Tensor2D;
        const o = newtonSchulz(d, this.options.nsSteps, this.options.nsCoefficients, this.options.epsilon);
        const nuclear = tf.sum(tf.mul(d, o));
        h.assign(tf.add(tf.mul(h, beta), tf.mul(tf.square(nuclear), 1 - beta)));
        prev.assign(g);
      } else {
        this.ensureSlot(name, 'prev_grad', () => tf.clone(g));
      }
      noise.push([name, h]);
    }
    if (noise.length === 0) return;
    const all = tf.stack(noise.map(([, h]) => h));
    const hMin = tf.min(tf.where(tf.greater(all, 0), all, tf.fill(all.shape, Infinity)));
    for (const [name, h] of noise) {
      const ratio = tf.sqrt(tf.div(hMin, h));
      this.layerScales.set(
        name,
        tf.where(tf.logicalAnd(tf.greater(h, 0), tf.isFinite(ratio)), ratio, tf.onesLike(ratio)),
      );
    }
  }

  protected updateVariable(
    name: string,
    p: tf.Variable,
    grad: tf.Tensor,
    h: Record<MuonHyper, number>,
    t: number,
  ): void {
    if (!this.usesMuon(name, p.shape)) {
      const m = this.ensureSlot(name, 'm', () => tf.zerosLike(p));
      const v = this.ensureSlot(name, 'v', () => tf.zerosLike(p));
      const ah = {} as Record<AdamHyper, number>;
      for (const k of Object.keys(this.adamSpecs) as AdamHyper[]) ah[k] = h[`adamw.${k}`];
      adamUpdate(this, p, grad, m, v, ah, t, true);
      return;
    }
    this.noteKernel('tfjs-ops');
    const lr = h.learningRate;
    const mu = h.momentum;
    const buf = this.ensureSlot(name, 'momentum_buffer', () => tf.zerosLike(p));
    const { g, ok } = finiteGrad(grad);
    const nb = tf.add(tf.mul(buf, mu), tf.mul(g, 1 - mu));
    const update = this.options.nesterov ? tf.add(g, tf.mul(tf.sub(nb, g), mu)) : nb;
    const o = newtonSchulz(
      update as tf.Tensor2D,
      this.options.nsSteps,
      this.options.nsCoefficients,
      this.options.epsilon,
    );
    let step: tf.Tensor | number = lr * this.shapeScale(p.shape);
    const layer = this.layerScales.get(name);
    if (layer) step = tf.mul(layer, step);
    const decayed = h.weightDecay !== 0 ? tf.mul(p, 1 - lr * h.weightDecay) : p;
    buf.assign(nb);
    p.assign(tf.where(ok, tf.sub(decayed, tf.mul(o, step)), p));
  }

  getConfig(): tf.serialization.ConfigDict {
    const hc = this.hyperConfig();
    const adamw: Record<string, number> = {};
    const muon: Record<string, number> = {};
    for (const [k, v] of Object.entries(hc)) {
      if (k.startsWith('adamw.')) adamw[k.slice(6)] = v;
      else muon[k] = v;
    }
    return {
      ...muon,
      ...this.options,
      adamw,
      adamwPatterns: this.adamwPatterns.map((p) => p.source),
      noiseAdaptive: this.noiseBeta === null ? false : { beta: this.noiseBeta },
    } as unknown as tf.serialization.ConfigDict;
  }
}
tf.serialization.registerClass(Muon);
