/** Cyclic shapes: triangular cycles, one-cycle (PyTorch semantics) and cosine warm restarts. */
import { defineSchedule, type Schedule } from './schedule.js';
import { bool, finite, inRange, knownKeys, nonNegative, objectArg, oneOf, positive } from './validate.js';

/** Options of {@link cyclicSchedule}. */
export interface CyclicOptions {
  baseValue: number;
  maxValue: number;
  /** Steps of the rising half (default 2000, as PyTorch). */
  stepSizeUp?: number;
  /** Steps of the falling half (default stepSizeUp). */
  stepSizeDown?: number;
  /** triangular: constant amplitude; triangular2: halved each cycle; exp_range: amplitude * gamma^step. */
  mode?: 'triangular' | 'triangular2' | 'exp_range';
  gamma?: number;
}

/** Triangular cycles between baseValue and maxValue, as `torch.optim.lr_scheduler.CyclicLR` (arXiv 1506.01186). */
export function cyclicSchedule(options: CyclicOptions): Schedule {
  objectArg('options', options);
  knownKeys('cyclicSchedule', options, ['baseValue', 'maxValue', 'stepSizeUp', 'stepSizeDown', 'mode', 'gamma']);
  const base = finite('baseValue', options.baseValue);
  const max = finite('maxValue', options.maxValue);
  const up = positive('stepSizeUp', options.stepSizeUp ?? 2000);
  const down = options.stepSizeDown === undefined ? up : positive('stepSizeDown', options.stepSizeDown);
  const mode = oneOf('mode', options.mode ?? 'triangular', ['triangular', 'triangular2', 'exp_range'] as const);
  const gamma = positive('gamma', options.gamma ?? 1);
  const total = up + down;
  const ratio = up / total;
  return defineSchedule(
    { type: 'cyclicSchedule', baseValue: base, maxValue: max, stepSizeUp: up, stepSizeDown: down, mode, gamma },
    (t) => {
      const cycle = Math.floor(1 + t / total);
      const x = 1 + t / total - cycle;
      const f = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
      const amp = mode === 'triangular' ? 1 : mode === 'triangular2' ? 1 / Math.pow(2, cycle - 1) : Math.pow(gamma, t);
      return base + (max - base) * f * amp;
    },
  );
}

/** Options of {@link oneCycle}. */
export interface OneCycleOptions {
  maxValue: number;
  totalSteps: number;
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  divFactor?: number;
  finalDivFactor?: number;
  /** Three phases (up, back down to the start, then to the minimum) instead of two. */
  threePhase?: boolean;
}

/**
 * One-cycle policy as `torch.optim.lr_scheduler.OneCycleLR` (arXiv 1708.07120): from maxValue/divFactor up to
 * maxValue, then down to maxValue/divFactor/finalDivFactor at step totalSteps - 1. Steps past totalSteps throw (as PyTorch).
 */
