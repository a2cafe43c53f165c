/** Warm-up compositions and one-cycle shapes with optax's exact semantics (linear warm-up joined to a decay). */
import { joinSchedules } from './compose.js';
import { defineSchedule, type Schedule } from './schedule.js';
import { cosineDecay, exponentialDecay, linearSchedule, piecewiseInterpolate } from './shapes.js';
import { finite, knownKeys, nonNegative, objectArg, positive } from './validate.js';

/** Options of {@link warmupConstant}. */
export interface WarmupConstantOptions {
  initValue?: number;
  peakValue: number;
  warmupSteps: number;
}

/** Linear warm-up from initValue (default 0) to peakValue, then constant, as `optax.warmup_constant_schedule`. */
export function warmupConstant(options: WarmupConstantOptions): Schedule {
  objectArg('options', options);
  knownKeys('warmupConstant', options, ['initValue', 'peakValue', 'warmupSteps']);
  const init = finite('initValue', options.initValue ?? 0);
  const s = linearSchedule({
    initValue: init,
    endValue: finite('peakValue', options.peakValue),
    transitionSteps: nonNegative('warmupSteps', options.warmupSteps),
  });
  return defineSchedule(
    { type: 'warmupConstant', initValue: init, peakValue: options.peakValue, warmupSteps: options.warmupSteps },
    s,
  );
}

/** Options of {@link warmupCosineDecay}. */
export interface WarmupCosineDecayOptions {
  initValue?: number;
  peakValue: number;
  warmupSteps: number;
  /** Total length including the warm-up; the cosine lasts decaySteps - warmupSteps (must be > 0). */
  decaySteps: number;
  endValue?: number;
  exponent?: number;
}

/** Linear warm-up, then cosine decay to endValue, as `optax.warmup_cosine_decay_schedule`. */
export function warmupCosineDecay(options: WarmupCosineDecayOptions): Schedule {
  objectArg('options', options);
  knownKeys('warmupCosineDecay', options, [
    'initValue',
    'peakValue',
    'warmupSteps',
    'decaySteps',
    'endValue',
    'exponent',
  ]);
  const init = finite('initValue', options.initValue ?? 0);
  const peak = finite('peakValue', options.peakValue);
  const w = nonNegative('warmupSteps', options.warmupSteps);
  const total = finite('decaySteps', options.decaySteps);
  const end = finite('endValue', options.endValue ?? 0);
  const exponent = finite('exponent', options.exponent ?? 1);
  if (!(total - w > 0)) {
    throw new RangeError(
      `warmupCosineDecay: decaySteps (${total}) must exceed warmupSteps (${w}); decaySteps counts the warm-up too`,
    );
  }
  const alpha = peak === 0 ? 0 : end / peak;
  const s = joinSchedules(
    [
      linearSchedule({ initValue: init, endValue: peak, transitionSteps: w }),
      cosineDecay({ initValue: peak, decaySteps: total - w, alpha, exponent }),
    ],
    [w],
  );
  return defineSchedule(
    {
      type: 'warmupCosineDecay',
      initValue: init,
      peakValue: peak,
      warmupSteps: w,
      decaySteps: total,
      endValue: end,
      exponent,
    },
    s,
  );
}

/** Options of {@link warmupExponentialDecay}. */
export interface WarmupExponentialDecayOptions {
  initValue?: number;
  peakValue: number;
  warmupSteps: number;
  transitionSteps: number;
  decayRate: number;
  transitionBegin?: number;
  staircase?: boolean;
  endValue?: number;
}

/** Linear warm-up, then exponential decay (clock restarted), as `optax.warmup_exponential_decay_schedule`. */
export function warmupExponentialDecay(options: WarmupExponentialDecayOptions): Schedule {
  objectArg('options', options);
  knownKeys('warmupExponentialDecay', options, [
    'initValue',
    'peakValue',
    'warmupSteps',
    'transitionSteps',
    'decayRate',
    'transitionBegin',
    'staircase',
    'endValue',
  ]);
  const init = finite('initValue', options.initValue ?? 0);
  const peak = finite('peakValue', options.peakValue);
  const w = nonNegative('warmupSteps', options.warmupSteps);
  const { initValue: _i, peakValue: _p, warmupSteps: _w, ...decay } = options;
  const s = joinSchedules(
    [
      linearSchedule({ initValue: init, endValue: peak, transitionSteps: w }),
      exponentialDecay({ initValue: peak, ...decay }),
    ],
    [w],
  );
  return defineSchedule({ type: 'warmupExponentialDecay', ...options, initValue: init }, s);
}

