/** Classic schedule shapes. Semantics follow optax (`optax/schedules/_schedule.py`) where optax has the shape. */
import { defineSchedule, type Schedule } from './schedule.js';
import { bool, finite, inRange, knownKeys, nonNegative, numberArray, objectArg, oneOf, positive } from './validate.js';

/** A schedule that always returns `value`. */
export function constantSchedule(value: number): Schedule {
  finite('value', value);
  return defineSchedule({ type: 'constantSchedule', value }, () => value);
}

/** Options of {@link polynomialSchedule}. */
export interface PolynomialOptions {
  initValue: number;
  endValue: number;
  power: number;
  /** Steps over which the value moves; <= 0 gives a constant `initValue` (as optax). */
  transitionSteps: number;
  /** Steps held at `initValue` before the transition starts (default 0). */
  transitionBegin?: number;
}

/** (init - end) * (1 - clip(t - begin, 0, T)/T)^power + end, as `optax.polynomial_schedule`. */
export function polynomialSchedule(options: PolynomialOptions): Schedule {
  objectArg('options', options);
  knownKeys('polynomialSchedule', options, ['initValue', 'endValue', 'power', 'transitionSteps', 'transitionBegin']);
  const init = finite('initValue', options.initValue);
  const end = finite('endValue', options.endValue);
  const power = finite('power', options.power);
  // Negative powers are finite until the last transition step, where 0^power is infinite: refuse them up front.
  if (power < 0)
    throw new RangeError(
      `polynomialSchedule: power must be >= 0 (a negative power grows without bound as the decay ends), got ${power}`,
    );
  const steps = finite('transitionSteps', options.transitionSteps);
  const begin = nonNegative('transitionBegin', options.transitionBegin ?? 0);
  const spec = {
    type: 'polynomialSchedule',
    initValue: init,
    endValue: end,
    power,
    transitionSteps: steps,
    transitionBegin: begin,
  };
  if (steps <= 0) return defineSchedule(spec, () => init);
  return defineSchedule(spec, (t) => {
    const c = Math.min(Math.max(t - begin, 0), steps);
    return (init - end) * Math.pow(1 - c / steps, power) + end;
  });
}

/** Options of {@link linearSchedule}. */
export type LinearOptions = Omit<PolynomialOptions, 'power'>;

/** Linear move from `initValue` to `endValue` over `transitionSteps` after `transitionBegin`, as `optax.linear_schedule`. */
export function linearSchedule(options: LinearOptions): Schedule {
  objectArg('options', options);
  knownKeys('linearSchedule', options, ['initValue', 'endValue', 'transitionSteps', 'transitionBegin']);
  const s = polynomialSchedule({ ...options, power: 1 });
  return defineSchedule({ type: 'linearSchedule', ...options, transitionBegin: options.transitionBegin ?? 0 }, s);
}

/** Options of {@link exponentialDecay}. */
export interface ExponentialDecayOptions {
  initValue: number;
  /** Steps per factor of `decayRate`; <= 0 gives a constant (as optax). */
  transitionSteps: number;
  /** Multiplier per `transitionSteps`; 0 gives a constant (as optax). */
  decayRate: number;
  transitionBegin?: number;
  /** Integer division of the exponent: decays in discrete jumps. */
  staircase?: boolean;
  /** Lower bound when decayRate < 1, upper bound otherwise. */
  endValue?: number;
}

/** init * rate^((t - begin)/T), optional staircase and end value, as `optax.exponential_decay`. */
export function exponentialDecay(options: ExponentialDecayOptions): Schedule {
  objectArg('options', options);
  knownKeys('exponentialDecay', options, [
    'initValue',
    'transitionSteps',
    'decayRate',
    'transitionBegin',
    'staircase',
    'endValue',
  ]);
  const init = finite('initValue', options.initValue);
  const steps = finite('transitionSteps', options.transitionSteps);
  const rate = nonNegative('decayRate', options.decayRate);
  const begin = nonNegative('transitionBegin', options.transitionBegin ?? 0);
  const staircase = bool('staircase', options.staircase ?? false);
  const end = options.endValue === undefined ? undefined : finite('endValue', options.endValue);
  const spec: Record<string, unknown> = {
    type: 'exponentialDecay',
    initValue: init,
    transitionSteps: steps,
    decayRate: rate,
    transitionBegin: begin,
    staircase,
  };
  if (end !== undefined) spec.endValue = end;
  // Growth (rate > 1) is bounded only by endValue (as in optax); without it the value overflows mid-run.
  if (rate > 1 && steps > 0 && end === undefined) {
    throw new RangeError(
      `exponentialDecay: decayRate ${rate} > 1 grows without bound; give endValue as its upper bound, or a decayRate in [0, 1]`,
    );
  }
  if (steps <= 0 || rate === 0) return defineSchedule({ ...spec, type: 'exponentialDecay' }, () => init);
  return defineSchedule({ ...spec, type: 'exponentialDecay' }, (t) => {
    const d = t - begin;
    let p = d / steps;
    if (staircase) p = Math.floor(p);
    let v = d <= 0 ? init : init * Math.pow(rate, p);
    if (end !== undefined) v = rate < 1 ? Math.max(v, end) : Math.min(v, end);
    return v;
  });
}

