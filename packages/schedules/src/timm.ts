/** fromTimm: `timm.scheduler` classes, the rate set by `scheduler.step(t)` (formulas as in timm/scheduler/*.py). */
import { asKwargError, readKwargs, unknownName, type Kwargs } from './kwargs.js';
import { defineSchedule, type Schedule } from './schedule.js';
import { own } from './validate.js';

type Reader = ReturnType<typeof readKwargs>;

const base = ['t_in_epochs', 'noise_range_t', 'noise_pct', 'noise_std', 'noise_seed', 'initialize'];

/** Warm-up handling shared by every timm scheduler: warmup_lr_init + t * (target - init)/warmup_t. */
function withTimmWarmup(
  r: Reader,
  lr: number,
  prefixDefault: boolean,
  body: (t: number) => number,
  warmTarget?: () => number,
) {
  const wt = r.int('warmup_t', 0);
  const wInit = r.num('warmup_lr_init', 0);
  const prefix = r.bool('warmup_prefix', prefixDefault);
  const inner = (t: number) => body(prefix ? t - wt : t);
  const target = wt ? (warmTarget ? warmTarget() : lr) : lr;
  const slope = wt ? (target - wInit) / wt : 1;
  return { wt, fn: (t: number) => (t < wt ? wInit + t * slope : inner(t)), inner };
}

/** Cycle index, cycle length and position, as timm computes them (log-based for cycle_mul != 1). */
function cycleOf(t: number, tInitial: number, mul: number): { i: number; ti: number; tc: number } {
  if (mul !== 1) {
    const i = Math.floor(Math.log(1 - (t / tInitial) * (1 - mul)) / Math.log(mul));
    const ti = Math.pow(mul, i) * tInitial;
    return { i, ti, tc: t - ((1 - Math.pow(mul, i)) / (1 - mul)) * tInitial };
  }
  const i = Math.floor(t / tInitial);
  return { i, ti: tInitial, tc: t - tInitial * i };
}

function cyclic(
  r: Reader,
  lr: number,
  shape: (tc: number, ti: number, lrMax: number, lrMin: number) => number,
  powerName?: string,
) {
  const tInitial = r.num('t_initial');
  if (!(tInitial > 0)) r.fail('t_initial', `must be > 0 (timm asserts), got ${tInitial}`);
  const lrMin = r.num('lr_min', 0);
  if (lrMin < 0) r.fail('lr_min', `must be >= 0 (timm asserts), got ${lrMin}`);
  const mul = r.num('cycle_mul', 1);
  const decay = r.num('cycle_decay', 1);
  const limit = r.num('cycle_limit', 1);
  void powerName;
  return withTimmWarmup(r, lr, false, (t) => {
    const { i, ti, tc } = cycleOf(t, tInitial, mul);
    if (i >= limit) return lrMin;
    return shape(tc, ti, lr * Math.pow(decay, i), lrMin);
  }).fn;
}

const cyc = [
  't_initial',
  'lr_min',
  'cycle_mul',
  'cycle_decay',
  'cycle_limit',
  'warmup_t',
  'warmup_lr_init',
  'warmup_prefix',
  'k_decay',
  ...base,
];

const table: Record<
  string,
  { accepted: string[]; required: string[]; make: (r: Reader, lr: number) => (t: number) => number }
