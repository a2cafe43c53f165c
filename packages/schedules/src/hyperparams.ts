/** Schedules for hyperparameters other than the LR: momentum, weight decay, batch shape, data mixture, block size, sparsity. */
import { defineSchedule, checkStep, type Schedule } from './schedule.js';
import {
  bool,
  finite,
  inRange,
  knownKeys,
  nonNegative,
  numberArray,
  objectArg,
  oneOf,
  positive,
  positiveInt,
} from './validate.js';

/** Options of {@link oneCycleMomentum}. */
export interface OneCycleMomentumOptions {
  totalSteps: number;
  pctStart?: number;
  baseMomentum?: number;
  maxMomentum?: number;
  annealStrategy?: 'cos' | 'linear';
  threePhase?: boolean;
}

/** The momentum (or Adam beta1) that PyTorch's OneCycleLR cycles inversely to the LR: max -> base -> max. */
export function oneCycleMomentum(options: OneCycleMomentumOptions): Schedule {
  objectArg('options', options);
  knownKeys('oneCycleMomentum', options, [
    'totalSteps',
    'pctStart',
    'baseMomentum',
    'maxMomentum',
    'annealStrategy',
    'threePhase',
  ]);
  const total = positive('totalSteps', options.totalSteps);
  const pct = inRange('pctStart', options.pctStart ?? 0.3, 0, 1);
  const lo = inRange('baseMomentum', options.baseMomentum ?? 0.85, 0, 1);
  const hi = inRange('maxMomentum', options.maxMomentum ?? 0.95, 0, 1);
  const cos = oneOf('annealStrategy', options.annealStrategy ?? 'cos', ['cos', 'linear'] as const) === 'cos';
  const three = bool('threePhase', options.threePhase ?? false);
  const phases = three
    ? [
        { end: pct * total - 1, a: hi, b: lo },
        { end: 2 * pct * total - 2, a: lo, b: hi },
        { end: total - 1, a: hi, b: hi },
      ]
    : [
        { end: pct * total - 1, a: hi, b: lo },
        { end: total - 1, a: lo, b: hi },
      ];
  const spec = {
    type: 'oneCycleMomentum',
    totalSteps: total,
    pctStart: pct,
    baseMomentum: lo,
    maxMomentum: hi,
    annealStrategy: cos ? 'cos' : 'linear',
    threePhase: three,
  };
  return defineSchedule(spec, (t) => {
    let start = 0;
    for (let i = 0; i < phases.length; i++) {
      const p = phases[i] as { end: number; a: number; b: number };
      if (t <= p.end || i === phases.length - 1) {
        const span = p.end - start;
        if (span === 0)
          throw new RangeError(
            `oneCycleMomentum: phase ${i + 1} has zero length (pctStart=${pct}, totalSteps=${total})`,
          );
        const x = (t - start) / span;
        return cos ? p.b + ((p.a - p.b) / 2) * (1 + Math.cos(Math.PI * x)) : p.a + (p.b - p.a) * x;
      }
      start = p.end;
    }
    return hi;
  });
}

/** Options of {@link cosineRamp}. */
export interface RampOptions {
  initValue: number;
  endValue: number;
  /** Steps of the ramp; endValue is held afterwards. */
  rampSteps: number;
  /** Steps held at initValue before the ramp (default 0). */
  rampBegin?: number;
}

/** Half-cosine ramp from initValue to endValue, e.g. weight decay 0.04 -> 0.4 over training (as DINO does). */
export function cosineRamp(options: RampOptions): Schedule {
  objectArg('options', options);
  knownKeys('cosineRamp', options, ['initValue', 'endValue', 'rampSteps', 'rampBegin']);
  const a = finite('initValue', options.initValue);
  const b = finite('endValue', options.endValue);
  const n = positive('rampSteps', options.rampSteps);
  const begin = nonNegative('rampBegin', options.rampBegin ?? 0);
  return defineSchedule({ type: 'cosineRamp', initValue: a, endValue: b, rampSteps: n, rampBegin: begin }, (t) => {
    const p = Math.min(1, Math.max(0, (t - begin) / n));
    return b + ((a - b) / 2) * (1 + Math.cos(Math.PI * p));
  });
}

/** Weight-decay schedule: a cosine ramp from initValue to endValue over totalSteps (an alias with a telling name). */
export function weightDecaySchedule(options: { initValue: number; endValue: number; totalSteps: number }): Schedule {
  objectArg('options', options);
  knownKeys('weightDecaySchedule', options, ['initValue', 'endValue', 'totalSteps']);
  nonNegative('initValue', options.initValue);
  nonNegative('endValue', options.endValue);
  positive('totalSteps', options.totalSteps);
  return cosineRamp({ initValue: options.initValue, endValue: options.endValue, rampSteps: options.totalSteps });
}

