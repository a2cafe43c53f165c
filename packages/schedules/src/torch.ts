/** fromTorch: `torch.optim.lr_scheduler` (and `torch.optim.swa_utils.SWALR`) as closed-form functions of the update count. */
import { oneCycle } from './cyclic.js';
import { oneCycleMomentum } from './hyperparams.js';
import { asKwargError, readKwargs, unknownName, type Kwargs } from './kwargs.js';
import { defineSchedule, type Schedule } from './schedule.js';
import { own } from './validate.js';

type Reader = ReturnType<typeof readKwargs>;
/** A scheduler's LR after t calls of step(), given the base LR. */
type Closed = (t: number) => number;

interface Entry {
  accepted: string[];
  required: string[];
  /** Returns the LR at step t for base LR `lr`. */
  make: (r: Reader, lr: number) => Closed;
  /** Chainable schedulers multiply the current LR by a ratio, so a ChainedScheduler of them is a product. */
  chainable?: boolean;
}

const common = ['last_epoch', 'verbose'];

function cosineRestarts(r: Reader, lr: number): Closed {
  const t0 = r.int('T_0');
  if (t0 <= 0) r.fail('T_0', `must be a positive integer, got ${t0}`);
  const mult = r.int('T_mult', 1);
  if (mult < 1) r.fail('T_mult', `must be an integer >= 1, got ${mult}`);
  const etaMin = r.num('eta_min', 0);
  return (t) => {
    let start = 0;
    let len = t0;
    if (mult === 1) start = Math.floor(t / t0) * t0;
    else
      while (t >= start + len) {
        start += len;
        len *= mult;
      }
    return etaMin + ((lr - etaMin) * (1 + Math.cos((Math.PI * (t - start)) / len))) / 2;
  };
}

