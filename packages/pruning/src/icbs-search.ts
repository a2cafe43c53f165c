import { createRng, type Rng } from '@blockwise/tensor';
import { annealBlock, blockEnergy, exhaustiveBlock, type BlockProblem } from './anneal.js';
import type { ICBSResult, ResolvedICBS } from './icbs.js';
import type { Mask, WeightMatrix } from './matrix.js';

/** The iCBS objective without argument checks (see `icbsObjective`). @internal */
export function objectiveOf(
  w: WeightMatrix,
  mask: Mask,
  hessian: Float64Array,
  gradient: Float32Array | undefined,
  gradientWeight: number,
): number {
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
    this.scores =
      o.scores ?? Float64Array.from(this.W, (v, idx) => Math.abs(v) * Math.sqrt(Math.max(0, this.hdiag(idx))));
    this.objective = objectiveOf(o.w, this.mask, H, o.gradient, o.gradientWeight);
    this.initialObjective = this.objective;
    if (!Number.isFinite(this.objective)) {
      throw new RangeError(
        `icbsPrune: the objective of initialMask is ${this.objective} (weights or hessian too large for float64); rescale them`,
      );
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
    return {
      mask: this.mask,
      initialObjective: this.initialObjective,
      objective: this.objective,
      steps: this.steps,
      accepted: this.accepted,
      trace: Float64Array.from(this.trace),
    };
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
      problem.groups = {
        id: Int32Array.from({ length: m }, (_, k) => Math.floor(k / nm.m)),
        ones: new Int32Array(m / nm.m).fill(nm.n),
      };
    }
    return { problem, cur };
  }

  /** Solves the block problem and applies it when it improves; returns the objective change. */
  private solveBlock(block: number[]): number {
    const { outDim, inDim, hessian: H } = this.o;
    const { problem, cur } = this.blockProblem(block);
    const curE = blockEnergy(problem, cur);
    const sol =
      this.o.solver === 'exhaustive' ? exhaustiveBlock(problem) : annealBlock(problem, this.rng, this.o.anneal, cur);
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
    if (best.length === count && !(k < bestKey[count - 1]! || (k === bestKey[count - 1]! && idx < best[count - 1]!)))
      continue;
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