> = {
  CosineLRScheduler: {
    accepted: cyc,
    required: ['t_initial'],
    make: (r, lr) => {
      const k = r.num('k_decay', 1);
      return cyclic(
        r,
        lr,
        (tc, ti, hi, lo) => lo + 0.5 * (hi - lo) * (1 + Math.cos((Math.PI * Math.pow(tc, k)) / Math.pow(ti, k))),
      );
    },
  },
  PolyLRScheduler: {
    accepted: [...cyc, 'power'],
    required: ['t_initial'],
    make: (r, lr) => {
      const k = r.num('k_decay', 1);
      const p = r.num('power', 0.5);
      if (p < 0) r.fail('power', `must be >= 0 (a negative power grows without bound as the decay ends), got ${p}`);
      return cyclic(r, lr, (tc, ti, hi, lo) => lo + (hi - lo) * Math.pow(1 - Math.pow(tc, k) / Math.pow(ti, k), p));
    },
  },
  TanhLRScheduler: {
    accepted: [
      't_initial',
      'lb',
      'ub',
      't_mul',
      'lr_min',
      'decay_rate',
      'warmup_t',
      'warmup_lr_init',
      'warmup_prefix',
      'cycle_limit',
      ...base,
    ],
    required: ['t_initial'],
    make: (r, lr) => {
      const tInitial = r.num('t_initial');
      if (!(tInitial > 0)) r.fail('t_initial', `must be > 0 (timm asserts), got ${tInitial}`);
      const lb = r.num('lb', -6);
      const ub = r.num('ub', 4);
      if (!(lb < ub)) r.fail('lb', `must be < ub (timm asserts), got ${lb} >= ${ub}`);
      const mul = r.num('t_mul', 1);
      const lrMin = r.num('lr_min', 0);
      const decay = r.num('decay_rate', 1);
      const limit = r.int('cycle_limit', 0);
      const body = (t: number) => {
        const { i, ti, tc } = cycleOf(t, tInitial, mul);
        if (limit === 0 || i < limit) {
          const g = Math.pow(decay, i);
          const lo = lrMin * g;
          const tr = tc / ti;
          return lo + 0.5 * (lr * g - lo) * (1 - Math.tanh(lb * (1 - tr) + ub * tr));
        }
        return lrMin * Math.pow(decay, limit);
      };
      // timm's tanh warm-up without prefix climbs towards the schedule's value at warmup_t.
      const wt = r.int('warmup_t', 0);
      const prefix = r.bool('warmup_prefix', false);
      return withTimmWarmup(r, lr, false, body, () => (prefix ? lr : body(wt))).fn;
    },
  },
  StepLRScheduler: {
    accepted: ['decay_t', 'decay_rate', 'warmup_t', 'warmup_lr_init', 'warmup_prefix', ...base],
    required: ['decay_t'],
    make: (r, lr) => {
      const dt = r.num('decay_t');
      const rate = r.num('decay_rate', 1);
      return withTimmWarmup(r, lr, true, (t) => lr * Math.pow(rate, Math.floor(t / dt))).fn;
    },
  },
  MultiStepLRScheduler: {
    accepted: ['decay_t', 'decay_rate', 'warmup_t', 'warmup_lr_init', 'warmup_prefix', ...base],
    required: ['decay_t'],
    make: (r, lr) => {
      const ds = r.kw.decay_t;
      if (!Array.isArray(ds) || !ds.every((d) => typeof d === 'number'))
        r.fail('decay_t', `must be a sorted list of numbers, got ${String(ds)}`);
      const rate = r.num('decay_rate', 1);
      // timm: bisect_right(decay_t, t + 1)
      return withTimmWarmup(r, lr, true, (t) => lr * Math.pow(rate, (ds as number[]).filter((d) => d <= t + 1).length))
        .fn;
    },
  },
  WSDLRScheduler: {
    accepted: [
      't_initial',
      'decay_t',
      'lr_min',
      'stable_fn',
      'stable_timescale',
      'stable_power',
      'decay_fn',
      'decay_power',
      'decay_ratio',
      'warmup_t',
      'warmup_lr_init',
      ...base,
    ],
    required: ['t_initial', 'decay_t'],
    make: (r, lr) => {
      const tInitial = r.num('t_initial');
      const decayT = r.num('decay_t');
      const lrMin = r.num('lr_min', 0);
      const wt = r.int('warmup_t', 0);
      if (tInitial <= 0) r.fail('t_initial', `must be > 0, got ${tInitial}`);
      if (!(decayT > 0 && decayT <= tInitial)) r.fail('decay_t', `must be in (0, t_initial], got ${decayT}`);
      if (lrMin < 0) r.fail('lr_min', `must be >= 0, got ${lrMin}`);
      const stableFn = r.str('stable_fn', ['constant', 'rsqrt', 'power'] as const, 'constant');
      const stablePower = r.num('stable_power', 0.5);
      const decayPower = r.num('decay_power', 0.5);
      const ratio = r.num('decay_ratio', 0.1);
      if (!(ratio > 0 && ratio < 1)) r.fail('decay_ratio', `must be in (0, 1), got ${ratio}`);
      if (decayPower <= 0) r.fail('decay_power', `must be > 0, got ${decayPower}`);
      if (stablePower <= 0) r.fail('stable_power', `must be > 0, got ${stablePower}`);
      let timescale = 0;
      if (stableFn !== 'constant') {
        timescale = r.optNum('stable_timescale') ?? wt;
        if (timescale <= 0)
          r.fail(
            'stable_timescale',
            `must be > 0 for stable_fn=${stableFn} (defaults to warmup_t=${wt}), got ${timescale}`,
          );
      }
      const df = r.kw.decay_fn ?? '1-sqrt';
      let decay: (p: number) => number;
      if (typeof df === 'function') decay = df as (p: number) => number;
      else {
        const name = r.str('decay_fn', ['linear', '1-sqrt', 'cosine', 'power', 'exp'] as const, '1-sqrt');
        decay =
          name === 'linear'
            ? (p) => 1 - p
            : name === '1-sqrt'
              ? (p) => 1 - Math.sqrt(p)
              : name === 'cosine'
                ? (p) => 0.5 * (1 + Math.cos(Math.PI * p))
                : name === 'power'
                  ? (p) => 1 - Math.pow(p, decayPower)
                  : (p) => (Math.pow(ratio, p) - ratio) / (1 - ratio);
      }
      const stable = (ts: number) =>
        stableFn === 'constant' ? 1 : Math.pow(1 + ts / timescale, -(stableFn === 'rsqrt' ? 0.5 : stablePower));
      const wInit = r.num('warmup_lr_init', 0);
      return (t) => {
        if (t < wt) return wInit + (t * (lr - wInit)) / wt;
        const ts = t - wt;
        const s = Math.max(lr * stable(ts), lrMin);
        const td = ts - (tInitial - decayT);
        if (td <= 0) return s;
        return lrMin + (s - lrMin) * decay(Math.min(td / decayT, 1));
      };
    },
  },
};