const table: Record<string, Entry> = {
  LambdaLR: {
    accepted: ['lr_lambda', ...common],
    required: ['lr_lambda'],
    make: (r, lr) => {
      const f = r.fn('lr_lambda');
      return (t) => lr * f(t);
    },
  },
  MultiplicativeLR: {
    accepted: ['lr_lambda', ...common],
    required: ['lr_lambda'],
    chainable: true,
    make: (r, lr) => {
      const f = r.fn('lr_lambda');
      // Running products, extended on demand, so stepping through a run costs O(1) per step.
      const products = [lr];
      return (t) => {
        for (let i = products.length; i <= t; i++) products.push(products[i - 1]! * f(i));
        return products[t]!;
      };
    },
  },
  StepLR: {
    accepted: ['step_size', 'gamma', ...common],
    required: ['step_size'],
    chainable: true,
    make: (r, lr) => {
      const size = r.int('step_size');
      if (size <= 0) r.fail('step_size', `must be a positive integer, got ${size}`);
      const g = r.num('gamma', 0.1);
      return (t) => lr * Math.pow(g, Math.floor(t / size));
    },
  },
  MultiStepLR: {
    accepted: ['milestones', 'gamma', ...common],
    required: ['milestones'],
    chainable: true,
    make: (r, lr) => {
      const ms = r.kw.milestones;
      if (!Array.isArray(ms) || !ms.every((m) => Number.isInteger(m)))
        r.fail('milestones', `must be a list of integers, got ${String(ms)}`);
      const sorted = [...(ms as number[])].sort((a, b) => a - b);
      const g = r.num('gamma', 0.1);
      return (t) => lr * Math.pow(g, sorted.filter((m) => m <= t).length);
    },
  },
  ConstantLR: {
    accepted: ['factor', 'total_iters', ...common],
    required: [],
    chainable: true,
    make: (r, lr) => {
      const f = r.num('factor', 1 / 3);
      if (f > 1 || f < 0) r.fail('factor', `must be between 0 and 1 (PyTorch raises), got ${f}`);
      const n = r.int('total_iters', 5);
      return (t) => lr * (t < n ? f : 1);
    },
  },
  LinearLR: {
    accepted: ['start_factor', 'end_factor', 'total_iters', ...common],
    required: [],
    chainable: true,
    make: (r, lr) => {
      const a = r.num('start_factor', 1 / 3);
      const b = r.num('end_factor', 1);
      if (a > 1 || a <= 0) r.fail('start_factor', `must be in (0, 1] (PyTorch raises), got ${a}`);
      if (b > 1 || b < 0) r.fail('end_factor', `must be in [0, 1] (PyTorch raises), got ${b}`);
      const n = r.int('total_iters', 5);
      return (t) => lr * (a + ((b - a) * Math.min(n, t)) / n);
    },
  },
  ExponentialLR: {
    accepted: ['gamma', ...common],
    required: ['gamma'],
    chainable: true,
    make: (r, lr) => {
      const g = r.num('gamma');
      return (t) => lr * Math.pow(g, t);
    },
  },
  PolynomialLR: {
    accepted: ['total_iters', 'power', ...common],
    required: [],
    chainable: true,
    make: (r, lr) => {
      const n = r.int('total_iters', 5);
      // PyTorch divides by total_iters (ZeroDivisionError at 0); a negative one gives a NaN LR.
      if (n <= 0) r.fail('total_iters', `must be > 0, got ${n}`);
      const p = r.num('power', 1);
      if (p < 0) r.fail('power', `must be >= 0 (a negative power grows without bound as the decay ends), got ${p}`);
      return (t) => lr * Math.pow(1 - Math.min(n, t) / n, p);
    },
  },
  CosineAnnealingLR: {
    accepted: ['T_max', 'eta_min', ...common],
    required: ['T_max'],
    make: (r, lr) => {
      const T = r.num('T_max');
      if (T <= 0) r.fail('T_max', `must be > 0, got ${T}`);
      const m = r.num('eta_min', 0);
      return (t) => m + ((lr - m) * (1 + Math.cos((Math.PI * t) / T))) / 2;
    },
  },
  CosineAnnealingWarmRestarts: {
    accepted: ['T_0', 'T_mult', 'eta_min', ...common],
    required: ['T_0'],
    make: cosineRestarts,
  },
  CyclicLR: {
    accepted: [
      'base_lr',
      'max_lr',
      'step_size_up',
      'step_size_down',
      'mode',
      'gamma',
      'scale_fn',
      'scale_mode',
      'cycle_momentum',
      'base_momentum',
      'max_momentum',
      ...common,
    ],
    required: ['base_lr', 'max_lr'],
    make: (r) => {
      const base = r.num('base_lr');
      const max = r.num('max_lr');
      const up = r.num('step_size_up', 2000);
      const down = r.has('step_size_down') ? r.num('step_size_down') : up;
      // PyTorch divides by step_size_up's share of the cycle (ZeroDivisionError at 0).
      if (!(up > 0)) r.fail('step_size_up', `must be > 0, got ${up}`);
      if (!(down >= 0)) r.fail('step_size_down', `must be >= 0, got ${down}`);
      const total = up + down;
      const ratio = up / total;
      const gamma = r.num('gamma', 1);
      let scale: (x: number) => number;
      let byCycle: boolean;
      // PyTorch ignores `mode` when scale_fn is given.
      const mode = r.has('scale_fn')
        ? 'custom'
        : r.str('mode', ['triangular', 'triangular2', 'exp_range'] as const, 'triangular');
      if (mode === 'custom') {
        scale = r.fn('scale_fn');
        byCycle = r.str('scale_mode', ['cycle', 'iterations'] as const, 'cycle') === 'cycle';
      } else if (mode === 'triangular') {
        scale = () => 1;
        byCycle = true;
      } else if (mode === 'triangular2') {
        scale = (x) => 1 / Math.pow(2, x - 1);
        byCycle = true;
      } else {
        scale = (x) => Math.pow(gamma, x);
        byCycle = false;
      }
      return (t) => {
        const cycle = Math.floor(1 + t / total);
        const x = 1 + t / total - cycle;
        const f = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
        return base + (max - base) * f * scale(byCycle ? cycle : t);
      };
    },
  },
  OneCycleLR: {
    accepted: [
      'max_lr',
      'total_steps',
      'epochs',
      'steps_per_epoch',
      'pct_start',
      'anneal_strategy',
      'cycle_momentum',
      'base_momentum',
      'max_momentum',
      'div_factor',
      'final_div_factor',
      'three_phase',
      ...common,
    ],
    required: ['max_lr'],
    make: (r) => {
      let total: number;
      if (r.has('total_steps')) total = r.int('total_steps');
      else if (r.has('epochs') && r.has('steps_per_epoch')) total = r.int('epochs') * r.int('steps_per_epoch');
      else return r.fail('total_steps', 'is required unless epochs and steps_per_epoch are given (PyTorch raises too)');
      if (total <= 0) r.fail('total_steps', `must be a positive integer, got ${total}`);
      const s = oneCycle({
        maxValue: r.num('max_lr'),
        totalSteps: total,
        pctStart: r.num('pct_start', 0.3),
        annealStrategy: r.str('anneal_strategy', ['cos', 'linear'] as const, 'cos'),
        divFactor: r.num('div_factor', 25),
        finalDivFactor: r.num('final_div_factor', 1e4),
        threePhase: r.bool('three_phase', false),
      });
      return s;
    },
  },
  SWALR: {
    accepted: ['swa_lr', 'anneal_epochs', 'anneal_strategy', ...common],
    required: ['swa_lr'],
    make: (r, lr) => {
      const swa = r.num('swa_lr');
      const n = r.int('anneal_epochs', 10);
      if (n < 0) r.fail('anneal_epochs', `must be an integer >= 0, got ${n}`);
      const cos = r.str('anneal_strategy', ['cos', 'linear'] as const, 'cos') === 'cos';
      return (t) => {
        const step = n === 0 ? Math.max(1, t) : t;
        const x = Math.max(0, Math.min(1, step / Math.max(1, n)));
        const a = cos ? (1 - Math.cos(Math.PI * x)) / 2 : x;
        return swa * a + lr * (1 - a);
      };
    },
  },
};

