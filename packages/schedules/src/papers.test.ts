import { describe, expect, it } from 'vitest';
import { medianFilter } from './refined.js';
import {
  batchScaledSchedule,
  constantSchedule,
  linearSchedule,
  powerSchedule,
  refinedSchedule,
  refinedShape,
  rewarmSchedule,
  rexSchedule,
  scaleLearningRate,
  warmupStableDecay,
  wsdsCheckpoints,
  wsdsSchedule,
} from './index.js';

describe('WSD and WSD-S', () => {
  it('exponential decay goes from peak to peak * minRatio', () => {
    const s = warmupStableDecay({
      peakValue: 1,
      warmupSteps: 0,
      stableSteps: 10,
      decaySteps: 10,
      minRatio: 0.01,
      decayShape: 'exponential',
    });
    expect(s(15)).toBeCloseTo(0.1, 15); // 0.01^0.5
    expect(s(20)).toBe(0.01);
    expect(() =>
      warmupStableDecay({ peakValue: 1, warmupSteps: 0, stableSteps: 1, decaySteps: 1, decayShape: 'exponential' }),
    ).toThrow(/minRatio > 0/);
  });
  it('WSD-S decays before each budget and resumes at the peak', () => {
    const opts = {
      peakValue: 1,
      warmupSteps: 10,
      budgets: [100, 200, 400],
      decayFraction: 0.1,
      decayShape: 'linear' as const,
    };
    expect(wsdsCheckpoints(opts)).toEqual([
      { budget: 100, decayStart: 90, decaySteps: 10 },
      { budget: 200, decayStart: 190, decaySteps: 10 },
      { budget: 400, decayStart: 380, decaySteps: 20 },
    ]);
    const s = wsdsSchedule(opts);
    expect([s(5), s(50), s(95), s(100), s(190), s(390), s(400)]).toEqual([0.5, 1, 0.5, 1, 1, 0.5, 0]);
  });
  it('WSD-S refuses a decay that overlaps the warm-up', () => {
    expect(() => wsdsSchedule({ peakValue: 1, warmupSteps: 95, budgets: [100] })).toThrow(/no room/);
  });
});

describe('REX (arXiv 2107.04197)', () => {
  it('(1 - z)/(1 - z/2): 1 at z = 0, 2/3 at z = 1/2, 0 at z = 1', () => {
    const s = rexSchedule({ peakValue: 1, totalSteps: 100 });
    expect([s(0), s(50), s(100), s(150)]).toEqual([1, 0.5 / 0.75, 0, 0]);
  });
  it('sampling interval holds the value between samples', () => {
    const s = rexSchedule({ peakValue: 1, totalSteps: 100, samplingInterval: 10 });
    expect(s(59)).toBe(s(50));
  });
});

describe('power scheduler (arXiv 2408.13359)', () => {
  const base = { a: 4.6, b: -0.51, maxValue: 0.02, batchSize: 1024, tokensPerStep: 4096 * 1024 };
  it('is min(max, beta * a * n^b) on tokens seen', () => {
    const s = powerSchedule(base);
    const n = 1000 * base.tokensPerStep;
    expect(s(1000)).toBeCloseTo(Math.min(0.02, 1024 * 4.6 * n ** -0.51), 15);
    expect(s(1)).toBe(0.02); // the cap binds early
  });
  it('warm-up and exponential tail', () => {
    const s = powerSchedule({ ...base, warmupSteps: 100, totalSteps: 10000, decaySteps: 1000, decayMinRatio: 0.01 });
    const w = powerSchedule(base)(100);
    expect(s(50)).toBeCloseTo(w / 2, 15);
    const tail0 = powerSchedule(base)(9000);
    expect(s(9500)).toBeCloseTo(tail0 * 0.1, 15);
    expect(() => powerSchedule({ ...base, b: 0.5 })).toThrow(/b must be negative/);
  });
});

describe('refined schedules (arXiv 2310.07831)', () => {
  it('constant gradient norms give linear decay to 0 at the last step', () => {
    for (const optimizer of ['sgd', 'adam'] as const) {
      const s = refinedSchedule({ gradNorms: new Array(11).fill(3), optimizer });
      const lin = linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10 });
      for (let t = 0; t <= 12; t++) expect(s(t)).toBeCloseTo(lin(t), 14);
    }
  });
  it('w_t = g^-2 for SGD: lr_t ∝ w_t * sum_{p>t} w_p', () => {
    // norms 1, 2, 1: w = [1, 1/4, 1]; raw = [1.25, 0.25, 0]; normalised by 1.25
    expect([...refinedShape([1, 2, 1], 'sgd')]).toEqual([1, 0.2, 0]);
    // adam: w = 1/g = [1, 1/2, 1]; raw = [1.5, 0.5, 0] -> [1, 1/3, 0]
    const a = refinedShape([1, 2, 1], 'adam');
    expect(a[1]).toBeCloseTo(1 / 3, 15);
  });
  it('median smoothing removes a spike', () => {
    expect([...medianFilter([1, 1, 9, 1, 1], 3)]).toEqual([1, 1, 1, 1, 1]);
  });
  it('rejects non-positive norms', () => {
    expect(() => refinedSchedule({ gradNorms: [1, 0, 1], optimizer: 'sgd' })).toThrow(/gradNorms\[1\] must be > 0/);
  });
});

describe('re-warming and batch-size rules', () => {
  it('re-warms linearly from the old final LR to the new peak, then cosine to peak/10', () => {
    const s = rewarmSchedule({ initValue: 3e-5, peakValue: 3e-4, warmupSteps: 100, totalSteps: 1100 });
    expect(s(0)).toBe(3e-5);
    expect(s(100)).toBeCloseTo(3e-4, 18);
    expect(s(1100)).toBeCloseTo(3e-5, 18);
    expect(() => rewarmSchedule({ peakValue: 1, warmupSteps: 10, totalSteps: 10 })).toThrow(/warmupSteps/);
  });
  it('linear rule for SGD, square-root rule for Adam', () => {
    expect(scaleLearningRate(0.1, { baseBatchSize: 256, batchSize: 1024, optimizer: 'sgd' })).toBeCloseTo(0.4, 15);
    expect(scaleLearningRate(1e-3, { baseBatchSize: 256, batchSize: 1024, rule: 'sqrt' })).toBeCloseTo(2e-3, 15);
    expect(batchScaledSchedule(constantSchedule(1), { baseBatchSize: 1, batchSize: 4, rule: 'sqrt' })(3)).toBe(2);
    expect(() => scaleLearningRate(0.1, { baseBatchSize: 0, batchSize: 4, rule: 'linear' })).toThrow(
      /baseBatchSize must be > 0/,
    );
  });
});
