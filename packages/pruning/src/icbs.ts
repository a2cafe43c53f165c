import { checkNumber, checkOneOf, checkOptions, createRng, type Rng } from '@blockwise/tensor';
import { annealBlock, blockEnergy, checkAnnealOptions, exhaustiveBlock, type AnnealOptions, type BlockProblem } from './anneal.js';
import { checkMask, checkMatrix, checkNM, checkSquare, describe, type Mask, type NMPattern, type WeightMatrix } from './matrix.js';

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
export function icbsObjective(w: WeightMatrix, mask: Mask, hessian: Float64Array, gradient?: Float32Array, gradientWeight = 1): number {
  checkMatrix(w, 'icbsObjective');
  checkMask(mask, w, 'icbsObjective');
  const [inDim, outDim] = w.shape;
  checkSquare(hessian, inDim, 'icbsObjective: hessian');
  if (gradient !== undefined) {
    if (!(gradient instanceof Float32Array) || gradient.length !== w.data.length) throw new Error(`icbsObjective: gradient must be a Float32Array with the weights' ${w.data.length} values, got ${describe(gradient)}`);
    checkFinite(gradient, 'icbsObjective: gradient');
  }
  checkNumber('icbsObjective: gradientWeight', gradientWeight);
  return objectiveOf(w, mask, hessian, gradient, gradientWeight);
}

function objectiveOf(w: WeightMatrix, mask: Mask, hessian: Float64Array, gradient: Float32Array | undefined, gradientWeight: number): number {
  const [inDim, outDim] = w.shape;
  const p = new Float64Array(inDim);
  let total = 0;
  for (let j = 0; j < outDim; j++) {
    for (let i = 0; i < inDim; i++) p[i] = mask[i * outDim + j] ? 0 : w.data[i * outDim + j]!;
    for (let i = 0; i < inDim; i++) {
      const pi = p[i]!;
      if (pi === 0) continue;
      let s = 0;
      for (let k = 0; k < inDim; k++) s += hessian[i * inDim + k]! * p[k]!;
      total += pi * s;
      if (gradient) total -= gradientWeight * gradient[i * outDim + j]! * pi;
    }
  }
  return total;
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
  if (options === undefined) throw new TypeError(`${fn}: options are required ({ initialMask, hessian, ... }), got undefined`);
  const opts = checkOptions(fn, options, ICBS_KEYS);
  checkMatrix(w, fn);
  const [inDim, outDim] = w.shape;
  if (opts.initialMask === undefined) throw new TypeError(`${fn}: initialMask is required (a Uint8Array with the weights' layout, 1 = kept), got undefined`);
  checkMask(opts.initialMask, w, fn, 'initialMask');
  const H = opts.hessian;
  checkSquare(H, inDim, `${fn}: hessian`);
  const g = opts.gradient;
  if (g !== undefined) {
    if (!(g instanceof Float32Array) || g.length !== w.data.length) throw new Error(`${fn}: gradient must be a Float32Array with the weights' ${w.data.length} values, got ${describe(g)}`);
    checkFinite(g, `${fn}: gradient`);
  }
  const scores = opts.scores;
  if (scores !== undefined) {
    if (!(scores instanceof Float64Array) || scores.length !== w.data.length) throw new Error(`${fn}: scores must be a Float64Array with the weights' ${w.data.length} values, got ${describe(scores)}`);
    checkFinite(scores, `${fn}: scores`);
  }
  const gradientWeight = checkNumber(`${fn}: gradientWeight`, opts.gradientWeight ?? 1);
  const nm = opts.nm;
  const blockSize = checkNumber(`${fn}: blockSize`, opts.blockSize ?? (nm ? Math.max(nm.m, 4 * nm.m) : 16), { integer: true, min: 2, max: 4096 });
  const scope = checkOneOf(`${fn}: scope`, opts.scope ?? 'row', ['row', 'layer'] as const);
  const selection = checkOneOf(`${fn}: selection`, opts.selection ?? 'greedy', ['random', 'score', 'greedy'] as const);
  const solver = checkOneOf(`${fn}: solver`, opts.solver ?? 'anneal', ['anneal', 'exhaustive'] as const);
  if (solver === 'exhaustive' && blockSize > 16) throw new RangeError(`${fn}: the exhaustive solver takes blocks of at most 16 weights, got blockSize ${blockSize}`);
  const tabuTenure = checkNumber(`${fn}: tabuTenure`, opts.tabuTenure ?? 4, { integer: true, min: 0, max: MAX_ICBS_STEPS });
  const timeBudgetMs = opts.timeBudgetMs === undefined ? undefined : checkNumber(`${fn}: timeBudgetMs`, opts.timeBudgetMs, { min: 0, max: MAX_TIME_BUDGET_MS });
  const steps = opts.steps === undefined ? (timeBudgetMs === undefined ? 1000 : Infinity) : checkNumber(`${fn}: steps`, opts.steps, { integer: true, min: 0, max: MAX_ICBS_STEPS });
  if (nm) {
    checkNM(nm, inDim, fn);
    if (scope !== 'row') throw new Error(`${fn}: nm needs scope 'row', got ${describe(scope)}`);
    if (blockSize % nm.m !== 0) throw new Error(`${fn}: with nm, blockSize must be a multiple of nm.m = ${nm.m}, got ${blockSize}`);
    for (let j = 0; j < outDim; j++) {
      for (let g0 = 0; g0 < inDim; g0 += nm.m) {
        let pr = 0;
        for (let i = g0; i < g0 + nm.m; i++) pr += opts.initialMask[i * outDim + j] ? 0 : 1;
        if (pr !== nm.n) throw new Error(`${fn}: initialMask must have exactly nm.n = ${nm.n} pruned in every group of ${nm.m}; output unit ${j}, inputs ${g0}..${g0 + nm.m - 1} have ${pr}`);
      }
    }
  }
  const prunedPerBlock = nm ? 1 : opts.prunedPerBlock ?? Math.floor(blockSize / 2);
  if (!Number.isInteger(prunedPerBlock) || prunedPerBlock < 1 || prunedPerBlock >= blockSize) {
    throw new RangeError(`${fn}: prunedPerBlock must be an integer in [1, blockSize - 1 = ${blockSize - 1}], got ${describe(prunedPerBlock)}`);
  }
  if (opts.anneal !== undefined) checkAnnealOptions(opts.anneal, `${fn}: anneal`);
  const seed = checkNumber(`${fn}: seed`, opts.seed ?? 0);
  if (opts.onStep !== undefined && typeof opts.onStep !== 'function') throw new TypeError(`${fn}: onStep must be a function, got ${describe(opts.onStep)}`);
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
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) throw new RangeError(`${name} must be finite, got ${a[i]} at index ${i}`);
}

