/** Refined schedules from observed gradient norms (arXiv 2310.07831, Algorithm 1). */
import { defineSchedule, type Schedule } from './schedule.js';
import { finite, knownKeys, nonNegative, objectArg, oneOf, positiveInt } from './validate.js';

/** Options of {@link refinedSchedule}. */
export interface RefinedOptions {
  /** Gradient norm per step of a previous run: the l2 norm for SGD, the l1 norm for Adam. */
  gradNorms: number[];
  /** sgd: w_t = g_t^-2; adam: w_t = 1/||g_t||_1. */
  optimizer: 'sgd' | 'adam';
  /** Width of the centred median filter applied to the norms (default 1: no smoothing). */
  smoothingWindow?: number;
  /** Value of the largest step (the schedule is normalised to max 1, then scaled; default 1). */
  peakValue?: number;
  /** Linear warm-up prepended (the schedule shape then starts after it; default 0). */
  warmupSteps?: number;
}

/** @internal Centred running median with a window of `width` (truncated at the ends). */
export function medianFilter(values: ArrayLike<number>, width: number): Float64Array {
  positiveInt('width', width);
  const n = values.length;
  const out = new Float64Array(n);
  const half = Math.floor(width / 2);
  const buf: number[] = [];
  for (let i = 0; i < n; i++) {
    buf.length = 0;
    for (let j = Math.max(0, i - half); j <= Math.min(n - 1, i + (width - 1 - half)); j++) buf.push(values[j]!);
    buf.sort((x, y) => x - y);
    const m = buf.length >> 1;
    out[i] = buf.length % 2 ? buf[m]! : (buf[m - 1]! + buf[m]!) / 2;
  }
  return out;
}

/** The refined LR shape: lr_t ∝ w_t * sum_{p>t} w_p, normalised so its maximum is 1 (last step is 0). */
export function refinedShape(gradNorms: number[], optimizer: 'sgd' | 'adam', smoothingWindow = 1): Float64Array {
  if (!Array.isArray(gradNorms) || gradNorms.length < 2)
    throw new RangeError(`gradNorms must hold at least 2 norms, got ${String(gradNorms)}`);
  gradNorms.forEach((g, i) => {
    finite(`gradNorms[${i}]`, g);
    if (g <= 0) throw new RangeError(`gradNorms[${i}] must be > 0, got ${g}`);
  });
  const g = medianFilter(gradNorms, smoothingWindow);
  const n = g.length;
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = optimizer === 'sgd' ? 1 / (g[i]! * g[i]!) : 1 / g[i]!;
  const lr = new Float64Array(n);
  let tail = 0;
  for (let i = n - 1; i >= 0; i--) {
    lr[i] = w[i]! * tail;
    tail += w[i]!;
  }
  let max = 0;
  for (const v of lr) max = Math.max(max, v);
  for (let i = 0; i < n; i++) lr[i] = lr[i]! / max;
  return lr;
}

/**
 * Refined schedule: a shape computed from a previous run's gradient norms. With constant norms it is linear decay
 * from peakValue at step 0 to 0 at the last step. Steps past the last norm return 0; fractional steps interpolate.
 */
export function refinedSchedule(options: RefinedOptions): Schedule {
  objectArg('options', options);
  knownKeys('refinedSchedule', options, ['gradNorms', 'optimizer', 'smoothingWindow', 'peakValue', 'warmupSteps']);
  const opt = oneOf('optimizer', options.optimizer, ['sgd', 'adam'] as const);
  const width = positiveInt('smoothingWindow', options.smoothingWindow ?? 1);
  const peak = finite('peakValue', options.peakValue ?? 1);
  const warm = nonNegative('warmupSteps', options.warmupSteps ?? 0);
  const shape = refinedShape(options.gradNorms, opt, width);
  const n = shape.length;
  const spec = {
    type: 'refinedSchedule',
    gradNorms: [...options.gradNorms],
    optimizer: opt,
    smoothingWindow: width,
    peakValue: peak,
    warmupSteps: warm,
  };
  return defineSchedule(spec, (t) => {
    if (t < warm) return (peak * t) / warm;
    const u = t - warm;
    if (u >= n - 1) return 0;
    const i = Math.floor(u);
    const f = u - i;
    return peak * (shape[i]! * (1 - f) + shape[i + 1]! * f);
  });
}
