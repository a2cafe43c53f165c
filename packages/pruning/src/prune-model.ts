import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { layerHessian, reconstructionError, type LayerStats } from './calibration.js';
import { checkBoolean, checkNumber } from '@blockwise/tensor';
import {
  checkBatchSize,
  checkCalibrationInput,
  checkFiniteCalibration,
  collectForTargets,
  layerInputs,
} from './collect.js';
import {
  applyMask,
  checkNM,
  describe,
  maskDensity,
  resolveDensity,
  type Mask,
  type NMPattern,
  type WeightMatrix,
} from './matrix.js';
import { checkMasks } from './masks-io.js';
import type { LayerReport, PruneReport, PruningMasks } from './report.js';
import { readKernel, resolveTargets, writeKernel, type LayerSelector, type TargetLayer } from './targets.js';

/** Calibration data: model inputs, optionally with targets for measuring the loss change. */
export type Calibration = tf.Tensor | { x: tf.Tensor; y?: tf.Tensor };

/** Options shared by the model-level pruning functions. */
export interface PruneModelOptions {
  /**
   * Fraction of kernel weights KEPT, in [0, 1] (0.1 keeps 10%): one number for every layer, or one
   * per layer name. With `nm` it may be omitted (implied 1 - n/m).
   */
  density?: number | Record<string, number>;
  /** Fraction PRUNED (1 - density), alternative to a single `density`. */
  sparsity?: number;
  /** Layers to prune: names, a name or a RegExp on names; default every Dense and Conv2D layer. */
  layers?: LayerSelector;
  /** N:M pattern: in every group of m consecutive inputs of an output unit, exactly n pruned. */
  nm?: NMPattern;
  /** Calibration inputs `[n, ...inputShape]` (and targets): needed by Wanda, SparseGPT and iCBS; optional for magnitude (then used for the report). */
  calibration?: Calibration;
  /** Loss for the measured loss change, `(yTrue, yPred) => per-sample or scalar loss`; needs `calibration.y`. */
  loss?: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;
  /** Recollect each layer's statistics after pruning the layers before it (default true). */
  sequential?: boolean;
  /**
   * After pruning a layer, shift its bias so that its mean output on the calibration set is kept
   * (b += mean(R) W - mean(X) W', with R the unpruned model's inputs of the layer when known, else X).
   * Default false. Needs calibration and a layer with a bias.
   */
  biasCorrection?: boolean;
  /** Calibration batch size (default 256). */
  batchSize?: number;
  /** Bound on the bytes of one collection's Gram matrices (default 256 MiB). */
  maxGramBytes?: number;
}

/** What a method computes for one layer. @internal */
export interface LayerJob {
  target: TargetLayer;
  w: WeightMatrix;
  density: number;
  nm?: NMPattern;
  stats: LayerStats | null;
  /** Model-level extras (e.g. iCBS gradient). */
  index: number;
}

/** @internal */
export interface LayerOutcome {
  mask: Mask;
  /** New weights (pruned entries zero); default: the old ones masked. */
  weights?: Float32Array;
  details?: Record<string, number>;
}

/** @internal */
export interface MethodSpec {
  method: PruneReport['method'];
  fn: string;
  /** What the method needs from calibration. */
  needs: 'none' | 'norms' | 'gram';
  /** Also collect X^T R against the unpruned model's layer inputs R (sequential mode only). */
  reference?: boolean;
  /** Runs before the per-layer loop with all targets resolved (e.g. global magnitude). */
  prepare?: (targets: TargetLayer[], densities: number[]) => void | Promise<void>;
  layer: (job: LayerJob) => LayerOutcome | Promise<LayerOutcome>;
}

/** Option names every model-level pruning function takes. @internal */
export const MODEL_KEYS = [
  'density',
  'sparsity',
  'layers',
  'nm',
  'calibration',
  'loss',
  'sequential',
  'biasCorrection',
  'batchSize',
  'maxGramBytes',
] as const;

/**
 * The shared driver of pruneMagnitude / pruneWanda / pruneSparseGPT / pruneICBS. Host reads per
 * layer: the kernel once, each calibration batch's layer inputs once (all asynchronous); the
 * methods themselves run on the host on those copies, so no read happens per search step.
 * @internal
 */