/**
 * The state of one iCBS search, optax-style: built once from resolved options ({@link
 * ResolvedICBS}), advanced by {@link ICBSSearch.step}, read by {@link ICBSSearch.result}. It
 * keeps C = H P (the Hessian applied to each unit's pruned weights) up to date so a block's
 * problem costs O(block^2 + block * inDim) instead of a full objective evaluation.
 * @internal
 */
export class ICBSSearch {
  readonly mask: Mask;
  objective: number;
  readonly initialObjective: number;
  accepted = 0;
  /** Steps taken so far. */
  steps = 0;
  readonly trace: number[] = [];
  private readonly o: ResolvedICBS;
  private readonly rng: Rng;
  private readonly W: Float32Array;
  private readonly n: number;
  /** C[i * outDim + j] = (H p_j)_i: the Hessian applied to the pruned weights of unit j. */
  private readonly C: Float64Array;
  /** The step until which each weight is excluded from blocks. */
  private readonly tabu: Float64Array;
  private readonly scores: Float64Array;
  private readonly rowOrder: number[] = [];
  // Greedy row choice: each unit's best predicted swap gain, cached. Only the unit just processed
  // changes (its mask, its C column, its tabu entries), plus the unit whose tabu entries expire now.
  private readonly rowGain: Float64Array;
  private readonly rowDirty: Uint8Array;
  private readonly rowAt: number[] = [];

