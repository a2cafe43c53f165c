import { describe, expect, it } from 'vitest';
import goldens from './goldens/schedules.json' with { type: 'json' };
import {
  constantSchedule,
  cosineDecay,
  fromOptax,
  fromTransformers,
  inverseSqrtSchedule,
  warmupStableDecay,
  cosineOneCycle,
  exponentialDecay,
  joinSchedules,
  linearOneCycle,
  linearSchedule,
  piecewiseConstant,
  polynomialSchedule,
  sgdrSchedule,
  warmupCosineDecay,
  warmupExponentialDecay,
} from './index.js';
import type { Schedule } from './index.js';

const steps = goldens.steps;

/** optax computes in float32: absolute 1e-7 or relative 1e-6, as the goldens file states. */
function expectFloat32(name: string, s: Schedule, want: number[]) {
  steps.forEach((t, i) => {
    const got = s(t);
    const w = want[i]!;
    const ok = Math.abs(got - w) <= 1e-7 || Math.abs(got - w) <= 1e-6 * Math.abs(w);
    expect(ok, `${name} at step ${t}: got ${got}, optax ${w}`).toBe(true);
  });
}

const optaxCases: Record<keyof typeof goldens.optax, Schedule> = {
  'warmup_cosine_decay(init=0,peak=1,warmup=10,decay=100,end=0.1)': warmupCosineDecay({
    initValue: 0,
    peakValue: 1,
    warmupSteps: 10,
    decaySteps: 100,
    endValue: 0.1,
  }),
  'cosine_decay(init=1,decay=100,alpha=0.1)': cosineDecay({ initValue: 1, decaySteps: 100, alpha: 0.1 }),
  'cosine_decay(init=1,decay=100,alpha=0,exponent=2)': cosineDecay({
    initValue: 1,
    decaySteps: 100,
    alpha: 0,
    exponent: 2,
  }),
  // The label's "steps=100" is where the transition ends: the values (0.99 at 11, 0.6 at 50, 0.1 at 100) fit
  // transition_steps = 90 after transition_begin = 10 and no other pair.
  'linear(init=1,end=0.1,steps=100,begin=10)': linearSchedule({
    initValue: 1,
    endValue: 0.1,
    transitionSteps: 90,
    transitionBegin: 10,
  }),
  'polynomial(init=1,end=0.01,power=2,steps=100)': polynomialSchedule({
    initValue: 1,
    endValue: 0.01,
    power: 2,
    transitionSteps: 100,
  }),
  'exponential_decay(init=1,transition=10,rate=0.5)': exponentialDecay({
    initValue: 1,
    transitionSteps: 10,
    decayRate: 0.5,
  }),
  'exponential_decay(init=1,transition=10,rate=0.5,staircase)': exponentialDecay({
    initValue: 1,
    transitionSteps: 10,
    decayRate: 0.5,
    staircase: true,
  }),
  'exponential_decay(init=1,transition=10,rate=0.5,begin=20,end=0.2)': exponentialDecay({
    initValue: 1,
    transitionSteps: 10,
    decayRate: 0.5,
    transitionBegin: 20,
    endValue: 0.2,
  }),
  'piecewise_constant(1,{25:0.5,60:0.1})': piecewiseConstant({
    initValue: 1,
    boundaries: [25, 60],
    scales: [0.5, 0.1],
  }),
  'sgdr([{init=0,peak=1,warmup=5,decay=50,end=0}]*2)': sgdrSchedule([
    { initValue: 0, peakValue: 1, warmupSteps: 5, decaySteps: 50, endValue: 0 },
    { initValue: 0, peakValue: 1, warmupSteps: 5, decaySteps: 50, endValue: 0 },
  ]),
  'linear_onecycle(transition=100,peak=1)': linearOneCycle({ transitionSteps: 100, peakValue: 1 }),
  'cosine_onecycle(transition=100,peak=1)': cosineOneCycle({ transitionSteps: 100, peakValue: 1 }),
  'warmup_exponential_decay(init=0,peak=1,warmup=10,transition=10,rate=0.5,end=0.05)': warmupExponentialDecay({
    initValue: 0,
    peakValue: 1,
    warmupSteps: 10,
    transitionSteps: 10,
    decayRate: 0.5,
    endValue: 0.05,
  }),
  'join(linear(0->1,10), constant(1), boundaries=[10])': joinSchedules(
    [linearSchedule({ initValue: 0, endValue: 1, transitionSteps: 10 }), constantSchedule(1)],
    [10],
  ),
};

describe('optax goldens (native builders)', () => {
  for (const [name, s] of Object.entries(optaxCases)) {
    it(name, () => expectFloat32(name, s, (goldens.optax as Record<string, number[]>)[name] as number[]));
  }
  it('covers every optax golden', () => {
    expect(Object.keys(optaxCases).sort()).toEqual(Object.keys(goldens.optax).sort());
  });
});

/** transformers computes in float64: 1e-9 relative (absolute 1e-12 near zero). */
function expectF64(name: string, s: Schedule, want: number[]) {
  steps.forEach((t, i) => {
    const got = s(t);
    const w = want[i]!;
    expect(Math.abs(got - w) <= 1e-9 * Math.abs(w) + 1e-12, `${name} at step ${t}: got ${got}, transformers ${w}`).toBe(
      true,
    );
  });
}