export function oneCycle(options: OneCycleOptions): Schedule {
  objectArg('options', options);
  knownKeys('oneCycle', options, [
    'maxValue',
    'totalSteps',
    'pctStart',
    'annealStrategy',
    'divFactor',
    'finalDivFactor',
    'threePhase',
  ]);
  const max = finite('maxValue', options.maxValue);
  const total = positive('totalSteps', options.totalSteps);
  const pct = inRange('pctStart', options.pctStart ?? 0.3, 0, 1);
  const strategy = oneOf('annealStrategy', options.annealStrategy ?? 'cos', ['cos', 'linear'] as const);
  const div = positive('divFactor', options.divFactor ?? 25);
  const finalDiv = positive('finalDivFactor', options.finalDivFactor ?? 1e4);
  const three = bool('threePhase', options.threePhase ?? false);
  const initial = max / div;
  const min = initial / finalDiv;
  const phases: { end: number; from: number; to: number }[] = three
    ? [
        { end: pct * total - 1, from: initial, to: max },
        { end: 2 * pct * total - 2, from: max, to: initial },
        { end: total - 1, from: initial, to: min },
      ]
    : [
        { end: pct * total - 1, from: initial, to: max },
        { end: total - 1, from: max, to: min },
      ];
  const anneal =
    strategy === 'cos'
      ? (a: number, b: number, p: number) => b + ((a - b) / 2) * (1 + Math.cos(Math.PI * p))
      : (a: number, b: number, p: number) => (b - a) * p + a;
  const spec = {
    type: 'oneCycle',
    maxValue: max,
    totalSteps: total,
    pctStart: pct,
    annealStrategy: strategy,
    divFactor: div,
    finalDivFactor: finalDiv,
    threePhase: three,
  };
  return defineSchedule(spec, (t) => {
    if (t > total) throw new RangeError(`oneCycle: step ${t} is past totalSteps ${total} (PyTorch raises here too)`);
    let start = 0;
    for (let i = 0; i < phases.length; i++) {
      const ph = phases[i] as { end: number; from: number; to: number };
      if (t <= ph.end || i === phases.length - 1) {
        const span = ph.end - start;
        if (span === 0)
          throw new RangeError(`oneCycle: phase ${i + 1} has zero length (pctStart=${pct}, totalSteps=${total})`);
        return anneal(ph.from, ph.to, (t - start) / span);
      }
      start = ph.end;
    }
    return min;
  });
}

/** Options of {@link cosineWarmRestarts}. */
export interface CosineWarmRestartsOptions {
  initValue: number;
  /** Length of the first cycle (PyTorch's T_0). */
  firstCycleSteps: number;
  /** Growth of the cycle length per restart, >= 1 (PyTorch's T_mult, default 1). */
  cycleMult?: number;
  /** Floor of every cycle (PyTorch's eta_min, default 0). */
  minValue?: number;
  /** Peak multiplier per restart (timm's cycle_decay, default 1). */
  cycleDecay?: number;
  /** Number of cycles; minValue afterwards (timm's cycle_limit, default unlimited). */
  cycleLimit?: number;
}

/** SGDR cosine annealing with warm restarts (arXiv 1608.03983), cycle boundaries found exactly in integers. */
export function cosineWarmRestarts(options: CosineWarmRestartsOptions): Schedule {
  objectArg('options', options);
  knownKeys('cosineWarmRestarts', options, [
    'initValue',
    'firstCycleSteps',
    'cycleMult',
    'minValue',
    'cycleDecay',
    'cycleLimit',
  ]);
  const init = finite('initValue', options.initValue);
  const t0 = positive('firstCycleSteps', options.firstCycleSteps);
  const mult = finite('cycleMult', options.cycleMult ?? 1);
  if (mult < 1) throw new RangeError(`cycleMult must be >= 1, got ${mult}`);
  const min = finite('minValue', options.minValue ?? 0);
  const decay = nonNegative('cycleDecay', options.cycleDecay ?? 1);
  const limit = options.cycleLimit === undefined ? Infinity : positive('cycleLimit', options.cycleLimit);
  const spec: Record<string, unknown> = {
    initValue: init,
    firstCycleSteps: t0,
    cycleMult: mult,
    minValue: min,
    cycleDecay: decay,
  };
  if (options.cycleLimit !== undefined) spec.cycleLimit = limit;
  return defineSchedule({ ...spec, type: 'cosineWarmRestarts' }, (t) => {
    let k = 0;
    let start = 0;
    let len = t0;
    if (mult === 1) {
      k = Math.floor(t / t0);
      start = k * t0;
    } else {
      while (t >= start + len && k < limit) {
        start += len;
        len *= mult;
        k++;
      }
    }
    if (k >= limit) return min;
    const peak = init * Math.pow(decay, k);
    return min + ((peak - min) * (1 + Math.cos((Math.PI * (t - start)) / len))) / 2;
  });
}