  constructor(o: ResolvedICBS) {
    this.o = o;
    this.rng = createRng(o.seed);
    this.W = o.w.data;
    this.n = this.W.length;
    this.mask = Uint8Array.from(o.initialMask);
    const { inDim, outDim, hessian: H } = o;
    this.C = new Float64Array(this.n);
    for (let j = 0; j < outDim; j++) {
      for (let k = 0; k < inDim; k++) {
        if (this.mask[k * outDim + j]) continue;
        const wk = this.W[k * outDim + j]!;
        if (wk === 0) continue;
        for (let i = 0; i < inDim; i++) this.C[i * outDim + j] = this.C[i * outDim + j]! + H[i * inDim + k]! * wk;
      }
    }
    this.scores = o.scores ?? Float64Array.from(this.W, (v, idx) => Math.abs(v) * Math.sqrt(Math.max(0, this.hdiag(idx))));
    this.objective = objectiveOf(o.w, this.mask, H, o.gradient, o.gradientWeight);
    this.initialObjective = this.objective;
    if (!Number.isFinite(this.objective)) {
      throw new RangeError(`icbsPrune: the objective of initialMask is ${this.objective} (weights or hessian too large for float64); rescale them`);
    }
    this.tabu = new Float64Array(this.n).fill(-1);
    this.rowGain = new Float64Array(outDim);
    this.rowDirty = new Uint8Array(outDim).fill(1);
  }

  /** One block step: choose a block, solve it, apply it when it improves, make it tabu. */
  step(): void {
    const o = this.o;
    const t = this.steps;
    let row = -1;
    if (o.scope === 'row') {
      if (o.selection === 'greedy') {
        const expiring = this.rowAt[t - o.tabuTenure - 1];
        if (expiring !== undefined) this.rowDirty[expiring] = 1;
        row = this.bestRow(t);
        this.rowDirty[row] = 1;
        this.rowAt[t] = row;
      } else {
        if (this.rowOrder.length === 0) this.rowOrder.push(...this.rng.permutation(o.outDim));
        row = this.rowOrder.pop()!;
      }
    }
    const block = o.nm ? this.pickGroups(row, t) : this.pickBlock(row, t);
    if (block !== null) {
      if (this.solveBlock(block) < 0) this.accepted++;
      for (const idx of block) this.tabu[idx] = t + o.tabuTenure;
    }
    this.steps++;
    this.trace.push(this.objective);
  }

  /** The search's outcome so far. */
  result(): ICBSResult {
    return { mask: this.mask, initialObjective: this.initialObjective, objective: this.objective, steps: this.steps, accepted: this.accepted, trace: Float64Array.from(this.trace) };
  }

  private grad(idx: number): number {
    return this.o.gradient ? this.o.gradientWeight * this.o.gradient[idx]! : 0;
  }

  private hdiag(idx: number): number {
    return this.o.hessian[Math.floor(idx / this.o.outDim) * (this.o.inDim + 1)]!;
  }

  /** Change of the objective from flipping weight idx alone (Gauss-Southwell's coordinate "gradient"). */
  private flipGain(idx: number): number {
    const wi = this.W[idx]!;
    const d = wi * wi * this.hdiag(idx);
    const c = this.C[idx]!;
    return this.mask[idx] ? 2 * wi * c + d - this.grad(idx) * wi : -(2 * wi * c - d) + this.grad(idx) * wi;
  }

  /** Non-tabu weights of one unit (row >= 0) or of the whole layer, pruned or kept. */
  private candidates(row: number, t: number, pruned: boolean): number[] {
    const { outDim, inDim } = this.o;
    const out: number[] = [];
    const { mask, tabu } = this;
    if (row >= 0) {
      for (let i = 0; i < inDim; i++) {
        const idx = i * outDim + row;
        if ((mask[idx] === 0) === pruned && tabu[idx]! < t) out.push(idx);
      }
    } else {
      for (let idx = 0; idx < this.n; idx++) if ((mask[idx] === 0) === pruned && tabu[idx]! < t) out.push(idx);
    }
    return out;
  }

  private take(pool: number[], count: number, key: ((idx: number) => number) | null): number[] {
    if (key === null) {
      this.rng.shuffle(pool);
      return pool.slice(0, count);
    }
    return smallestK(pool, count, key);
  }