interface SubSpec {
  name: string;
  kwargs?: Kwargs;
}

function subSchedulers(r: Reader, lr: number): { name: string; f: Closed }[] {
  const list = r.kw.schedulers;
  if (!Array.isArray(list) || list.length === 0)
    r.fail('schedulers', `must be a non-empty list of { name, kwargs }, got ${String(list)}`);
  return (list as SubSpec[]).map((s, i) => {
    if (typeof s !== 'object' || s === null || typeof s.name !== 'string')
      r.fail(`schedulers[${i}]`, 'must be { name, kwargs }');
    const entry = own(table, s.name);
    if (!entry) return unknownName(`fromTorch schedulers[${i}]`, s.name, Object.keys(table));
    const sub = readKwargs('fromTorch', s.name, s.kwargs ?? {}, entry.accepted, entry.required);
    return { name: s.name, f: entry.make(sub, lr) };
  });
}

const composite: Record<string, Entry> = {
  SequentialLR: {
    accepted: ['schedulers', 'milestones', ...common],
    required: ['schedulers', 'milestones'],
    make: (r, lr) => {
      const subs = subSchedulers(r, lr);
      const ms = r.kw.milestones;
      if (!Array.isArray(ms) || ms.length !== subs.length - 1 || !ms.every((m) => Number.isInteger(m))) {
        r.fail('milestones', `must list ${subs.length - 1} integers (one fewer than schedulers), got ${String(ms)}`);
      }
      subs.slice(1).forEach((s, i) => {
        if (s.name === 'MultiplicativeLR')
          r.fail(
            `schedulers[${i + 1}]`,
            'MultiplicativeLR after a milestone continues from the previous LR in PyTorch; not supported',
          );
      });
      const m = ms as number[];
      return (t) => {
        let i = 0;
        while (i < m.length && t >= m[i]!) i++;
        return (subs[i] as { f: Closed }).f(i === 0 ? t : t - m[i - 1]!);
      };
    },
  },
  ParamwiseScheduler: {
    // One scheduler per parameter group; a Schedule is one group's LR, chosen by `group` (our keyword, default 0).
    accepted: ['schedulers', 'group'],
    required: ['schedulers'],
    make: (r, lr) => {
      const subs = subSchedulers(r, lr);
      const g = r.int('group', 0);
      if (g < 0 || g >= subs.length) r.fail('group', `must index one of the ${subs.length} schedulers, got ${g}`);
      return (subs[g] as { f: Closed }).f;
    },
  },
  ChainedScheduler: {
    accepted: ['schedulers', 'optimizer'],
    required: ['schedulers'],
    make: (r, lr) => {
      const subs = subSchedulers(r, lr);
      const bad = subs.find((s) => !own(table, s.name)?.chainable);
      if (bad)
        r.fail(
          'schedulers',
          `contains ${bad.name}; only multiplicative (chainable) schedulers compose as a product: ${Object.keys(table)
            .filter((k) => table[k]?.chainable)
            .join(', ')}`,
        );
      return (t) => subs.reduce((v, s) => (lr === 0 ? 0 : (v * s.f(t)) / lr), lr);
    },
  },
};

