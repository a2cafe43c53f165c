import { checkNumber, checkOptions, type Rng } from '@blockwise/tensor';
import { describe } from './matrix.js';

/**
 * A cardinality-constrained binary quadratic problem on a block of `size` variables:
 * minimize E(z) = sum_k linear_k z_k + sum_{k != l} quad_kl z_k z_l subject to sum_k z_k = `ones`,
 * z in {0,1}^size. `quad` is symmetric, row-major `size x size`; its diagonal is ignored.
 * With `groups`, the constraint holds per group instead: variables with group id g hold exactly
 * `groups.ones[g]` ones (N:M pruning), and `ones` is their total.
 */
export interface BlockProblem {
  size: number;
  linear: Float64Array;
  quad: Float64Array;
  ones: number;
  groups?: { id: Int32Array; ones: Int32Array };
}

/** A solution of a {@link BlockProblem}. */
export interface BlockSolution {
  z: Uint8Array;
  energy: number;
}

/** Options of {@link annealBlock}. */
export interface AnnealOptions {
  /** Sweeps (each `size` swap proposals) per read; default 60. */
  sweeps?: number;
  /** Independent restarts; the first starts from `start` when given; default 4. */
  reads?: number;
  /** Start temperature; default from the spread of swap energy changes at the start state. */
  t0?: number;
  /** End temperature as a fraction of t0; default 1e-3. */
  tEndFraction?: number;
}

/** E(z) of a block problem, computed directly. */
export function blockEnergy(p: BlockProblem, z: Uint8Array): number {
  let e = 0;
  for (let k = 0; k < p.size; k++) {
    if (!z[k]) continue;
    e += p.linear[k]!;
    for (let l = 0; l < p.size; l++) if (l !== k && z[l]) e += p.quad[k * p.size + l]!;
  }
  return e;
}

/** @internal */
export function checkBlockProblem(p: BlockProblem, fn: string): void {
  if (!Number.isInteger(p.size) || p.size < 1)
    throw new Error(`${fn}: size must be a positive integer, got ${describe(p.size)}`);
  if (p.linear.length !== p.size)
    throw new Error(`${fn}: linear must have size = ${p.size} values, got ${p.linear.length}`);
  if (p.quad.length !== p.size * p.size)
    throw new Error(`${fn}: quad must have size^2 = ${p.size * p.size} values, got ${p.quad.length}`);
  if (!Number.isInteger(p.ones) || p.ones < 0 || p.ones > p.size)
    throw new Error(`${fn}: ones must be an integer in [0, ${p.size}], got ${describe(p.ones)}`);
  if (p.groups) {
    const { id, ones } = p.groups;
    if (id.length !== p.size) throw new Error(`${fn}: groups.id must have size = ${p.size} entries, got ${id.length}`);
    const count = new Int32Array(ones.length);
    for (const g of id) {
      if (!(g >= 0 && g < ones.length))
        throw new Error(`${fn}: groups.id must hold group indices in [0, ${ones.length}), got ${g}`);
      count[g]!++;
    }
    let total = 0;
    ones.forEach((o, g) => {
      if (!Number.isInteger(o) || o < 0 || o > count[g]!)
        throw new Error(`${fn}: groups.ones[${g}] must be in [0, ${count[g]}], got ${o}`);
      total += o;
    });
    if (total !== p.ones) throw new Error(`${fn}: ones (${p.ones}) must equal the sum of groups.ones (${total})`);
  }
}

function feasible(p: BlockProblem, z: Uint8Array): boolean {
  let c = 0;
  for (let k = 0; k < p.size; k++) c += z[k] ? 1 : 0;
  if (c !== p.ones) return false;
  if (!p.groups) return true;
  const count = new Int32Array(p.groups.ones.length);
  for (let k = 0; k < p.size; k++) if (z[k]) count[p.groups.id[k]!]!++;
  return count.every((v, g) => v === p.groups!.ones[g]);
}

/**
 * Exact minimum of a block problem by enumeration (size <= 20; the tests use it up to 16 to check
 * {@link annealBlock}). Ties keep the first assignment in increasing bit order.
 */
export function exhaustiveBlock(p: BlockProblem): BlockSolution {
  checkBlockProblem(p, 'exhaustiveBlock');
  if (p.size > 20) throw new Error(`exhaustiveBlock: size must be <= 20, got ${p.size}`);
  const z = new Uint8Array(p.size);
  let best: BlockSolution = { z: new Uint8Array(p.size), energy: Infinity };
  if (p.ones === 0) return { z, energy: 0 };
  // Gosper's hack: all size-bit words with `ones` bits set, in increasing order.
  let v = (1 << p.ones) - 1;
  const limit = 1 << p.size;
  while (v < limit) {
    for (let k = 0; k < p.size; k++) z[k] = (v >> k) & 1;
    if (!p.groups || feasible(p, z)) {
      const e = blockEnergy(p, z);
      if (e < best.energy) best = { z: Uint8Array.from(z), energy: e };
    }
    const c = v & -v;
    const r = v + c;
    v = (((r ^ v) >> 2) / c) | r;
  }
  return best;
}

