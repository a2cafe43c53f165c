/** The Power scheduler of arXiv 2408.13359: LR = min(lrMax, batchSize * a * tokens^b), with warm-up and a decay tail. */
import { defineSchedule, type Schedule } from './schedule.js';
import { finite, inRange, knownKeys, nonNegative, objectArg, positive } from './validate.js';

/** Options of {@link powerSchedule}. */
export interface PowerScheduleOptions {
  /** Power-law amplitude a (the paper fits about 4.6 with muP). */
  a: number;
  /** Power-law exponent b < 0 (the paper fits about -0.51). */
  b: number;
  /** Upper bound lrMax (paper: 0.02). */
  maxValue: number;
  /** Batch size beta, in the same unit the coefficients were fitted with (sequences in the paper). */
  batchSize: number;
  /** Tokens consumed per optimizer step (batch size times sequence length). */
  tokensPerStep: number;
  /** Linear warm-up to the power-law value at the end of the warm-up (default 0). */
  warmupSteps?: number;
  /** Total steps; needed only for the decay tail. */
  totalSteps?: number;
  /** Steps of the exponential tail at the end of the run (default 0: no tail). */
  decaySteps?: number;
  /** The tail multiplies by minRatio^progress (default 0.01). */
  decayMinRatio?: number;
}

/**
 * Power scheduler: lr(n) = min(maxValue, batchSize * a * n^b) on n = tokens seen, preceded by a linear warm-up
 * (the value at the end of the warm-up times t/warmup) and, when decaySteps > 0, followed by an exponential tail
 * lr(start of tail) * decayMinRatio^progress over the last decaySteps steps.
 */
export function powerSchedule(options: PowerScheduleOptions): Schedule {
  objectArg('options', options);
  knownKeys('powerSchedule', options, [
    'a',
    'b',
    'maxValue',
    'batchSize',
    'tokensPerStep',
    'warmupSteps',
    'totalSteps',
    'decaySteps',
    'decayMinRatio',
  ]);
  const a = positive('a', options.a);
  const b = finite('b', options.b);
  if (b >= 0) throw new RangeError(`b must be negative (the LR falls with tokens), got ${b}`);
  const max = positive('maxValue', options.maxValue);
  const beta = positive('batchSize', options.batchSize);
  const tps = positive('tokensPerStep', options.tokensPerStep);
  const w = nonNegative('warmupSteps', options.warmupSteps ?? 0);
  const d = nonNegative('decaySteps', options.decaySteps ?? 0);
  const ratio = inRange('decayMinRatio', options.decayMinRatio ?? 0.01, 0, 1);
  let total = Infinity;
  if (d > 0) {
    total = positive('totalSteps', options.totalSteps);
    if (w + d > total)
      throw new RangeError(`powerSchedule: warmupSteps + decaySteps (${w + d}) exceed totalSteps (${total})`);
  }
  if (d > 0 && ratio <= 0) throw new RangeError(`decayMinRatio must be > 0 for the exponential tail, got ${ratio}`);
  const law = (step: number) => (step <= 0 ? max : Math.min(max, beta * a * Math.pow(step * tps, b)));
  const spec: Record<string, unknown> = {
    a,
    b,
    maxValue: max,
    batchSize: beta,
    tokensPerStep: tps,
    warmupSteps: w,
    decaySteps: d,
    decayMinRatio: ratio,
  };
  if (d > 0) spec.totalSteps = total;
  return defineSchedule({ ...spec, type: 'powerSchedule' }, (t) => {
    if (t < w) return (law(w) * t) / w;
    if (d > 0 && t >= total - d) {
      const p = Math.min(1, (t - (total - d)) / d);
      return law(total - d) * Math.pow(ratio, p);
    }
    return law(t);
  });
}
