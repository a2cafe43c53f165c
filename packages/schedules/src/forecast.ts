/**
 * Loss-curve forecasting with the scaling law with LR annealing (arXiv 2408.11029):
 * L(s) = L0 + A * S1^(-alpha) - C * S2, S1 = sum of LRs so far ("forward area"),
 * S2 = sum of m_i with m_i = lambda * m_{i-1} + (lr_{i-1} - lr_i) ("annealing area").
 */
import { checkSchedule, type Schedule } from './schedule.js';
import { arrayLike, finite, inRange, knownKeys, nonNegativeInt, objectArg, stepCount } from './validate.js';

/** The four fitted parameters plus the momentum lambda and the fit's error. */
export interface LossCurveFit {
  L0: number;
  A: number;
  alpha: number;
  C: number;
  lambda: number;
  /** Root-mean-square error of the fit on the curve it was fitted to. */
  rmse: number;
}

/** @internal S1 and S2 after each update i (lrs[i] is the LR of update i; the loss after it sees lrs[0..i]). */
export function lossCurveAreas(lrs: ArrayLike<number>, lambda: number): { s1: Float64Array; s2: Float64Array } {
  inRange('lambda', lambda, 0, 1);
  const n = lrs.length;
  const s1 = new Float64Array(n);
  const s2 = new Float64Array(n);
  let a = 0;
  let b = 0;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const lr = finite(`lrs[${i}]`, lrs[i]);
    if (lr < 0) throw new RangeError(`lrs[${i}] must be >= 0, got ${lr}`);
    const prev = i === 0 ? lr : lrs[i - 1]!;
    m = lambda * m + (prev - lr);
    a += lr;
    b += m;
    s1[i] = a;
    s2[i] = b;
  }
  return { s1, s2 };
}

/**
 * Weighted least squares of y on [1, x1, x2] with all three coefficients >= 0 (L0, A, C are non-negative in the
 * law): the unconstrained solution if feasible, else the best over the faces of the orthant (2^3 active sets).
 */
function solve3(x1: number[], x2: number[], y: number[], wt: number[]): [number, number, number] | null {
  const n = y.length;
  const cols = [new Array<number>(n).fill(1), x1, x2];
  let best: { p: [number, number, number]; e: number } | null = null;
  for (let mask = 7; mask >= 0; mask--) {
    const free = [0, 1, 2].filter((j) => mask & (1 << j));
    const p: [number, number, number] = [0, 0, 0];
    if (free.length > 0) {
      const sol = lsq(
        free.map((j) => cols[j] as number[]),
        y,
        wt,
      );
      if (!sol || sol.some((v) => v < 0)) continue;
      free.forEach((j, k) => {
        p[j] = sol[k]!;
      });
    }
    let e = 0;
    for (let i = 0; i < n; i++) {
      const r = y[i]! - (p[0] + p[1] * x1[i]! + p[2] * x2[i]!);
      e += wt[i]! * r * r;
    }
    if (!best || e < best.e) best = { p, e };
    if (mask === 7 && best) return best.p; // the unconstrained optimum is feasible
  }
  return best ? best.p : null;
}

/** Weighted least squares by normal equations with column scaling and partial pivoting (k <= 3 columns). */
function lsq(cols: number[][], y: number[], wt: number[]): number[] | null {
  const k = cols.length;
  const n = y.length;
  const scale = cols.map((c) => Math.sqrt(c.reduce((s, v, i) => s + wt[i]! * v * v, 0)) || 1);
  const A: number[][] = [];
  for (let p = 0; p < k; p++) {
    const row = new Array<number>(k + 1).fill(0);
    for (let i = 0; i < n; i++) {
      const cp = (cols[p] as number[])[i]! / scale[p]!;
      const w = wt[i]!;
      for (let q = 0; q < k; q++) row[q] = row[q]! + w * cp * ((cols[q] as number[])[i]! / scale[q]!);
      row[k] = row[k]! + w * cp * y[i]!;
    }
    row[p] = row[p]! + 1e-12;
    A.push(row);
  }
  for (let c = 0; c < k; c++) {
    let piv = c;
    for (let r = c + 1; r < k; r++) if (Math.abs((A[r] as number[])[c]!) > Math.abs((A[piv] as number[])[c]!)) piv = r;
    [A[c], A[piv]] = [A[piv] as number[], A[c] as number[]];
    const d = (A[c] as number[])[c]!;
    if (Math.abs(d) < 1e-300) return null;
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = (A[r] as number[])[c]! / d;
      for (let j = c; j <= k; j++) (A[r] as number[])[j] = (A[r] as number[])[j]! - f * (A[c] as number[])[j]!;
    }
  }
  const sol = cols.map((_, i) => (A[i] as number[])[k]! / (A[i] as number[])[i]! / scale[i]!);
  return sol.every(Number.isFinite) ? sol : null;
}

