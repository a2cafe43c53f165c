import { describe, expect, it } from 'vitest';
import * as S from './index.js';
import type { Schedule } from './index.js';

const steps = [0, 1, 7, 25, 50, 99];

const built: Record<string, Schedule> = {
  constant: S.constantSchedule(0.3),
  cosine: S.cosineDecay({ initValue: 1, decaySteps: 100, alpha: 0.1 }),
  exp: S.exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0.5, endValue: 0.1 }),
  wcd: S.warmupCosineDecay({ peakValue: 1, warmupSteps: 10, decaySteps: 100 }),
  wsd: S.warmupStableDecay({ peakValue: 1, warmupSteps: 10, stableSteps: 50, decaySteps: 40, decayShape: '1-sqrt' }),
  wsds: S.wsdsSchedule({ peakValue: 1, warmupSteps: 5, budgets: [50, 100] }),
  rex: S.rexSchedule({ peakValue: 1, totalSteps: 100 }),
  sgdr: S.sgdrSchedule([
    { peakValue: 1, warmupSteps: 5, decaySteps: 50 },
    { peakValue: 0.5, warmupSteps: 5, decaySteps: 50 },
  ]),
  join: S.joinSchedules(
    [S.constantSchedule(1), S.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 50 })],
    [20],
  ),
  nested: S.clampSchedule(
    S.withWarmup(S.scaleSchedule(S.cosineDecay({ initValue: 1, decaySteps: 80 }), 2), { warmupSteps: 20 }),
    { max: 1.5 },
  ),
  product: S.multiplySchedules(S.cosineDecay({ initValue: 1, decaySteps: 100 }), 0.5),
  cycle: S.cycleSchedule(S.cosineDecay({ initValue: 1, decaySteps: 20 }), { period: 20, decay: 0.8 }),
  torchMomentum: S.fromTorchMomentum('CyclicLR', { base_lr: 0.1, max_lr: 1, step_size_up: 10 }),
  torch: S.fromTorch('OneCycleLR', {
    max_lr: 1,
    total_steps: 101,
    pct_start: 0.25,
    anneal_strategy: 'linear',
    three_phase: true,
  }),
  transformers: S.fromTransformers('cosine', { num_warmup_steps: 10, num_training_steps: 100 }),
  timm: S.fromTimm('cosine', { t_initial: 100, warmup_t: 5, lr: 0.1 }),
  optaxJoin: S.fromOptax('join_schedules', {
    schedules: [S.constantSchedule(1), S.constantSchedule(2)],
    boundaries: [10],
  }),
  sparsity: S.polynomialSparsity({ finalSparsity: 0.8, beginStep: 0, endStep: 100 }),
  refined: S.refinedSchedule({ gradNorms: [1, 2, 3, 2, 1, 1, 1], optimizer: 'adam' }),
  poly: S.polynomialSchedule({ initValue: 1, endValue: 0.1, power: 2, transitionSteps: 50, transitionBegin: 5 }),
  lin: S.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 80 }),
  pc: S.piecewiseConstant({ initValue: 1, boundaries: [10, 40], scales: [0.5, 0.1] }),
  pi: S.piecewiseInterpolate({ interpolation: 'cosine', initValue: 1, boundaries: [10, 40], scales: [0.5, 0.1] }),
  step: S.stepDecay({ initValue: 1, stepSize: 7 }),
  multistep: S.multiStepDecay({ initValue: 1, milestones: [10, 30] }),
  isqrt: S.inverseSqrtSchedule({ peakValue: 1, warmupSteps: 10 }),
  wconst: S.warmupConstant({ peakValue: 1, warmupSteps: 10 }),
  wexp: S.warmupExponentialDecay({ peakValue: 1, warmupSteps: 10, transitionSteps: 10, decayRate: 0.5 }),
  lin1: S.linearOneCycle({ transitionSteps: 100, peakValue: 1 }),
  cos1: S.cosineOneCycle({ transitionSteps: 100, peakValue: 1 }),
  cyclic: S.cyclicSchedule({ baseValue: 0.1, maxValue: 1, stepSizeUp: 10, mode: 'triangular2' }),
  one: S.oneCycle({ maxValue: 1, totalSteps: 100 }),
  restarts: S.cosineWarmRestarts({ initValue: 1, firstCycleSteps: 10, cycleMult: 2 }),
  rewarm: S.rewarmSchedule({ initValue: 0.1, peakValue: 1, warmupSteps: 10, totalSteps: 100 }),
  power: S.powerSchedule({
    a: 4.6,
    b: -0.51,
    maxValue: 0.02,
    batchSize: 8,
    tokensPerStep: 1024,
    warmupSteps: 5,
    totalSteps: 100,
    decaySteps: 20,
  }),
  momentum: S.oneCycleMomentum({ totalSteps: 100 }),
  ramp: S.cosineRamp({ initValue: 0.04, endValue: 0.4, rampSteps: 100 }),
  blocks: S.blockSizeCurriculum({ sizes: [16, 8, 4], totalSteps: 99 }),
  delay: S.delaySchedule(S.cosineDecay({ initValue: 1, decaySteps: 50 }), 10),
  batch: S.batchScaledSchedule(S.cosineDecay({ initValue: 1, decaySteps: 50 }), {
    baseBatchSize: 32,
    batchSize: 128,
    optimizer: 'adam',
  }),
};

