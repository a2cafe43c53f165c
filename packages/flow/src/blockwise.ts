import * as tf from '@tensorflow/tfjs-core';
import { checkBoolean, checkNumber, checkOptions, describeValue } from '@blockwise/tensor';
import { createFeatureGuidance, type FeatureGuidance, type FeatureGuidanceConfig } from './features.js';
import type { Activation } from './mlp.js';
import { checkMethod, checkState, solveOde, STAGES, type FixedMethod } from './ode.js';
import type { AffinePath } from './path.js';
import { checkTimeGrid, uniformTimeGrid } from './timegrid.js';
import { checkLoopOptions, drawFlowBatch, MAX_DIM, otCoupling, trainLoop } from './training.js';
import { createVelocityMlp, type VelocityModel } from './velocity.js';

/** Configuration of a Blockwise Flow Matching model (K = 1 is a single network). */
export interface BlockwiseFlowConfig {
  /** State dimension. */
  dim: number;
  /** K (uniform segments) or the boundaries [0, b1, ..., 1] (strictly increasing). */
  segments: number | number[];
  /** Hidden widths of every segment's velocity network, or one list per segment. */
  hidden: number[] | number[][];
  /** Sinusoidal time frequencies (default 6). */
  frequencies?: number;
  activation?: Activation;
  seed?: number;
  /** Semantic feature guidance (and residual approximation). */
  features?: FeatureGuidanceConfig;
  /** Fourier features of the state in every velocity network (default 0; see `VelocityMlpConfig`). */
  stateFrequencies?: number;
  /** Length scale of those features (default 1). */
  stateScale?: number;
}

/** Options of `BlockwiseFlow.sample` and `flopsPerSample`. */
export interface BlockwiseSampleOptions {
  /** Total steps, split evenly over the K segments (must be a multiple of K). */
  steps: number;
  /** Fixed-step method (default 'euler'). */
  method?: FixedMethod;
  /** Use the residual approximation for the features (default true when configured). */
  residual?: boolean;
  /** Stop on NaN/Inf velocities (default true; tested on the device, one scalar read back per segment). */
  checkFinite?: boolean;
}

/** Options of `BlockwiseFlow.train`. */
export interface BlockwiseTrainOptions {
  /** Training data [N, dim], row-major. */
  data: Float32Array;
  path: AffinePath;
  steps: number;
  /** Rows per step over all segments (default 256). */
  batchSize?: number;
  /** Adam learning rate (default 1e-3); ignored when `optimizer` is given. */
  learningRate?: number;
  /**
   * Any tf.Optimizer to train with instead of `tf.train.adam(learningRate)`, e.g. AdamW8bit with a
   * schedule from @blockwise/optimizers; the caller keeps ownership (it is not disposed).
   */
  optimizer?: tf.Optimizer;
  seed?: number;
  /** Mini-batch OT pairing of noise and data (default false); with `stratified`, within each segment's rows. */
  ot?: boolean;
  /** Equal rows per segment, t uniform within each (default false: t uniform on [0, 1]). */
  stratified?: boolean;
  /** Steps between logged losses (default 50; the first and last steps are logged too). */
  logEvery?: number;
  onLog?: (step: number, loss: number) => void;
  /** Steps between waits for the device (default 10): see `TrainOptions.syncEvery`. */
  syncEvery?: number;
}

/** Losses of one training batch. */
export interface BlockwiseLosses {
  total: tf.Scalar;
  fm: tf.Scalar;
  align?: tf.Scalar;
  residual?: tf.Scalar;
}

/** Most segments a BlockwiseFlow may have (each is a network of its own). */
const MAX_SEGMENTS = 1024;
const CONFIG_KEYS = [
  'dim',
  'segments',
  'hidden',
  'frequencies',
  'activation',
  'seed',
  'features',
  'stateFrequencies',
  'stateScale',
] as const;
const TRAIN_KEYS = [
  'data',
  'path',
  'steps',
  'batchSize',
  'learningRate',
  'optimizer',
  'seed',
  'ot',
  'stratified',
  'logEvery',
  'onLog',
  'syncEvery',
] as const;
const SAMPLE_KEYS = ['steps', 'method', 'residual', 'checkFinite'] as const;
/** Most total sampling steps (a bound, so that a typo fails at once instead of running for days). */
const MAX_SAMPLE_STEPS = 1e6;

