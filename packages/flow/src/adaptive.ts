import * as tf from '@tensorflow/tfjs-core';
import { checkNumber } from '@blockwise/tensor';
import type { CountedVelocity } from './ode.js';

/**
 * Step-size control of the adaptive solvers. Defaults: rtol = atol = 1e-5 are flow_matching's
 * `ODESolver.sample` defaults (torchdiffeq's `odeint` defaults are rtol 1e-7, atol 1e-9: pass them
 * to reproduce a bare `odeint` call); safety, ifactor and dfactor are torchdiffeq's.
 */
export interface AdaptiveOptions {
  /** Relative tolerance (default 1e-5), must be > 0. */
  rtol?: number;
  /** Absolute tolerance (default 1e-5), must be >= 0. */
  atol?: number;
  /** Safety factor on the optimal step (default 0.9, torchdiffeq's). */
  safety?: number;
  /** Largest growth of the step after a step (default 10, torchdiffeq's). */
  ifactor?: number;
  /** Largest shrink of the step after a rejected step (default 0.2, torchdiffeq's). */
  dfactor?: number;
  /** First step size; chosen by Hairer's rule (torchdiffeq's `_select_initial_step`) when omitted. */
  firstStep?: number;
  /**
   * Give up after this many steps, accepted and rejected (default 100000; torchdiffeq allows
   * 2^31 - 1 per output time). Fixed-step methods: the most steps `stepSize` may imply.
   */
  maxSteps?: number;
}

/** The adaptive methods, with torchdiffeq's names. */
export type AdaptiveMethod = 'dopri5' | 'bosh3' | 'adaptive_heun';

/** An embedded Runge-Kutta pair in torchdiffeq's layout (`_ButcherTableau` plus the `mid` weights of its interpolant). */
interface Tableau {
  /** Stage times c_2..c_s as fractions of the step. */
  alpha: number[];
  /** Stage weights: beta[i] combines k_1..k_{i+1} into stage i + 2's point. */
  beta: number[][];
  /** Solution weights over all stages (k_1 = f at the step's start, ..., k_s). */
  cSol: number[];
  /** Error weights: b - b_hat, the difference of the two embedded solutions. */
  cError: number[];
  /** Weights giving the state at the step's midpoint, for the 4th-order interpolant. */
  mid: number[];
  /** Order of the solution (the step-size exponent is 1 / order). */
  order: number;
}

/**
 * Dormand-Prince 5(4) (Hairer, Norsett & Wanner, Table 5.2) with Shampine's error estimate, as
 * torchdiffeq's `_DORMAND_PRINCE_SHAMPINE_TABLEAU`: the embedded solution is Shampine's
 * b_hat = (1951/21600, 0, 22642/50085, 451/720, -12231/42400, 649/6300, 1/60), not the
 * 4th-order weights of the 1980 paper (5179/57600, ..., 1/40): a different error estimate, so
 * different step counts.
 */
const DOPRI5: Tableau = {
  alpha: [1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1],
  beta: [
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
  ],
  cSol: [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0],
  cError: [
    35 / 384 - 1951 / 21600,
    0,
    500 / 1113 - 22642 / 50085,
    125 / 192 - 451 / 720,
    -2187 / 6784 - -12231 / 42400,
    11 / 84 - 649 / 6300,
    -1 / 60,
  ],
  // Shampine's dense-output weights at the half step.
  mid: [
    6025192743 / 30085553152 / 2,
    0,
    51252292925 / 65400821598 / 2,
    -2691868925 / 45128329728 / 2,
    187940372067 / 1594534317056 / 2,
    -1776094331 / 19743644256 / 2,
    11237099 / 235043384 / 2,
  ],
  order: 5,
};

/** Bogacki-Shampine 3(2), torchdiffeq's 'bosh3'. */
const BOSH3: Tableau = {
  alpha: [1 / 2, 3 / 4, 1],
  beta: [[1 / 2], [0, 3 / 4], [2 / 9, 1 / 3, 4 / 9]],
  cSol: [2 / 9, 1 / 3, 4 / 9, 0],
  cError: [2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8],
  mid: [0, 0.5, 0, 0],
  order: 3,
};

/**
 * Heun-Euler 2(1), torchdiffeq's 'adaptive_heun'. As there, the derivative carried to the next
 * step is the second stage's (f at the Euler point), not f at the new state.
 */
const ADAPTIVE_HEUN: Tableau = {
  alpha: [1],
  beta: [[1]],
  cSol: [0.5, 0.5],
  cError: [0.5, -0.5],
  mid: [0.5, 0],
  order: 2,
};

/** The tableau of each adaptive method. @internal */
export const TABLEAUS: Record<AdaptiveMethod, Tableau> = { dopri5: DOPRI5, bosh3: BOSH3, adaptive_heun: ADAPTIVE_HEUN };

/** Root mean square of x, read back (awaited); disposes x. */
async function rms(x: tf.Tensor): Promise<number> {
  const s = tf.tidy(() => tf.sqrt(tf.mean(tf.square(x))));
  x.dispose();
  try {
    return (await s.data())[0]!;
  } finally {
    s.dispose();
  }
}