describe('toSpec / fromSpec', () => {
  for (const [name, s] of Object.entries(built)) {
    it(`${name} round-trips through JSON`, () => {
      const json = JSON.stringify(S.toSpec(s));
      const back = S.fromSpec(json);
      for (const t of steps) expect(back(t)).toBe(s(t));
      expect(S.toSpec(back)).toEqual(JSON.parse(json));
    });
  }
  it('every built-in schedule is finite over its range (never NaN)', () => {
    for (const [name, s] of Object.entries(built)) {
      for (let t = 0; t < 100; t += 0.5) {
        const step = ['torch', 'torchMomentum', 'transformers', 'timm'].includes(name) ? Math.floor(t) : t;
        expect(Number.isFinite(s(step)), `${name} at ${step}`).toBe(true);
      }
    }
  });
  it('every spec type has a round-trip case above', () => {
    const covered = new Set<string>();
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const t = (v as { type?: unknown }).type;
        if (typeof t === 'string') covered.add(t);
        Object.values(v).forEach(walk);
      }
    };
    Object.values(built).forEach((s) => walk(S.toSpec(s)));
    expect(S.specTypes.filter((t) => !covered.has(t))).toEqual([]);
  });
  it('user functions have no spec', () => {
    expect(() => S.toSpec(S.scaleSchedule((t) => t, 2))).toThrow(/schedule.schedule is a user-written function/);
    expect(() => S.toSpec(S.fromTorch('LambdaLR', { lr_lambda: () => 1 }))).toThrow(/kwargs.lr_lambda/);
  });
  it('invalid specs give clear errors', () => {
    expect(() => S.fromSpec({ type: 'cosine' })).toThrow(/unknown type "cosine"; valid types are constantSchedule/);
    expect(() => S.fromSpec({ type: 'cosineDecay', initValue: 1 })).toThrow(
      /fromSpec\(cosineDecay\): decaySteps must be a finite number, got undefined/,
    );
    expect(() => S.fromSpec({ type: 'cosineDecay', initValue: 1, decaySteps: 10, extra: 1 })).toThrow(
      /unknown option "extra"/,
    );
    expect(() => S.fromSpec('{not json')).toThrow(/not valid JSON/);
    expect(S.validateSpec({ type: 'rexSchedule', peakValue: 1, totalSteps: 10 })).toBeNull();
    expect(S.validateSpec({ type: 'rexSchedule', peakValue: 1 })).toMatch(/totalSteps/);
  });
});

describe('plot', () => {
  const series = { cosine: built.cosine as Schedule, wsd: built.wsd as Schedule };
  it('SVG has one polyline per series and a legend', () => {
    const svg = S.plotSvg(series, { title: 'LR' });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('>wsd<');
  });
  it('terminal chart has the requested height, marks and legend', () => {
    const txt = S.plotTerminal(series, { width: 40, height: 10 });
    const lines = txt.split('\n');
    expect(lines).toHaveLength(13);
    expect(lines[0]).toContain('1 |');
    expect(lines[12]).toBe('* cosine   + wsd');
  });
  it('plot picks the format', () => {
    expect(S.plot(series, { format: 'terminal', width: 40, height: 10 })).toBe(
      S.plotTerminal(series, { width: 40, height: 10 }),
    );
    expect(S.plot(series).startsWith('<svg')).toBe(true);
    expect(() => S.plot(series, { format: 'png' as never })).toThrow(/format/);
  });
  it('refuses NaN series', () => {
    expect(() => S.plotTerminal({ bad: [1, Number.NaN] })).toThrow(/NaN at index 1/);
  });
});