  /** Best predicted swap inside one N:M group (flip gains of one pruned and one kept, non-tabu). */
  private groupGain(row: number, g0: number, t: number): number {
    const { outDim, nm } = this.o;
    let mp = Infinity;
    let mk = Infinity;
    for (let i = g0; i < g0 + nm!.m; i++) {
      const idx = i * outDim + row;
      if (this.tabu[idx]! >= t) return Infinity;
      const f = this.flipGain(idx);
      if (this.mask[idx]) mk = Math.min(mk, f);
      else mp = Math.min(mp, f);
    }
    return mp + mk;
  }

  private pickGroups(row: number, t: number): number[] | null {
    const { outDim, inDim, blockSize, selection } = this.o;
    const m = this.o.nm!.m;
    const free: number[] = [];
    for (let g0 = 0; g0 < inDim; g0 += m) {
      let ok = true;
      for (let i = g0; i < g0 + m && ok; i++) ok = this.tabu[i * outDim + row]! < t;
      if (ok) free.push(g0);
    }
    if (free.length === 0) return null;
    const k = Math.min(blockSize / m, free.length);
    let groups: number[];
    if (selection === 'random') groups = this.take(free, k, null);
    else if (selection === 'greedy') groups = this.take(free, k, (g0) => this.groupGain(row, g0, t));
    else {
      // Score rule: groups where the best pruned weight scores highest above the worst kept one.
      groups = this.take(free, k, (g0) => {
        let hi = -Infinity;
        let lo = Infinity;
        for (let i = g0; i < g0 + m; i++) {
          const idx = i * outDim + row;
          if (this.mask[idx]) lo = Math.min(lo, this.scores[idx]!);
          else hi = Math.max(hi, this.scores[idx]!);
        }
        return lo - hi;
      });
    }
    const block: number[] = [];
    for (const g0 of groups) for (let i = g0; i < g0 + m; i++) block.push(i * outDim + row);
    return block;
  }

  private pickBlock(row: number, t: number): number[] | null {
    const { prunedPerBlock, blockSize, selection } = this.o;
    const pr = this.candidates(row, t, true);
    const kp = this.candidates(row, t, false);
    const np = Math.min(prunedPerBlock, pr.length);
    const nk = Math.min(blockSize - prunedPerBlock, kp.length);
    if (np === 0 || nk === 0) return null;
    let a: number[];
    let b: number[];
    if (selection === 'random') {
      a = this.take(pr, np, null);
      b = this.take(kp, nk, null);
    } else if (selection === 'score') {
      a = this.take(pr, np, (idx) => -this.scores[idx]!); // pruned with the highest scores
      b = this.take(kp, nk, (idx) => this.scores[idx]!); // kept with the lowest
    } else {
      const gain = (idx: number): number => this.flipGain(idx);
      a = this.take(pr, np, gain); // most negative change when restored
      b = this.take(kp, nk, gain); // most negative change when pruned
    }
    return a.concat(b);
  }

  private bestRow(t: number): number {
    const { outDim, inDim, nm } = this.o;
    let best = 0;
    let bestGain = Infinity;
    for (let j = 0; j < outDim; j++) {
      if (this.rowDirty[j] && nm) {
        let gbest = Infinity;
        for (let g0 = 0; g0 < inDim; g0 += nm.m) gbest = Math.min(gbest, this.groupGain(j, g0, t));
        this.rowGain[j] = gbest;
        this.rowDirty[j] = 0;
      } else if (this.rowDirty[j]) {
        let mp = Infinity;
        let mk = Infinity;
        for (let i = 0; i < inDim; i++) {
          const idx = i * outDim + j;
          if (this.tabu[idx]! >= t) continue;
          const f = this.flipGain(idx);
          if (this.mask[idx]) mk = Math.min(mk, f);
          else mp = Math.min(mp, f);
        }
        this.rowGain[j] = mp + mk;
        this.rowDirty[j] = 0;
      }
      if (this.rowGain[j]! < bestGain) {
        bestGain = this.rowGain[j]!;
        best = j;
      }
    }
    return best;
  }