/** y + h sum_i w_i k_i (a fresh tensor even when every weight is 0). */
function lincomb(y: tf.Tensor | null, ks: tf.Tensor[], w: number[], h: number): tf.Tensor {
  return tf.tidy(() => {
    let acc: tf.Tensor | null = y;
    ks.forEach((k, i) => {
      const wi = w[i] ?? 0;
      if (wi !== 0) acc = acc ? tf.add(acc, tf.mul(k, wi * h)) : tf.mul(k, wi * h);
    });
    if (acc === null) return tf.zerosLike(ks[0] as tf.Tensor);
    return acc === y ? y.clone() : acc;
  });
}

/**
 * Hairer's initial step rule (Solving ODEs I, II.4), as torchdiffeq's `_select_initial_step`
 * (called with order - 1, so the exponent is 1 / order); one evaluation, three read-backs.
 */
async function initialStep(
  f: CountedVelocity,
  t0: number,
  y0: tf.Tensor,
  f0: tf.Tensor,
  dir: number,
  order: number,
  rtol: number,
  atol: number,
): Promise<number> {
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
    const h1 = d1 <= 1e-15 && d2 <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / order);
    return Math.min(100 * h0, h1);
  } finally {
    tf.dispose([scale, ...(y1 ? [y1] : []), ...(f1 ? [f1] : [])]);
  }
}

/** Validates the step-size control options (throws naming the option and its value). */
export function checkAdaptiveOptions(
  opts: AdaptiveOptions,
): Required<Omit<AdaptiveOptions, 'firstStep'>> & { firstStep?: number } {
  const n = (name: string, v: unknown, dflt: number, c: Parameters<typeof checkNumber>[2]): number =>
    v === undefined ? dflt : checkNumber(`solveOde: ${name}`, v, c);
  return {
    rtol: n('rtol', opts.rtol, 1e-5, { min: 0, exclusiveMin: true }),
    atol: n('atol', opts.atol, 1e-5, { min: 0 }),
    safety: n('safety', opts.safety, 0.9, { min: 0, exclusiveMin: true, max: 1 }),
    ifactor: n('ifactor', opts.ifactor, 10, { min: 1 }),
    dfactor: n('dfactor', opts.dfactor, 0.2, { min: 0, exclusiveMin: true, max: 1 }),
    maxSteps: n('maxSteps', opts.maxSteps, 100000, { integer: true, min: 1, max: 2 ** 31 - 1 }),
    firstStep:
      opts.firstStep === undefined
        ? undefined
        : checkNumber('solveOde: firstStep', opts.firstStep, { min: 0, exclusiveMin: true }),
  };
}

/** The last accepted step, kept for the interpolant: states and derivatives at both ends, the midpoint state. */
interface LastStep {
  t0: number;
  t1: number;
  y0: tf.Tensor;
  f0: tf.Tensor;
  yMid: tf.Tensor;
}

/**
 * torchdiffeq's `_interp_fit` + `_interp_evaluate`: the quartic through y0, y_mid, y1 with slopes f0
 * and f1 at the ends, evaluated at fraction s of the step of signed length dt.
 */
function interpolate(
  y0: tf.Tensor,
  y1: tf.Tensor,
  yMid: tf.Tensor,
  f0: tf.Tensor,
  f1: tf.Tensor,
  dt: number,
  s: number,
): tf.Tensor {
  return tf.tidy(() => {
    const a = tf.addN([tf.mul(tf.sub(f1, f0), 2 * dt), tf.mul(tf.add(y1, y0), -8), tf.mul(yMid, 16)]);
    const b = tf.addN([
      tf.mul(tf.sub(tf.mul(f0, 5), tf.mul(f1, 3)), dt),
      tf.mul(y0, 18),
      tf.mul(y1, 14),
      tf.mul(yMid, -32),
    ]);
    const c = tf.addN([tf.mul(tf.sub(f1, tf.mul(f0, 4)), dt), tf.mul(y0, -11), tf.mul(y1, -5), tf.mul(yMid, 16)]);
    const d = tf.mul(f0, dt);
    // Horner's form of e + d s + c s^2 + b s^3 + a s^4 with e = y0.
    return tf.add(y0, tf.mul(tf.add(d, tf.mul(tf.add(c, tf.mul(tf.add(b, tf.mul(a, s)), s)), s)), s));
  });
}

/**
 * Adaptive embedded Runge-Kutta integration, step for step as torchdiffeq's
 * `RKAdaptiveStepsizeODESolver`: steps are not shortened to land on grid times; the solver steps
 * past each one and returns the 4th-order interpolant there (so the velocity may be evaluated up to
 * one step beyond the last grid time). Error ratio = RMS(err / (atol + rtol max(|y0|, |y1|))),
 * accepted when <= 1; next step = h min(ifactor, max(safety / ratio^(1/order), dfactor)), with
 * dfactor = 1 when ratio < 1. The ratio (with a NaN/Inf test of the new state folded in) is read
 * back once per step (awaited): the only host read inside the loop.
 */