/** Options of {@link fitLossCurve}. */
export interface FitLossCurveOptions {
  /** LR of every update from the start of the run (lrs[i] for update i). */
  lrs: ArrayLike<number>;
  /** Observed losses; losses[k] was measured after update steps[k]. */
  losses: ArrayLike<number>;
  /** Update index of each loss (default 0, 1, 2, ...). */
  steps?: ArrayLike<number>;
  /**
   * Fixed momentum lambda; omit to pick the best of 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9995
   * (the paper uses 0.99-0.999 for long LLM runs; short runs fit smaller values).
   */
  lambda?: number;
  /** Ignore losses before this update (noisy first steps; default 0). */
  skip?: number;
  /**
   * What the least squares minimises: 'relative' (default) weights residuals by 1/loss^2, i.e. relative error,
   * which matters when losses approach 0; 'absolute' is plain least squares.
   */
  error?: 'relative' | 'absolute';
}

/** Fits L0, A, alpha, C (and lambda unless given) by least squares: linear in L0, A, C for each alpha, alpha by search. */
export function fitLossCurve(options: FitLossCurveOptions): LossCurveFit {
  objectArg('options', options);
  knownKeys('fitLossCurve', options, ['lrs', 'losses', 'steps', 'lambda', 'skip', 'error']);
  const relative = (options.error ?? 'relative') === 'relative';
  if (options.error !== undefined && options.error !== 'relative' && options.error !== 'absolute')
    throw new RangeError(`error must be "relative" or "absolute", got ${String(options.error)}`);
  const lrs = arrayLike('lrs', options.lrs) as ArrayLike<number>;
  const losses = arrayLike('losses', options.losses) as ArrayLike<number>;
  const steps =
    options.steps === undefined
      ? Array.from({ length: losses.length }, (_, i) => i)
      : arrayLike('steps', options.steps);
  if (steps.length !== losses.length)
    throw new RangeError(`steps and losses must have the same length, got ${steps.length} and ${losses.length}`);
  const skip = nonNegativeInt('skip', options.skip ?? 0);
  const idx: number[] = [];
  const y: number[] = [];
  for (let k = 0; k < losses.length; k++) {
    const s = nonNegativeInt(`steps[${k}]`, steps[k]);
    if (s >= lrs.length) throw new RangeError(`steps[${k}] = ${s} is past the last LR (lrs has ${lrs.length} entries)`);
    if (s < skip) continue;
    idx.push(s);
    y.push(finite(`losses[${k}]`, losses[k]));
  }
  if (y.length < 4) throw new RangeError(`fitLossCurve needs at least 4 losses after skip, got ${y.length}`);
  if (relative && y.some((v) => v <= 0))
    throw new RangeError("fitLossCurve: error 'relative' needs positive losses; use error: 'absolute'");
  const wt = y.map((v) => (relative ? 1 / (v * v) : 1));
  const lambdas =
    options.lambda === undefined
      ? [0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9995]
      : [inRange('lambda', options.lambda, 0, 1)];
  let best: LossCurveFit | null = null;
  let bestScore = Infinity;
  for (const lambda of lambdas) {
    const { s1, s2 } = lossCurveAreas(lrs, lambda);
    const a1 = idx.map((i) => s1[i]!);
    if (a1.some((v) => !(v > 0)))
      throw new RangeError(
        'fitLossCurve: the LR sum S1 is 0 at a fitted step; skip the steps before the first non-zero LR',
      );
    const a2 = idx.map((i) => -s2[i]!);
    const sse = (alpha: number): { e: number; p: [number, number, number] } | null => {
      const x1 = a1.map((v) => Math.pow(v, -alpha));
      const p = solve3(x1, a2, y, wt);
      if (!p) return null;
      let e = 0;
      for (let i = 0; i < y.length; i++) {
        const r = y[i]! - (p[0] + p[1] * x1[i]! + p[2] * a2[i]!);
        e += wt[i]! * r * r;
      }
      return { e, p };
    };
    // Coarse log grid over alpha, then golden-section refinement around the best point.
    const grid = Array.from({ length: 41 }, (_, i) => Math.pow(10, -2.5 + (i * 3) / 40));
    let bi = -1;
    let be = Infinity;
    grid.forEach((a, i) => {
      const r = sse(a);
      if (r && r.e < be) {
        be = r.e;
        bi = i;
      }
    });
    if (bi < 0) continue;
    let lo = Math.log(grid[Math.max(0, bi - 1)]!);
    let hi = Math.log(grid[Math.min(grid.length - 1, bi + 1)]!);
    const g = (Math.sqrt(5) - 1) / 2;
    const f = (u: number) => sse(Math.exp(u))?.e ?? Infinity;
    let c = hi - g * (hi - lo);
    let d = lo + g * (hi - lo);
    let fc = f(c);
    let fd = f(d);
    for (let it = 0; it < 40; it++) {
      if (fc < fd) {
        hi = d;
        d = c;
        fd = fc;
        c = hi - g * (hi - lo);
        fc = f(c);
      } else {
        lo = c;
        c = d;
        fc = fd;
        d = lo + g * (hi - lo);
        fd = f(d);
      }
    }
    const alpha = Math.exp((lo + hi) / 2);
    const r = sse(alpha);
    const cand =
      r && r.e <= be
        ? { alpha, ...r }
        : { alpha: grid[bi]!, ...(sse(grid[bi]!) as { e: number; p: [number, number, number] }) };
    let se = 0;
    for (let i = 0; i < y.length; i++) {
      const r = y[i]! - (cand.p[0] + cand.p[1] * Math.pow(a1[i]!, -cand.alpha) + cand.p[2] * a2[i]!);
      se += r * r;
    }
    const fit: LossCurveFit = {
      L0: cand.p[0],
      A: cand.p[1],
      alpha: cand.alpha,
      C: cand.p[2],
      lambda,
      rmse: Math.sqrt(se / y.length),
    };
    const score = cand.e;
    if (!best || score < bestScore) {
      best = fit;
      bestScore = score;
    }
    continue;
  }
  if (!best)
    throw new RangeError(
      'fitLossCurve: the least-squares problem is singular for every alpha (is the LR constant zero?)',
    );
  const fit: LossCurveFit = best;
  // Finite inputs can still overflow the sums (losses near 1e308); a NaN fit would forecast NaN silently.
  if (![fit.L0, fit.A, fit.alpha, fit.C, fit.rmse].every(Number.isFinite)) {
    throw new RangeError(`fitLossCurve: the fit is not finite (${JSON.stringify(fit)}); rescale the losses or LRs`);
  }
  return fit;
}