/** A schedule of any value, not only numbers (batch shapes, mixture weights). */
export type ValueSchedule<T> = (step: number) => T;

/** A batch shape of the multigrid method. */
export interface BatchShape {
  batchSize: number;
  /** Size per dimension (e.g. [frames, height, width] or [sequence length]). */
  shape: number[];
}

/** Options of {@link multigridSchedule}. */
export interface MultigridOptions {
  baseBatchSize: number;
  baseShape: number[];
  /** Steps of one long cycle (it is repeated). */
  longCycleSteps: number;
  /**
   * Per long-cycle phase, the factor applied to every dimension (default [1/2, 1/sqrt2, 1/sqrt2, 1] as
   * arXiv 1912.00998's spatial long cycle; temporal factors can be given per dimension).
   */
  longFactors?: number[][];
  /** Short cycle factors applied per step within a phase (default [1/2, 1/sqrt2, 1]); [] disables. */
  shortFactors?: number[];
  /** Fraction of the run at the end trained at the base shape only (default 0). */
  finalFraction?: number;
  totalSteps?: number;
}

/**
 * Multigrid batch-shape cycles (arXiv 1912.00998): smaller shapes with proportionally larger batches so every step
 * costs about the same; a long cycle over phases, and a short cycle alternating shapes step by step within each.
 */
export function multigridSchedule(options: MultigridOptions): ValueSchedule<BatchShape> {
  objectArg('options', options);
  knownKeys('multigridSchedule', options, [
    'baseBatchSize',
    'baseShape',
    'longCycleSteps',
    'longFactors',
    'shortFactors',
    'finalFraction',
    'totalSteps',
  ]);
  const b0 = positiveInt('baseBatchSize', options.baseBatchSize);
  const shape = numberArray('baseShape', options.baseShape);
  shape.forEach((d, i) => positiveInt(`baseShape[${i}]`, d));
  const cycle = positiveInt('longCycleSteps', options.longCycleSteps);
  const r2 = Math.SQRT1_2;
  const longs = (options.longFactors ?? [[0.5], [r2], [r2], [1]]).map((f, i) => numberArray(`longFactors[${i}]`, f));
  const shorts = options.shortFactors ?? [0.5, r2, 1];
  numberArray('shortFactors', shorts);
  const finalFrac = inRange('finalFraction', options.finalFraction ?? 0, 0, 1);
  const total = options.totalSteps === undefined ? Infinity : positive('totalSteps', options.totalSteps);
  const make = (factors: number[]): BatchShape => {
    const dims = shape.map((d, i) => Math.max(1, Math.round(d * factors[Math.min(i, factors.length - 1)]!)));
    const ratio = shape.reduce((p, d) => p * d, 1) / dims.reduce((p, d) => p * d, 1);
    return { batchSize: Math.max(1, Math.round(b0 * ratio)), shape: dims };
  };
  return (step: number) => {
    const t = checkStep(step);
    if (t >= total * (1 - finalFrac)) return { batchSize: b0, shape: [...shape] };
    const phase = Math.floor(((t % cycle) / cycle) * longs.length);
    const long = longs[Math.min(phase, longs.length - 1)] as number[];
    const s = shorts.length ? shorts[Math.floor(t) % shorts.length]! : 1;
    return make(long.map((f) => f * s));
  };
}

/** Options of {@link mixtureSchedule}. */
export interface MixtureOptions {
  /** Domain weights for most of the run (normalised). */
  weights: Record<string, number>;
  /** Weights used at the end (normalised), e.g. math and code up-sampled. */
  finalWeights: Record<string, number>;
  totalSteps: number;
  /** Fraction of the run at the end that uses finalWeights (arXiv 2406.03476 finds 10-20% works best; default 0.1). */
  finalFraction?: number;
}

