import { describe, expect, it } from 'vitest';
import { fromTorch } from './index.js';

/**
 * PyTorch's scheduler.step() runs the *chainable* recursion (get_lr), not the closed form we implement. These tests
 * port that recursion (torch/optim/lr_scheduler.py, get_lr of each class) and check our closed forms follow it to
 * 1e-9 relative over several hundred steps, including restarts and the ends of each phase.
 */
type Rec = (lr: number, t: number, base: number) => number;

function simulate(first: (base: number) => number, rec: Rec, base: number, n: number): number[] {
  const out = [first(base)]; // the constructor's initial step (last_epoch = 0)
  for (let t = 1; t < n; t++) out.push(rec(out[t - 1]!, t, base));
  return out;
}

function expectFollows(name: string, kwargs: Record<string, unknown>, first: (b: number) => number, rec: Rec, n = 400) {
  const base = 0.1;
  const ours = fromTorch(name, { ...kwargs, lr: base });
  const ref = simulate(first, rec, base, n);
  ref.forEach((v, t) => {
    const got = ours(t);
    expect(Math.abs(got - v) <= 1e-9 * Math.abs(v) + 1e-15, `${name} step ${t}: ours ${got}, recursion ${v}`).toBe(
      true,
    );
  });
}

describe('fromTorch closed forms follow PyTorch recursions', () => {
  it('ConstantLR', () => {
    const f = 0.25,
      n = 30;
    expectFollows(
      'ConstantLR',
      { factor: f, total_iters: n },
      (b) => b * f,
      (lr, t) => (t !== n ? lr : lr * (1 / f)),
    );
  });
  it('LinearLR', () => {
    const a = 0.05,
      e = 0.9,
      n = 40;
    expectFollows(
      'LinearLR',
      { start_factor: a, end_factor: e, total_iters: n },
      (b) => b * a,
      (lr, t) => (t > n ? lr : lr * (1 + (e - a) / (n * a + (t - 1) * (e - a)))),
    );
  });
  it('StepLR and MultiStepLR', () => {
    expectFollows(
      'StepLR',
      { step_size: 30, gamma: 0.5 },
      (b) => b,
      (lr, t) => (t % 30 !== 0 ? lr : lr * 0.5),
    );
    const ms = [10, 50, 50, 200];
    expectFollows(
      'MultiStepLR',
      { milestones: ms, gamma: 0.3 },
      (b) => b,
      (lr, t) => lr * 0.3 ** ms.filter((m) => m === t).length,
    );
  });
  it('ExponentialLR and PolynomialLR', () => {
    expectFollows(
      'ExponentialLR',
      { gamma: 0.99 },
      (b) => b,
      (lr) => lr * 0.99,
    );
    const n = 150,
      p = 0.9;
    expectFollows(
      'PolynomialLR',
      { total_iters: n, power: p },
      (b) => b,
      (lr, t) => (t > n ? lr : lr * ((1 - t / n) / (1 - (t - 1) / n)) ** p),
    );
  });
  it('CosineAnnealingLR through several half periods', () => {
    const T = 50,
      m = 0.01;
    expectFollows(
      'CosineAnnealingLR',
      { T_max: T, eta_min: m },
      (b) => b,
      (lr, t, b) => {
        if ((t - 1 - T) % (2 * T) === 0) return lr + ((b - m) * (1 - Math.cos(Math.PI / T))) / 2;
        return ((1 + Math.cos((Math.PI * t) / T)) / (1 + Math.cos((Math.PI * (t - 1)) / T))) * (lr - m) + m;
      },
    );
  });
  it('CosineAnnealingWarmRestarts by its T_cur / T_i bookkeeping', () => {
    const t0 = 7,
      mult = 3,
      m = 0.001,
      base = 0.1;
    const ours = fromTorch('CosineAnnealingWarmRestarts', { T_0: t0, T_mult: mult, eta_min: m, lr: base });
    let tCur = 0,
      tI = t0;
    for (let t = 0; t < 400; t++) {
      if (t > 0) {
        tCur += 1;
        if (tCur >= tI) {
          tCur %= tI;
          tI *= mult;
        }
      }
      const want = m + ((base - m) * (1 + Math.cos((Math.PI * tCur) / tI))) / 2;
      expect(ours(t)).toBeCloseTo(want, 14);
    }
  });
  it('ChainedScheduler of ConstantLR and ExponentialLR follows the code path', () => {
    // Constructing ConstantLR applies its factor (initial step at last_epoch 0: lr * 0.1); ExponentialLR's initial
    // step keeps the LR; each ChainedScheduler.step() then runs both chainable updates. (The class docstring lists
    // values 10x these, without the initial factor; we follow the code.)
    const s = fromTorch('ChainedScheduler', {
      schedulers: [
        { name: 'ConstantLR', kwargs: { factor: 0.1, total_iters: 20 } },
        { name: 'ExponentialLR', kwargs: { gamma: 0.9 } },
      ],
      lr: 0.05,
    });
    let lr = 0.05 * 0.1;
    for (let t = 0; t < 60; t++) {
      if (t > 0) lr = (t === 20 ? lr / 0.1 : lr) * 0.9;
      expect(s(t)).toBeCloseTo(lr, 15);
    }
  });
  it('SequentialLR docstring: 0.005 until 20, then 0.05, 0.045, 0.0405', () => {
    const s = fromTorch('SequentialLR', {
      schedulers: [
        { name: 'ConstantLR', kwargs: { factor: 0.1, total_iters: 20 } },
        { name: 'ExponentialLR', kwargs: { gamma: 0.9 } },
      ],
      milestones: [20],
      lr: 0.05,
    });
    expect([0, 1, 19].map(s)).toEqual([0.005000000000000001, 0.005000000000000001, 0.005000000000000001]);
    expect(s(20)).toBe(0.05);
    expect(s(21)).toBeCloseTo(0.045, 15);
    expect(s(22)).toBeCloseTo(0.0405, 15);
  });
});