/** Predicted loss after each update of a run with these LRs. */
export function predictLossCurve(fit: LossCurveFit, lrs: ArrayLike<number>): Float64Array {
  checkFit('predictLossCurve', fit);
  arrayLike('lrs', lrs);
  const { s1, s2 } = lossCurveAreas(lrs, fit.lambda);
  const out = new Float64Array(lrs.length);
  for (let i = 0; i < lrs.length; i++) {
    const a = s1[i]!;
    out[i] = a > 0 ? fit.L0 + fit.A * Math.pow(a, -fit.alpha) - fit.C * s2[i]! : Number.NaN;
  }
  // Before the first non-zero LR the law is undefined; hold the first defined value instead of returning NaN.
  const first = out.findIndex((v) => !Number.isNaN(v));
  for (let i = 0; i < (first < 0 ? out.length : first); i++) out[i] = first < 0 ? fit.L0 + fit.A : out[first]!;
  const bad = out.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0)
    throw new RangeError(
      `predictLossCurve: the forecast is ${out[bad]} after update ${bad} (the LR sums overflow); rescale the LRs`,
    );
  return out;
}

/** Throws unless `fit` looks like fitLossCurve's result: a hand-edited or NaN fit would forecast garbage. */
function checkFit(what: string, fit: unknown): LossCurveFit {
  objectArg(`${what}: fit`, fit);
  const f = fit as Record<string, unknown>;
  for (const k of ['L0', 'A', 'alpha', 'C'] as const) finite(`${what}: fit.${k}`, f[k]);
  inRange(`${what}: fit.lambda`, f.lambda, 0, 1);
  return fit as LossCurveFit;
}

