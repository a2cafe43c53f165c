import { checkNumber, checkOneOf, checkOptions } from '@blockwise/tensor';
import { checkAnnealOptions, type AnnealOptions } from './anneal.js';
import { ICBSSearch, objectiveOf } from './icbs-search.js';
import {
  checkMask,
  checkMatrix,
  checkNM,
  checkSquare,
  describe,
  type Mask,
  type NMPattern,
  type WeightMatrix,
} from './matrix.js';

/** How iCBS picks the next block (see arXiv 1712.08859 for the greedy, Gauss-Southwell-style rule). */
export type BlockSelection = 'random' | 'score' | 'greedy';

/** Options of {@link icbsPrune}. */
export interface ICBSOptions {
  /** Start mask (1 = kept), e.g. from `wandaMask` or `magnitudeMask`; its density is kept exactly. */
  initialMask: Mask;
  /** Per-sample Hessian H = X^T X / count, `inDim x inDim` (see `layerHessian`). */
  hessian: Float64Array;
  /** Optional task-loss gradient dL/dW, `[inDim, outDim]`, adding the first-order term g^T dW. */
  gradient?: Float32Array;
  /** Weight of the gradient term; default 1. */
  gradientWeight?: number;
  /** Scores used by the `score` rule (high = important); default Wanda-like |w| * sqrt(H_ii). */
  scores?: Float64Array;
  /** Block steps to run; default 1000 unless `timeBudgetMs` is given. */
  steps?: number;
  /** Stop after this many milliseconds (checked between steps). */
  timeBudgetMs?: number;
  /** Weights per block; default 16. */
  blockSize?: number;
  /** Currently pruned weights per block; default half of `blockSize`. Ignored with `nm`. */
  prunedPerBlock?: number;
  /**
   * Keep an N:M pattern (the initial mask must have it): blocks are whole groups of `m` inputs of one
   * output unit (`blockSize / m` groups) and each group keeps exactly `n` pruned. Needs scope 'row'.
   */
  nm?: NMPattern;
  /** Block-selection rule; default 'greedy'. */
  selection?: BlockSelection;
  /** 'row': a block lies in one output unit, so every unit keeps its count (default); 'layer': anywhere in the layer. */
  scope?: 'row' | 'layer';
  /** Steps a weight stays excluded after being in a block; default 4. */
  tabuTenure?: number;
  /** 'anneal' (default) or 'exhaustive' (blocks up to 16 weights). */
  solver?: 'anneal' | 'exhaustive';
  /** Annealer settings. */
  anneal?: AnnealOptions;
  /** Seed of the random choices; default 0. */
  seed?: number;
  /** Called after every step with the step index (from 1) and the current objective. */
  onStep?: (step: number, objective: number, mask: Mask) => void;
}

/** Result of {@link icbsPrune}. */
export interface ICBSResult {
  /** The improved mask (same number of ones as the initial mask). */
  mask: Mask;
  /** Objective of the initial mask. */
  initialObjective: number;
  /** Objective of the returned mask (never above the initial one). */
  objective: number;
  /** Steps run and steps that improved the objective. */
  steps: number;
  accepted: number;
  /** Objective after each step (length `steps`). */
  trace: Float64Array;
}

/**
 * The iCBS objective of a mask: sum over output units j of p_j^T H p_j - lambda g_j^T p_j, where p_j is
 * the vector of PRUNED weights of unit j (w masked to the pruned set). With H = X^T X / count this is
 * the mean squared change of the layer output, plus the first-order change of the task loss.
 */
export function icbsObjective(
  w: WeightMatrix,
  mask: Mask,
  hessian: Float64Array,
  gradient?: Float32Array,
  gradientWeight = 1,
): number {
  checkMatrix(w, 'icbsObjective');
  checkMask(mask, w, 'icbsObjective');
  const inDim = w.shape[0];
  checkSquare(hessian, inDim, 'icbsObjective: hessian');
  if (gradient !== undefined) {
    if (!(gradient instanceof Float32Array) || gradient.length !== w.data.length)
      throw new Error(
        `icbsObjective: gradient must be a Float32Array with the weights' ${w.data.length} values, got ${describe(gradient)}`,
      );
    checkFinite(gradient, 'icbsObjective: gradient');
  }
  checkNumber('icbsObjective: gradientWeight', gradientWeight);
  return objectiveOf(w, mask, hessian, gradient, gradientWeight);
}

