/** Composition: join schedules in time, warm-up wrappers, scaling, clamping, products and cycles. */
import { checkSchedule, defineSchedule, type Schedule } from './schedule.js';
import { finite, inRange, knownKeys, nonNegative, numberArray, objectArg, oneOf, positive } from './validate.js';

/**
 * Runs `schedules[0]` until `boundaries[0]`, then `schedules[1]` with its clock restarted at 0, and so on,
 * as `optax.join_schedules`: value(t) = schedules[i](t - boundaries[i-1]) for the last boundary <= t.
 */
export function joinSchedules(schedules: Schedule[], boundaries: number[]): Schedule {
  if (!Array.isArray(schedules) || schedules.length === 0)
    throw new RangeError(`schedules must be a non-empty array of schedules, got ${String(schedules)}`);
  schedules.forEach((s, i) => checkSchedule(`schedules[${i}]`, s));
  const b = numberArray('boundaries', boundaries, { sorted: true, nonNegative: true });
  if (b.length !== schedules.length - 1) {
    throw new RangeError(
      `boundaries must have schedules.length - 1 = ${schedules.length - 1} entries, got ${b.length}`,
    );
  }
  return defineSchedule({ type: 'joinSchedules', schedules: [...schedules], boundaries: [...b] }, (t) => {
    let i = 0;
    while (i < b.length && t >= b[i]!) i++;
    const start = i === 0 ? 0 : b[i - 1]!;
    return (schedules[i] as Schedule)(t - start);
  });
}

/** Options of {@link withWarmup}. */
export interface WarmupOptions {
  /** Warm-up length in steps; 0 returns the schedule unchanged. */
  warmupSteps: number;
  /** Value at step 0 (default 0). */
  initValue?: number;
  /** Warm-up curve: linear (default), cosine (half cosine) or exponential (needs initValue > 0). */
  shape?: 'linear' | 'cosine' | 'exponential';
}

/**
 * Prepends a warm-up from `initValue` to `schedule(0)` over `warmupSteps`; the wrapped schedule then starts its
 * clock at the end of the warm-up (as optax's warm-up schedules do).
 */
export function withWarmup(schedule: Schedule, options: WarmupOptions): Schedule {
  checkSchedule('schedule', schedule);
  objectArg('options', options);
  knownKeys('withWarmup', options, ['warmupSteps', 'initValue', 'shape']);
  const w = nonNegative('warmupSteps', options.warmupSteps);
  const init = finite('initValue', options.initValue ?? 0);
  const shape = oneOf('shape', options.shape ?? 'linear', ['linear', 'cosine', 'exponential'] as const);
  const peak = schedule(0);
  if (shape === 'exponential' && (init <= 0 || peak <= 0)) {
    throw new RangeError(
      `withWarmup: an exponential warm-up needs initValue > 0 and schedule(0) > 0, got ${init} and ${peak}`,
    );
  }
  const spec = { type: 'withWarmup', schedule, warmupSteps: w, initValue: init, shape };
  return defineSchedule(spec, (t) => {
    if (t >= w) return schedule(t - w);
    const p = t / w;
    if (shape === 'linear') return init + (peak - init) * p;
    if (shape === 'cosine') return init + ((peak - init) * (1 - Math.cos(Math.PI * p))) / 2;
    return init * Math.pow(peak / init, p);
  });
}

/** factor * schedule(t). */
export function scaleSchedule(schedule: Schedule, factor: number): Schedule {
  checkSchedule('schedule', schedule);
  finite('factor', factor);
  return defineSchedule({ type: 'scaleSchedule', schedule, factor }, (t) => factor * schedule(t));
}

/** Options of {@link clampSchedule}. */
export interface ClampOptions {
  min?: number;
  max?: number;
}

/** schedule(t) limited to [min, max]. */
export function clampSchedule(schedule: Schedule, options: ClampOptions): Schedule {
  checkSchedule('schedule', schedule);
  objectArg('options', options);
  knownKeys('clampSchedule', options, ['min', 'max']);
  const lo = options.min === undefined ? -Infinity : finite('min', options.min);
  const hi = options.max === undefined ? Infinity : finite('max', options.max);
  if (lo > hi) throw new RangeError(`clampSchedule: min must be <= max, got ${lo} > ${hi}`);
  const spec: Record<string, unknown> = { schedule };
  if (options.min !== undefined) spec.min = lo;
  if (options.max !== undefined) spec.max = hi;
  return defineSchedule({ ...spec, type: 'clampSchedule' }, (t) => Math.min(hi, Math.max(lo, schedule(t))));
}

/** The pointwise product of schedules and constants, e.g. a cosine shape times a per-cycle decay. */
export function multiplySchedules(...factors: (Schedule | number)[]): Schedule {
  if (factors.length === 0) throw new RangeError('multiplySchedules needs at least one factor, got none');
  factors.forEach((f, i) => (typeof f === 'number' ? finite(`factors[${i}]`, f) : checkSchedule(`factors[${i}]`, f)));
  return defineSchedule({ type: 'multiplySchedules', schedules: [...factors] }, (t) => {
    let v = 1;
    for (const f of factors) v *= typeof f === 'number' ? f : f(t);
    return v;
  });
}

/** Options of {@link cycleSchedule}. */
export interface CycleOptions {
  /** Cycle length in steps. */
  period: number;
  /** Multiplier applied once per completed cycle (default 1). */
  decay?: number;
  /** Number of cycles; afterwards the value of the last cycle's end is held (default unlimited). */
  limit?: number;
}

/** Repeats `schedule` on [0, period): value(t) = decay^k * schedule(t - k*period) for cycle k. */
export function cycleSchedule(schedule: Schedule, options: CycleOptions): Schedule {
  checkSchedule('schedule', schedule);
  objectArg('options', options);
  knownKeys('cycleSchedule', options, ['period', 'decay', 'limit']);
  const period = positive('period', options.period);
  // A factor above 1 grows without bound and overflows at some later cycle: refuse it here, not mid-run.
  const decay = inRange('decay', options.decay ?? 1, 0, 1);
  const limit = options.limit === undefined ? Infinity : positive('limit', options.limit);
  const spec: Record<string, unknown> = { schedule, period, decay };
  if (options.limit !== undefined) spec.limit = limit;
  return defineSchedule({ ...spec, type: 'cycleSchedule' }, (t) => {
    const k = Math.floor(t / period);
    if (k >= limit) return Math.pow(decay, limit - 1) * schedule(period);
    return Math.pow(decay, k) * schedule(t - k * period);
  });
}

/** schedule(max(0, t - delay)): holds schedule(0) for `delay` steps. */
export function delaySchedule(schedule: Schedule, delay: number): Schedule {
  checkSchedule('schedule', schedule);
  nonNegative('delay', delay);
  return defineSchedule({ type: 'delaySchedule', schedule, delay }, (t) => schedule(Math.max(0, t - delay)));
}