/** SGDR as optax: one warm-up-cosine cycle per entry, each lasting its decaySteps, joined end to end. */
export function sgdrSchedule(cycles: WarmupCosineDecayOptions[]): Schedule {
  if (!Array.isArray(cycles) || cycles.length === 0)
    throw new RangeError(`cycles must be a non-empty array of warmupCosineDecay options, got ${String(cycles)}`);
  const schedules = cycles.map((c) => warmupCosineDecay(c));
  const boundaries: number[] = [];
  let at = 0;
  for (const c of cycles.slice(0, -1)) {
    at += c.decaySteps;
    boundaries.push(at);
  }
  return defineSchedule(
    { type: 'sgdrSchedule', cycles: cycles.map((c) => ({ ...c })) },
    joinSchedules(schedules, boundaries),
  );
}

/** Options of {@link linearOneCycle}. */
export interface LinearOneCycleOptions {
  transitionSteps: number;
  peakValue: number;
  pctStart?: number;
  pctFinal?: number;
  divFactor?: number;
  finalDivFactor?: number;
}

/** Three linear phases peak/div -> peak -> peak/div -> peak/div/finalDiv, as `optax.linear_onecycle_schedule`. */
export function linearOneCycle(options: LinearOneCycleOptions): Schedule {
  objectArg('options', options);
  knownKeys('linearOneCycle', options, [
    'transitionSteps',
    'peakValue',
    'pctStart',
    'pctFinal',
    'divFactor',
    'finalDivFactor',
  ]);
  const T = positive('transitionSteps', options.transitionSteps);
  const peak = finite('peakValue', options.peakValue);
  const pctStart = finite('pctStart', options.pctStart ?? 0.3);
  const pctFinal = finite('pctFinal', options.pctFinal ?? 0.85);
  const div = positive('divFactor', options.divFactor ?? 25);
  const finalDiv = positive('finalDivFactor', options.finalDivFactor ?? 1e4);
  // optax builds a dict keyed by int(pct * T): equal keys collapse, the later entry wins.
  const table = new Map<number, number>();
  table.set(Math.trunc(pctStart * T), div);
  table.set(Math.trunc(pctFinal * T), 1 / div);
  table.set(T, 1 / finalDiv);
  const s = piecewiseInterpolate({
    interpolation: 'linear',
    initValue: peak / div,
    boundaries: [...table.keys()],
    scales: [...table.values()],
  });
  return defineSchedule(
    {
      type: 'linearOneCycle',
      transitionSteps: T,
      peakValue: peak,
      pctStart,
      pctFinal,
      divFactor: div,
      finalDivFactor: finalDiv,
    },
    s,
  );
}

/** Options of {@link cosineOneCycle}. */
export interface CosineOneCycleOptions {
  transitionSteps: number;
  peakValue: number;
  pctStart?: number;
  divFactor?: number;
  finalDivFactor?: number;
}

/** Cosine rise peak/div -> peak, then cosine fall to peak/(div*finalDiv), as `optax.cosine_onecycle_schedule`. */
export function cosineOneCycle(options: CosineOneCycleOptions): Schedule {
  objectArg('options', options);
  knownKeys('cosineOneCycle', options, ['transitionSteps', 'peakValue', 'pctStart', 'divFactor', 'finalDivFactor']);
  const T = positive('transitionSteps', options.transitionSteps);
  const peak = finite('peakValue', options.peakValue);
  const pctStart = finite('pctStart', options.pctStart ?? 0.3);
  const div = positive('divFactor', options.divFactor ?? 25);
  const finalDiv = positive('finalDivFactor', options.finalDivFactor ?? 1e4);
  const table = new Map<number, number>();
  table.set(Math.trunc(pctStart * T), div);
  table.set(Math.trunc(T), 1 / (div * finalDiv));
  const s = piecewiseInterpolate({
    interpolation: 'cosine',
    initValue: peak / div,
    boundaries: [...table.keys()],
    scales: [...table.values()],
  });
  return defineSchedule(
    { type: 'cosineOneCycle', transitionSteps: T, peakValue: peak, pctStart, divFactor: div, finalDivFactor: finalDiv },
    s,
  );
}