/** Upper bound on `steps` (a typo like 1e9 would otherwise run for days). @internal */
export const MAX_ICBS_STEPS = 10_000_000;
/** Upper bound on `timeBudgetMs`: one day. @internal */
export const MAX_TIME_BUDGET_MS = 86_400_000;

const ICBS_KEYS = [
  'initialMask',
  'hessian',
  'gradient',
  'gradientWeight',
  'scores',
  'steps',
  'timeBudgetMs',
  'blockSize',
  'prunedPerBlock',
  'nm',
  'selection',
  'scope',
  'tabuTenure',
  'solver',
  'anneal',
  'seed',
  'onStep',
] as const;

/** {@link ICBSOptions} checked, with every default filled in. @internal */
export interface ResolvedICBS {
  w: WeightMatrix;
  inDim: number;
  outDim: number;
  initialMask: Mask;
  hessian: Float64Array;
  gradient: Float32Array | undefined;
  gradientWeight: number;
  scores: Float64Array | undefined;
  steps: number;
  timeBudgetMs: number | undefined;
  blockSize: number;
  prunedPerBlock: number;
  nm: NMPattern | undefined;
  selection: BlockSelection;
  scope: 'row' | 'layer';
  tabuTenure: number;
  solver: 'anneal' | 'exhaustive';
  anneal: AnnealOptions | undefined;
  seed: number;
  onStep: ICBSOptions['onStep'];
}

