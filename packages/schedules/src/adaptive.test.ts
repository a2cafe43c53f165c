import { describe, expect, it } from 'vitest';
import { evalExponential, fitExponential, gpPosterior } from './autolrs.js';
import { autoLRS, createHypergradientLR, hypergradientInit, hypergradientStep } from './index.js';

describe('hypergradient LR', () => {
  const opts = { initialLr: 0.1, hyperLr: 0.01, minLr: 0.01, maxLr: 0.2 };
  it('raises the LR when successive updates align, lowers it when they oppose, clips', () => {
    let s = hypergradientInit(opts);
    s = hypergradientStep(s, [1, 1], opts); // first update: no change
    expect(s.lr).toBe(0.1);
    s = hypergradientStep(s, [1, 2], opts); // <(1,2),(1,1)> = 3 -> 0.1 + 0.03
    expect(s.lr).toBeCloseTo(0.13, 15);
    s = hypergradientStep(s, [-10, -10], opts); // dot = -30 -> clipped to 0.01
    expect(s.lr).toBe(0.01);
  });
  it('state round-trips through JSON and resumes identically', () => {
    const a = createHypergradientLR(opts);
    a.observe([1, 0]);
    a.observe([1, 1]);
    const saved = JSON.parse(JSON.stringify(a.getState()));
    const b = createHypergradientLR(opts, saved);
    expect(b.observe([0.5, 0.5])).toBe(a.observe([0.5, 0.5]));
  });
  it('normalize uses the cosine of the angle', () => {
    const o = { ...opts, normalize: true };
    const s = hypergradientStep(hypergradientStep(hypergradientInit(o), [3, 0], o), [5, 0], o);
    expect(s.lr).toBeCloseTo(0.11, 15);
  });
  it('rejects NaN updates and mismatched sizes', () => {
    const s = hypergradientStep(hypergradientInit(opts), [1, 1], opts);
    expect(() => hypergradientStep(s, [Number.NaN, 1], opts)).toThrow(/update\[0\]/);
    expect(() => hypergradientStep(s, [1], opts)).toThrow(/entries/);
  });
});

describe('AutoLRS building blocks', () => {
  it('fits an exponential exactly', () => {
    const ys = Array.from({ length: 30 }, (_, i) => 2 * Math.exp(-0.1 * (i + 1)) + 0.5);
    const f = fitExponential(ys);
    expect(f.b).toBeCloseTo(-0.1, 6);
    expect(evalExponential(f, 100)).toBeCloseTo(2 * Math.exp(-10) + 0.5, 6);
  });
  it('GP interpolates its observations and is uncertain far away', () => {
    const post = gpPosterior([0.2, 0.8], [1, 3], [0.2, 0.8, 0.5]);
    expect(post.mean[0]).toBeCloseTo(1, 2);
    expect(post.mean[1]).toBeCloseTo(3, 2);
    expect(post.std[2]!).toBeGreaterThan(post.std[0]!);
  });
  it('finds the best LR of a quadratic toy problem per stage', async () => {
    // Gradient descent on f(x) = x^2 / 2: x <- x (1 - lr); the best LR in [0.01, 1] is 1 (it converges in one step).
    let x = 10;
    const res = await autoLRS({
      minLr: 0.01,
      maxLr: 1,
      stages: 2,
      stageSteps: 20,
      trialSteps: 5,
      trials: 6,
      checkpoint: () => x,
      restore: (c) => {
        x = c;
      },
      train: (lr, steps) =>
        Array.from({ length: steps }, () => {
          x *= 1 - lr;
          return 0.5 * x * x + 1;
        }),
    });
    expect(res.lrs).toHaveLength(2);
    expect(res.lrs[0]!).toBeGreaterThan(0.5);
    expect(res.trials).toHaveLength(12);
  });
  it('treats divergence as a failed trial, never NaN', async () => {
    let x = 1;
    const res = await autoLRS({
      minLr: 0.01,
      maxLr: 10,
      stages: 1,
      stageSteps: 10,
      trialSteps: 4,
      trials: 4,
      checkpoint: () => x,
      restore: (c) => {
        x = c;
      },
      train: (lr, steps) =>
        Array.from({ length: steps }, () => {
          x *= 1 - lr;
          return lr > 2 ? Number.NaN : x * x;
        }),
    });
    expect(Number.isFinite(res.lrs[0])).toBe(true);
    expect(res.lrs[0]!).toBeLessThan(2);
  });
});
