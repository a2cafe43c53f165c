import { describe, expect, it } from 'vitest';
import {
  fromOptax,
  fromTimm,
  fromTorch,
  fromTorchMomentum,
  fromTransformers,
  optaxScheduleNames,
  timmSchedulerNames,
  torchSchedulerNames,
  transformersSchedulerNames,
} from './index.js';

describe('fromTorch (closed forms from torch/optim/lr_scheduler.py)', () => {
  it('StepLR, MultiStepLR, ExponentialLR with base lr 0.1', () => {
    expect(fromTorch('StepLR', { step_size: 3, gamma: 0.5, lr: 0.1 })(7)).toBeCloseTo(0.025, 15); // 0.1 * 0.5^2
    expect(fromTorch('MultiStepLR', { milestones: [2, 4], lr: 0.1 })(4)).toBeCloseTo(0.001, 15);
    expect(fromTorch('ExponentialLR', { gamma: 0.9, lr: 0.1 })(2)).toBeCloseTo(0.081, 15);
  });
  it('ConstantLR and LinearLR defaults (factor 1/3, 5 iterations)', () => {
    const c = fromTorch('ConstantLR', {});
    expect([c(4), c(5)]).toEqual([1 / 3, 1]);
    const l = fromTorch('LinearLR', { start_factor: 0.5, total_iters: 4 });
    expect([l(0), l(2), l(4), l(9)]).toEqual([0.5, 0.75, 1, 1]);
  });
  it('PolynomialLR: (1 - min(t, T)/T)^power', () => {
    expect(fromTorch('PolynomialLR', { total_iters: 4, power: 2 })(2)).toBe(0.25);
    expect(fromTorch('PolynomialLR', { total_iters: 4, power: 2 })(10)).toBe(0);
  });
  it('CosineAnnealingLR is periodic past T_max (PyTorch keeps following the cosine)', () => {
    const s = fromTorch('CosineAnnealingLR', { T_max: 10, eta_min: 0.1 });
    expect(s(5)).toBeCloseTo(0.55, 15);
    expect(s(10)).toBeCloseTo(0.1, 15);
    expect(s(20)).toBeCloseTo(1, 15);
  });
  it('CosineAnnealingWarmRestarts with T_mult = 2 restarts at 10, 30, 70', () => {
    const s = fromTorch('CosineAnnealingWarmRestarts', { T_0: 10, T_mult: 2 });
    expect([s(10), s(30), s(70)]).toEqual([1, 1, 1]);
    expect(s(50)).toBeCloseTo(0.5, 15); // 20 steps into the 40-step cycle that starts at 30
    expect(() => fromTorch('CosineAnnealingWarmRestarts', { T_0: 10, T_mult: 1.5 })).toThrow(
      /T_mult must be an integer/,
    );
  });
  it('CyclicLR sets its own base LR', () => {
    const s = fromTorch('CyclicLR', { base_lr: 0.1, max_lr: 1, step_size_up: 4, lr: 123 });
    expect([s(0), s(2), s(4), s(8)]).toEqual([0.1, 0.55, 1, 0.1]);
  });
  it('OneCycleLR, the issue example', () => {
    const s = fromTorch('OneCycleLR', {
      max_lr: 1,
      total_steps: 101,
      pct_start: 0.25,
      anneal_strategy: 'linear',
      three_phase: true,
    });
    expect(s(0)).toBeCloseTo(0.04, 15);
    // phase 1 ends at 0.25*101 - 1 = 24.25: step 24 is 24/24.25 of the way from 0.04 to 1
    expect(s(24)).toBeCloseTo(0.04 + (0.96 * 24) / 24.25, 14);
    expect(s(100)).toBeCloseTo(4e-6, 15);
    expect(() => s(102)).toThrow(/past totalSteps/);
    expect(fromTorch('OneCycleLR', { max_lr: 1, epochs: 2, steps_per_epoch: 50 })(99)).toBeCloseTo(4e-6, 15);
  });
  it('LambdaLR and MultiplicativeLR take JS functions', () => {
    expect(fromTorch('LambdaLR', { lr_lambda: (t: number) => 0.9 ** t, lr: 2 })(2)).toBeCloseTo(1.62, 14);
    expect(fromTorch('MultiplicativeLR', { lr_lambda: () => 0.5 })(3)).toBe(0.125);
  });
  it('SequentialLR: warm-up then cosine, the second scheduler restarts at the milestone', () => {
    const s = fromTorch('SequentialLR', {
      schedulers: [
        { name: 'LinearLR', kwargs: { start_factor: 0.1, total_iters: 5 } },
        { name: 'CosineAnnealingLR', kwargs: { T_max: 10 } },
      ],
      milestones: [5],
      lr: 1,
    });
    expect(s(0)).toBeCloseTo(0.1, 15);
    expect(s(5)).toBe(1);
    expect(s(10)).toBeCloseTo(0.5, 15);
  });
  it('ChainedScheduler multiplies chainable factors', () => {
    const s = fromTorch('ChainedScheduler', {
      schedulers: [
        { name: 'ConstantLR', kwargs: { factor: 0.1, total_iters: 2 } },
        { name: 'ExponentialLR', kwargs: { gamma: 0.9 } },
      ],
    });
    expect(s(1)).toBeCloseTo(0.09, 15);
    expect(s(2)).toBeCloseTo(0.81, 15);
    expect(() =>
      fromTorch('ChainedScheduler', { schedulers: [{ name: 'CyclicLR', kwargs: { base_lr: 0, max_lr: 1 } }] }),
    ).toThrow(/chainable/);
  });
  it('fromTorchMomentum mirrors the LR cycle', () => {
    const c = fromTorchMomentum('CyclicLR', { base_lr: 0.1, max_lr: 1, step_size_up: 4 });
    expect([c(0), c(2), c(4), c(8)].map((v) => +v.toFixed(12))).toEqual([0.9, 0.85, 0.8, 0.9]);
    const o = fromTorchMomentum('OneCycleLR', { max_lr: 1, total_steps: 100 });
    expect(o(0)).toBeCloseTo(0.95, 15);
    expect(o(29)).toBeCloseTo(0.85, 15);
    expect(() => fromTorchMomentum('OneCycleLR', { max_lr: 1, total_steps: 100, cycle_momentum: false })).toThrow(
      /cycle_momentum/,
    );
  });
  it('ParamwiseScheduler returns the chosen group', () => {
    const s = fromTorch('ParamwiseScheduler', {
      schedulers: [
        { name: 'StepLR', kwargs: { step_size: 10 } },
        { name: 'ExponentialLR', kwargs: { gamma: 0.9 } },
      ],
      group: 1,
    });
    expect(s(2)).toBeCloseTo(0.81, 15);
    expect(() =>
      fromTorch('ParamwiseScheduler', { schedulers: [{ name: 'StepLR', kwargs: { step_size: 10 } }], group: 3 }),
    ).toThrow(/group/);
  });
  it('SWALR anneals from lr to swa_lr over anneal_epochs', () => {
    const s = fromTorch('SWALR', { swa_lr: 0.05, anneal_epochs: 10, anneal_strategy: 'linear', lr: 0.1 });
    expect([s(0), s(5), s(10), s(20)].map((v) => +v.toFixed(12))).toEqual([0.1, 0.075, 0.05, 0.05]);
  });
  it('names, keywords and steps are checked', () => {
    expect(() => fromTorch('ReduceLROnPlateau', {})).toThrow(
      /unknown scheduler "ReduceLROnPlateau"; valid names are LambdaLR/,
    );
    expect(() => fromTorch('StepLR', { step_size: 2, gama: 0.1 })).toThrow(
      /unknown keyword "gama"; valid keywords are step_size, gamma/,
    );
    expect(() => fromTorch('StepLR', {})).toThrow(/missing required keyword "step_size"/);
    expect(() => fromTorch('StepLR', { step_size: 2 })(1.5)).toThrow(/integer/);
    expect(() => fromTorch('StepLR', { step_size: 2, lr: -1 })).toThrow(/lr/);
    expect(() => fromTorch('StepLR', { step_size: 2, lr: Number.NaN })).toThrow(/lr/);
    expect(() => fromTorch('LinearLR', { start_factor: 0 })).toThrow(/start_factor/);
    expect(torchSchedulerNames).toContain('OneCycleLR');
  });
});

