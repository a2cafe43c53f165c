import { polynomialSchedule } from '@blockwise/schedules';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { globalMagnitudeMasks, magnitudeMask } from './magnitude.js';
import { describe } from './matrix.js';
import { applyMasks } from './prune-model.js';
import type { PruningMasks } from './report.js';
import { readKernel, resolveTargets, type LayerSelector, type TargetLayer } from './targets.js';

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
export function polynomialDensitySchedule(opts: PolynomialDensityOptions): (step: number) => number {
  const di = opts.initialDensity ?? 1;
  const df = opts.finalDensity;
  const t0 = opts.startStep ?? 0;
  for (const [k, v] of [['initialDensity', di], ['finalDensity', df]] as const) {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error(`polynomialDensitySchedule: ${k} must be a number in [0, 1] (fraction kept), got ${describe(v)}`);
  }
  if (!Number.isInteger(t0) || t0 < 0) throw new Error(`polynomialDensitySchedule: startStep must be a non-negative integer, got ${describe(t0)}`);
  if (!Number.isInteger(opts.endStep) || opts.endStep <= t0) throw new Error(`polynomialDensitySchedule: endStep must be an integer > startStep = ${t0}, got ${describe(opts.endStep)}`);
  const sparsity = polynomialSchedule({ initValue: 1 - di, endValue: 1 - df, power: opts.power ?? 3, transitionSteps: opts.endStep - t0, transitionBegin: t0 });
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
  /** Updates the masks when due (at the scheduled density) and re-applies them; `step` defaults to an internal counter. */
  step(step?: number): void;
  /** A `model.fit` callback (`{ onBatchEnd }`) that calls `step()` after every batch. */
  callback(): { onBatchEnd: (batch: number, logs?: unknown) => Promise<void> };
  /** Prunes to `finalDensity` now, bakes the masks into the weights and returns them; later `step()` calls throw. */
  finalize(): PruningMasks;
  /** The current masks (null before the first step). */
  readonly masks: PruningMasks | null;
  /** Density of the current masks (1 before the first step). */
  readonly density: number;
}

/** Creates a {@link GradualPruner} for the model's Dense and Conv2D layers. */
export function createGradualPruner(model: LayersModel, opts: GradualPrunerOptions): GradualPruner {
  const targets = resolveTargets(model, opts.layers);
  const t0 = opts.startStep ?? 0;
  const frequency = opts.frequency ?? 1;
  const scope = opts.scope ?? 'layer';
  if (!Number.isInteger(frequency) || frequency < 1) throw new Error(`createGradualPruner: frequency must be a positive integer, got ${describe(frequency)}`);
  if (scope !== 'layer' && scope !== 'global') throw new Error(`createGradualPruner: scope must be 'layer' or 'global', got ${describe(scope)}`);
  const ramp = polynomialDensitySchedule({ initialDensity: opts.initialDensity, finalDensity: opts.finalDensity, startStep: t0, endStep: opts.endStep });
  if (opts.schedule !== undefined && opts.sparsitySchedule !== undefined) throw new Error(`createGradualPruner: give schedule (density) or sparsitySchedule, not both`);
  const given = opts.schedule ?? opts.sparsitySchedule;
  if (given !== undefined && typeof given !== 'function') throw new Error(`createGradualPruner: schedule must be a function of the step, got ${describe(given)}`);
  const sparsity = opts.sparsitySchedule;
  const schedule = opts.schedule ?? (sparsity ? (t: number) => 1 - sparsity(t) : ramp);
  let masks: PruningMasks | null = null;
  let counter = 0;
  let done = false;

  const recompute = (density: number): void => {
    if (!(density >= 0 && density <= 1)) throw new Error(`createGradualPruner: the schedule gave density ${density}, expected a number in [0, 1]`);
    const ws = targets.map((t: TargetLayer) => ({ data: readKernel(t), shape: [t.inDim, t.outDim] as [number, number] }));
    const ms = scope === 'global' ? globalMagnitudeMasks(ws, { density }) : ws.map((w) => magnitudeMask(w, { density }));
    masks = {};
    targets.forEach((t, k) => (masks![t.name] = { shape: [t.inDim, t.outDim], mask: ms[k]! }));
  };

  const pruner: GradualPruner = {
    step(step?: number) {
      if (done) throw new Error(`GradualPruner: already finalized`);
      const s = step ?? counter;
      counter = s + 1;
      if (!Number.isInteger(s) || s < 0) throw new Error(`GradualPruner.step: step must be a non-negative integer, got ${describe(s)}`);
      const due = s >= t0 && (s <= opts.endStep ? (s - t0) % frequency === 0 || s === opts.endStep : masks === null);
      // Re-apply first, so weights pruned earlier (moved by the optimizer step) do not come back.
      if (masks) applyMasks(model, masks);
      if (due) {
        recompute(schedule(s));
        applyMasks(model, masks!);
      }
    },
    callback() {
      return { onBatchEnd: async () => pruner.step() };
    },
    finalize() {
      if (done) throw new Error(`GradualPruner: already finalized`);
      if (masks) applyMasks(model, masks);
      recompute(opts.finalDensity);
      applyMasks(model, masks!);
      done = true;
      return masks!;
    },
    get masks() {
      return masks;
    },
    get density() {
      if (!masks) return 1;
      let kept = 0;
      let total = 0;
      for (const m of Object.values(masks as PruningMasks)) {
        for (const v of m.mask) kept += v;
        total += m.mask.length;
      }
      return kept / total;
    },
  };
  return pruner;
}