const aliases: Record<string, string> = {
  cosine: 'CosineLRScheduler',
  poly: 'PolyLRScheduler',
  tanh: 'TanhLRScheduler',
  step: 'StepLRScheduler',
  multistep: 'MultiStepLRScheduler',
  wsd: 'WSDLRScheduler',
};

/** Every name fromTimm accepts (class names and the short names of timm's scheduler factory). */
export const timmSchedulerNames: readonly string[] = [...Object.keys(table), ...Object.keys(aliases)];

/**
 * The LR timm sets with `scheduler.step(t)` (or `step_update(t)`), for a `timm.scheduler` class with its constructor
 * kwargs. `lr` (default 1) is the optimizer's LR. LR noise (`noise_range_t`) draws from PyTorch's RNG and is refused;
 * PlateauLRScheduler is not a function of the step and is refused.
 */
export function fromTimm(name: string, kwargs: Kwargs = {}): Schedule {
  const key = own(aliases, name) ?? name;
  const entry = own(table, key);
  if (!entry) unknownName('fromTimm', name, timmSchedulerNames);
  const r = readKwargs('fromTimm', name, kwargs, entry.accepted, entry.required);
  if (r.has('noise_range_t'))
    r.fail('noise_range_t', "adds noise from PyTorch's RNG and cannot be reproduced; pass null");
  const lr = r.lr();
  const f = asKwargError('fromTimm', name, kwargs, () => entry.make(r, lr));
  return defineSchedule({ type: 'fromTimm', name, kwargs: { ...kwargs } }, f, { integer: true });
}