export async function pruneModelWith(
  model: LayersModel,
  opts: PruneModelOptions,
  spec: MethodSpec,
): Promise<PruneReport> {
  const t0 = performance.now();
  if (opts === null || typeof opts !== 'object')
    throw new Error(`${spec.fn}: options must be an object, got ${describe(opts)}`);
  const targets = resolveTargets(model, opts.layers);
  const batchSize = checkBatchSize(spec.fn, opts.batchSize ?? 256);
  const maxGramBytes = checkNumber(`${spec.fn}: maxGramBytes`, opts.maxGramBytes ?? 256 * 2 ** 20, {
    min: 0,
    exclusiveMin: true,
    allowInfinity: true,
  });
  const sequential = opts.sequential === undefined ? true : checkBoolean(`${spec.fn}: sequential`, opts.sequential);
  if (opts.biasCorrection !== undefined) checkBoolean(`${spec.fn}: biasCorrection`, opts.biasCorrection);
  if (opts.loss !== undefined && typeof opts.loss !== 'function')
    throw new TypeError(`${spec.fn}: loss must be a function (yTrue, yPred) => tf.Tensor, got ${describe(opts.loss)}`);
  if (opts.nm) for (const t of targets) checkNM(opts.nm, t.inDim, `${spec.fn} (layer '${t.name}')`);
  const densities = resolveDensities(targets, opts, spec.fn);
  const cal = opts.calibration;
  const x = cal === undefined ? undefined : cal instanceof tf.Tensor ? cal : cal.x;
  const y = cal === undefined || cal instanceof tf.Tensor ? undefined : cal.y;
  if (spec.needs !== 'none' && x === undefined) {
    throw new Error(`${spec.fn}: calibration is required (a float32 tf.Tensor of model inputs, [n, ...inputShape])`);
  }
  if (cal !== undefined && !(cal instanceof tf.Tensor) && (cal === null || typeof cal !== 'object')) {
    throw new TypeError(`${spec.fn}: calibration must be a tf.Tensor or { x, y }, got ${describe(cal)}`);
  }
  if (x !== undefined) checkCalibrationInput(model, x, spec.fn);
  if (y !== undefined && (!(y instanceof tf.Tensor) || y.shape[0] !== x!.shape[0])) {
    throw new Error(
      `${spec.fn}: calibration.y must be a tf.Tensor with ${x!.shape[0]} rows like calibration.x, got ${y instanceof tf.Tensor ? `[${y.shape.join(', ')}]` : describe(y)}`,
    );
  }
  if (x !== undefined) await checkFiniteCalibration(x, spec.fn);
  const before = x !== undefined ? predictAll(model, x, batchSize) : null;
  let lossBefore: number | null = null;
  try {
    // Checked before anything changes: a model that already overflows on these inputs would make every estimate meaningless.
    if (before !== null && !(await readScalar(tf.tidy(() => tf.all(tf.isFinite(before)))))) {
      throw new RangeError(
        `${spec.fn}: the model's outputs on the calibration inputs are not all finite (inputs too large for float32?); nothing was pruned`,
      );
    }
    if (before !== null && y !== undefined && opts.loss) {
      lossBefore = await meanLoss(opts.loss, y, before);
      if (!Number.isFinite(lossBefore))
        throw new RangeError(
          `${spec.fn}: loss on the calibration set is ${lossBefore} before pruning; nothing was pruned`,
        );
    }
  } catch (e) {
    before?.dispose();
    throw e;
  }
  let reference: Map<string, Float32Array> | undefined;
  if ((spec.reference || opts.biasCorrection) && sequential && x !== undefined) {
    const bytes = 4 * x.shape[0]! * targets.reduce((s, t) => s + (t.rowsPerSample ?? 1) * t.inDim, 0);
    if (bytes > maxGramBytes) {
      throw new Error(
        `${spec.fn}: keeping the unpruned layer inputs for reconstruct: 'dense' needs ${bytes} bytes, over maxGramBytes ${maxGramBytes}; raise maxGramBytes, use fewer calibration rows, or reconstruct: 'current'`,
      );
    }
    reference = await layerInputs(model, targets, x, batchSize);
  }
  await spec.prepare?.(targets, densities);

  // The Gram matrix is needed by 'gram' methods; otherwise collected only for the report when it fits.
  const gramFits = (ts: TargetLayer[]): boolean => ts.reduce((s, t) => s + 8 * t.inDim * t.inDim, 0) <= maxGramBytes;
  const collect = (ts: TargetLayer[]): Promise<Map<string, LayerStats>> =>
    collectForTargets(
      model,
      ts,
      x!,
      {
        batchSize,
        maxGramBytes,
        gram: spec.needs === 'gram' || gramFits(ts),
        reference: spec.reference ? reference : undefined,
      },
      spec.fn,
      true,
    );
  let allStats: Map<string, LayerStats> | null = null;
  if (x !== undefined && !sequential) allStats = await collect(targets);

  const masks: PruningMasks = {};
  const layers: LayerReport[] = [];
  const details: Record<string, Record<string, number>> = {};
  let kept = 0;
  let total = 0;
  for (let index = 0; index < targets.length; index++) {
    const target = targets[index]!;
    const tl = performance.now();
    const stats = x === undefined ? null : (allStats ?? (await collect([target]))).get(target.name)!;
    const data = await readKernel(target);
    const w: WeightMatrix = { data, shape: [target.inDim, target.outDim] };
    const out = await spec.layer({ target, w, density: densities[index]!, nm: opts.nm, stats, index });
    const next = out.weights ?? applyMask(w, out.mask);
    writeKernel(target, next);
    if (opts.biasCorrection && stats) await correctBias(target, data, next, stats, reference?.get(target.name));
    const estimated = stats?.gram
      ? reconstructionError(data, next, target.inDim, target.outDim, layerHessian(stats))
      : null;
    masks[target.name] = { shape: [target.inDim, target.outDim], mask: out.mask };
    const d = maskDensity(out.mask);
    kept += d * out.mask.length;
    total += out.mask.length;
    if (out.details) details[target.name] = out.details;
    layers.push({
      name: target.name,
      shape: [target.inDim, target.outDim],
      targetDensity: densities[index]!,
      density: d,
      estimatedLossChange: estimated,
      timeMs: performance.now() - tl,
    });
  }

  let measured: number | null = null;
  let measure: PruneReport['measure'] = null;
  if (x !== undefined && before !== null) {
    const after = predictAll(model, x, batchSize);
    try {
      if (y !== undefined && opts.loss) {
        measured = (await meanLoss(opts.loss, y, after)) - lossBefore!;
        measure = 'loss';
      } else {
        // In float64 on the host: float32 squares overflow for outputs past about 1e19.
        const a = await after.data();
        const b = await before.data();
        let sum = 0;
        for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
        measured = sum / a.length;
        measure = 'outputMSE';
      }
    } finally {
      after.dispose();
      before.dispose();
    }
  }
  const est = layers.every((l) => l.estimatedLossChange !== null)
    ? layers.reduce((s, l) => s + l.estimatedLossChange!, 0)
    : null;
  const report: PruneReport = {
    method: spec.method,
    density: total ? kept / total : 1,
    layers,
    estimatedLossChange: est,
    measuredLossChange: measured,
    measure,
    timeMs: performance.now() - t0,
    masks,
  };
  if (Object.keys(details).length) report.details = details;
  return report;
}