/** Options of {@link cosineDecay}. */
export interface CosineDecayOptions {
  initValue: number;
  /** Steps of the half cosine; must be > 0. */
  decaySteps: number;
  /** Final value as a fraction of initValue (default 0). */
  alpha?: number;
  /** Power applied to the cosine factor (default 1). */
  exponent?: number;
}

/** init * ((1 - alpha) * (0.5(1 + cos(pi min(t,T)/T)))^exponent + alpha), as `optax.cosine_decay_schedule`. */
export function cosineDecay(options: CosineDecayOptions): Schedule {
  objectArg('options', options);
  knownKeys('cosineDecay', options, ['initValue', 'decaySteps', 'alpha', 'exponent']);
  const init = finite('initValue', options.initValue);
  const T = positive('decaySteps', options.decaySteps);
  const alpha = finite('alpha', options.alpha ?? 0);
  // A negative exponent makes the cosine's zero at the end an infinity (and values near it huge): refuse it.
  const exponent = nonNegative('exponent', options.exponent ?? 1);
  return defineSchedule({ type: 'cosineDecay', initValue: init, decaySteps: T, alpha, exponent }, (t) => {
    const c = Math.min(t, T);
    const cos = 0.5 * (1 + Math.cos((Math.PI * c) / T));
    return init * ((1 - alpha) * Math.pow(cos, exponent) + alpha);
  });
}

/** Options of {@link piecewiseConstant}. */
export interface PiecewiseConstantOptions {
  initValue: number;
  /** Steps at which a scale is multiplied in (the scale applies from that step on). */
  boundaries: number[];
  /** Non-negative scale per boundary. */
  scales: number[];
}

function pairs(what: string, boundaries: unknown, scales: unknown): [number, number][] {
  const b = numberArray('boundaries', boundaries);
  const s = numberArray('scales', scales, { nonNegative: true });
  if (b.length !== s.length)
    throw new RangeError(`${what}: boundaries and scales must have the same length, got ${b.length} and ${s.length}`);
  return b.map((x, i) => [x, s[i]!] as [number, number]).sort((p, q) => p[0] - q[0]);
}

/** init times the product of every scale whose boundary is <= t, as `optax.piecewise_constant_schedule`. */
export function piecewiseConstant(options: PiecewiseConstantOptions): Schedule {
  objectArg('options', options);
  knownKeys('piecewiseConstant', options, ['initValue', 'boundaries', 'scales']);
  const init = finite('initValue', options.initValue);
  const ps = pairs('piecewiseConstant', options.boundaries, options.scales);
  return defineSchedule(
    { type: 'piecewiseConstant', initValue: init, boundaries: [...options.boundaries], scales: [...options.scales] },
    (t) => {
      let v = init;
      for (const [b, s] of ps) if (t >= b) v *= s;
      return v;
    },
  );
}

/** Options of {@link piecewiseInterpolate}. */
export interface PiecewiseInterpolateOptions extends PiecewiseConstantOptions {
  interpolation: 'linear' | 'cosine';
}

/**
 * Interpolates (linearly or by half cosine) between the accumulated values init, init*s1, init*s1*s2, ...
 * placed at steps 0, b1, b2, ...; holds the last value after the last boundary, as `optax.piecewise_interpolate_schedule`.
 */
