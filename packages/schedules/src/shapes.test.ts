import { describe, expect, it } from 'vitest';
import {
  clampSchedule,
  constantSchedule,
  cosineDecay,
  cosineWarmRestarts,
  cycleSchedule,
  cyclicSchedule,
  delaySchedule,
  exponentialDecay,
  inverseSqrtSchedule,
  joinSchedules,
  linearSchedule,
  multiplySchedules,
  multiStepDecay,
  oneCycle,
  piecewiseInterpolate,
  polynomialSchedule,
  sampleSchedule,
  scaleSchedule,
  stepDecay,
  warmupCosineDecay,
  withWarmup,
} from './index.js';

describe('classic shapes (hand-derived)', () => {
  it('stepDecay: 0.1 * 0.5^floor(t/10)', () => {
    const s = stepDecay({ initValue: 0.1, stepSize: 10, gamma: 0.5 });
    expect([s(0), s(9), s(10), s(25)]).toEqual([0.1, 0.1, 0.05, 0.025]);
  });
  it('multiStepDecay counts repeated milestones twice (as PyTorch Counter)', () => {
    const s = multiStepDecay({ initValue: 1, milestones: [5, 5, 8], gamma: 0.1 });
    expect(s(4)).toBe(1);
    expect(s(5)).toBeCloseTo(0.01, 15);
    expect(s(8)).toBeCloseTo(0.001, 15);
  });
  it('inverse sqrt: peak/sqrt((t + ts - w)/ts); at t = w it is the peak, at t = 4w + ... halves when t + ts - w = 4 ts', () => {
    const s = inverseSqrtSchedule({ peakValue: 2, warmupSteps: 10 });
    expect(s(5)).toBeCloseTo(1, 15);
    expect(s(10)).toBeCloseTo(2, 15);
    expect(s(40)).toBeCloseTo(1, 15); // (40 + 10 - 10)/10 = 4 -> 2/2
  });
  it('piecewise interpolate (optax doc example: {4: 0.1, 8: 0.01} -> 1, .55, .1, .0505, .001)', () => {
    const s = piecewiseInterpolate({ interpolation: 'linear', initValue: 1, boundaries: [4, 8], scales: [0.1, 0.01] });
    [1, 0.55, 0.1, 0.0505, 0.001, 0.001].forEach((v, i) => expect(s(2 * i)).toBeCloseTo(v, 12));
  });
  it('polynomial with non-positive transitionSteps is constant (as optax)', () => {
    expect(polynomialSchedule({ initValue: 3, endValue: 0, power: 2, transitionSteps: 0 })(50)).toBe(3);
  });
  it('exponential decay with rate > 1 treats endValue as an upper bound', () => {
    const s = exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 2, endValue: 5 });
    expect(s(2)).toBe(4);
    expect(s(3)).toBe(5);
  });
  it('cyclic triangular2 halves the amplitude each cycle; exp_range multiplies by gamma^t', () => {
    const s = cyclicSchedule({ baseValue: 0, maxValue: 1, stepSizeUp: 2, mode: 'triangular2' });
    expect(sampleSchedule(s, 9)).toEqual([0, 0.5, 1, 0.5, 0, 0.25, 0.5, 0.25, 0]);
    const e = cyclicSchedule({ baseValue: 0, maxValue: 1, stepSizeUp: 2, mode: 'exp_range', gamma: 0.5 });
    expect(e(2)).toBeCloseTo(0.25, 15); // peak (1) * 0.5^2
  });
  it('oneCycle (PyTorch): starts at max/div, peaks at pct*T - 1, ends at max/div/finalDiv at T - 1, throws past T', () => {
    const s = oneCycle({ maxValue: 1, totalSteps: 100, pctStart: 0.25, annealStrategy: 'linear' });
    expect(s(0)).toBeCloseTo(0.04, 15);
    expect(s(24)).toBeCloseTo(1, 15);
    expect(s(99)).toBeCloseTo(0.04 / 1e4, 15);
    expect(() => s(101)).toThrow(/past totalSteps/);
  });
  it('oneCycle three-phase (PyTorch, the issue example): back to max/div at 2*pct*T - 2', () => {
    const s = oneCycle({ maxValue: 1, totalSteps: 101, pctStart: 0.25, annealStrategy: 'linear', threePhase: true });
    // phase ends: 24.25, 48.5, 100
    expect(s(48.5)).toBeCloseTo(0.04, 12);
    expect(s(100)).toBeCloseTo(4e-6, 15);
  });
  it('cosine warm restarts with cycleMult 2: cycles of 10, 20, 40 steps', () => {
    const s = cosineWarmRestarts({ initValue: 1, firstCycleSteps: 10, cycleMult: 2 });
    expect(s(10)).toBe(1);
    expect(s(20)).toBeCloseTo(0.5, 15); // 10 into a 20-step cycle: (1 + cos(pi/2))/2
    expect(s(30)).toBe(1);
    const limited = cosineWarmRestarts({
      initValue: 1,
      firstCycleSteps: 10,
      cycleLimit: 2,
      minValue: 0.1,
      cycleDecay: 0.5,
    });
    expect(limited(10)).toBe(0.5);
    expect(limited(25)).toBe(0.1);
  });
});

