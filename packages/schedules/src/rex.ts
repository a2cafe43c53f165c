/** REX: the reflected-exponential profile (1 - z)/(1 - z/2) of arXiv 2107.04197. */
import { defineSchedule, type Schedule } from './schedule.js';
import { finite, knownKeys, nonNegative, objectArg, positive } from './validate.js';

/** Options of {@link rexSchedule}. */
export interface RexOptions {
  peakValue: number;
  /** Steps of the decay; z = progress in [0, 1]. */
  totalSteps: number;
  minValue?: number;
  /** Linear warm-up from 0 before the profile (default 0 steps). */
  warmupSteps?: number;
  /** The profile is sampled every this many steps and held in between (the paper's sampling rate; default 1). */
  samplingInterval?: number;
}

/** REX: min + (peak - min) * (1 - z)/(1 - z/2), z = sampled progress; min is held after totalSteps. */
export function rexSchedule(options: RexOptions): Schedule {
  objectArg('options', options);
  knownKeys('rexSchedule', options, ['peakValue', 'totalSteps', 'minValue', 'warmupSteps', 'samplingInterval']);
  const peak = finite('peakValue', options.peakValue);
  const T = positive('totalSteps', options.totalSteps);
  const min = finite('minValue', options.minValue ?? 0);
  const w = nonNegative('warmupSteps', options.warmupSteps ?? 0);
  const k = positive('samplingInterval', options.samplingInterval ?? 1);
  if (w >= T) throw new RangeError(`rexSchedule: warmupSteps (${w}) must be < totalSteps (${T})`);
  return defineSchedule(
    { type: 'rexSchedule', peakValue: peak, totalSteps: T, minValue: min, warmupSteps: w, samplingInterval: k },
    (t) => {
      if (t < w) return (peak * t) / w;
      const sampled = Math.floor((t - w) / k) * k;
      const z = Math.min(1, sampled / (T - w));
      return min + ((peak - min) * (1 - z)) / (1 - z / 2);
    },
  );
}