const tfCases: Record<string, Schedule> = {
  'linear_with_warmup(w=10,T=100)': fromTransformers('linear', { num_warmup_steps: 10, num_training_steps: 100 }),
  'cosine_with_warmup(w=10,T=100,cycles=0.5)': fromTransformers('cosine', {
    num_warmup_steps: 10,
    num_training_steps: 100,
    num_cycles: 0.5,
  }),
  'cosine_hard_restarts(w=10,T=100,cycles=2)': fromTransformers('cosine_with_restarts', {
    num_warmup_steps: 10,
    num_training_steps: 100,
    num_cycles: 2,
  }),
  'polynomial_decay(w=10,T=100,lr_end=1e-3,power=2)': fromTransformers('polynomial', {
    num_warmup_steps: 10,
    num_training_steps: 100,
    lr_end: 1e-3,
    power: 2,
  }),
  'constant_with_warmup(w=10)': fromTransformers('constant_with_warmup', { num_warmup_steps: 10 }),
  'inverse_sqrt(w=10)': fromTransformers('inverse_sqrt', { num_warmup_steps: 10 }),
  'cosine_with_min_lr(w=10,T=100,min_lr_rate=0.1)': fromTransformers('cosine_with_min_lr', {
    num_warmup_steps: 10,
    num_training_steps: 100,
    min_lr_rate: 0.1,
  }),
  'wsd(w=10,stable=50,decay=40,min_lr_ratio=0.1,decay_type=linear)': fromTransformers('warmup_stable_decay', {
    num_warmup_steps: 10,
    num_stable_steps: 50,
    num_decay_steps: 40,
    min_lr_ratio: 0.1,
    decay_type: 'linear',
  }),
  'wsd(w=10,stable=50,decay=40,min_lr_ratio=0.1,decay_type=cosine)': fromTransformers('get_wsd_schedule', {
    num_warmup_steps: 10,
    num_stable_steps: 50,
    num_decay_steps: 40,
    min_lr_ratio: 0.1,
    decay_type: 'cosine',
  }),
  'wsd(w=10,stable=50,decay=40,min_lr_ratio=0.1,decay_type=1-sqrt)': fromTransformers('warmup_stable_decay', {
    num_warmup_steps: 10,
    num_training_steps: 100,
    num_decay_steps: 40,
    min_lr_ratio: 0.1,
    decay_type: '1-sqrt',
  }),
};

const tfGold = goldens.transformers as unknown as Record<string, number[]>;

describe('transformers goldens (fromTransformers)', () => {
  for (const [name, s] of Object.entries(tfCases)) it(name, () => expectF64(name, s, tfGold[name] as number[]));
  it('covers every transformers golden', () => {
    expect(Object.keys(tfCases).sort()).toEqual(
      Object.keys(tfGold)
        .filter((k) => k !== 'transformers_version')
        .sort(),
    );
  });
});

describe('transformers goldens (native builders)', () => {
  for (const shape of ['linear', 'cosine', '1-sqrt'] as const) {
    const name = `wsd(w=10,stable=50,decay=40,min_lr_ratio=0.1,decay_type=${shape})`;
    it(`warmupStableDecay ${shape}`, () => {
      const s = warmupStableDecay({
        peakValue: 1,
        warmupSteps: 10,
        stableSteps: 50,
        decaySteps: 40,
        minRatio: 0.1,
        decayShape: shape,
      });
      expectF64(name, s, tfGold[name] as number[]);
    });
  }
  it('inverseSqrtSchedule', () =>
    expectF64(
      'inverse_sqrt',
      inverseSqrtSchedule({ peakValue: 1, warmupSteps: 10 }),
      tfGold['inverse_sqrt(w=10)'] as number[],
    ));
});

describe('optax goldens (fromOptax)', () => {
  const cases: [string, Schedule][] = [
    [
      'warmup_cosine_decay(init=0,peak=1,warmup=10,decay=100,end=0.1)',
      fromOptax('warmup_cosine_decay_schedule', {
        init_value: 0,
        peak_value: 1,
        warmup_steps: 10,
        decay_steps: 100,
        end_value: 0.1,
      }),
    ],
    [
      'cosine_decay(init=1,decay=100,alpha=0,exponent=2)',
      fromOptax('optax.cosine_decay_schedule', { init_value: 1, decay_steps: 100, exponent: 2 }),
    ],
    [
      'exponential_decay(init=1,transition=10,rate=0.5,begin=20,end=0.2)',
      fromOptax('exponential_decay', {
        init_value: 1,
        transition_steps: 10,
        decay_rate: 0.5,
        transition_begin: 20,
        end_value: 0.2,
      }),
    ],
    [
      'piecewise_constant(1,{25:0.5,60:0.1})',
      fromOptax('piecewise_constant_schedule', { init_value: 1, boundaries_and_scales: { 25: 0.5, 60: 0.1 } }),
    ],
    [
      'sgdr([{init=0,peak=1,warmup=5,decay=50,end=0}]*2)',
      fromOptax('sgdr_schedule', {
        cosine_kwargs: [0, 1].map(() => ({
          init_value: 0,
          peak_value: 1,
          warmup_steps: 5,
          decay_steps: 50,
          end_value: 0,
        })),
      }),
    ],
    [
      'linear_onecycle(transition=100,peak=1)',
      fromOptax('linear_onecycle_schedule', { transition_steps: 100, peak_value: 1 }),
    ],
    [
      'cosine_onecycle(transition=100,peak=1)',
      fromOptax('cosine_onecycle_schedule', { transition_steps: 100, peak_value: 1 }),
    ],
    [
      'warmup_exponential_decay(init=0,peak=1,warmup=10,transition=10,rate=0.5,end=0.05)',
      fromOptax('warmup_exponential_decay_schedule', {
        init_value: 0,
        peak_value: 1,
        warmup_steps: 10,
        transition_steps: 10,
        decay_rate: 0.5,
        end_value: 0.05,
      }),
    ],
  ];
  for (const [name, s] of cases)
    it(name, () => expectFloat32(name, s, (goldens.optax as Record<string, number[]>)[name] as number[]));
});