describe('fromTimm (timm/scheduler/*.py)', () => {
  it('CosineLRScheduler with warm-up (no prefix): warm-up ramps, then the cosine at absolute t', () => {
    const s = fromTimm('CosineLRScheduler', {
      t_initial: 100,
      warmup_t: 10,
      warmup_lr_init: 0.001,
      lr: 0.1,
      lr_min: 0.001,
    });
    expect(s(5)).toBeCloseTo(0.001 + 5 * 0.0099, 15);
    expect(s(50)).toBeCloseTo(0.001 + 0.5 * 0.099, 15);
    expect(s(100)).toBe(0.001); // cycle_limit 1: past the first cycle -> lr_min
  });
  it('CosineLRScheduler with cycle_mul 2 and cycle_decay 0.5: second cycle of 20 steps at half the peak', () => {
    const s = fromTimm('cosine', { t_initial: 10, cycle_mul: 2, cycle_decay: 0.5, cycle_limit: 3 });
    expect(s(10)).toBeCloseTo(0.5, 12);
    expect(s(20)).toBeCloseTo(0.25, 12);
  });
  it('k_decay bends the cosine: at half time with k = 2 the phase is pi/4', () => {
    expect(fromTimm('CosineLRScheduler', { t_initial: 10, k_decay: 2 })(5)).toBeCloseTo(
      0.5 * (1 + Math.cos(Math.PI / 4)),
      14,
    );
  });
  it('PolyLRScheduler default power 0.5', () => {
    expect(fromTimm('PolyLRScheduler', { t_initial: 100 })(75)).toBeCloseTo(0.5, 15);
  });
  it('TanhLRScheduler: 0.5 * (1 - tanh(lb)) at the start', () => {
    expect(fromTimm('tanh', { t_initial: 10 })(0)).toBeCloseTo(0.5 * (1 - Math.tanh(-6)), 15);
  });
  it('Step and MultiStep schedulers (warmup_prefix defaults to True; multistep uses bisect_right(decay_t, t + 1))', () => {
    expect(fromTimm('StepLRScheduler', { decay_t: 10, decay_rate: 0.5, warmup_t: 5 })(14)).toBe(1);
    expect(fromTimm('StepLRScheduler', { decay_t: 10, decay_rate: 0.5, warmup_t: 5 })(15)).toBe(0.5);
    expect(fromTimm('MultiStepLRScheduler', { decay_t: [10, 20], decay_rate: 0.1 })(9)).toBeCloseTo(0.1, 15);
  });
  it('WSDLRScheduler default 1-sqrt decay', () => {
    const s = fromTimm('WSDLRScheduler', { t_initial: 100, decay_t: 20, warmup_t: 10 });
    expect(s(5)).toBe(0.5);
    expect(s(90)).toBe(1);
    expect(s(105)).toBeCloseTo(1 - Math.sqrt(0.75), 15); // t_s = 95, the decay starts at t_s = 80: 15 of 20 steps
  });
  it('refuses noise, unknown names and keywords', () => {
    expect(() => fromTimm('cosine', { t_initial: 10, noise_range_t: [1, 5] })).toThrow(/noise/);
    expect(() => fromTimm('PlateauLRScheduler', {})).toThrow(/valid names are CosineLRScheduler/);
    expect(() => fromTimm('cosine', { t_initial: 10, t_mul: 2 })).toThrow(/unknown keyword "t_mul"/);
    expect(timmSchedulerNames).toContain('wsd');
  });
});

