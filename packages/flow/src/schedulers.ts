/**
 * Schedulers of affine probability paths x_t = sigma_t * x0 + alpha_t * x1, with t = 0 noise
 * (x0) and t = 1 data (x1), as in facebookresearch/flow_matching (`path/scheduler`).
 */

/** alpha_t, sigma_t and their time derivatives at one time t. */
export interface SchedulerOutput {
  alpha: number;
  sigma: number;
  dAlpha: number;
  dSigma: number;
}

/** A scheduler: the coefficients of an affine path as a pure function of t in [0, 1]. */
export interface Scheduler {
  /** Short name, e.g. 'condOT'. */
  readonly name: string;
  /** Coefficients at time t (t = 0 noise, t = 1 data). */
  at(t: number): SchedulerOutput;
}

function checkT(t: number): void {
  if (!Number.isFinite(t) || t < 0 || t > 1) throw new Error(`t must be a number in [0, 1], got ${t}`);
}

/** Conditional OT (rectified flow): alpha_t = t, sigma_t = 1 - t. */
export function condOTScheduler(): Scheduler {
  return {
    name: 'condOT',
    at(t) {
      checkT(t);
      return { alpha: t, sigma: 1 - t, dAlpha: 1, dSigma: -1 };
    },
  };
}

/** Polynomial convex scheduler: alpha_t = t^n, sigma_t = 1 - t^n (n > 0). */
export function polynomialScheduler(n: number): Scheduler {
  if (!Number.isFinite(n) || n <= 0) throw new Error(`polynomialScheduler: n must be a positive number, got ${n}`);
  return {
    name: `polynomial(${n})`,
    at(t) {
      checkT(t);
      const a = t ** n;
      // d/dt t^n = n t^(n-1); at t = 0 with n < 1 this is infinite, so callers avoid t = 0 there.
      const da = t === 0 ? (n === 1 ? 1 : n > 1 ? 0 : Infinity) : n * t ** (n - 1);
      return { alpha: a, sigma: 1 - a, dAlpha: da, dSigma: -da };
    },
  };
}

/** Cosine scheduler: alpha_t = sin(pi t / 2), sigma_t = cos(pi t / 2) (variance preserving for unit data). */
export function cosineScheduler(): Scheduler {
  const h = Math.PI / 2;
  return {
    name: 'cosine',
    at(t) {
      checkT(t);
      return {
        alpha: Math.sin(h * t),
        sigma: Math.cos(h * t),
        dAlpha: h * Math.cos(h * t),
        dSigma: -h * Math.sin(h * t),
      };
    },
  };
}

/**
 * Variance-preserving scheduler of score SDEs (linear beta from betaMin to betaMax), in flow time:
 * with s = 1 - t, T(s) = s^2 (betaMax - betaMin) / 2 + s betaMin, alpha_t = exp(-T/2),
 * sigma_t = sqrt(1 - exp(-T)). Note sigma_1 = 0 and alpha_0 = exp(-(betaMin+betaMax)/4) ~ 0.
 */
export function vpScheduler(betaMin = 0.1, betaMax = 20): Scheduler {
  if (!Number.isFinite(betaMin) || betaMin < 0) throw new Error(`vpScheduler: betaMin must be >= 0, got ${betaMin}`);
  if (!Number.isFinite(betaMax) || betaMax < betaMin) {
    throw new Error(`vpScheduler: betaMax must be >= betaMin (${betaMin}), got ${betaMax}`);
  }
  return {
    name: `vp(${betaMin},${betaMax})`,
    at(t) {
      checkT(t);
      const s = 1 - t;
      const T = 0.5 * s * s * (betaMax - betaMin) + s * betaMin;
      // dT/dt = -dT/ds = -(s (betaMax - betaMin) + betaMin)
      const dT = -(s * (betaMax - betaMin) + betaMin);
      const alpha = Math.exp(-0.5 * T);
      const e = Math.exp(-T);
      const sigma = Math.sqrt(1 - e);
      const dAlpha = -0.5 * dT * alpha;
      const dSigma = sigma === 0 ? -Infinity : (0.5 * dT * e) / sigma;
      return { alpha, sigma, dAlpha, dSigma };
    },
  };
}