export function piecewiseInterpolate(options: PiecewiseInterpolateOptions): Schedule {
  objectArg('options', options);
  knownKeys('piecewiseInterpolate', options, ['interpolation', 'initValue', 'boundaries', 'scales']);
  const kind = oneOf('interpolation', options.interpolation, ['linear', 'cosine'] as const);
  const init = finite('initValue', options.initValue);
  const ps = pairs('piecewiseInterpolate', options.boundaries, options.scales);
  const bounds = [0, ...ps.map((p) => p[0])];
  const values = [init];
  for (const [, s] of ps) values.push(values[values.length - 1]! * s);
  const interp =
    kind === 'linear'
      ? (a: number, b: number, p: number) => (b - a) * p + a
      : (a: number, b: number, p: number) => b + ((a - b) / 2) * (Math.cos(Math.PI * p) + 1);
  const spec = {
    type: 'piecewiseInterpolate',
    interpolation: kind,
    initValue: init,
    boundaries: [...options.boundaries],
    scales: [...options.scales],
  };
  return defineSchedule(spec, (t) => {
    // optax sums over every interval that contains t (intervals are half-open) plus the tail.
    let v = 0;
    for (let i = 0; i + 1 < bounds.length; i++) {
      const lo = bounds[i]!;
      const hi = bounds[i + 1]!;
      if (lo <= t && t < hi) v += interp(values[i]!, values[i + 1]!, (t - lo) / Math.max(hi - lo, 1));
    }
    if (bounds[bounds.length - 1]! <= t) v += values[values.length - 1]!;
    return v;
  });
}

/** Options of {@link stepDecay}. */
export interface StepDecayOptions {
  initValue: number;
  /** Steps between two multiplications by gamma. */
  stepSize: number;
  gamma?: number;
}

/** init * gamma^floor(t / stepSize), as `torch.optim.lr_scheduler.StepLR`. */
export function stepDecay(options: StepDecayOptions): Schedule {
  objectArg('options', options);
  knownKeys('stepDecay', options, ['initValue', 'stepSize', 'gamma']);
  const init = finite('initValue', options.initValue);
  const size = positive('stepSize', options.stepSize);
  // gamma > 1 grows geometrically and overflows mid-run; a decay is in [0, 1].
  const gamma = inRange('gamma', options.gamma ?? 0.1, 0, 1);
  return defineSchedule(
    { type: 'stepDecay', initValue: init, stepSize: size, gamma },
    (t) => init * Math.pow(gamma, Math.floor(t / size)),
  );
}

/** Options of {@link multiStepDecay}. */
export interface MultiStepDecayOptions {
  initValue: number;
  /** Steps at which the value is multiplied by gamma (repeats count twice). */
  milestones: number[];
  gamma?: number;
}

/** init * gamma^(number of milestones <= t), as `torch.optim.lr_scheduler.MultiStepLR`. */
export function multiStepDecay(options: MultiStepDecayOptions): Schedule {
  objectArg('options', options);
  knownKeys('multiStepDecay', options, ['initValue', 'milestones', 'gamma']);
  const init = finite('initValue', options.initValue);
  const ms = [...numberArray('milestones', options.milestones, { nonNegative: true })].sort((a, b) => a - b);
  const gamma = nonNegative('gamma', options.gamma ?? 0.1);
  return defineSchedule(
    { type: 'multiStepDecay', initValue: init, milestones: [...options.milestones], gamma },
    (t) => {
      let n = 0;
      for (const m of ms) if (m <= t) n++;
      return init * Math.pow(gamma, n);
    },
  );
}

/** Options of {@link inverseSqrtSchedule}. */
export interface InverseSqrtOptions {
  peakValue: number;
  /** Linear warm-up from 0 (default 0 steps). */
  warmupSteps?: number;
  /** Decay timescale (default warmupSteps, or 10000 without warm-up), as transformers. */
  timescale?: number;
}

/** Linear warm-up, then peak / sqrt((t + timescale - warmup)/timescale), as transformers' `get_inverse_sqrt_schedule`. */
export function inverseSqrtSchedule(options: InverseSqrtOptions): Schedule {
  objectArg('options', options);
  knownKeys('inverseSqrtSchedule', options, ['peakValue', 'warmupSteps', 'timescale']);
  const peak = finite('peakValue', options.peakValue);
  const w = nonNegative('warmupSteps', options.warmupSteps ?? 0);
  const ts = positive('timescale', options.timescale ?? (w || 10_000));
  return defineSchedule({ type: 'inverseSqrtSchedule', peakValue: peak, warmupSteps: w, timescale: ts }, (t) => {
    if (t < w) return (peak * t) / Math.max(1, w);
    return peak / Math.sqrt((t + ts - w) / ts);
  });
}