describe('composition', () => {
  it('joinSchedules restarts the clock at each boundary (as optax)', () => {
    const s = joinSchedules(
      [constantSchedule(1), linearSchedule({ initValue: 0, endValue: 1, transitionSteps: 10 })],
      [5],
    );
    expect([s(4), s(5), s(10)]).toEqual([1, 0, 0.5]);
  });
  it('withWarmup prepends a warm-up to schedule(0) and then shifts the schedule', () => {
    const base = cosineDecay({ initValue: 1, decaySteps: 100 });
    const s = withWarmup(base, { warmupSteps: 10 });
    expect(s(5)).toBeCloseTo(0.5, 15);
    expect(s(60)).toBeCloseTo(base(50), 15);
    const direct = warmupCosineDecay({ peakValue: 1, warmupSteps: 10, decaySteps: 110 });
    for (const t of [0, 3, 10, 57, 110]) expect(s(t)).toBeCloseTo(direct(t), 14);
    expect(withWarmup(base, { warmupSteps: 10, shape: 'cosine' })(5)).toBeCloseTo(0.5, 15);
    expect(withWarmup(base, { warmupSteps: 10, shape: 'exponential', initValue: 0.01 })(5)).toBeCloseTo(0.1, 14);
  });
  it('scale, clamp, multiply, cycle, delay', () => {
    const lin = linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10 });
    expect(scaleSchedule(lin, 3)(5)).toBeCloseTo(1.5, 15);
    expect(clampSchedule(lin, { min: 0.2 })(9)).toBe(0.2);
    expect(multiplySchedules(lin, 2, lin)(5)).toBeCloseTo(0.5, 15);
    const c = cycleSchedule(lin, { period: 10, decay: 0.5, limit: 2 });
    expect([c(0), c(10), c(15), c(30)]).toEqual([1, 0.5, 0.25, 0]);
    expect(delaySchedule(lin, 5)(7)).toBeCloseTo(0.8, 15);
  });
});

describe('bad input', () => {
  const s = cosineDecay({ initValue: 1, decaySteps: 10 });
  it('steps must be finite and >= 0', () => {
    expect(() => s(-1)).toThrow(/step must be a finite number >= 0, got -1/);
    expect(() => s(Number.NaN)).toThrow(/got NaN/);
    expect(() => s(Infinity)).toThrow(/step/);
  });
  it('NaN options throw naming the option', () => {
    expect(() => cosineDecay({ initValue: Number.NaN, decaySteps: 10 })).toThrow(
      /initValue must be a finite number, got NaN/,
    );
    expect(() => cosineDecay({ initValue: 1, decaySteps: 0 })).toThrow(/decaySteps must be > 0, got 0/);
    expect(() => linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10, transitionBegin: -3 })).toThrow(
      /transitionBegin must be >= 0/,
    );
  });
  it('unknown option names throw listing the valid ones', () => {
    expect(() => cosineDecay({ initValue: 1, decaySteps: 10, alfa: 0.1 } as never)).toThrow(
      /unknown option "alfa"; valid options are initValue, decaySteps, alpha, exponent/,
    );
  });
  it('warm-up longer than the run throws (as optax raises for non-positive cosine decay steps)', () => {
    expect(() => warmupCosineDecay({ peakValue: 1, warmupSteps: 100, decaySteps: 50 })).toThrow(
      /must exceed warmupSteps/,
    );
  });
  it('a zero-length one-cycle phase throws instead of returning NaN', () => {
    const z = oneCycle({ maxValue: 1, totalSteps: 2, pctStart: 0.5 });
    expect(() => z(0)).toThrow(/zero length/);
  });
  it('a user schedule producing NaN inside a composite is refused', () => {
    const bad = scaleSchedule(() => Number.NaN, 2);
    expect(() => bad(1)).toThrow(/produced NaN/);
  });
  it('joinSchedules needs n-1 sorted boundaries', () => {
    expect(() => joinSchedules([s, s], [])).toThrow(/boundaries must have/);
    expect(() => joinSchedules([s, s, s], [5, 2])).toThrow(/sorted/);
  });
});
