/**
 * AutoLRS (arXiv 2105.10762): per training stage, search the LR with a small Gaussian process over log(LR) and a
 * lower-confidence-bound acquisition; each trial trains a few steps from a checkpoint, fits L(t) = a e^(bt) + c to
 * its losses and forecasts the loss at the end of the stage. The caller supplies training and checkpointing.
 */
import { finite, knownKeys, objectArg, positive, positiveInt } from './validate.js';

/** An exponential fit L(t) = a e^(bt) + c of a loss series observed at t = 1..n. */
export interface ExponentialFit {
  a: number;
  b: number;
  c: number;
  /** Root-mean-square residual. */
  rmse: number;
}

/** @internal Least squares for L(t) = a e^(bt) + c: linear in (a, c) for each b; b by grid and golden-section search. */
export function fitExponential(losses: ArrayLike<number>): ExponentialFit {
  const n = losses.length;
  if (n < 3) throw new RangeError(`fitExponential needs at least 3 losses, got ${n}`);
  const y = Array.from(losses, (v, i) => finite(`losses[${i}]`, v));
  const solve = (b: number) => {
    let se = 0,
      see = 0,
      sy = 0,
      sey = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.exp(b * (i + 1));
      se += e;
      see += e * e;
      sy += y[i]!;
      sey += e * y[i]!;
    }
    const det = n * see - se * se;
    if (Math.abs(det) < 1e-12 * (n * see + 1)) return null;
    const a = (n * sey - se * sy) / det;
    const c = (sy - a * se) / n;
    let r = 0;
    for (let i = 0; i < n; i++) {
      const d = y[i]! - a * Math.exp(b * (i + 1)) - c;
      r += d * d;
    }
    return { a, b, c, sse: r };
  };
  // b = -k/n with k from 1e-3 to 50 (decaying curves); the flat limit is covered by small k.
  const ks = Array.from({ length: 50 }, (_, i) => Math.pow(10, -3 + (i * Math.log10(5e4)) / 49));
  let best: { a: number; b: number; c: number; sse: number } | null = null;
  let bk = 0;
  ks.forEach((k, i) => {
    const r = solve(-k / n);
    if (r && (!best || r.sse < best.sse)) {
      best = r;
      bk = i;
    }
  });
  if (!best) {
    const mean = y.reduce((s, v) => s + v, 0) / n;
    return { a: 0, b: 0, c: mean, rmse: Math.sqrt(y.reduce((s, v) => s + (v - mean) ** 2, 0) / n) };
  }
  let lo = Math.log(ks[Math.max(0, bk - 1)]!);
  let hi = Math.log(ks[Math.min(ks.length - 1, bk + 1)]!);
  const g = (Math.sqrt(5) - 1) / 2;
  const f = (u: number) => solve(-Math.exp(u) / n)?.sse ?? Infinity;
  for (let it = 0; it < 40; it++) {
    const c = hi - g * (hi - lo);
    const d = lo + g * (hi - lo);
    if (f(c) < f(d)) hi = d;
    else lo = c;
  }
  const r = solve(-Math.exp((lo + hi) / 2) / n);
  const fin =
    r && r.sse <= (best as { sse: number }).sse ? r : (best as { a: number; b: number; c: number; sse: number });
  return { a: fin.a, b: fin.b, c: fin.c, rmse: Math.sqrt(fin.sse / n) };
}

/** @internal Value of an exponential fit at step t (t counted like the fitted series, from 1). */
export function evalExponential(fit: ExponentialFit, t: number): number {
  return fit.a * Math.exp(fit.b * t) + fit.c;
}

/** @internal Gaussian-process posterior (RBF kernel, standardised outputs) at the query points. */
export function gpPosterior(
  xs: number[],
  ys: number[],
  query: number[],
  opts: { lengthScale?: number; noise?: number } = {},
): { mean: number[]; std: number[] } {
  const ell = opts.lengthScale ?? 0.2;
  const noise = opts.noise ?? 1e-4;
  const n = xs.length;
  if (n === 0) return { mean: query.map(() => 0), std: query.map(() => 1) };
  const mu = ys.reduce((s, v) => s + v, 0) / n;
  const sd = Math.sqrt(ys.reduce((s, v) => s + (v - mu) ** 2, 0) / n) || 1;
  const z = ys.map((v) => (v - mu) / sd);
  const k = (a: number, b: number) => Math.exp(-((a - b) ** 2) / (2 * ell * ell));
  // Cholesky of K + noise I.
  const L: number[][] = xs.map(() => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = k(xs[i]!, xs[j]!) + (i === j ? noise : 0);
      for (let p = 0; p < j; p++) s -= (L[i] as number[])[p]! * (L[j] as number[])[p]!;
      (L[i] as number[])[j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / (L[j] as number[])[j]!;
    }
  }
  // Triangular solves with L (forward) and L^T (backward).
  const fwd = (b: number[]) => {
    const x = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) {
      let s = b[i]!;
      for (let p = 0; p < i; p++) s -= L[i]![p]! * x[p]!;
      x[i] = s / L[i]![i]!;
    }
    return x;
  };
  const bwd = (b: number[]) => {
    const x = new Array<number>(n).fill(0);
    for (let i = n - 1; i >= 0; i--) {
      let s = b[i]!;
      for (let p = i + 1; p < n; p++) s -= L[p]![i]! * x[p]!;
      x[i] = s / L[i]![i]!;
    }
    return x;
  };
  const alpha = bwd(fwd(z));
  const mean: number[] = [];
  const std: number[] = [];
  for (const q of query) {
    const ks = xs.map((x) => k(x, q));
    const m = ks.reduce((s, v, i) => s + v * alpha[i]!, 0);
    const v = fwd(ks);
    const varz = Math.max(0, 1 - v.reduce((s, w) => s + w * w, 0));
    mean.push(mu + sd * m);
    std.push(sd * Math.sqrt(varz));
  }
  return { mean, std };
}

