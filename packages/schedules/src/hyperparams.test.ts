import { describe, expect, it } from 'vitest';
import {
  blockSizeCurriculum,
  cosineRamp,
  mixtureSchedule,
  multigridSchedule,
  oneCycle,
  oneCycleMomentum,
  polynomialSparsity,
  weightDecaySchedule,
} from './index.js';

describe('hyperparameter schedules', () => {
  it('one-cycle momentum mirrors the LR: max at the ends, base at the LR peak', () => {
    const m = oneCycleMomentum({ totalSteps: 100, pctStart: 0.3 });
    const lr = oneCycle({ maxValue: 1, totalSteps: 100, pctStart: 0.3 });
    expect(m(0)).toBeCloseTo(0.95, 15);
    expect(m(29)).toBeCloseTo(0.85, 15);
    expect(lr(29)).toBeCloseTo(1, 15);
    expect(m(99)).toBeCloseTo(0.95, 15);
  });
  it('cosine ramp for weight decay 0.04 -> 0.4', () => {
    const w = weightDecaySchedule({ initValue: 0.04, endValue: 0.4, totalSteps: 100 });
    expect([w(0), w(50), w(100), w(200)].map((v) => +v.toFixed(12))).toEqual([0.04, 0.22, 0.4, 0.4]);
    expect(cosineRamp({ initValue: 0, endValue: 1, rampSteps: 10, rampBegin: 5 })(5)).toBe(0);
  });
  it('multigrid keeps batch * volume about constant', () => {
    const s = multigridSchedule({
      baseBatchSize: 8,
      baseShape: [16, 32, 32],
      longCycleSteps: 40,
      totalSteps: 200,
      finalFraction: 0.2,
    });
    const vol = (b: { batchSize: number; shape: number[] }) => b.batchSize * b.shape.reduce((p, d) => p * d, 1);
    const ref = 8 * 16 * 32 * 32;
    for (const t of [0, 1, 2, 13, 27, 39]) expect(Math.abs(vol(s(t)) / ref - 1)).toBeLessThan(0.15);
    expect(s(0).shape[0]).toBeLessThan(16);
    expect(s(180)).toEqual({ batchSize: 8, shape: [16, 32, 32] });
  });
  it('mixture up-samples domains in the last fraction', () => {
    const m = mixtureSchedule({
      weights: { web: 3, code: 1 },
      finalWeights: { web: 1, code: 1, math: 2 },
      totalSteps: 100,
      finalFraction: 0.2,
    });
    expect(m(79)).toEqual({ web: 0.75, code: 0.25, math: 0 });
    expect(m(80)).toEqual({ web: 0.25, code: 0.25, math: 0.5 });
  });
  it('block-size curriculum in equal parts', () => {
    const b = blockSizeCurriculum({ sizes: [16, 8, 4], totalSteps: 90 });
    expect([b(0), b(29), b(30), b(60), b(1000)]).toEqual([16, 16, 8, 4, 4]);
  });
  it('polynomial sparsity ramp (Zhu & Gupta): cubic, stepped every `frequency`', () => {
    const s = polynomialSparsity({ finalSparsity: 0.9, beginStep: 100, endStep: 200, frequency: 10 });
    expect(s(50)).toBe(0);
    expect(s(150)).toBeCloseTo(0.9 - 0.9 * 0.125, 15); // (1 - 0.5)^3 = 0.125
    expect(s(159)).toBe(s(150));
    expect(s(200)).toBe(0.9);
    expect(() => polynomialSparsity({ finalSparsity: 1.5, beginStep: 0, endStep: 1 })).toThrow(
      /finalSparsity must be in \[0, 1\]/,
    );
  });
});