/** LRs of updates 0..n-1 of a schedule. */
export function scheduleLrs(schedule: Schedule, totalSteps: number): Float64Array {
  checkSchedule('schedule', schedule);
  stepCount('totalSteps', totalSteps);
  const out = new Float64Array(totalSteps);
  for (let i = 0; i < totalSteps; i++) out[i] = schedule(i);
  return out;
}

/** One ranked candidate. */
export interface RankedSchedule {
  name: string;
  /** Predicted loss after the last update. */
  finalLoss: number;
  curve: Float64Array;
}

/** Predicts every candidate's loss curve over totalSteps and sorts them by predicted final loss (best first). */
export function rankSchedules(
  fit: LossCurveFit,
  candidates: Record<string, Schedule>,
  totalSteps: number,
): RankedSchedule[] {
  checkFit('rankSchedules', fit);
  objectArg('candidates', candidates);
  stepCount('totalSteps', totalSteps);
  return Object.entries(candidates)
    .map(([name, s]) => {
      const curve = predictLossCurve(fit, scheduleLrs(s, totalSteps));
      return { name, finalLoss: curve[curve.length - 1]!, curve };
    })
    .sort((a, b) => a.finalLoss - b.finalLoss);
}

/** Errors of a forecast against an observed curve. */
export interface ForecastError {
  rmse: number;
  /** Mean absolute percentage error. */
  mape: number;
  /** |predicted - observed| at the last observed step. */
  finalAbsError: number;
  /** finalAbsError / |observed| at the last observed step. */
  finalRelError: number;
}

/** Compares a fit's forecast for a run's LRs with that run's observed losses (a held-out curve). */
export function forecastError(
  fit: LossCurveFit,
  lrs: ArrayLike<number>,
  losses: ArrayLike<number>,
  steps?: ArrayLike<number>,
): ForecastError {
  const pred = predictLossCurve(fit, lrs);
  arrayLike('losses', losses);
  const st = steps === undefined ? Array.from({ length: losses.length }, (_, i) => i) : arrayLike('steps', steps);
  if (losses.length === 0) throw new RangeError('forecastError: losses is empty');
  if (st.length !== losses.length)
    throw new RangeError(`steps and losses must have the same length, got ${st.length} and ${losses.length}`);
  let se = 0;
  let ape = 0;
  let last = 0;
  let lastObs = 1;
  for (let k = 0; k < losses.length; k++) {
    const s = nonNegativeInt(`steps[${k}]`, st[k]);
    if (s >= pred.length)
      throw new RangeError(`steps[${k}] = ${s} is past the last LR (lrs has ${pred.length} entries)`);
    const o = finite(`losses[${k}]`, losses[k]);
    const e = pred[s]! - o;
    se += e * e;
    ape += Math.abs(e) / Math.max(Math.abs(o), 1e-12);
    last = Math.abs(e);
    lastObs = o;
  }
  return {
    rmse: Math.sqrt(se / losses.length),
    mape: ape / losses.length,
    finalAbsError: last,
    finalRelError: last / Math.max(Math.abs(lastObs), 1e-12),
  };
}
