import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { AnnealOptions } from './anneal.js';
import { inputNorms, layerHessian, reconstructionGradient } from './calibration.js';
import { checkBoolean, checkNumber, checkOneOf, checkOptions } from '@blockwise/tensor';
import { icbsPrune, MAX_ICBS_STEPS, MAX_TIME_BUDGET_MS, type BlockSelection } from './icbs.js';
import { globalMagnitudeMasks, magnitudeMask } from './magnitude.js';
import type { Mask, WeightMatrix } from './matrix.js';
import { MODEL_KEYS, pruneModelWith, type PruneModelOptions } from './prune-model.js';
import type { PruneReport } from './report.js';
import { sparseGPTPrune } from './sparsegpt.js';
import { readKernel } from './targets.js';
import { wandaMask } from './wanda.js';

/** Options of {@link pruneMagnitude}. */
export interface PruneMagnitudeOptions extends PruneModelOptions {
  /** 'layer': every layer gets its density (default); 'global': one threshold over all target layers, total density exact. */
  scope?: 'layer' | 'global';
}

/**
 * Magnitude pruning of a model's Dense and Conv2D kernels, layer-wise or global, unstructured or N:M. Applies the
 * masks to the model and returns a report. Calibration is optional (used only for the report).
 */
export async function pruneMagnitude(model: LayersModel, options: PruneMagnitudeOptions): Promise<PruneReport> {
  const opts = checkModelOptions('pruneMagnitude', options, ['scope']);
  const scope = checkOneOf('pruneMagnitude: scope', opts.scope ?? 'layer', ['layer', 'global'] as const);
  let global: Mask[] | null = null;
  return pruneModelWith(model, opts, {
    method: 'magnitude',
    fn: 'pruneMagnitude',
    needs: 'none',
    prepare: async (targets, densities) => {
      if (scope !== 'global') return;
      if (opts.nm) throw new Error(`pruneMagnitude: scope 'global' does not combine with nm (N:M is per group)`);
      if (densities.some((d) => d !== densities[0]))
        throw new Error(`pruneMagnitude: scope 'global' needs one density for all layers`);
      const ws: WeightMatrix[] = [];
      for (const t of targets) ws.push({ data: await readKernel(t), shape: [t.inDim, t.outDim] });
      global = globalMagnitudeMasks(ws, { density: densities[0]! });
    },
    layer: ({ w, density, nm, index }) => ({
      mask: global ? global[index]! : magnitudeMask(w, nm ? { nm } : { density }),
    }),
  });
}

/**
 * Wanda pruning (arXiv 2306.11695): scores |W_ij| * ||X_i|| compared within each output unit, so
 * every unit keeps the same count; or N:M. Needs `calibration`.
 */
export async function pruneWanda(model: LayersModel, options: PruneWandaOptions): Promise<PruneReport> {
  const opts = checkModelOptions('pruneWanda', options, ['group']);
  if (opts.group !== undefined) checkOneOf('pruneWanda: group', opts.group, ['output', 'layer'] as const);
  return pruneModelWith(model, opts, {
    method: 'wanda',
    fn: 'pruneWanda',
    needs: 'norms',
    layer: ({ w, density, nm, stats }) => ({
      mask: wandaMask(w, inputNorms(stats!), nm ? { nm } : { density, group: opts.group }),
    }),
  });
}

/** Options of {@link pruneWanda}. */
export interface PruneWandaOptions extends PruneModelOptions {
  /** Comparison group: 'output' (default: per output unit) or 'layer'. */
  group?: 'output' | 'layer';
}

/** Options of {@link pruneSparseGPT}. */
export interface PruneSparseGPTOptions extends PruneModelOptions {
  /** Input features per lazy batch (default 128). */
  blockSize?: number;
  /** Hessian dampening as a fraction of its mean diagonal (default 0.01). */
  damp?: number;
}

/**
 * SparseGPT-style pruning (arXiv 2301.00774): masks chosen column batch by column batch and the
 * remaining weights updated to compensate, using the calibration Gram matrix. Needs `calibration`.
 */