/** Every name fromTorch accepts. */
export const torchSchedulerNames: readonly string[] = [...Object.keys(table), ...Object.keys(composite)];

/**
 * The LR PyTorch would use for optimizer update `step` (counting from 0) when the scheduler is stepped once per
 * update, i.e. after `step` calls of scheduler.step(), for a `torch.optim.lr_scheduler` class (or `SWALR`) with
 * kwargs spelled as PyTorch spells them. `lr` (default 1) is the optimizer's LR; CyclicLR and OneCycleLR set their own.
 * Functions (lr_lambda, scale_fn) are JS functions. SequentialLR and ChainedScheduler take
 * `schedulers: [{ name, kwargs }]`; ParamwiseScheduler too, plus `group` (which parameter group's LR to return).
 * ReduceLROnPlateau is not a function of the step and is refused.
 */
export function fromTorch(name: string, kwargs: Kwargs = {}): Schedule {
  const entry = own(table, name) ?? own(composite, name);
  if (!entry) unknownName('fromTorch', name, torchSchedulerNames);
  const r = readKwargs('fromTorch', name, kwargs, entry.accepted, entry.required);
  if (r.has('last_epoch') && r.int('last_epoch') !== -1)
    r.fail('last_epoch', 'must be -1 (evaluate the schedule at the resumed step instead)');
  const lr = r.lr();
  const f = asKwargError('fromTorch', name, kwargs, () => entry.make(r, lr));
  return defineSchedule({ type: 'fromTorch', name, kwargs: { ...kwargs } }, f, { integer: true });
}

/**
 * The momentum (SGD momentum or Adam's beta1) that PyTorch's CyclicLR or OneCycleLR sets at update `step` when
 * `cycle_momentum` is true (the default): cycled inversely to the LR between base_momentum and max_momentum.
 */
export function fromTorchMomentum(name: 'CyclicLR' | 'OneCycleLR', kwargs: Kwargs = {}): Schedule {
  if (name !== 'CyclicLR' && name !== 'OneCycleLR') unknownName('fromTorchMomentum', name, ['CyclicLR', 'OneCycleLR']);
  const entry = table[name] as Entry;
  const r = readKwargs('fromTorchMomentum', name, kwargs, entry.accepted, entry.required);
  if (!r.bool('cycle_momentum', true)) r.fail('cycle_momentum', 'is false: PyTorch leaves the momentum alone');
  let f: Closed;
  if (name === 'OneCycleLR') {
    const total = r.has('total_steps') ? r.int('total_steps') : r.int('epochs') * r.int('steps_per_epoch');
    f = oneCycleMomentum({
      totalSteps: total,
      pctStart: r.num('pct_start', 0.3),
      baseMomentum: r.num('base_momentum', 0.85),
      maxMomentum: r.num('max_momentum', 0.95),
      annealStrategy: r.str('anneal_strategy', ['cos', 'linear'] as const, 'cos'),
      threePhase: r.bool('three_phase', false),
    });
  } else {
    const lo = r.num('base_momentum', 0.8);
    const hi = r.num('max_momentum', 0.9);
    // The LR schedule with base 0 and peak 1 is exactly CyclicLR's scale_factor * scale_fn, which momentum mirrors.
    const unit = (table.CyclicLR as Entry).make(
      readKwargs(
        'fromTorchMomentum',
        name,
        { ...kwargs, base_lr: 0, max_lr: 1, lr: undefined },
        entry.accepted,
        entry.required,
      ),
      1,
    );
    f = (t) => hi - (hi - lo) * unit(t);
  }
  return defineSchedule({ type: 'fromTorchMomentum', name, kwargs: { ...kwargs } }, f, { integer: true });
}
