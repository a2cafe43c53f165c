import { polynomialSchedule } from '@blockwise/schedules';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { checkNumber, checkOneOf, checkOptions } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { describe, prunedCount } from './matrix.js';
import type { PruningMasks } from './report.js';
import { resolveTargets, type LayerSelector } from './targets.js';

/** Options of {@link polynomialDensitySchedule}. */
export interface PolynomialDensityOptions {
  /** Density at and before `startStep` (default 1: dense). */
  initialDensity?: number;
  /** Density at and after `endStep` (fraction kept). */
  finalDensity: number;
  /** First step of the ramp (default 0). */
  startStep?: number;
  /** Step where the final density is reached. */
  endStep: number;
  /** Exponent (default 3, Zhu & Gupta 2017). */
  power?: number;
}

/**
 * The gradual-pruning ramp of Zhu & Gupta (arXiv 1710.01878), in density terms: sparsity
 * s_t = s_f + (s_i - s_f) (1 - (t - t0) / (t1 - t0))^3 between t0 and t1, built on
 * `polynomialSchedule` of @blockwise/schedules. Returns density = 1 - s_t.
 */
export function polynomialDensitySchedule(options: PolynomialDensityOptions): (step: number) => number {
  if (options === undefined)
    throw new TypeError(`polynomialDensitySchedule: options are required ({ finalDensity, endStep }), got undefined`);
  const opts = checkOptions('polynomialDensitySchedule', options, [
    'initialDensity',
    'finalDensity',
    'startStep',
    'endStep',
    'power',
  ]);
  if (opts.power !== undefined)
    checkNumber('polynomialDensitySchedule: power', opts.power, { min: 0, exclusiveMin: true, max: 100 });
  const di = opts.initialDensity ?? 1;
  const df = opts.finalDensity;
  const t0 = opts.startStep ?? 0;
  for (const [k, v] of [
    ['initialDensity', di],
    ['finalDensity', df],
  ] as const) {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1))
      throw new Error(`polynomialDensitySchedule: ${k} must be a number in [0, 1] (fraction kept), got ${describe(v)}`);
  }
  if (!Number.isInteger(t0) || t0 < 0)
    throw new Error(`polynomialDensitySchedule: startStep must be a non-negative integer, got ${describe(t0)}`);
  if (!Number.isInteger(opts.endStep) || opts.endStep <= t0)
    throw new Error(
      `polynomialDensitySchedule: endStep must be an integer > startStep = ${t0}, got ${describe(opts.endStep)}`,
    );
  const sparsity = polynomialSchedule({
    initValue: 1 - di,
    endValue: 1 - df,
    power: opts.power ?? 3,
    transitionSteps: opts.endStep - t0,
    transitionBegin: t0,
  });
  return (step) => 1 - sparsity(step);
}

/** Options of {@link createGradualPruner}. */
export interface GradualPrunerOptions {
  /** Final density (fraction kept). */
  finalDensity: number;
  /** Last step of the ramp; masks stop changing after it. */
  endStep: number;
  /** First step of the ramp (default 0). */
  startStep?: number;
  /** Start density (default 1). */
  initialDensity?: number;
  /** Recompute masks every this many steps during the ramp (default 1); masks are re-applied every step. */
  frequency?: number;
  /** Density (fraction kept) per step; overrides the default polynomial ramp. Should end at `finalDensity`. */
  schedule?: (step: number) => number;
  /** Sparsity (fraction pruned) per step, e.g. any schedule of @blockwise/schedules; alternative to `schedule`. */
  sparsitySchedule?: (step: number) => number;
  /** Layers (default every Dense and Conv2D layer). */
  layers?: LayerSelector;
  /** Magnitude ranking per layer (default) or global over all target layers. */
  scope?: 'layer' | 'global';
}

/** A gradual magnitude pruner: call `step()` after every optimizer step, or pass `callback()` to `model.fit`. */
export interface GradualPruner {
  /**
   * Updates the masks when due (at the scheduled density) and re-applies them; `step` defaults to an
   * internal counter. Runs on the device (ranking by `tf.topk`): it never reads a tensor back.
   */
  step(step?: number): void;
  /** A `model.fit` callback (`{ onBatchEnd }`) that calls `step()` after every batch. */
  callback(): { onBatchEnd: (batch: number, logs?: unknown) => Promise<void> };
  /** Prunes to `finalDensity` now, bakes the masks into the weights and reads them back (one read); later `step()` calls throw. */
  finalize(): Promise<PruningMasks>;
  /** The current masks, read from the device (null before the first mask update). */
  readMasks(): Promise<PruningMasks | null>;
  /** Density of the current masks (1 before the first step); known without a read, since the kept counts are exact. */
  readonly density: number;
  /** Releases the device masks (the weights keep their zeros). `finalize` does this too. */
  dispose(): void;
}

const GRADUAL_KEYS = [
  'finalDensity',
  'endStep',
  'startStep',
  'initialDensity',
  'frequency',
  'schedule',
  'sparsitySchedule',
  'layers',
  'scope',
] as const;

/**
 * Creates a {@link GradualPruner} for the model's Dense and Conv2D layers. Masks stay on the
 * device (WebGPU included); ranking ties prune the lower flat index first, as `magnitudeMask`.
 */
