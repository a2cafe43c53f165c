/**
 * Time grids for sampling (t = 0 noise, t = 1 data) and the time shifts of diffusers'
 * flow-match schedulers, translated to our convention through sigma = 1 - t.
 */

import { checkNumber, checkOptions, describeValue } from '@blockwise/tensor';

/** Largest grid `uniformTimeGrid` builds (an array of that many times; 1e10 would exhaust memory). */
const MAX_GRID_STEPS = 1e7;

/** Throws unless `grid` holds at least two finite times, strictly increasing or strictly decreasing. */
export function checkTimeGrid(grid: ArrayLike<number>, name = 'timeGrid'): number[] {
  if (grid === null || typeof grid !== 'object' || typeof grid.length !== 'number')
    throw new Error(`${name} must be an array of times, got ${describeValue(grid)}`);
  if (grid.length > MAX_GRID_STEPS + 1)
    throw new Error(`${name} must hold at most ${MAX_GRID_STEPS + 1} times, got ${grid.length}`);
  const g = Array.from(grid);
  if (g.length < 2) throw new Error(`${name} must hold at least 2 times, got ${g.length}`);
  for (let i = 0; i < g.length; i++) {
    if (!Number.isFinite(g[i])) throw new Error(`${name}[${i}] must be a finite number, got ${g[i]}`);
  }
  const dir = Math.sign(g[1]! - g[0]!);
  for (let i = 1; i < g.length; i++) {
    const d = g[i]! - g[i - 1]!;
    if (dir === 0 || Math.sign(d) !== dir) {
      throw new Error(
        `${name} must be strictly monotone, got ${g[i - 1]} then ${g[i]} at index ${i} (grid [${g.join(', ')}])`,
      );
    }
  }
  return g;
}

/** `steps + 1` equally spaced times from t0 to t1 (default 0 to 1). */
export function uniformTimeGrid(steps: number, t0 = 0, t1 = 1): number[] {
  checkNumber('uniformTimeGrid: steps', steps, { integer: true, min: 1, max: MAX_GRID_STEPS });
  if (!Number.isFinite(t0) || !Number.isFinite(t1) || t0 === t1) {
    throw new Error(`t0 and t1 must be distinct finite numbers, got ${t0} and ${t1}`);
  }
  const out: number[] = [];
  for (let i = 0; i <= steps; i++) out.push(i === steps ? t1 : t0 + ((t1 - t0) * i) / steps);
  return out;
}

/**
 * diffusers' static shift of a noise level: sigma' = s sigma / (1 + (s - 1) sigma). In our time,
 * sigma = 1 - t, so t' = 1 - shift(1 - t). s > 1 spends more steps near the noise end (t = 0).
 */
export function shiftTime(t: number, shift: number): number {
  if (!Number.isFinite(shift) || shift <= 0) throw new Error(`shift must be a positive number, got ${shift}`);
  if (!Number.isFinite(t) || t < 0 || t > 1) throw new Error(`t must be a number in [0, 1], got ${t}`);
  const sigma = 1 - t;
  return 1 - (shift * sigma) / (1 + (shift - 1) * sigma);
}

/** Applies `shiftTime` to every time of a grid (stays monotone, endpoints 0 and 1 fixed). */
export function shiftTimeGrid(grid: ArrayLike<number>, shift: number): number[] {
  return checkTimeGrid(grid).map((t) => shiftTime(t, shift));
}

/** Options of diffusers' `calculate_shift` (defaults are diffusers' FlowMatchEulerDiscreteScheduler's). */
export interface DynamicShiftOptions {
  baseSeqLen?: number;
  maxSeqLen?: number;
  baseShift?: number;
  maxShift?: number;
}

/**
 * mu of diffusers' dynamic shifting: linear in the sequence length, baseShift at baseSeqLen (256)
 * and maxShift at maxSeqLen (4096). The equivalent static shift is exp(mu).
 */
export function dynamicShiftMu(seqLen: number, options?: DynamicShiftOptions): number {
  const opts = checkOptions('dynamicShiftMu', options, ['baseSeqLen', 'maxSeqLen', 'baseShift', 'maxShift']);
  const num = (k: keyof DynamicShiftOptions, dflt: number): number =>
    opts[k] === undefined ? dflt : checkNumber(`dynamicShiftMu: ${k}`, opts[k]);
  const baseSeqLen = num('baseSeqLen', 256);
  const maxSeqLen = num('maxSeqLen', 4096);
  const baseShift = num('baseShift', 0.5);
  const maxShift = num('maxShift', 1.15);
  if (!Number.isFinite(seqLen) || seqLen <= 0) throw new Error(`seqLen must be a positive number, got ${seqLen}`);
  if (!(maxSeqLen > baseSeqLen)) throw new Error(`maxSeqLen must exceed baseSeqLen (${baseSeqLen}), got ${maxSeqLen}`);
  const m = (maxShift - baseShift) / (maxSeqLen - baseSeqLen);
  return baseShift + m * (seqLen - baseSeqLen);
}

/**
 * diffusers' exponential time shift of a noise level, exp(mu) / (exp(mu) + (1/sigma - 1)^power),
 * applied in our time (sigma = 1 - t). With power = 1 it equals `shiftTime(t, exp(mu))`.
 */
export function dynamicShiftTime(t: number, mu: number, power = 1): number {
  if (!Number.isFinite(mu)) throw new Error(`mu must be a finite number, got ${mu}`);
  if (!Number.isFinite(power) || power <= 0) throw new Error(`power must be a positive number, got ${power}`);
  if (!Number.isFinite(t) || t < 0 || t > 1) throw new Error(`t must be a number in [0, 1], got ${t}`);
  const sigma = 1 - t;
  if (sigma === 0) return 1;
  const e = Math.exp(mu);
  return 1 - e / (e + (1 / sigma - 1) ** power);
}

/** Applies `dynamicShiftTime` to every time of a grid. */
export function dynamicShiftTimeGrid(grid: ArrayLike<number>, mu: number, power = 1): number[] {
  return checkTimeGrid(grid).map((t) => dynamicShiftTime(t, mu, power));
}
