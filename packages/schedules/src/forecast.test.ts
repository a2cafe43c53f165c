import { describe, expect, it } from 'vitest';
import { lossCurveAreas } from './forecast.js';
import {
  cosineDecay,
  constantSchedule,
  fitLossCurve,
  forecastError,
  linearSchedule,
  predictLossCurve,
  rankSchedules,
  scheduleLrs,
  warmupStableDecay,
} from './index.js';

// Synthetic truth from the paper's law itself; the fitter must recover it from one schedule and predict others.
const truth = { L0: 2, A: 1.5, alpha: 0.5, C: 0.05, lambda: 0.999, rmse: 0 };
const T = 400;
const cos = scheduleLrs(cosineDecay({ initValue: 0.1, decaySteps: T }), T);
const wsd = scheduleLrs(
  warmupStableDecay({ peakValue: 0.1, warmupSteps: 0, stableSteps: 320, decaySteps: 80, decayShape: 'linear' }),
  T,
);
const lin = scheduleLrs(linearSchedule({ initValue: 0.1, endValue: 0, transitionSteps: T }), T);

describe('loss-curve forecasting (arXiv 2408.11029)', () => {
  it('areas: S1 is the LR sum; S2 follows m_i = lambda m_{i-1} + (lr_{i-1} - lr_i)', () => {
    // lrs 1, 0.5, 0.5: m = [0, 0.5, 0.5*lambda]; S2 = [0, 0.5, 0.5 + 0.5*lambda]
    const { s1, s2 } = lossCurveAreas([1, 0.5, 0.5], 0.9);
    expect([...s1]).toEqual([1, 1.5, 2]);
    expect(s2[2]).toBeCloseTo(0.5 + 0.45, 12);
  });
  it('constant LR has no annealing area', () => {
    const { s2 } = lossCurveAreas(scheduleLrs(constantSchedule(0.1), 50), 0.999);
    expect(Math.max(...s2)).toBe(0);
  });
  it('recovers the law from a cosine run and predicts WSD and linear runs', () => {
    const lossCos = predictLossCurve(truth, cos);
    const fit = fitLossCurve({ lrs: cos, losses: lossCos, lambda: 0.999 });
    expect(fit.alpha).toBeCloseTo(0.5, 3);
    expect(fit.L0).toBeCloseTo(2, 3);
    expect(fit.C).toBeCloseTo(0.05, 3);
    for (const lrs of [wsd, lin]) {
      const err = forecastError(fit, lrs, predictLossCurve(truth, lrs));
      expect(err.mape).toBeLessThan(1e-4);
      expect(err.finalRelError).toBeLessThan(1e-4);
    }
  });
  it('fits lambda when not given and tolerates noise', () => {
    let seed = 1;
    const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.01;
    const losses = predictLossCurve(truth, wsd).map((v) => v + noise());
    const fit = fitLossCurve({ lrs: wsd, losses });
    expect([0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9995]).toContain(fit.lambda);
    expect(forecastError(fit, cos, predictLossCurve(truth, cos)).mape).toBeLessThan(0.01);
  });
  it('ranks candidates by predicted final loss: annealing to zero beats a constant LR', () => {
    const ranked = rankSchedules(
      truth,
      { constant: constantSchedule(0.1), cosine: cosineDecay({ initValue: 0.1, decaySteps: T }) },
      T,
    );
    expect(ranked.map((r) => r.name)).toEqual(['cosine', 'constant']);
  });
  it('keeps L0, A and C non-negative and supports absolute error', () => {
    // A rising curve would need A < 0; the constrained fit sets A to 0 instead.
    const lrs = scheduleLrs(constantSchedule(0.1), 50);
    const losses = Array.from({ length: 50 }, (_, i) => 1 + 0.001 * i);
    const fit = fitLossCurve({ lrs, losses, error: 'absolute', lambda: 0.999 });
    expect(fit.A).toBeGreaterThanOrEqual(0);
    expect(fit.L0).toBeGreaterThanOrEqual(0);
    expect(fit.C).toBeGreaterThanOrEqual(0);
    expect(() => fitLossCurve({ lrs, losses: losses.map(() => 0), lambda: 0.999 })).toThrow(/positive losses/);
  });
  it('rejects bad input', () => {
    expect(() => fitLossCurve({ lrs: [0.1, 0.1], losses: [1, 2, 3] })).toThrow(/steps\[2\]/);
    expect(() => fitLossCurve({ lrs: cos, losses: [1, Number.NaN, 1, 1, 1] })).toThrow(/losses\[1\]/);
    expect(() => lossCurveAreas([0.1, -1], 0.999)).toThrow(/lrs\[1\]/);
  });
});