export function createGradualPruner(model: LayersModel, options: GradualPrunerOptions): GradualPruner {
  const fn = 'createGradualPruner';
  if (options === undefined)
    throw new TypeError(`${fn}: options are required ({ finalDensity, endStep, ... }), got undefined`);
  const opts = checkOptions(fn, options, GRADUAL_KEYS);
  const targets = resolveTargets(model, opts.layers);
  const t0 = opts.startStep ?? 0;
  const frequency = checkNumber(`${fn}: frequency`, opts.frequency ?? 1, { integer: true, min: 1 });
  const scope = checkOneOf(`${fn}: scope`, opts.scope ?? 'layer', ['layer', 'global'] as const);
  const ramp = polynomialDensitySchedule({
    initialDensity: opts.initialDensity,
    finalDensity: opts.finalDensity,
    startStep: t0,
    endStep: opts.endStep,
  });
  if (opts.schedule !== undefined && opts.sparsitySchedule !== undefined)
    throw new Error(`${fn}: give schedule (density) or sparsitySchedule, not both`);
  const given = opts.schedule ?? opts.sparsitySchedule;
  if (given !== undefined && typeof given !== 'function')
    throw new TypeError(`${fn}: schedule must be a function of the step, got ${describe(given)}`);
  const sparsity = opts.sparsitySchedule;
  const schedule = opts.schedule ?? (sparsity ? (t: number) => 1 - sparsity(t) : ramp);
  const sizes = targets.map((t) => t.inDim * t.outDim);
  const total = sizes.reduce((a, b) => a + b, 0);
  let masks: tf.Tensor[] | null = null;
  let kept = total;
  let counter = 0;
  let done = false;

  const recompute = (density: number): void => {
    if (typeof density !== 'number' || !(density >= 0 && density <= 1))
      throw new Error(`${fn}: the schedule gave density ${describe(density)}, expected a number in [0, 1]`);
    const next = tf.tidy(() => {
      const flat = targets.map((t) => tf.reshape(t.layer.getWeights()[0]!, [-1]));
      if (scope === 'global') {
        const keep = total - prunedCount(total, density);
        const all = keepLargest(tf.concat(flat), keep);
        return { keep, ms: tf.split(all, sizes).map((m, k) => tf.reshape(m, targets[k]!.kernelShape)) };
      }
      let keep = 0;
      const ms = flat.map((w, k) => {
        const n = total === 0 ? 0 : sizes[k]! - prunedCount(sizes[k]!, density);
        keep += n;
        return tf.reshape(keepLargest(w, n), targets[k]!.kernelShape);
      });
      return { keep, ms };
    });
    if (masks) tf.dispose(masks);
    masks = next.ms;
    kept = next.keep;
  };

  const apply = (): void => {
    if (!masks) return;
    const ms = masks;
    tf.tidy(() => {
      targets.forEach((t, k) => {
        const ws = t.layer.getWeights();
        t.layer.setWeights([tf.mul(ws[0]!, ms[k]!), ...ws.slice(1)]);
      });
    });
  };

  const read = async (): Promise<PruningMasks | null> => {
    if (!masks) return null;
    const out: PruningMasks = {};
    for (let k = 0; k < targets.length; k++) {
      const t = targets[k]!;
      out[t.name] = { shape: [t.inDim, t.outDim], mask: Uint8Array.from((await masks[k]!.data()) as Float32Array) };
    }
    return out;
  };

  const pruner: GradualPruner = {
    step(step?: number) {
      if (done) throw new Error(`GradualPruner: already finalized`);
      const s = step ?? counter;
      if (!Number.isInteger(s) || s < 0)
        throw new Error(`GradualPruner.step: step must be a non-negative integer, got ${describe(s)}`);
      counter = s + 1;
      const due = s >= t0 && (s <= opts.endStep ? (s - t0) % frequency === 0 || s === opts.endStep : masks === null);
      // Re-apply first, so weights pruned earlier (moved by the optimizer step) do not come back.
      apply();
      if (due) {
        recompute(schedule(s));
        apply();
      }
    },
    callback() {
      return { onBatchEnd: async () => pruner.step() };
    },
    async finalize() {
      if (done) throw new Error(`GradualPruner: already finalized`);
      apply();
      recompute(opts.finalDensity);
      apply();
      done = true;
      const out = (await read())!;
      pruner.dispose();
      return out;
    },
    readMasks: read,
    get density() {
      return masks || done ? kept / total : 1;
    },
    dispose() {
      if (masks) tf.dispose(masks);
      masks = null;
    },
  };
  return pruner;
}

/**
 * A 0/1 float mask of `w`'s shape keeping its `keep` largest |w|. Ties keep the higher flat index
 * (so the lower one is pruned first, as on the host): `tf.topk` breaks ties towards the lower
 * index, so it ranks the reversed vector.
 */
function keepLargest(w: tf.Tensor, keep: number): tf.Tensor {
  const n = w.size;
  if (keep >= n) return tf.onesLike(w);
  if (keep <= 0) return tf.zerosLike(w);
  const flat = tf.reshape(w, [n]);
  const { indices } = tf.topk(tf.reverse(tf.abs(flat)), keep);
  const original = tf.sub(tf.scalar(n - 1, 'int32'), indices);
  return tf.reshape(tf.scatterND(tf.expandDims(original, 1), tf.ones([keep]), [n]), w.shape);
}