/** Data-mixture weights over time: domain up-sampling in the last part of training (arXiv 2406.03476). */
export function mixtureSchedule(options: MixtureOptions): ValueSchedule<Record<string, number>> {
  objectArg('options', options);
  knownKeys('mixtureSchedule', options, ['weights', 'finalWeights', 'totalSteps', 'finalFraction']);
  const norm = (name: string, w: Record<string, number>) => {
    objectArg(name, w);
    const entries = Object.entries(w).map(([k, v]) => [k, nonNegative(`${name}.${k}`, v)] as const);
    const sum = entries.reduce((s, [, v]) => s + v, 0);
    if (!(sum > 0)) throw new RangeError(`${name} must have a positive total weight, got ${sum}`);
    return Object.fromEntries(entries.map(([k, v]) => [k, v / sum]));
  };
  const a = norm('weights', options.weights);
  const b = norm('finalWeights', options.finalWeights);
  for (const k of Object.keys(b)) if (!(k in a)) a[k] = 0;
  for (const k of Object.keys(a)) if (!(k in b)) b[k] = 0;
  const total = positive('totalSteps', options.totalSteps);
  const frac = inRange('finalFraction', options.finalFraction ?? 0.1, 0, 1);
  const switchAt = total * (1 - frac);
  return (step: number) => ({ ...(checkStep(step) >= switchAt ? b : a) });
}

/** Options of {@link blockSizeCurriculum}. */
export interface BlockSizeCurriculumOptions {
  /** Block sizes in the order they are used (e.g. [16, 8, 4] from coarse to fine). */
  sizes: number[];
  /** Steps at which the next size starts (sizes.length - 1 entries); default: equal parts of totalSteps. */
  boundaries?: number[];
  totalSteps?: number;
}

/** Piecewise-constant block size for block-diffusion training: a curriculum over block sizes. */
export function blockSizeCurriculum(options: BlockSizeCurriculumOptions): Schedule {
  objectArg('options', options);
  knownKeys('blockSizeCurriculum', options, ['sizes', 'boundaries', 'totalSteps']);
  const sizes = numberArray('sizes', options.sizes);
  if (sizes.length === 0) throw new RangeError('sizes must list at least one block size, got []');
  sizes.forEach((s, i) => positiveInt(`sizes[${i}]`, s));
  let bounds: number[];
  if (options.boundaries) bounds = numberArray('boundaries', options.boundaries, { sorted: true, nonNegative: true });
  else {
    const total = positive('totalSteps', options.totalSteps);
    bounds = sizes.slice(1).map((_, i) => Math.round(((i + 1) * total) / sizes.length));
  }
  if (bounds.length !== sizes.length - 1)
    throw new RangeError(`boundaries must have sizes.length - 1 = ${sizes.length - 1} entries, got ${bounds.length}`);
  return defineSchedule({ type: 'blockSizeCurriculum', sizes: [...sizes], boundaries: [...bounds] }, (t) => {
    let i = 0;
    while (i < bounds.length && t >= bounds[i]!) i++;
    return sizes[i]!;
  });
}

/** Options of {@link polynomialSparsity}. */
export interface PolynomialSparsityOptions {
  initialSparsity?: number;
  finalSparsity: number;
  beginStep: number;
  endStep: number;
  /** Sparsity is updated every this many steps (Zhu & Gupta's Delta t; default 1). */
  frequency?: number;
  /** Exponent of the ramp (default 3). */
  power?: number;
}

/**
 * Gradual pruning ramp (Zhu & Gupta, arXiv 1710.01878): s_t = s_f + (s_i - s_f)(1 - (t - t0)/(t1 - t0))^power,
 * updated every `frequency` steps, s_i before beginStep and s_f from endStep on.
 */
export function polynomialSparsity(options: PolynomialSparsityOptions): Schedule {
  objectArg('options', options);
  knownKeys('polynomialSparsity', options, [
    'initialSparsity',
    'finalSparsity',
    'beginStep',
    'endStep',
    'frequency',
    'power',
  ]);
  const si = inRange('initialSparsity', options.initialSparsity ?? 0, 0, 1);
  const sf = inRange('finalSparsity', options.finalSparsity, 0, 1);
  const t0 = nonNegative('beginStep', options.beginStep);
  const t1 = finite('endStep', options.endStep);
  if (!(t1 > t0)) throw new RangeError(`endStep (${t1}) must be > beginStep (${t0})`);
  const freq = positive('frequency', options.frequency ?? 1);
  const power = positive('power', options.power ?? 3);
  const spec = {
    type: 'polynomialSparsity',
    initialSparsity: si,
    finalSparsity: sf,
    beginStep: t0,
    endStep: t1,
    frequency: freq,
    power,
  };
  return defineSchedule(spec, (t) => {
    if (t < t0) return si;
    if (t >= t1) return sf;
    const q = t0 + Math.floor((t - t0) / freq) * freq;
    return sf + (si - sf) * Math.pow(1 - (q - t0) / (t1 - t0), power);
  });
}