/** b_j += sum_i (mean(R)_i W_ij - mean(X)_i W'_ij): keeps the layer's mean pre-activation. */
async function correctBias(
  t: TargetLayer,
  before: Float32Array,
  after: Float32Array,
  stats: LayerStats,
  ref: Float32Array | undefined,
): Promise<void> {
  const ws = t.layer.getWeights();
  if (ws.length < 2 || ws[1]!.size !== t.outDim) return;
  const { inDim, outDim } = t;
  const muX = Float64Array.from(stats.sums, (v) => v / stats.count);
  const muR = new Float64Array(inDim);
  if (ref) {
    const rows = ref.length / inDim;
    for (let r = 0; r < rows; r++) for (let i = 0; i < inDim; i++) muR[i] = muR[i]! + ref[r * inDim + i]! / rows;
  } else muR.set(muX);
  const b = Float32Array.from((await ws[1]!.data()) as Float32Array);
  for (let j = 0; j < outDim; j++) {
    let s = 0;
    for (let i = 0; i < inDim; i++) s += muR[i]! * before[i * outDim + j]! - muX[i]! * after[i * outDim + j]!;
    b[j] = b[j]! + s;
  }
  const bt = tf.tensor1d(b);
  t.layer.setWeights([ws[0]!, bt, ...ws.slice(2)]);
  bt.dispose();
}

