import type { Rng } from '@blockwise/tensor';
import { describe } from './matrix.js';

/**
 * A cardinality-constrained binary quadratic problem on a block of `size` variables:
 * minimize E(z) = sum_k linear_k z_k + sum_{k != l} quad_kl z_k z_l subject to sum_k z_k = `ones`,
 * z in {0,1}^size. `quad` is symmetric, row-major `size x size`; its diagonal is ignored.
 */
export interface BlockProblem {
  size: number;
  linear: Float64Array;
  quad: Float64Array;
  ones: number;
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
  if (!Number.isInteger(p.size) || p.size < 1) throw new Error(`${fn}: size must be a positive integer, got ${describe(p.size)}`);
  if (p.linear.length !== p.size) throw new Error(`${fn}: linear must have size = ${p.size} values, got ${p.linear.length}`);
  if (p.quad.length !== p.size * p.size) throw new Error(`${fn}: quad must have size^2 = ${p.size * p.size} values, got ${p.quad.length}`);
  if (!Number.isInteger(p.ones) || p.ones < 0 || p.ones > p.size) throw new Error(`${fn}: ones must be an integer in [0, ${p.size}], got ${describe(p.ones)}`);
}

/**
 * Exact minimum of a block problem by enumerating all C(size, ones) assignments (size <= 20; the
 * tests use it up to 16 to check {@link annealBlock}). Ties keep the first in colex order.
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
    const e = blockEnergy(p, z);
    if (e < best.energy) best = { z: Uint8Array.from(z), energy: e };
    const c = v & -v;
    const r = v + c;
    v = (((r ^ v) >> 2) / c) | r;
  }
  return best;
}

/**
 * Simulated annealing on a block problem with swap moves (one 1 and one 0 exchange places), so
 * every state keeps the cardinality. Geometric cooling from t0 to t0 * tEndFraction; returns the best
 * state seen over all reads (never worse than `start` when `start` is given).
 */
export function annealBlock(p: BlockProblem, rng: Rng, opts: AnnealOptions = {}, start?: Uint8Array): BlockSolution {
  checkBlockProblem(p, 'annealBlock');
  const sweeps = opts.sweeps ?? 60;
  const reads = opts.reads ?? 4;
  const endFrac = opts.tEndFraction ?? 1e-3;
  if (!Number.isInteger(sweeps) || sweeps < 1) throw new Error(`annealBlock: sweeps must be a positive integer, got ${describe(sweeps)}`);
  if (!Number.isInteger(reads) || reads < 1) throw new Error(`annealBlock: reads must be a positive integer, got ${describe(reads)}`);
  if (!(endFrac > 0 && endFrac <= 1)) throw new Error(`annealBlock: tEndFraction must be in (0, 1], got ${describe(endFrac)}`);
  const n = p.size;
  const k1 = p.ones;
  if (start) {
    let c = 0;
    for (let k = 0; k < n; k++) c += start[k] ? 1 : 0;
    if (start.length !== n || c !== k1) throw new Error(`annealBlock: start must have ${n} entries with exactly ${k1} ones`);
  }
  const z = new Uint8Array(n);
  let best: BlockSolution = start ? { z: Uint8Array.from(start), energy: blockEnergy(p, start) } : { z: new Uint8Array(n), energy: Infinity };
  if (k1 === 0 || k1 === n) {
    z.fill(k1 === 0 ? 0 : 1);
    return { z, energy: blockEnergy(p, z) };
  }
  const h = new Float64Array(n);
  const onesIdx = new Int32Array(k1);
  const zerosIdx = new Int32Array(n - k1);
  const Q = p.quad;
  for (let read = 0; read < reads; read++) {
    if (read === 0 && start) z.set(start);
    else {
      z.fill(0);
      const perm = rng.permutation(n);
      for (let t = 0; t < k1; t++) z[perm[t]!] = 1;
    }
    // Local fields h_k = linear_k + 2 * sum_{l != k} quad_kl z_l: the energy of turning k on, given the rest.
    let energy = 0;
    for (let k = 0; k < n; k++) {
      let s = p.linear[k]!;
      for (let l = 0; l < n; l++) if (l !== k && z[l]) s += 2 * Q[k * n + l]!;
      h[k] = s;
    }
    energy = blockEnergy(p, z);
    let a = 0;
    let b = 0;
    for (let k = 0; k < n; k++) {
      if (z[k]) onesIdx[a++] = k;
      else zerosIdx[b++] = k;
    }
    let t0 = opts.t0;
    if (t0 === undefined) {
      // Mean |dE| of the swaps from this state sets the scale.
      let s = 0;
      let m = 0;
      for (let i = 0; i < k1; i++) {
        for (let j = 0; j < n - k1; j++) {
          const u = onesIdx[i]!;
          const v = zerosIdx[j]!;
          s += Math.abs(-h[u]! + h[v]! - 2 * Q[u * n + v]!);
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
    for (let mv = 0; mv < moves; mv++, T *= cool) {
      const ia = rng.int(k1);
      const ib = rng.int(n - k1);
      const u = onesIdx[ia]!;
      const v = zerosIdx[ib]!;
      const dE = -h[u]! + h[v]! - 2 * Q[u * n + v]!;
      if (dE <= 0 || rng.next() < Math.exp(-dE / T)) {
        z[u] = 0;
        z[v] = 1;
        onesIdx[ia] = v;
        zerosIdx[ib] = u;
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