export async function pruneSparseGPT(model: LayersModel, options: PruneSparseGPTOptions): Promise<PruneReport> {
  const opts = checkModelOptions('pruneSparseGPT', options, ['blockSize', 'damp']);
  if (opts.blockSize !== undefined) checkNumber('pruneSparseGPT: blockSize', opts.blockSize, { integer: true, min: 1 });
  if (opts.damp !== undefined) checkNumber('pruneSparseGPT: damp', opts.damp, { min: 0 });
  return pruneModelWith(model, opts, {
    method: 'sparsegpt',
    fn: 'pruneSparseGPT',
    needs: 'gram',
    layer: ({ w, density, nm, stats }) => {
      const blockSize = opts.blockSize ?? (nm ? Math.max(nm.m, Math.floor(128 / nm.m) * nm.m) : 128);
      const r = sparseGPTPrune(w, stats!.gram!, { ...(nm ? { nm } : { density }), blockSize, damp: opts.damp });
      return { mask: r.mask, weights: r.weights, details: { estimatedError: r.estimatedError } };
    },
  });
}

/** Options of {@link pruneICBS}. */
export interface PruneICBSOptions extends PruneModelOptions {
  /** Start mask: 'wanda' (default) or 'magnitude'. */
  init?: 'wanda' | 'magnitude';
  /** Block steps per layer (default 1000 unless `timeBudgetMs` is given). */
  steps?: number;
  /** Total time for all layers, split in proportion to their weight counts. */
  timeBudgetMs?: number;
  /** Weights per block (default 16). */
  blockSize?: number;
  /** Currently pruned weights per block (default half the block). */
  prunedPerBlock?: number;
  /** Block-selection rule (default 'greedy'). */
  selection?: BlockSelection;
  /** 'row' (default, every output unit keeps its count) or 'layer'. */
  scope?: 'row' | 'layer';
  /** Tabu tenure in steps (default 4). */
  tabuTenure?: number;
  /** Block solver (default 'anneal'). */
  solver?: 'anneal' | 'exhaustive';
  /** Annealer settings. */
  anneal?: AnnealOptions;
  /**
   * What each layer's reconstruction loss compares against: 'dense' (default) the unpruned model's
   * output of the layer, ||X W' - R W||^2 with X the layer's inputs in the partly pruned model and R
   * those in the unpruned one (the exact gradient term of this loss enters the objective); 'current'
   * the layer's own unpruned output on X, ||X (W' - W)||^2.
   */
  reconstruct?: 'dense' | 'current';
  /** Add the first-order term of the task loss (needs `calibration.y` and `loss`). */
  gradient?: boolean;
  /** Weight of the gradient term (default 1). */
  gradientWeight?: number;
  /** Seed (default 0). */
  seed?: number;
}

/**
 * iCBS pruning (arXiv 2411.17796): starts from Wanda or magnitude and improves each layer's mask
 * by block coordinate descent on the second-order change of its reconstruction loss (see
 * `icbsPrune`). The density is exactly that of the start mask. Needs `calibration`.
 */