/** Validated segment boundaries [0, ..., 1] from K or a list. */
export function segmentBoundaries(segments: number | number[]): number[] {
  if (typeof segments === 'number') {
    checkNumber('segments (K)', segments, { integer: true, min: 1, max: MAX_SEGMENTS });
    return uniformTimeGrid(segments);
  }
  if (!Array.isArray(segments))
    throw new Error(`segments must be K (an integer) or boundaries [0, ..., 1], got ${describeValue(segments)}`);
  if (segments.length - 1 > MAX_SEGMENTS)
    throw new Error(`segments must list at most ${MAX_SEGMENTS} segments, got ${segments.length - 1}`);
  const b = checkTimeGrid(segments, 'segments');
  if (b[0] !== 0 || b[b.length - 1] !== 1 || b[1]! < b[0]!) {
    throw new Error(`segments must increase from 0 to 1, got [${b.join(', ')}]`);
  }
  return b;
}

/**
 * Blockwise Flow Matching: the time axis [0, 1] is cut into K segments, each served by its own
 * (smaller) velocity network. Training routes each sample's t to its segment's network; sampling
 * integrates each segment with its network.
 */
export class BlockwiseFlow {
  /** Segment boundaries [0, ..., 1]. */
  readonly boundaries: number[];
  /** One velocity network per segment. */
  readonly nets: VelocityModel[];
  /** Feature guidance networks, when configured. */
  readonly guidance?: FeatureGuidance;
  readonly dim: number;

  constructor(config: BlockwiseFlowConfig) {
    if (config === undefined) throw new Error('BlockwiseFlow: a config { dim, segments, hidden } is required');
    checkOptions('BlockwiseFlow', config, CONFIG_KEYS);
    this.dim = checkNumber('BlockwiseFlow: dim', config.dim, { integer: true, min: 1, max: MAX_DIM });
    this.boundaries = segmentBoundaries(config.segments);
    const K = this.boundaries.length - 1;
    if (!Array.isArray(config.hidden))
      throw new Error(
        `BlockwiseFlow: hidden must be an array of widths (or one per segment), got ${describeValue(config.hidden)}`,
      );
    const perSeg = Array.isArray(config.hidden[0]) ? (config.hidden as number[][]) : null;
    if (perSeg && perSeg.length !== K)
      throw new Error(`hidden must list one width list per segment (${K}), got ${perSeg.length}`);
    const seed = config.seed ?? 0;
    const frequencies = config.frequencies ?? 6;
    this.guidance = config.features
      ? createFeatureGuidance(config.features, config.dim, frequencies, config.activation, seed + 1000)
      : undefined;
    this.nets = [];
    for (let k = 0; k < K; k++) {
      this.nets.push(
        createVelocityMlp({
          dim: config.dim,
          hidden: perSeg ? (perSeg[k] as number[]) : (config.hidden as number[]),
          condDim: config.features?.featureDim ?? 0,
          frequencies,
          stateFrequencies: config.stateFrequencies,
          stateScale: config.stateScale,
          activation: config.activation,
          seed: seed + 17 * k,
        }),
      );
    }
  }

  /** Number of segments K. */
  get K(): number {
    return this.nets.length;
  }

  /** All trainable variables (velocity networks and feature networks). */
  get trainableVariables(): tf.Variable[] {
    return [...this.nets.flatMap((n) => n.trainableVariables), ...(this.guidance?.variables ?? [])];
  }

  /** The segment of time t: k with b_k <= t < b_{k+1} (t = 1 belongs to the last). */
  segmentOf(t: number): number {
    if (!Number.isFinite(t) || t < 0 || t > 1) throw new Error(`t must be a number in [0, 1], got ${t}`);
    for (let k = 1; k < this.boundaries.length - 1; k++) if (t < this.boundaries[k]!) return k - 1;
    return this.K - 1;
  }