/** Checks {@link AnnealOptions}: known keys, sweeps and reads bounded integers, t0 > 0, tEndFraction in (0, 1]. @internal */
export function checkAnnealOptions(options: AnnealOptions, what: string): void {
  const opts = checkOptions(what, options, ['sweeps', 'reads', 't0', 'tEndFraction']);
  if (opts.sweeps !== undefined) checkNumber(`${what}: sweeps`, opts.sweeps, { integer: true, min: 1, max: 1e6 });
  if (opts.reads !== undefined) checkNumber(`${what}: reads`, opts.reads, { integer: true, min: 1, max: 1e4 });
  if (opts.t0 !== undefined) checkNumber(`${what}: t0`, opts.t0, { min: 0, exclusiveMin: true });
  if (opts.tEndFraction !== undefined)
    checkNumber(`${what}: tEndFraction`, opts.tEndFraction, { min: 0, exclusiveMin: true, max: 1 });
}

/**
 * Simulated annealing on a block problem with swap moves (a 1 and a 0 of the same group exchange
 * places), so every state keeps the cardinality. Geometric cooling from t0 to t0 * tEndFraction;
 * returns the best state seen over all reads (never worse than `start` when `start` is given).
 */
export function annealBlock(p: BlockProblem, rng: Rng, opts: AnnealOptions = {}, start?: Uint8Array): BlockSolution {
  checkBlockProblem(p, 'annealBlock');
  checkAnnealOptions(opts, 'annealBlock');
  const sweeps = opts.sweeps ?? 60;
  const reads = opts.reads ?? 4;
  const endFrac = opts.tEndFraction ?? 1e-3;
  const n = p.size;
  const k1 = p.ones;
  if (start && (start.length !== n || !feasible(p, start))) {
    throw new Error(
      `annealBlock: start must have ${n} entries with exactly ${k1} ones${p.groups ? ' (and each group its count)' : ''}`,
    );
  }
  const gid = p.groups?.id ?? new Int32Array(n);
  const gOnes = p.groups?.ones ?? Int32Array.of(k1);
  const z = new Uint8Array(n);
  let best: BlockSolution = start
    ? { z: Uint8Array.from(start), energy: blockEnergy(p, start) }
    : { z: new Uint8Array(n), energy: Infinity };
  if (k1 === 0 || k1 === n) {
    z.fill(k1 === 0 ? 0 : 1);
    return { z, energy: blockEnergy(p, z) };
  }
  const h = new Float64Array(n);
  const onesIdx = new Int32Array(k1);
  const zeros: number[] = [];
  const Q = p.quad;
  const members: number[][] = Array.from({ length: gOnes.length }, () => []);
  for (let k = 0; k < n; k++) members[gid[k]!]!.push(k);
  for (let read = 0; read < reads; read++) {
    if (read === 0 && start) z.set(start);
    else {
      z.fill(0);
      members.forEach((m, g) => {
        const perm = rng.permutation(m.length);
        for (let t = 0; t < gOnes[g]!; t++) z[m[perm[t]!]!] = 1;
      });
    }
    // Local fields h_k = linear_k + 2 * sum_{l != k} quad_kl z_l: the energy of turning k on, given the rest.
    for (let k = 0; k < n; k++) {
      let s = p.linear[k]!;
      for (let l = 0; l < n; l++) if (l !== k && z[l]) s += 2 * Q[k * n + l]!;
      h[k] = s;
    }
    let energy = blockEnergy(p, z);
    let a = 0;
    zeros.length = 0;
    for (let k = 0; k < n; k++) {
      if (z[k]) onesIdx[a++] = k;
      else zeros.push(k);
    }
    const swapDelta = (u: number, v: number): number => -h[u]! + h[v]! - 2 * Q[u * n + v]!;
    let t0 = opts.t0;
    if (t0 === undefined) {
      // Mean |dE| of the allowed swaps from this state sets the scale.
      let s = 0;
      let m = 0;
      for (let i = 0; i < k1; i++) {
        for (const v of zeros) {
          const u = onesIdx[i]!;
          if (gid[u] !== gid[v]) continue;
          s += Math.abs(swapDelta(u, v));
          m++;
        }
      }
      t0 = m > 0 ? s / m : 1;
    }
    if (!(t0 > 0)) t0 = 1e-12;
    const moves = sweeps * n;
    const cool = Math.pow(endFrac, 1 / Math.max(1, moves - 1));
    let T = t0;
    if (energy < best.energy) best = { z: Uint8Array.from(z), energy };
    const same: number[] = [];
    for (let mv = 0; mv < moves; mv++, T *= cool) {
      const ia = rng.int(k1);
      const u = onesIdx[ia]!;
      let ib: number;
      if (p.groups) {
        same.length = 0;
        for (let j = 0; j < zeros.length; j++) if (gid[zeros[j]!] === gid[u]) same.push(j);
        if (same.length === 0) continue;
        ib = same[rng.int(same.length)]!;
      } else ib = rng.int(zeros.length);
      const v = zeros[ib]!;
      const dE = swapDelta(u, v);
      if (dE <= 0 || rng.next() < Math.exp(-dE / T)) {
        z[u] = 0;
        z[v] = 1;
        onesIdx[ia] = v;
        zeros[ib] = u;
        for (let l = 0; l < n; l++) h[l] = h[l]! + 2 * (Q[l * n + v]! - Q[l * n + u]!);
        // Own fields exclude the diagonal: undo the self terms added above.
        h[v] = h[v]! - 2 * Q[v * n + v]!;
        h[u] = h[u]! + 2 * Q[u * n + u]!;
        energy += dE;
        if (energy < best.energy - 1e-15 * Math.abs(best.energy)) best = { z: Uint8Array.from(z), energy };
      }
    }
  }
  // Report the exact energy of the returned state (the running sum can drift).
  best.energy = blockEnergy(p, best.z);
  return best;
}