export async function pruneICBS(model: LayersModel, options: PruneICBSOptions): Promise<PruneReport> {
  const opts = checkModelOptions('pruneICBS', options, ICBS_MODEL_KEYS);
  const init = checkOneOf('pruneICBS: init', opts.init ?? 'wanda', ['wanda', 'magnitude'] as const);
  if (opts.gradient !== undefined) checkBoolean('pruneICBS: gradient', opts.gradient);
  if (opts.gradientWeight !== undefined) checkNumber('pruneICBS: gradientWeight', opts.gradientWeight);
  if (opts.steps !== undefined)
    checkNumber('pruneICBS: steps', opts.steps, { integer: true, min: 0, max: MAX_ICBS_STEPS });
  if (opts.timeBudgetMs !== undefined)
    checkNumber('pruneICBS: timeBudgetMs', opts.timeBudgetMs, { min: 0, max: MAX_TIME_BUDGET_MS });
  const cal = opts.calibration;
  if (opts.gradient && (cal === undefined || cal instanceof tf.Tensor || cal.y === undefined || !opts.loss)) {
    throw new Error(`pruneICBS: gradient: true needs calibration { x, y } and a loss function`);
  }
  const reconstruct = checkOneOf('pruneICBS: reconstruct', opts.reconstruct ?? 'dense', ['dense', 'current'] as const);
  let budgets: number[] | null = null;
  return pruneModelWith(model, opts, {
    method: 'icbs',
    fn: 'pruneICBS',
    needs: 'gram',
    reference: reconstruct === 'dense',
    prepare: (targets) => {
      if (opts.timeBudgetMs === undefined) return;
      const total = targets.reduce((s, t) => s + t.inDim * t.outDim, 0);
      budgets = targets.map((t) => (opts.timeBudgetMs! * t.inDim * t.outDim) / total);
    },
    layer: async ({ target, w, density, nm, stats, index }) => {
      const how = nm ? { nm } : { density };
      const start = init === 'wanda' ? wandaMask(w, inputNorms(stats!), how) : magnitudeMask(w, how);
      const task =
        opts.gradient && cal && !(cal instanceof tf.Tensor)
          ? await kernelGradient(model, target.layer, cal.x, cal.y!, opts.loss!, opts.batchSize ?? 256)
          : undefined;
      const rec = stats!.cross ? reconstructionGradient(stats!, w.data, target.outDim) : undefined;
      let gradient = rec;
      if (task) {
        const gw = opts.gradientWeight ?? 1;
        gradient = Float32Array.from(task, (v, i) => gw * v + (rec ? rec[i]! : 0));
      }
      const r = icbsPrune(w, {
        initialMask: start,
        hessian: layerHessian(stats!, 'pruneICBS'),
        gradient,
        steps: opts.steps ?? (budgets ? undefined : 1000),
        timeBudgetMs: budgets ? budgets[index] : undefined,
        nm,
        blockSize: opts.blockSize,
        prunedPerBlock: opts.prunedPerBlock,
        selection: opts.selection,
        scope: opts.scope,
        tabuTenure: opts.tabuTenure,
        solver: opts.solver,
        anneal: opts.anneal,
        seed: (opts.seed ?? 0) + 7919 * index,
      });
      return {
        mask: r.mask,
        details: { initialObjective: r.initialObjective, objective: r.objective, steps: r.steps, accepted: r.accepted },
      };
    },
  });
}

/** Mean-loss gradient with respect to a layer's kernel over the calibration set. @internal */
async function kernelGradient(
  model: LayersModel,
  layer: LayerLike,
  x: tf.Tensor,
  y: tf.Tensor,
  loss: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  batchSize: number,
): Promise<Float32Array> {
  const v = layer.trainableWeights[0]!.read() as tf.Variable;
  const n = x.shape[0]!;
  // Summed on the device over the batches and read once.
  let acc: tf.Tensor = tf.zeros(v.shape);
  for (let b = 0; b < n; b += batchSize) {
    const size = Math.min(batchSize, n - b);
    const g = tf.tidy(() => {
      const xb = tf.slice(x, b, size);
      const yb = tf.slice(y, b, size);
      const { grads } = tf.variableGrads(() => {
        // A scalar loss is a batch mean; per-sample losses are summed. Either way: sum over samples / n.
        const l = loss(yb, model.apply(xb, { training: false }) as tf.Tensor);
        return tf.div(l.size === 1 ? tf.mul(tf.sum(l), size) : tf.sum(l), n) as tf.Scalar;
      }, [v]);
      return grads[v.name]!;
    });
    const next = tf.add(acc, g);
    tf.dispose([acc, g]);
    acc = next;
  }
  try {
    return Float32Array.from((await acc.data()) as Float32Array);
  } finally {
    acc.dispose();
  }
}

/** Checks a model-level options object: the shared keys plus the method's own. */
function checkModelOptions<T extends PruneModelOptions>(fn: string, options: T, own: readonly string[]): T {
  if (options === undefined) throw new TypeError(`${fn}: options are required ({ density, ... }), got undefined`);
  return checkOptions(fn, options, [...MODEL_KEYS, ...own]);
}

const ICBS_MODEL_KEYS = [
  'init',
  'steps',
  'timeBudgetMs',
  'blockSize',
  'prunedPerBlock',
  'selection',
  'scope',
  'tabuTenure',
  'solver',
  'anneal',
  'reconstruct',
  'gradient',
  'gradientWeight',
  'seed',
] as const;

type LayerLike = ReturnType<LayersModel['getLayer']>;