/** Validates the arguments of {@link icbsPrune} and fills in the defaults; throws naming the option. @internal */
export function resolveICBSOptions(w: WeightMatrix, options: ICBSOptions): ResolvedICBS {
  const fn = 'icbsPrune';
  if (options === undefined)
    throw new TypeError(`${fn}: options are required ({ initialMask, hessian, ... }), got undefined`);
  const opts = checkOptions(fn, options, ICBS_KEYS);
  checkMatrix(w, fn);
  const [inDim, outDim] = w.shape;
  if (opts.initialMask === undefined)
    throw new TypeError(
      `${fn}: initialMask is required (a Uint8Array with the weights' layout, 1 = kept), got undefined`,
    );
  checkMask(opts.initialMask, w, fn, 'initialMask');
  const H = opts.hessian;
  checkSquare(H, inDim, `${fn}: hessian`);
  const g = opts.gradient;
  if (g !== undefined) {
    if (!(g instanceof Float32Array) || g.length !== w.data.length)
      throw new Error(
        `${fn}: gradient must be a Float32Array with the weights' ${w.data.length} values, got ${describe(g)}`,
      );
    checkFinite(g, `${fn}: gradient`);
  }
  const scores = opts.scores;
  if (scores !== undefined) {
    if (!(scores instanceof Float64Array) || scores.length !== w.data.length)
      throw new Error(
        `${fn}: scores must be a Float64Array with the weights' ${w.data.length} values, got ${describe(scores)}`,
      );
    checkFinite(scores, `${fn}: scores`);
  }
  const gradientWeight = checkNumber(`${fn}: gradientWeight`, opts.gradientWeight ?? 1);
  const nm = opts.nm;
  const blockSize = checkNumber(`${fn}: blockSize`, opts.blockSize ?? (nm ? Math.max(nm.m, 4 * nm.m) : 16), {
    integer: true,
    min: 2,
    max: 4096,
  });
  const scope = checkOneOf(`${fn}: scope`, opts.scope ?? 'row', ['row', 'layer'] as const);
  const selection = checkOneOf(`${fn}: selection`, opts.selection ?? 'greedy', ['random', 'score', 'greedy'] as const);
  const solver = checkOneOf(`${fn}: solver`, opts.solver ?? 'anneal', ['anneal', 'exhaustive'] as const);
  if (solver === 'exhaustive' && blockSize > 16)
    throw new RangeError(`${fn}: the exhaustive solver takes blocks of at most 16 weights, got blockSize ${blockSize}`);
  const tabuTenure = checkNumber(`${fn}: tabuTenure`, opts.tabuTenure ?? 4, {
    integer: true,
    min: 0,
    max: MAX_ICBS_STEPS,
  });
  const timeBudgetMs =
    opts.timeBudgetMs === undefined
      ? undefined
      : checkNumber(`${fn}: timeBudgetMs`, opts.timeBudgetMs, { min: 0, max: MAX_TIME_BUDGET_MS });
  const steps =
    opts.steps === undefined
      ? timeBudgetMs === undefined
        ? 1000
        : Infinity
      : checkNumber(`${fn}: steps`, opts.steps, { integer: true, min: 0, max: MAX_ICBS_STEPS });
  if (nm) {
    checkNM(nm, inDim, fn);
    if (scope !== 'row') throw new Error(`${fn}: nm needs scope 'row', got ${describe(scope)}`);
    if (blockSize % nm.m !== 0)
      throw new Error(`${fn}: with nm, blockSize must be a multiple of nm.m = ${nm.m}, got ${blockSize}`);
    for (let j = 0; j < outDim; j++) {
      for (let g0 = 0; g0 < inDim; g0 += nm.m) {
        let pr = 0;
        for (let i = g0; i < g0 + nm.m; i++) pr += opts.initialMask[i * outDim + j] ? 0 : 1;
        if (pr !== nm.n)
          throw new Error(
            `${fn}: initialMask must have exactly nm.n = ${nm.n} pruned in every group of ${nm.m}; output unit ${j}, inputs ${g0}..${g0 + nm.m - 1} have ${pr}`,
          );
      }
    }
  }
  const prunedPerBlock = nm ? 1 : (opts.prunedPerBlock ?? Math.floor(blockSize / 2));
  if (!Number.isInteger(prunedPerBlock) || prunedPerBlock < 1 || prunedPerBlock >= blockSize) {
    throw new RangeError(
      `${fn}: prunedPerBlock must be an integer in [1, blockSize - 1 = ${blockSize - 1}], got ${describe(prunedPerBlock)}`,
    );
  }
  if (opts.anneal !== undefined) checkAnnealOptions(opts.anneal, `${fn}: anneal`);
  const seed = checkNumber(`${fn}: seed`, opts.seed ?? 0);
  if (opts.onStep !== undefined && typeof opts.onStep !== 'function')
    throw new TypeError(`${fn}: onStep must be a function, got ${describe(opts.onStep)}`);
  return {
    w,
    inDim,
    outDim,
    initialMask: opts.initialMask,
    hessian: H,
    gradient: g,
    gradientWeight,
    scores,
    steps,
    timeBudgetMs,
    blockSize,
    prunedPerBlock,
    nm,
    selection,
    scope,
    tabuTenure,
    solver,
    anneal: opts.anneal,
    seed,
    onStep: opts.onStep,
  };
}

function checkFinite(a: ArrayLike<number>, name: string): void {
  for (let i = 0; i < a.length; i++)
    if (!Number.isFinite(a[i]!)) throw new RangeError(`${name} must be finite, got ${a[i]} at index ${i}`);
}

/**
 * iterative Combinatorial Brain Surgeon (arXiv 2411.17796): block coordinate descent on the
 * pruning mask. Each step picks a block (some pruned weights, some kept ones), builds the block's
 * quadratic problem with the rest of the mask fixed, solves it under the constraint that the block
 * keeps its number of pruned weights (simulated annealing, or exhaustively), and accepts the new
 * block assignment only if the objective decreases. Block members then stay tabu for `tabuTenure`
 * steps. The density never changes and the objective never increases. Runs on the host on typed
 * arrays: no tensor is read, so no device round trip happens per step.
 */
export function icbsPrune(w: WeightMatrix, opts: ICBSOptions): ICBSResult {
  const o = resolveICBSOptions(w, opts);
  const search = new ICBSSearch(o);
  const t0 = Date.now();
  while (search.steps < o.steps) {
    if (o.timeBudgetMs !== undefined && Date.now() - t0 >= o.timeBudgetMs) break;
    search.step();
    o.onStep?.(search.steps, search.objective, search.mask);
  }
  return search.result();
}