  /** The block's cardinality-constrained quadratic problem, with the rest of the mask fixed. */
  private blockProblem(block: number[]): { problem: BlockProblem; cur: Uint8Array } {
    const { outDim, inDim, hessian: H, nm } = this.o;
    const W = this.W;
    const m = block.length;
    const linear = new Float64Array(m);
    const quad = new Float64Array(m * m);
    const cur = new Uint8Array(m);
    let ones = 0;
    for (let k = 0; k < m; k++) {
      cur[k] = this.mask[block[k]!] ? 0 : 1;
      ones += cur[k]!;
    }
    for (let k = 0; k < m; k++) {
      const a = block[k]!;
      const ia = Math.floor(a / outDim);
      const ja = a % outDim;
      const wa = W[a]!;
      // Hessian times the pruned weights OUTSIDE the block, for this unit.
      let cOut = this.C[a]!;
      for (let l = 0; l < m; l++) {
        const b = block[l]!;
        if (!cur[l] || b % outDim !== ja) continue;
        cOut -= H[ia * inDim + Math.floor(b / outDim)]! * W[b]!;
      }
      linear[k] = 2 * wa * cOut + wa * wa * H[ia * inDim + ia]! - this.grad(a) * wa;
      for (let l = 0; l < m; l++) {
        const b = block[l]!;
        if (l === k || b % outDim !== ja) continue;
        quad[k * m + l] = wa * W[b]! * H[ia * inDim + Math.floor(b / outDim)]!;
      }
    }
    const problem: BlockProblem = { size: m, linear, quad, ones };
    if (nm) {
      // Blocks are whole groups laid out one after another; each keeps nm.n pruned.
      problem.groups = { id: Int32Array.from({ length: m }, (_, k) => Math.floor(k / nm.m)), ones: new Int32Array(m / nm.m).fill(nm.n) };
    }
    return { problem, cur };
  }

  /** Solves the block problem and applies it when it improves; returns the objective change. */
  private solveBlock(block: number[]): number {
    const { outDim, inDim, hessian: H } = this.o;
    const { problem, cur } = this.blockProblem(block);
    const curE = blockEnergy(problem, cur);
    const sol = this.o.solver === 'exhaustive' ? exhaustiveBlock(problem) : annealBlock(problem, this.rng, this.o.anneal, cur);
    const delta = sol.energy - curE;
    if (!(delta < -1e-12 * (Math.abs(this.objective) + Math.abs(curE) + 1e-300))) return 0;
    for (let k = 0; k < block.length; k++) {
      if (sol.z[k] === cur[k]) continue;
      const idx = block[k]!;
      const nowPruned = sol.z[k] === 1;
      this.mask[idx] = nowPruned ? 0 : 1;
      const i = Math.floor(idx / outDim);
      const j = idx % outDim;
      const s = nowPruned ? this.W[idx]! : -this.W[idx]!;
      for (let r = 0; r < inDim; r++) this.C[r * outDim + j] = this.C[r * outDim + j]! + H[r * inDim + i]! * s;
    }
    this.objective += delta;
    return delta;
  }
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

/**
 * The `count` entries of `pool` with the smallest keys, ascending (ties: lower index first), by
 * insertion into a short sorted list: O(pool * count) at worst, about O(pool) in practice.
 * @internal
 */
export function smallestK(pool: number[], count: number, key: (idx: number) => number): number[] {
  // The `count` smallest keys (ties: lower index), by insertion into a short sorted list: O(pool * count) worst case.
  const best: number[] = [];
  const bestKey: number[] = [];
  for (const idx of pool) {
    const k = key(idx);
    if (best.length === count && !(k < bestKey[count - 1]! || (k === bestKey[count - 1]! && idx < best[count - 1]!))) continue;
    let p = best.length === count ? count - 1 : best.length;
    while (p > 0 && (bestKey[p - 1]! > k || (bestKey[p - 1]! === k && best[p - 1]! > idx))) {
      if (p < count) {
        best[p] = best[p - 1]!;
        bestKey[p] = bestKey[p - 1]!;
      }
      p--;
    }
    best[p] = idx;
    bestKey[p] = k;
    if (best.length > count) {
      best.length = count;
      bestKey.length = count;
    }
  }
  return best;
}