  /**
   * Losses of one batch (x0 noise, x1 data [n, dim], t per row): flow matching with each row sent to
   * its segment's network, plus alignment and residual losses when feature guidance is configured.
   */
  losses(path: AffinePath, x0In: tf.Tensor2D, x1In: tf.Tensor2D, tIn: Float32Array): BlockwiseLosses {
    for (const [name, x] of [
      ['x0', x0In],
      ['x1', x1In],
    ] as const) {
      checkState('BlockwiseFlow.losses', name, x);
      if (x.rank !== 2 || x.shape[1] !== this.dim)
        throw new Error(`BlockwiseFlow.losses: ${name} must be [n, ${this.dim}], got [${x.shape.join(', ')}]`);
    }
    const n = x0In.shape[0];
    if (x1In.shape[0] !== n)
      throw new Error(`BlockwiseFlow.losses: x0 and x1 must have the same rows, got ${n} and ${x1In.shape[0]}`);
    if (!(tIn instanceof Float32Array))
      throw new Error(`BlockwiseFlow.losses: t must be a Float32Array, got ${describeValue(tIn)}`);
    if (tIn.length !== n)
      throw new Error(`BlockwiseFlow.losses: t must hold one time per row (${n}), got ${tIn.length}`);
    // Rows are ordered by segment (a gather of the constant inputs only), so each network reads a
    // contiguous slice: the gradient of a slice is a pad, which every backend has (a gather's
    // gradient needs UnsortedSegmentSum, missing on wasm).
    const seg = Array.from(tIn, (ti) => this.segmentOf(ti));
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => seg[a]! - seg[b]! || a - b);
    const sorted = order.every((v, i) => v === i);
    const t = sorted ? tIn : Float32Array.from(order, (i) => tIn[i]!);
    const counts = this.nets.map(() => 0);
    for (const k of seg) counts[k] = counts[k]! + 1;
    const idx = sorted ? null : tf.tensor1d(order, 'int32');
    const x0 = idx ? (tf.gather(x0In, idx) as tf.Tensor2D) : x0In;
    const x1 = idx ? (tf.gather(x1In, idx) as tf.Tensor2D) : x1In;
    const g = this.guidance;
    // Residual targets are constants (no gradient into F): computed before the recorded part.
    let resTarget: { hA: tf.Tensor2D; tA: tf.Tensor1D; delta: tf.Tensor2D } | undefined;
    if (g?.residualNet) {
      const tA = Float32Array.from(t, (ti) => this.boundaries[this.segmentOf(ti)]!);
      resTarget = tf.tidy(() => {
        const xa = path.sample(x0, x1, tA).xt as tf.Tensor2D;
        const xt = path.sample(x0, x1, t).xt as tf.Tensor2D;
        const hA = g.features(xa, tf.tensor1d(tA));
        return { hA, tA: tf.tensor1d(tA), delta: tf.sub(g.features(xt, tf.tensor1d(t)), hA) as tf.Tensor2D };
      });
    }
    try {
      return tf.tidy(() => {
        const { xt, dxt } = path.sample(x0, x1, t);
        const tt = tf.tensor1d(t);
        const h = g ? g.features(xt as tf.Tensor2D, tt) : undefined;
        const errs: tf.Scalar[] = [];
        let start = 0;
        this.nets.forEach((net, k) => {
          const m = counts[k]!;
          if (m === 0) return;
          const rows = (a: tf.Tensor): tf.Tensor => tf.slice(a, [start, 0], [m, a.shape[1]!]);
          const v = net.predict(
            rows(xt) as tf.Tensor2D,
            tf.slice(tt, [start], [m]),
            h ? (rows(h) as tf.Tensor2D) : undefined,
          );
          errs.push(tf.sum(tf.square(tf.sub(v, rows(dxt)))) as tf.Scalar);
          start += m;
        });
        const fm = tf.div(tf.addN(errs), n * this.dim) as tf.Scalar;
        let total: tf.Scalar = fm;
        const out: BlockwiseLosses = { total, fm };
        if (g && h) {
          out.align = g.alignLoss(h, x1);
          total = tf.add(total, out.align) as tf.Scalar;
        }
        if (g?.residualNet && resTarget) {
          const pred = g.approximate(xt as tf.Tensor2D, tt, resTarget.hA, resTarget.tA);
          out.residual = tf.mean(tf.square(tf.sub(tf.sub(pred, resTarget.hA), resTarget.delta))) as tf.Scalar;
          total = tf.add(total, out.residual) as tf.Scalar;
        }
        out.total = total;
        return out as unknown as tf.TensorContainer;
      }) as unknown as BlockwiseLosses;
    } finally {
      if (resTarget) tf.dispose([resTarget.hA, resTarget.tA, resTarget.delta]);
      if (idx) tf.dispose([idx, x0, x1]);
    }
  }

  /**
   * Trains all networks jointly with Adam on batches from `data` [N, dim]; returns logged total
   * losses. With `stratified`, row i's t is uniform within segment i mod K, so every network gets
   * batchSize / K rows per step (otherwise t is uniform on [0, 1] and the split is random). The
   * loss is read back (awaited) only on logged steps and every `syncEvery` steps.
   */
  async train(options: BlockwiseTrainOptions): Promise<number[]> {
    if (options === undefined)
      throw new Error('BlockwiseFlow.train: options are required ({ data, path, steps, ... })');
    const opts = checkOptions('BlockwiseFlow.train', options, TRAIN_KEYS);
    const o = checkLoopOptions('BlockwiseFlow.train', opts, this.dim);
    const { data, path } = opts;
    const stratified =
      (opts.stratified === undefined ? false : checkBoolean('BlockwiseFlow.train: stratified', opts.stratified)) &&
      this.K > 1;
    const ot = opts.ot ?? false;
    const n = o.batchSize;
    return trainLoop('BlockwiseFlow.train', o, this.trainableVariables, (_s, rng) => {
      const b = drawFlowBatch(data, this.dim, n, rng, ot && !stratified);
      if (stratified && ot) this.coupleBySegment(b.x0, b.x1, n);
      if (stratified) {
        for (let i = 0; i < n; i++) {
          const k = i % this.K;
          const lo = this.boundaries[k]!;
          const hi = this.boundaries[k + 1]!;
          // t is stored as float32: keep the rounded value inside [lo, hi) so it stays in segment k.
          let v = lo + b.t[i]! * (hi - lo);
          if (Math.fround(v) < lo) v = lo + 1e-6;
          if (Math.fround(v) >= hi && k + 1 < this.K) v = hi - 1e-6;
          b.t[i] = v;
        }
      }
      const x0 = tf.tensor2d(b.x0, [n, this.dim]);
      const x1 = tf.tensor2d(b.x1, [n, this.dim]);
      return { loss: () => this.losses(path, x0, x1, b.t).total, inputs: [x0, x1] };
    });
  }

  /** Mini-batch OT within each stratified group (rows i with i mod K = k), in place on x0. */
  private coupleBySegment(x0: Float32Array, x1: Float32Array, batchSize: number): void {
    const d = this.dim;
    for (let k = 0; k < this.K; k++) {
      const rows: number[] = [];
      for (let i = k; i < batchSize; i += this.K) rows.push(i);
      const a = new Float32Array(rows.length * d);
      const b = new Float32Array(rows.length * d);
      rows.forEach((r, j) => {
        a.set(x0.subarray(r * d, (r + 1) * d), j * d);
        b.set(x1.subarray(r * d, (r + 1) * d), j * d);
      });
      const paired = otCoupling(a, b, d);
      rows.forEach((r, j) => x0.set(paired.subarray(j * d, (j + 1) * d), r * d));
    }
  }

  private checkSample(
    what: string,
    options: BlockwiseSampleOptions,
  ): { perSeg: number; method: FixedMethod; residual: boolean; checkFinite: boolean } {
    if (options === undefined) throw new Error(`${what}: options { steps } are required`);
    const opts = checkOptions(what, options, SAMPLE_KEYS);
    const method = checkMethod(what, opts.method ?? 'euler', Object.keys(STAGES) as FixedMethod[]);
    checkNumber(`${what}: steps`, opts.steps, { integer: true, min: 1, max: MAX_SAMPLE_STEPS });
    if (opts.steps % this.K !== 0)
      throw new Error(`${what}: steps must be a positive multiple of K = ${this.K}, got ${opts.steps}`);
    const residual = opts.residual === undefined ? true : checkBoolean(`${what}: residual`, opts.residual);
    const checkFinite = opts.checkFinite === undefined ? true : checkBoolean(`${what}: checkFinite`, opts.checkFinite);
    return { perSeg: opts.steps / this.K, method, residual: residual && !!this.guidance?.residualNet, checkFinite };
  }

  /**
   * FLOPs per sample, counted analytically: every evaluation costs its segment's network; with
   * guidance, the first evaluation of each segment also runs the feature network F and the others
   * run F (no residual) or the residual network R.
   */
  flopsPerSample(opts: BlockwiseSampleOptions): number {
    const { perSeg, method, residual } = this.checkSample('BlockwiseFlow.flopsPerSample', opts);
    const evals = perSeg * STAGES[method];
    const g = this.guidance;
    let total = 0;
    for (const net of this.nets) {
      total += evals * net.flopsPerCall;
      if (g)
        total +=
          g.featureNet.flops +
          (evals - 1) * (residual ? (g.residualNet as { flops: number }).flops : g.featureNet.flops);
    }
    return total;
  }

  /**
   * Samples from noise x0 [n, dim]: each segment integrated with its own network. Reads back one
   * scalar per segment (the NaN/Inf flag; none with `checkFinite: false`). x0 is not disposed.
   */
  async sample(
    x0: tf.Tensor2D,
    opts: BlockwiseSampleOptions,
  ): Promise<{ x: tf.Tensor2D; nfe: number; flopsPerSample: number }> {
    const { perSeg, method, residual, checkFinite } = this.checkSample('BlockwiseFlow.sample', opts);
    checkState('BlockwiseFlow.sample', 'x0', x0);
    if (x0.rank !== 2 || x0.shape[1] !== this.dim)
      throw new Error(`BlockwiseFlow.sample: x0 must be [n, ${this.dim}], got [${x0.shape.join(', ')}]`);
    let x = x0;
    let nfe = 0;
    let flops = 0;
    try {
      for (let k = 0; k < this.K; k++) {
        const r = await this.sampleSegment(k, x, perSeg, method, residual, checkFinite);
        if (x !== x0) x.dispose();
        x = r.x;
        nfe += r.nfe;
        flops += r.flops;
      }
    } catch (e) {
      if (x !== x0) x.dispose();
      throw e;
    }
    return { x: x === x0 ? (x0.clone() as tf.Tensor2D) : x, nfe, flopsPerSample: flops };
  }

  /** Integrates segment k from x with its network (and the feature networks); x is not disposed. */
  private async sampleSegment(
    k: number,
    x: tf.Tensor2D,
    perSeg: number,
    method: FixedMethod,
    residual: boolean,
    checkFinite: boolean,
  ): Promise<{ x: tf.Tensor2D; nfe: number; flops: number }> {
    const g = this.guidance;
    const net = this.nets[k] as VelocityModel;
    const a = this.boundaries[k]!;
    let flops = 0;
    let hA: tf.Tensor2D | null = null;
    const velocity = (y: tf.Tensor, t: number): tf.Tensor =>
      tf.tidy(() => {
        const yy = y as tf.Tensor2D;
        let h: tf.Tensor2D | undefined;
        if (g) {
          if (hA === null) {
            // The segment's first evaluation (at its start): the full feature network.
            hA = tf.keep(g.features(yy, t));
            h = hA;
            flops += g.featureNet.flops;
          } else if (residual) {
            h = g.approximate(yy, t, hA, a);
            flops += (g.residualNet as { flops: number }).flops;
          } else {
            h = g.features(yy, t);
            flops += g.featureNet.flops;
          }
        }
        flops += net.flopsPerCall;
        return net.predict(yy, t, h);
      });
    try {
      const r = await solveOde(velocity, x, {
        method,
        timeGrid: uniformTimeGrid(perSeg, a, this.boundaries[k + 1]!),
        checkFinite,
      });
      return { x: r.x as tf.Tensor2D, nfe: r.nfe, flops };
    } finally {
      if (hA) (hA as tf.Tensor).dispose();
    }
  }

  dispose(): void {
    for (const n of this.nets) n.dispose();
    this.guidance?.dispose();
  }
}