describe('fromTransformers and fromOptax extras', () => {
  it('the issue example: 1-sqrt WSD with min_lr_ratio 0.1', () => {
    const s = fromTransformers('warmup_stable_decay', {
      num_warmup_steps: 10,
      num_stable_steps: 50,
      num_decay_steps: 40,
      min_lr_ratio: 0.1,
      decay_type: '1-sqrt',
    });
    expect(s(70)).toBeCloseTo(0.1 + 0.9 * (1 - Math.sqrt(0.25)), 15);
    expect(s(100)).toBe(0.1);
  });
  it('accepts get_scheduler-style scheduler_specific_kwargs', () => {
    const a = fromTransformers('cosine_with_restarts', {
      num_warmup_steps: 5,
      num_training_steps: 50,
      scheduler_specific_kwargs: { num_cycles: 3 },
    });
    const b = fromTransformers('cosine_with_restarts', { num_warmup_steps: 5, num_training_steps: 50, num_cycles: 3 });
    for (const t of [0, 7, 20, 49]) expect(a(t)).toBe(b(t));
    expect(() =>
      fromTransformers('cosine', {
        num_warmup_steps: 1,
        num_training_steps: 9,
        num_cycles: 1,
        scheduler_specific_kwargs: { num_cycles: 2 },
      }),
    ).toThrow(/both directly/);
  });
  it('cosine_warmup_with_min_lr warms up with (t + 1)/w', () => {
    expect(
      fromTransformers('cosine_warmup_with_min_lr', { num_warmup_steps: 10, num_training_steps: 100, min_lr_rate: 0 })(
        0,
      ),
    ).toBeCloseTo(0.1, 15);
  });
  it('polynomial refuses lr_end >= lr (transformers raises)', () => {
    expect(() => fromTransformers('polynomial', { num_warmup_steps: 1, num_training_steps: 10, lr_end: 2 })).toThrow(
      /lr_end/,
    );
  });
  it('transformers and optax names and keywords are checked', () => {
    expect(() => fromTransformers('reduce_lr_on_plateau', {})).toThrow(/valid names are constant/);
    expect(() => fromTransformers('linear', { num_warmup_steps: 1 })).toThrow(/num_training_steps/);
    expect(() => fromOptax('cosine_decay', {})).toThrow(/valid names are constant_schedule/);
    expect(() => fromOptax('cosine_decay_schedule', { init_value: 1, decay_steps: 0 })).toThrow(/decay_steps/);
    expect(
      fromOptax('linear_schedule', { init_value: 1, end_value: 0, transition_steps: 10, transition_begin: -5 })(5),
    ).toBe(0.5);
    expect(transformersSchedulerNames).toContain('get_wsd_schedule');
    expect(optaxScheduleNames).toContain('sgdr_schedule');
  });
  it('optax join_schedules and piecewise_interpolate', () => {
    const j = fromOptax('join_schedules', {
      schedules: [fromOptax('constant_schedule', { value: 2 }), fromOptax('constant_schedule', { value: 3 })],
      boundaries: [4],
    });
    expect([j(3), j(4)]).toEqual([2, 3]);
    const p = fromOptax('piecewise_interpolate_schedule', {
      interpolate_type: 'cosine',
      init_value: 1,
      boundaries_and_scales: { 10: 0.5 },
    });
    expect(p(5)).toBeCloseTo(0.75, 15);
  });
});