export async function integrateAdaptive(
  method: AdaptiveMethod,
  f: CountedVelocity,
  x0: tf.Tensor,
  grid: number[],
  opts: AdaptiveOptions,
  inter: tf.Tensor[] | undefined,
): Promise<{ x: tf.Tensor; steps: number; rejected: number }> {
  const tab = TABLEAUS[method];
  const { rtol, atol, safety, ifactor, dfactor, maxSteps, firstStep } = checkAdaptiveOptions(opts);
  const fsal =
    tab.cSol[tab.cSol.length - 1] === 0 &&
    (tab.beta[tab.beta.length - 1] as number[]).every((b, i) => b === tab.cSol[i]);
  const dir = Math.sign(grid[1]! - grid[0]!);
  let t = grid[0]!;
  let y = x0;
  let fy = f(y, t, 0);
  let last: LastStep | null = null;
  let steps = 0;
  let rejected = 0;
  let out: tf.Tensor | null = null;
  const own = (z: tf.Tensor): boolean => z !== x0 && !inter?.includes(z);
  const dropLast = (): void => {
    if (!last) return;
    if (own(last.y0)) last.y0.dispose();
    last.f0.dispose();
    last.yMid.dispose();
    last = null;
  };
  try {
    let h = firstStep ?? (await initialStep(f, t, y, fy, dir, tab.order, rtol, atol));
    for (let gi = 1; gi < grid.length; gi++) {
      const target = grid[gi]!;
      while (dir * (target - t) > 0) {
        if (steps + rejected >= maxSteps)
          throw new Error(`solveOde (${method}): maxSteps (${maxSteps}) exceeded at t = ${t}`);
        const tNext = t + dir * h;
        if (!(h > 0) || tNext === t) throw new Error(`solveOde (${method}): step size underflow (${h}) at t = ${t}`);
        const dt = tNext - t;
        const ks: tf.Tensor[] = [fy];
        let yNew: tf.Tensor | null = null;
        try {
          for (let i = 0; i < tab.alpha.length; i++) {
            const alpha = tab.alpha[i]!;
            const ys = lincomb(y, ks, tab.beta[i] as number[], dt);
            try {
              ks.push(f(ys, alpha === 1 ? tNext : t + alpha * dt, steps));
            } finally {
              if (fsal && i === tab.alpha.length - 1)
                yNew = ys; // the last stage's point is the solution
              else ys.dispose();
            }
          }
          if (!fsal) yNew = lincomb(y, ks, tab.cSol, dt);
          const y1 = yNew as unknown as tf.Tensor;
          const ratioT = tf.tidy(() => {
            const err = lincomb(null, ks, tab.cError, dt);
            const r = tf.div(err, tf.add(tf.mul(tf.maximum(tf.abs(y), tf.abs(y1)), rtol), atol));
            // An overflowed state would give ratio 0 (finite / Inf) and be accepted: make it NaN.
            return tf.where(tf.all(tf.isFinite(y1)), r, tf.fill(r.shape, NaN));
          });
          const ratio = await rms(ratioT);
          if (!Number.isFinite(ratio)) {
            await f.check(); // names the evaluation that returned NaN/Inf, if one did
            throw new Error(
              `solveOde (${method}): the state or its error estimate became NaN or Inf at step ${steps} (t = ${t}, step ${dt}); ` +
                'the velocity is too large for float32 or the model diverged',
            );
          }
          if (ratio <= 1) {
            dropLast();
            last = { t0: t, t1: tNext, y0: y, f0: fy, yMid: lincomb(y, ks, tab.mid, dt) };
            y = y1;
            yNew = null;
            fy = ks[ks.length - 1] as tf.Tensor;
            t = tNext;
            steps++;
          } else {
            rejected++;
          }
          h =
            ratio === 0
              ? h * ifactor
              : h * Math.min(ifactor, Math.max(safety / ratio ** (1 / tab.order), ratio < 1 ? 1 : dfactor));
        } finally {
          for (let s = 1; s < ks.length; s++) if (ks[s] !== fy) ks[s]?.dispose();
          if (yNew) (yNew as tf.Tensor).dispose();
        }
      }
      const l = last as LastStep | null;
      // Interpolated at the grid time (torchdiffeq's `_advance`), even when a step ends on it.
      const at = l ? interpolate(l.y0, y, l.yMid, l.f0, fy, l.t1 - l.t0, (target - l.t0) / (l.t1 - l.t0)) : y.clone();
      if (inter) inter.push(at);
      else {
        out?.dispose();
        out = at;
      }
    }
    await f.check();
  } catch (e) {
    dropLast();
    fy.dispose();
    if (own(y)) y.dispose();
    out?.dispose();
    if (inter) for (const s of inter) s.dispose();
    throw e;
  }
  dropLast();
  fy.dispose();
  if (own(y)) y.dispose();
  const x = inter ? (inter[inter.length - 1] as tf.Tensor).clone() : (out as unknown as tf.Tensor);
  return { x, steps, rejected };
}
