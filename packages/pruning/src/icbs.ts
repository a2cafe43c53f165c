import { createRng } from '@blockwise/tensor';
import { annealBlock, blockEnergy, exhaustiveBlock, type AnnealOptions, type BlockProblem } from './anneal.js';
import { checkMask, checkMatrix, checkNM, describe, type Mask, type NMPattern, type WeightMatrix } from './matrix.js';

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

/**
 * iterative Combinatorial Brain Surgeon (arXiv 2411.17796): block coordinate descent on the
 * pruning mask. Each step picks a block (some pruned weights, some kept ones), builds the block's
 * quadratic problem with the rest of the mask fixed, solves it under the constraint that the block
 * keeps its number of pruned weights (simulated annealing, or exhaustively), and accepts the new
 * block assignment only if the objective decreases. Block members then stay tabu for `tabuTenure`
 * steps. The density never changes and the objective never increases.
 */
export function icbsPrune(w: WeightMatrix, opts: ICBSOptions): ICBSResult {
  checkMatrix(w, 'icbsPrune');
  const [inDim, outDim] = w.shape;
  checkMask(opts.initialMask, w, 'icbsPrune');
  const H = opts.hessian;
  if (!(H instanceof Float64Array) || H.length !== inDim * inDim) {
    throw new Error(`icbsPrune: hessian must be a Float64Array of inDim^2 = ${inDim * inDim} values, got ${describe(H)}`);
  }
  const g = opts.gradient;
  if (g !== undefined && (!(g instanceof Float32Array) || g.length !== w.data.length)) {
    throw new Error(`icbsPrune: gradient must be a Float32Array with the weights' ${w.data.length} values, got ${describe(g)}`);
  }
  const lambda = opts.gradientWeight ?? 1;
  const nm = opts.nm;
  const blockSize = opts.blockSize ?? (nm ? Math.max(nm.m, 4 * nm.m) : 16);
  const scope = opts.scope ?? 'row';
  const selection = opts.selection ?? 'greedy';
  const solver = opts.solver ?? 'anneal';
  const tenure = opts.tabuTenure ?? 4;
  const steps = opts.steps ?? (opts.timeBudgetMs === undefined ? 1000 : Infinity);
  if (!Number.isInteger(blockSize) || blockSize < 2) throw new Error(`icbsPrune: blockSize must be an integer >= 2, got ${describe(blockSize)}`);
  if (solver === 'exhaustive' && blockSize > 16) throw new Error(`icbsPrune: the exhaustive solver takes blocks of at most 16 weights, got blockSize ${blockSize}`);
  if (solver !== 'anneal' && solver !== 'exhaustive') throw new Error(`icbsPrune: solver must be 'anneal' or 'exhaustive', got ${describe(solver)}`);
  if (!['random', 'score', 'greedy'].includes(selection)) throw new Error(`icbsPrune: selection must be 'random', 'score' or 'greedy', got ${describe(selection)}`);
  if (scope !== 'row' && scope !== 'layer') throw new Error(`icbsPrune: scope must be 'row' or 'layer', got ${describe(scope)}`);
  if (nm) {
    checkNM(nm, inDim, 'icbsPrune');
    if (scope !== 'row') throw new Error(`icbsPrune: nm needs scope 'row', got ${describe(scope)}`);
    if (blockSize % nm.m !== 0) throw new Error(`icbsPrune: with nm, blockSize must be a multiple of nm.m = ${nm.m}, got ${blockSize}`);
    for (let j = 0; j < outDim; j++) {
      for (let g0 = 0; g0 < inDim; g0 += nm.m) {
        let pr = 0;
        for (let i = g0; i < g0 + nm.m; i++) pr += opts.initialMask[i * outDim + j] ? 0 : 1;
        if (pr !== nm.n) throw new Error(`icbsPrune: initialMask must have exactly nm.n = ${nm.n} pruned in every group of ${nm.m}; output unit ${j}, inputs ${g0}..${g0 + nm.m - 1} have ${pr}`);
      }
    }
  }
  const prunedPerBlock = nm ? 1 : opts.prunedPerBlock ?? Math.floor(blockSize / 2);
  if (!Number.isInteger(prunedPerBlock) || prunedPerBlock < 1 || prunedPerBlock >= blockSize) {
    throw new Error(`icbsPrune: prunedPerBlock must be an integer in [1, blockSize - 1 = ${blockSize - 1}], got ${describe(prunedPerBlock)}`);
  }
  if (!(steps === Infinity || (Number.isInteger(steps) && steps >= 0))) throw new Error(`icbsPrune: steps must be a non-negative integer, got ${describe(steps)}`);
  if (opts.timeBudgetMs !== undefined && !(opts.timeBudgetMs >= 0)) throw new Error(`icbsPrune: timeBudgetMs must be >= 0, got ${describe(opts.timeBudgetMs)}`);
  if (!Number.isInteger(tenure) || tenure < 0) throw new Error(`icbsPrune: tabuTenure must be a non-negative integer, got ${describe(tenure)}`);
  const rng = createRng(opts.seed ?? 0);
  const W = w.data;
  const mask = Uint8Array.from(opts.initialMask);
  const n = W.length;

  // C[i * outDim + j] = (H p_j)_i: the Hessian applied to the pruned weights of unit j.
  const C = new Float64Array(n);
  for (let j = 0; j < outDim; j++) {
    for (let k = 0; k < inDim; k++) {
      if (mask[k * outDim + j]) continue;
      const wk = W[k * outDim + j]!;
      if (wk === 0) continue;
      for (let i = 0; i < inDim; i++) C[i * outDim + j] = C[i * outDim + j]! + H[i * inDim + k]! * wk;
    }
  }
  const grad = (idx: number): number => (g ? lambda * g[idx]! : 0);
  const hdiag = (idx: number): number => H[Math.floor(idx / outDim) * (inDim + 1)]!;
  // Change of the objective from flipping weight idx alone (Gauss-Southwell's coordinate "gradient").
  const flipGain = (idx: number): number => {
    const wi = W[idx]!;
    const d = wi * wi * hdiag(idx);
    return mask[idx] ? 2 * wi * C[idx]! + d - grad(idx) * wi : -(2 * wi * C[idx]! - d) + grad(idx) * wi;
  };
  const scores = opts.scores ?? Float64Array.from(W, (v, idx) => Math.abs(v) * Math.sqrt(Math.max(0, hdiag(idx))));
  if (scores.length !== n) throw new Error(`icbsPrune: scores must have the weights' ${n} values, got ${scores.length}`);

  let objective = icbsObjective(w, mask, H, g, lambda);
  const initialObjective = objective;
  const tabu = new Float64Array(n).fill(-1);
  const trace: number[] = [];
  const t0 = Date.now();
  let accepted = 0;
  let step = 0;
  const rowOrder: number[] = [];
  // Greedy row choice: each unit's best predicted swap gain, cached. Only the unit just processed
  // changes (its mask, its C column, its tabu entries), plus the unit whose tabu entries expire now.
  const rowGain = new Float64Array(outDim);
  const rowDirty = new Uint8Array(outDim).fill(1);
  const rowAt: number[] = [];
  for (; step < steps; step++) {
    if (opts.timeBudgetMs !== undefined && Date.now() - t0 >= opts.timeBudgetMs) break;
    // Candidate pool: one unit's weights ('row') or the whole layer.
    let row = -1;
    if (scope === 'row') {
      if (selection === 'greedy') {
        const expiring = rowAt[step - tenure - 1];
        if (expiring !== undefined) rowDirty[expiring] = 1;
        row = bestRow();
        rowDirty[row] = 1;
        rowAt[step] = row;
      } else {
        if (rowOrder.length === 0) rowOrder.push(...rng.permutation(outDim));
        row = rowOrder.pop()!;
      }
    }
    const block = pickBlock(row, step);
    if (block !== null) {
      if (solveBlock(block) < 0) accepted++;
      for (const idx of block) tabu[idx] = step + tenure;
    }
    trace.push(objective);
    opts.onStep?.(step + 1, objective, mask);
  }
  return { mask, initialObjective, objective, steps: trace.length, accepted, trace: Float64Array.from(trace) };

  function candidates(row: number, step: number, pruned: boolean): number[] {
    const out: number[] = [];
    if (row >= 0) {
      for (let i = 0; i < inDim; i++) {
        const idx = i * outDim + row;
        if ((mask[idx] === 0) === pruned && tabu[idx]! < step) out.push(idx);
      }
    } else {
      for (let idx = 0; idx < n; idx++) if ((mask[idx] === 0) === pruned && tabu[idx]! < step) out.push(idx);
    }
    return out;
  }

  function take(pool: number[], count: number, key: ((idx: number) => number) | null): number[] {
    if (key === null) {
      rng.shuffle(pool);
      return pool.slice(0, count);
    }
    return smallestK(pool, count, key);
  }

  /** Best predicted swap inside one N:M group (flip gains of one pruned and one kept, non-tabu). */
  function groupGain(row: number, g0: number): number {
    let mp = Infinity;
    let mk = Infinity;
    for (let i = g0; i < g0 + nm!.m; i++) {
      const idx = i * outDim + row;
      if (tabu[idx]! >= step) return Infinity;
      const f = flipGain(idx);
      if (mask[idx]) mk = Math.min(mk, f);
      else mp = Math.min(mp, f);
    }
    return mp + mk;
  }

  function pickGroups(row: number): number[] | null {
    const m = nm!.m;
    const free: number[] = [];
    for (let g0 = 0; g0 < inDim; g0 += m) {
      let ok = true;
      for (let i = g0; i < g0 + m && ok; i++) ok = tabu[i * outDim + row]! < step;
      if (ok) free.push(g0);
    }
    if (free.length === 0) return null;
    const k = Math.min(blockSize / m, free.length);
    let groups: number[];
    if (selection === 'random') groups = take(free, k, null);
    else if (selection === 'greedy') groups = take(free, k, (g0) => groupGain(row, g0));
    else {
      // Score rule: groups where the best pruned weight scores highest above the worst kept one.
      groups = take(free, k, (g0) => {
        let hi = -Infinity;
        let lo = Infinity;
        for (let i = g0; i < g0 + m; i++) {
          const idx = i * outDim + row;
          if (mask[idx]) lo = Math.min(lo, scores[idx]!);
          else hi = Math.max(hi, scores[idx]!);
        }
        return lo - hi;
      });
    }
    const block: number[] = [];
    for (const g0 of groups) for (let i = g0; i < g0 + m; i++) block.push(i * outDim + row);
    return block;
  }

  function pickBlock(row: number, step: number): number[] | null {
    if (nm) return pickGroups(row);
    const pr = candidates(row, step, true);
    const kp = candidates(row, step, false);
    const np = Math.min(prunedPerBlock, pr.length);
    const nk = Math.min(blockSize - prunedPerBlock, kp.length);
    if (np === 0 || nk === 0) return null;
    let a: number[];
    let b: number[];
    if (selection === 'random') {
      a = take(pr, np, null);
      b = take(kp, nk, null);
    } else if (selection === 'score') {
      a = take(pr, np, (idx) => -scores[idx]!); // pruned with the highest scores
      b = take(kp, nk, (idx) => scores[idx]!); // kept with the lowest
    } else {
      a = take(pr, np, flipGain); // most negative change when restored
      b = take(kp, nk, flipGain); // most negative change when pruned
    }
    return a.concat(b);
  }

  function bestRow(): number {
    let best = 0;
    let bestGain = Infinity;
    for (let j = 0; j < outDim; j++) {
      if (rowDirty[j] && nm) {
        let gbest = Infinity;
        for (let g0 = 0; g0 < inDim; g0 += nm.m) gbest = Math.min(gbest, groupGain(j, g0));
        rowGain[j] = gbest;
        rowDirty[j] = 0;
      } else if (rowDirty[j]) {
        let mp = Infinity;
        let mk = Infinity;
        for (let i = 0; i < inDim; i++) {
          const idx = i * outDim + j;
          if (tabu[idx]! >= step) continue;
          const f = flipGain(idx);
          if (mask[idx]) mk = Math.min(mk, f);
          else mp = Math.min(mp, f);
        }
        rowGain[j] = mp + mk;
        rowDirty[j] = 0;
      }
      if (rowGain[j]! < bestGain) {
        bestGain = rowGain[j]!;
        best = j;
      }
    }
    return best;
  }

  /** Solves the block problem and applies it when it improves; returns the objective change. */
  function solveBlock(block: number[]): number {
    const m = block.length;
    const linear = new Float64Array(m);
    const quad = new Float64Array(m * m);
    const cur = new Uint8Array(m);
    let ones = 0;
    for (let k = 0; k < m; k++) {
      const idx = block[k]!;
      cur[k] = mask[idx] ? 0 : 1;
      ones += cur[k]!;
    }
    for (let k = 0; k < m; k++) {
      const a = block[k]!;
      const ia = Math.floor(a / outDim);
      const ja = a % outDim;
      const wa = W[a]!;
      // Hessian times the pruned weights OUTSIDE the block, for this unit.
      let cOut = C[a]!;
      for (let l = 0; l < m; l++) {
        const b = block[l]!;
        if (!cur[l] || b % outDim !== ja) continue;
        cOut -= H[ia * inDim + Math.floor(b / outDim)]! * W[b]!;
      }
      linear[k] = 2 * wa * cOut + wa * wa * H[ia * inDim + ia]! - grad(a) * wa;
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
    const curE = blockEnergy(problem, cur);
    const sol = solver === 'exhaustive' ? exhaustiveBlock(problem) : annealBlock(problem, rng, opts.anneal, cur);
    const delta = sol.energy - curE;
    if (!(delta < -1e-12 * (Math.abs(objective) + Math.abs(curE) + 1e-300))) return 0;
    for (let k = 0; k < m; k++) {
      if (sol.z[k] === cur[k]) continue;
      const idx = block[k]!;
      const nowPruned = sol.z[k] === 1;
      mask[idx] = nowPruned ? 0 : 1;
      const i = Math.floor(idx / outDim);
      const j = idx % outDim;
      const s = nowPruned ? W[idx]! : -W[idx]!;
      for (let r = 0; r < inDim; r++) C[r * outDim + j] = C[r * outDim + j]! + H[r * inDim + i]! * s;
    }
    objective += delta;
    return delta;
  }
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
