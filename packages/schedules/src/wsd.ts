/** Warmup-stable-decay (WSD) and WSD-S: one run, several decayed checkpoints (arXiv 2410.05192). */
import { defineSchedule, type Schedule } from './schedule.js';
import { finite, inRange, knownKeys, nonNegative, numberArray, objectArg, oneOf, positive } from './validate.js';

/** Shapes of the WSD decay phase: linear, cosine, 1-sqrt (arXiv 2405.18392) or exponential (to minRatio). */
export type DecayShape = 'linear' | 'cosine' | '1-sqrt' | 'exponential';
/** Shapes of the WSD warm-up (as transformers). */
export type WarmupShape = 'linear' | 'cosine' | '1-sqrt';

/** @internal Decay factor from 1 (p = 0) to its end (p = 1); `minRatio` is only used by the exponential shape. */
export function decayFactor(shape: DecayShape, p: number, minRatio = 0, numCycles = 0.5): number {
  switch (shape) {
    case 'linear':
      return 1 - p;
    case 'cosine':
      return 0.5 * (1 + Math.cos(Math.PI * numCycles * 2 * p));
    case '1-sqrt':
      return 1 - Math.sqrt(p);
    case 'exponential':
      return Math.pow(minRatio, p);
  }
}

/** Options of {@link warmupStableDecay}. */
export interface WarmupStableDecayOptions {
  peakValue: number;
  warmupSteps: number;
  stableSteps: number;
  decaySteps: number;
  /** Floor as a fraction of peakValue; warm-up also starts there (as transformers). Default 0. */
  minRatio?: number;
  decayShape?: DecayShape;
  warmupShape?: WarmupShape;
  /** Cosine waves in the decay (0.5 = half cosine, as transformers' num_cycles). */
  numCycles?: number;
}

/**
 * Warm-up, constant peak, then decay to minRatio * peak (arXiv 2404.06395). With linear/cosine/1-sqrt shapes this
 * is exactly transformers' `get_wsd_schedule`: the decay starts at peak and reaches the floor one step after the
 * last decay step. The exponential shape decays as peak * minRatio^progress and needs minRatio > 0.
 */
export function warmupStableDecay(options: WarmupStableDecayOptions): Schedule {
  objectArg('options', options);
  knownKeys('warmupStableDecay', options, [
    'peakValue',
    'warmupSteps',
    'stableSteps',
    'decaySteps',
    'minRatio',
    'decayShape',
    'warmupShape',
    'numCycles',
  ]);
  const peak = finite('peakValue', options.peakValue);
  const w = nonNegative('warmupSteps', options.warmupSteps);
  const s = nonNegative('stableSteps', options.stableSteps);
  const d = nonNegative('decaySteps', options.decaySteps);
  const minRatio = inRange('minRatio', options.minRatio ?? 0, 0, 1);
  const decayShape = oneOf('decayShape', options.decayShape ?? 'cosine', [
    'linear',
    'cosine',
    '1-sqrt',
    'exponential',
  ] as const);
  const warmupShape = oneOf('warmupShape', options.warmupShape ?? 'linear', ['linear', 'cosine', '1-sqrt'] as const);
  const numCycles = finite('numCycles', options.numCycles ?? 0.5);
  if (decayShape === 'exponential' && minRatio <= 0)
    throw new RangeError(`warmupStableDecay: decayShape "exponential" needs minRatio > 0, got ${minRatio}`);
  const spec = {
    type: 'warmupStableDecay',
    peakValue: peak,
    warmupSteps: w,
    stableSteps: s,
    decaySteps: d,
    minRatio,
    decayShape,
    warmupShape,
    numCycles,
  };
  return defineSchedule(spec, (t) => peak * wsdFactor(t, w, s, d, minRatio, decayShape, warmupShape, numCycles));
}

function wsdFactor(
  t: number,
  w: number,
  s: number,
  d: number,
  minRatio: number,
  decayShape: DecayShape,
  warmupShape: WarmupShape,
  numCycles: number,
): number {
  if (t < w) {
    const p = t / Math.max(1, w);
    const f =
      warmupShape === 'linear'
        ? p
        : warmupShape === 'cosine'
          ? 0.5 * (1 - Math.cos(Math.PI * p))
          : 1 - Math.sqrt(1 - p);
    return Math.max(0, f * (1 - minRatio) + minRatio);
  }
  if (t < w + s) return 1;
  if (t < w + s + d) {
    const p = (t - w - s) / Math.max(1, d);
    if (decayShape === 'exponential') return decayFactor('exponential', p, minRatio);
    return Math.max(0, decayFactor(decayShape, p, minRatio, numCycles) * (1 - minRatio) + minRatio);
  }
  return minRatio;
}

/** Options of {@link wsdsSchedule}. */
export interface WsdsOptions {
  peakValue: number;
  warmupSteps: number;
  /** Increasing step counts at which a decayed checkpoint is wanted (the run ends at the last one). */
  budgets: number[];
  /** Fraction of each segment (budget minus previous budget) spent decaying (default 0.1). */
  decayFraction?: number;
  minRatio?: number;
  decayShape?: DecayShape;
}

/** One decayed checkpoint of a WSD-S run. */
export interface WsdsCheckpoint {
  /** Step count at which to save the checkpoint (after this many updates). */
  budget: number;
  /** First step of the decay that precedes it. */
  decayStart: number;
  decaySteps: number;
}

