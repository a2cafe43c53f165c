import * as tf from '@tensorflow/tfjs-core';
import type { CountedVelocity } from './ode.js';

/** Step-size control of the adaptive solver (torchdiffeq's defaults). */
export interface AdaptiveOptions {
  /** Relative tolerance (default 1e-5), must be > 0. */
  rtol?: number;
  /** Absolute tolerance (default 1e-5), must be >= 0. */
  atol?: number;
  /** Safety factor on the optimal step (default 0.9). */
  safety?: number;
  /** Largest growth of the step after a step (default 10). */
  ifactor?: number;
  /** Largest shrink of the step after a rejected step (default 0.2). */
  dfactor?: number;
  /** First step size; chosen by Hairer's rule when omitted. */
  firstStep?: number;
  /** Give up after this many steps (default 100000). */
  maxSteps?: number;
}

// Dormand-Prince 5(4) Butcher tableau (Dormand & Prince 1980; Hairer, Norsett & Wanner, Table 5.2).
const C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1];
const A: number[][] = [
  [],
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
  [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
];
/** 5th-order weights (= last row of A, so the 7th stage is f at the new point: FSAL). */
const B5 = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0];
/** 4th-order embedded weights. */
const B4 = [5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40];
const E = B5.map((b, i) => b - (B4[i] as number));
const ORDER = 5;

/** Root mean square of x, read back (awaited); disposes x. */
async function rms(x: tf.Tensor): Promise<number> {
  const s = tf.tidy(() => tf.sqrt(tf.mean(tf.square(x))));
  x.dispose();
  try {
    return (await s.data())[0] as number;
  } finally {
    s.dispose();
  }
}

function lincomb(y: tf.Tensor, ks: tf.Tensor[], w: number[], h: number): tf.Tensor {
  return tf.tidy(() => {
    let acc = y;
    ks.forEach((k, i) => {
      const wi = w[i] ?? 0;
      if (wi !== 0) acc = tf.add(acc, tf.mul(k, wi * h));
    });
    return acc === y ? y.clone() : acc;
  });
}

/** Hairer's initial step rule (Solving ODEs I, II.4), as torchdiffeq's `_select_initial_step`; three read-backs. */
async function initialStep(f: CountedVelocity, t0: number, y0: tf.Tensor, f0: tf.Tensor, dir: number, rtol: number, atol: number): Promise<number> {
  const scale = tf.tidy(() => tf.add(tf.mul(tf.abs(y0), rtol), atol));
  let y1: tf.Tensor | null = null;
  let f1: tf.Tensor | null = null;
  try {
    const d0 = await rms(tf.tidy(() => tf.div(y0, scale)));
    const d1 = await rms(tf.tidy(() => tf.div(f0, scale)));
    const h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1;
    y1 = tf.tidy(() => tf.add(y0, tf.mul(f0, dir * h0)));
    f1 = f(y1, t0 + dir * h0, 0);
    const fy1 = f1;
    const d2 = (await rms(tf.tidy(() => tf.div(tf.sub(fy1, f0), scale)))) / h0;
    const h1 = d1 <= 1e-15 && d2 <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / ORDER);
    return Math.min(100 * h0, h1);
  } finally {
    tf.dispose([scale, ...(y1 ? [y1] : []), ...(f1 ? [f1] : [])]);
  }
}

/** Validates the step-size control options (throws naming the option and its value). */
export function checkAdaptiveOptions(opts: AdaptiveOptions): void {
  const { rtol = 1e-5, atol = 1e-5, safety = 0.9, ifactor = 10, dfactor = 0.2, maxSteps = 100000 } = opts;
  if (!Number.isFinite(rtol) || rtol <= 0) throw new Error(`rtol must be a positive number, got ${rtol}`);
  if (!Number.isFinite(atol) || atol < 0) throw new Error(`atol must be a non-negative number, got ${atol}`);
  if (!(safety > 0 && safety <= 1)) throw new Error(`safety must be in (0, 1], got ${safety}`);
  if (!(ifactor >= 1)) throw new Error(`ifactor must be >= 1, got ${ifactor}`);
  if (!(dfactor > 0 && dfactor <= 1)) throw new Error(`dfactor must be in (0, 1], got ${dfactor}`);
  if (!Number.isInteger(maxSteps) || maxSteps < 1) throw new Error(`maxSteps must be a positive integer, got ${maxSteps}`);
  if (opts.firstStep !== undefined && !(opts.firstStep > 0)) throw new Error(`firstStep must be a positive number, got ${opts.firstStep}`);
}