function resolveDensities(targets: TargetLayer[], opts: PruneModelOptions, fn: string): number[] {
  const d = opts.density;
  if (opts.nm) {
    const implied = 1 - opts.nm.n / opts.nm.m;
    if (d === undefined && opts.sparsity === undefined) return targets.map(() => implied);
    const given =
      typeof d === 'object' && d !== null
        ? targets.map((t) => d[t.name])
        : targets.map(() => resolveDensity({ density: d as number | undefined, sparsity: opts.sparsity }, fn));
    given.forEach((v, i) => {
      if (v === undefined || Math.abs(v - implied) > 1e-9) {
        throw new Error(
          `${fn}: density ${v} for layer '${targets[i]!.name}' contradicts the N:M pattern ${opts.nm!.n}:${opts.nm!.m} (density ${implied}); omit density or make them agree`,
        );
      }
    });
    return given as number[];
  }
  if (typeof d === 'object' && d !== null) {
    if (opts.sparsity !== undefined) throw new Error(`${fn}: give either density or sparsity, not both`);
    const names = new Set(targets.map((t) => t.name));
    for (const k of Object.keys(d))
      if (!names.has(k))
        throw new Error(
          `${fn}: density names layer '${k}', which is not among the layers being pruned (${[...names].join(', ')})`,
        );
    return targets.map((t) => {
      if (d[t.name] === undefined) throw new Error(`${fn}: density has no entry for layer '${t.name}'`);
      return resolveDensity({ density: d[t.name] }, `${fn} (layer '${t.name}')`);
    });
  }
  const v = resolveDensity({ density: d, sparsity: opts.sparsity }, fn);
  return targets.map(() => v);
}

/** Model outputs on `x`, in batches. @internal */
export function predictAll(model: LayersModel, x: tf.Tensor, batchSize: number): tf.Tensor {
  return tf.tidy(() => {
    const parts: tf.Tensor[] = [];
    for (let b = 0; b < x.shape[0]!; b += batchSize) {
      const o = model.predict(tf.slice(x, b, Math.min(batchSize, x.shape[0]! - b)));
      if (Array.isArray(o)) throw new Error(`models with several outputs are not supported`);
      parts.push(o);
    }
    return parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
  });
}

async function meanLoss(loss: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, y: tf.Tensor, p: tf.Tensor): Promise<number> {
  return readScalar(tf.tidy(() => tf.mean(loss(y, p))));
}

/** Reads a scalar asynchronously and disposes it. @internal */
export async function readScalar(t: tf.Tensor): Promise<number> {
  try {
    return (await t.data())[0]!;
  } finally {
    t.dispose();
  }
}

/** Multiplies each named layer's kernel by its mask (re-applies masks, e.g. after an optimizer step). */
export function applyMasks(model: LayersModel, masks: PruningMasks): void {
  checkMasks(masks, 'applyMasks');
  const targets = resolveTargets(model, Object.keys(masks));
  for (const t of targets) {
    const m = masks[t.name]!;
    if (m.shape[0] !== t.inDim || m.shape[1] !== t.outDim || m.mask.length !== t.inDim * t.outDim) {
      throw new Error(
        `applyMasks: mask for '${t.name}' has shape [${m.shape.join(', ')}], the kernel is [${t.inDim}, ${t.outDim}]`,
      );
    }
    tf.tidy(() => {
      const ws = t.layer.getWeights();
      const mask = tf.tensor(Float32Array.from(m.mask), t.kernelShape);
      t.layer.setWeights([tf.mul(ws[0]!, mask), ...ws.slice(1)]);
    });
  }
}