/** Where WSD-S decays and which step counts give the decayed checkpoints. */
export function wsdsCheckpoints(options: WsdsOptions): WsdsCheckpoint[] {
  objectArg('wsdsCheckpoints: options', options);
  const budgets = numberArray('budgets', options.budgets, { sorted: true, nonNegative: true });
  if (budgets.length === 0) throw new RangeError('budgets must list at least one step count, got []');
  const frac = inRange('decayFraction', options.decayFraction ?? 0.1, 0, 1);
  const w = nonNegative('warmupSteps', options.warmupSteps);
  const out: WsdsCheckpoint[] = [];
  let prev = 0;
  for (const b of budgets) {
    const startOfSegment = Math.max(prev, out.length === 0 ? w : prev);
    const d = Math.max(1, Math.round(frac * (b - prev)));
    if (b - d < startOfSegment) {
      throw new RangeError(
        `wsdsSchedule: budget ${b} leaves no room for a ${d}-step decay after step ${startOfSegment} (the end of warmupSteps or of the previous budget)`,
      );
    }
    out.push({ budget: b, decayStart: b - d, decaySteps: d });
    prev = b;
  }
  return out;
}

/**
 * WSD-S (arXiv 2410.05192): one main branch with decay-and-resume cycles. Before each budget the LR decays to the
 * floor, the checkpoint at the budget is a finished model for that budget, and training resumes at the peak from
 * that (decayed) checkpoint. After the last budget the floor is held.
 */
export function wsdsSchedule(options: WsdsOptions): Schedule {
  objectArg('options', options);
  knownKeys('wsdsSchedule', options, [
    'peakValue',
    'warmupSteps',
    'budgets',
    'decayFraction',
    'minRatio',
    'decayShape',
  ]);
  const peak = finite('peakValue', options.peakValue);
  const w = nonNegative('warmupSteps', options.warmupSteps);
  const minRatio = inRange('minRatio', options.minRatio ?? 0, 0, 1);
  const shape = oneOf('decayShape', options.decayShape ?? '1-sqrt', [
    'linear',
    'cosine',
    '1-sqrt',
    'exponential',
  ] as const);
  if (shape === 'exponential' && minRatio <= 0)
    throw new RangeError(`wsdsSchedule: decayShape "exponential" needs minRatio > 0, got ${minRatio}`);
  const cps = wsdsCheckpoints(options);
  const spec = {
    type: 'wsdsSchedule',
    peakValue: peak,
    warmupSteps: w,
    budgets: [...options.budgets],
    decayFraction: options.decayFraction ?? 0.1,
    minRatio,
    decayShape: shape,
  };
  return defineSchedule(spec, (t) => {
    if (t < w) return (peak * t) / Math.max(1, w);
    for (const c of cps) {
      if (t < c.decayStart) return peak;
      if (t < c.budget) {
        const p = (t - c.decayStart) / c.decaySteps;
        const f =
          shape === 'exponential' ? decayFactor(shape, p, minRatio) : decayFactor(shape, p) * (1 - minRatio) + minRatio;
        return peak * f;
      }
    }
    return peak * minRatio;
  });
}

/** Options of {@link rewarmSchedule}. */
export interface RewarmOptions {
  /** LR the decayed checkpoint ended with (the re-warm-up starts here; default 0). */
  initValue?: number;
  /** New peak for continued pre-training. */
  peakValue: number;
  warmupSteps: number;
  /** Total steps of the new run, warm-up included. */
  totalSteps: number;
  /** Final LR (default peakValue / 10, as arXiv 2308.04014). */
  minValue?: number;
  decayShape?: 'cosine' | 'linear' | 'constant';
}

/** Re-warming for continual pre-training (arXiv 2308.04014): linear warm-up to a new peak, then decay to minValue. */
export function rewarmSchedule(options: RewarmOptions): Schedule {
  objectArg('options', options);
  knownKeys('rewarmSchedule', options, [
    'initValue',
    'peakValue',
    'warmupSteps',
    'totalSteps',
    'minValue',
    'decayShape',
  ]);
  const init = nonNegative('initValue', options.initValue ?? 0);
  const peak = positive('peakValue', options.peakValue);
  const w = nonNegative('warmupSteps', options.warmupSteps);
  const total = positive('totalSteps', options.totalSteps);
  if (w >= total) throw new RangeError(`rewarmSchedule: warmupSteps (${w}) must be < totalSteps (${total})`);
  const min = nonNegative('minValue', options.minValue ?? peak / 10);
  const shape = oneOf('decayShape', options.decayShape ?? 'cosine', ['cosine', 'linear', 'constant'] as const);
  const spec = {
    type: 'rewarmSchedule',
    initValue: init,
    peakValue: peak,
    warmupSteps: w,
    totalSteps: total,
    minValue: min,
    decayShape: shape,
  };
  return defineSchedule(spec, (t) => {
    if (t < w) return init + ((peak - init) * t) / w;
    const p = Math.min(1, (t - w) / (total - w));
    if (shape === 'constant') return peak;
    const f = shape === 'linear' ? 1 - p : 0.5 * (1 + Math.cos(Math.PI * p));
    return min + (peak - min) * f;
  });
}