/**
 * Adaptive Dormand-Prince integration through the grid times (steps are cut short to land on each
 * grid time). Error ratio = RMS(err / (atol + rtol max(|y0|, |y1|))), step accepted when <= 1;
 * next step = h min(ifactor, max(safety / ratio^(1/5), dfactor)) (dfactor = 1 after an accepted step).
 * The ratio is read back once per step (awaited): the only host read inside the loop.
 */
export async function integrateDopri5(
  f: CountedVelocity,
  x0: tf.Tensor,
  grid: number[],
  opts: AdaptiveOptions,
  inter: tf.Tensor[] | undefined,
): Promise<{ x: tf.Tensor; steps: number; rejected: number }> {
  checkAdaptiveOptions(opts);
  const { rtol = 1e-5, atol = 1e-5, safety = 0.9, ifactor = 10, dfactor = 0.2, maxSteps = 100000 } = opts;
  const dir = Math.sign((grid[1] as number) - (grid[0] as number));
  let t = grid[0] as number;
  let y = x0;
  let fy = f(y, t, 0);
  let steps = 0;
  let rejected = 0;
  const own = (z: tf.Tensor): boolean => z !== x0 && !inter?.includes(z);
  try {
    let h = opts.firstStep ?? (await initialStep(f, t, y, fy, dir, rtol, atol));
    for (let gi = 1; gi < grid.length; gi++) {
      const target = grid[gi] as number;
      while (dir * (target - t) > 0) {
        if (steps + rejected >= maxSteps) throw new Error(`dopri5: maxSteps (${maxSteps}) exceeded at t = ${t}`);
        const last = dir * (target - t) <= h * (1 + 1e-10);
        const hs = last ? Math.abs(target - t) : h;
        if (!(hs > 0) || t + dir * hs === t) throw new Error(`dopri5: step size underflow (${hs}) at t = ${t}`);
        const ks: tf.Tensor[] = [fy];
        let y1: tf.Tensor | null = null;
        try {
          for (let s = 1; s < 7; s++) {
            const ys = lincomb(y, ks, A[s] as number[], dir * hs);
            try {
              ks.push(f(ys, s === 6 ? t + dir * hs : t + dir * hs * (C[s] as number), steps));
            } finally {
              if (s < 6) ys.dispose();
              else y1 = ys; // the 7th stage point is the 5th-order solution
            }
          }
          const yNew = y1 as unknown as tf.Tensor;
          const ratioT = tf.tidy(() => {
            const err = lincomb(tf.zerosLike(y), ks, E, dir * hs);
            return tf.div(err, tf.add(tf.mul(tf.maximum(tf.abs(y), tf.abs(yNew)), rtol), atol));
          });
          const ratio = await rms(ratioT);
          if (!Number.isFinite(ratio)) {
            await f.check(); // names the evaluation that returned NaN/Inf, if one did
            throw new Error(`dopri5: non-finite error estimate at step ${steps} (t = ${t})`);
          }
          const accept = ratio <= 1;
          const factor = ratio === 0 ? ifactor : Math.min(ifactor, Math.max(safety / ratio ** (1 / ORDER), accept ? 1 : dfactor));
          if (accept) {
            if (own(y)) y.dispose();
            fy.dispose();
            y = yNew;
            y1 = null;
            fy = ks[6] as tf.Tensor;
            t = last ? target : t + dir * hs;
            steps++;
          } else {
            rejected++;
          }
          h = hs * factor;
        } finally {
          for (let s = 1; s < ks.length; s++) if (ks[s] !== fy) ks[s]?.dispose();
          if (y1) (y1 as tf.Tensor).dispose();
        }
      }
      if (inter) inter.push(y);
    }
    await f.check();
  } catch (e) {
    fy.dispose();
    if (own(y)) y.dispose();
    if (inter) for (const s of inter) s.dispose();
    throw e;
  }
  fy.dispose();
  return { x: inter ? y.clone() : y, steps, rejected };
}