const MAX_TRIALS = 200;
const MAX_STAGES = 100_000;

/** Options of {@link autoLRS}. */
export interface AutoLRSOptions<C> {
  minLr: number;
  maxLr: number;
  /** Number of stages (at most 100000); one LR is chosen per stage. */
  stages: number;
  /** Steps of each stage (trained with the chosen LR). */
  stageSteps: number;
  /** Steps of each exploratory trial (default stageSteps / 10, at least 3). */
  trialSteps?: number;
  /** Trials per stage (default 6, at most 200). */
  trials?: number;
  /** LCB exploration weight kappa (default 2). */
  kappa?: number;
  /** Train `steps` steps at `lr` from the current state and return the loss after each step. */
  train: (lr: number, steps: number) => number[] | Promise<number[]>;
  /** Saves the training state. */
  checkpoint: () => C | Promise<C>;
  /** Restores a saved state. */
  restore: (state: C) => void | Promise<void>;
}

/** What one trial tried and forecast. */
export interface AutoLRSTrial {
  stage: number;
  lr: number;
  /** Forecast loss at the end of the stage (Infinity when training diverged). */
  forecast: number;
}

/** The chosen LR per stage and every trial. */
export interface AutoLRSResult {
  lrs: number[];
  trials: AutoLRSTrial[];
}

/** Runs the AutoLRS search: for each stage, `trials` GP-guided probes, then the stage itself at the best LR. */
export async function autoLRS<C>(options: AutoLRSOptions<C>): Promise<AutoLRSResult> {
  objectArg('options', options);
  knownKeys('autoLRS', options, [
    'minLr',
    'maxLr',
    'stages',
    'stageSteps',
    'trialSteps',
    'trials',
    'kappa',
    'train',
    'checkpoint',
    'restore',
  ]);
  const lo = positive('minLr', options.minLr);
  const hi = positive('maxLr', options.maxLr);
  if (!(lo < hi)) throw new RangeError(`minLr (${lo}) must be < maxLr (${hi})`);
  const stages = positiveInt('stages', options.stages);
  const stageSteps = positiveInt('stageSteps', options.stageSteps);
  const trialSteps = positiveInt('trialSteps', options.trialSteps ?? Math.max(3, Math.floor(stageSteps / 10)));
  if (trialSteps < 3) throw new RangeError(`trialSteps must be >= 3 to fit an exponential, got ${trialSteps}`);
  const nTrials = positiveInt('trials', options.trials ?? 6);
  // The GP refits on every trial (cubic in the trials so far); the paper needs about ten.
  if (nTrials > MAX_TRIALS) throw new RangeError(`autoLRS: trials must be <= ${MAX_TRIALS}, got ${nTrials}`);
  if (stages > MAX_STAGES) throw new RangeError(`autoLRS: stages must be <= ${MAX_STAGES}, got ${stages}`);
  const kappa = finite('kappa', options.kappa ?? 2);
  if (kappa < 0) throw new RangeError(`autoLRS: kappa must be >= 0, got ${kappa}`);
  for (const f of ['train', 'checkpoint', 'restore'] as const)
    if (typeof options[f] !== 'function') throw new TypeError(`${f} must be a function, got ${String(options[f])}`);
  const toLr = (x: number) => Math.exp(Math.log(lo) + x * (Math.log(hi) - Math.log(lo)));
  const grid = Array.from({ length: 101 }, (_, i) => i / 100);
  const lrs: number[] = [];
  const trials: AutoLRSTrial[] = [];
  for (let stage = 0; stage < stages; stage++) {
    const ckpt = await options.checkpoint();
    const xs: number[] = [];
    const ys: number[] = [];
    for (let k = 0; k < nTrials; k++) {
      let x: number;
      if (k === 0) x = 0.5;
      else if (k === 1) x = 0.1;
      else if (k === 2) x = 0.9;
      else {
        const finiteYs = ys.filter(Number.isFinite);
        const cap = finiteYs.length ? Math.max(...finiteYs) + (Math.max(...finiteYs) - Math.min(...finiteYs) + 1) : 1;
        const post = gpPosterior(
          xs,
          ys.map((y) => (Number.isFinite(y) ? y : cap)),
          grid,
        );
        let bi = 0;
        post.mean.forEach((m, i) => {
          if (m - kappa * post.std[i]! < post.mean[bi]! - kappa * post.std[bi]!) bi = i;
        });
        x = grid[bi]!;
      }
      const lr = toLr(x);
      await options.restore(ckpt);
      const losses = await options.train(lr, trialSteps);
      let forecast = Infinity;
      if (Array.isArray(losses) && losses.length >= 3 && losses.every(Number.isFinite)) {
        const fit = fitExponential(losses);
        forecast = evalExponential(fit, stageSteps);
        if (!Number.isFinite(forecast)) forecast = Infinity;
      }
      xs.push(x);
      ys.push(forecast);
      trials.push({ stage, lr, forecast });
    }
    let best = -1;
    ys.forEach((y, i) => {
      if (Number.isFinite(y) && (best < 0 || y < ys[best]!)) best = i;
    });
    const lr = best < 0 ? lo : toLr(xs[best]!);
    await options.restore(ckpt);
    await options.train(lr, stageSteps);
    lrs.push(lr);
  }
  return { lrs, trials };
}
