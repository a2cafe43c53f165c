/** fromTransformers: HuggingFace transformers' schedulers (`transformers/optimization.py`), base LR times LambdaLR's factor. */
import { asKwargError, readKwargs, unknownName, type Kwargs } from './kwargs.js';
import { defineSchedule, type Schedule } from './schedule.js';
import { own } from './validate.js';

type Maker = (r: ReturnType<typeof readKwargs>) => (t: number) => number;

function warm(t: number, w: number): number {
  return t / Math.max(1, w);
}

const WSD_TYPES = ['linear', 'cosine', '1-sqrt'] as const;

const table: Record<string, { accepted: string[]; required: string[]; make: Maker }> = {
  constant: { accepted: ['num_warmup_steps', 'num_training_steps', 'last_epoch'], required: [], make: () => () => 1 },
  constant_with_warmup: {
    accepted: ['num_warmup_steps', 'num_training_steps', 'last_epoch'],
    required: ['num_warmup_steps'],
    make: (r) => {
      const w = r.int('num_warmup_steps');
      return (t) => (t < w ? warm(t, w) : 1);
    },
  },
  linear: {
    accepted: ['num_warmup_steps', 'num_training_steps', 'last_epoch'],
    required: ['num_warmup_steps', 'num_training_steps'],
    make: (r) => {
      const w = r.int('num_warmup_steps');
      const T = r.int('num_training_steps');
      return (t) => (t < w ? warm(t, w) : Math.max(0, (T - t) / Math.max(1, T - w)));
    },
  },
  cosine: {
    accepted: ['num_warmup_steps', 'num_training_steps', 'num_cycles', 'last_epoch'],
    required: ['num_warmup_steps', 'num_training_steps'],
    make: (r) => {
      const w = r.int('num_warmup_steps');
      const T = r.int('num_training_steps');
      const c = r.num('num_cycles', 0.5);
      return (t) =>
        t < w ? warm(t, w) : Math.max(0, 0.5 * (1 + Math.cos(Math.PI * c * 2 * ((t - w) / Math.max(1, T - w)))));
    },
  },
  cosine_with_restarts: {
    accepted: ['num_warmup_steps', 'num_training_steps', 'num_cycles', 'last_epoch'],
    required: ['num_warmup_steps', 'num_training_steps'],
    make: (r) => {
      const w = r.int('num_warmup_steps');
      const T = r.int('num_training_steps');
      const c = r.num('num_cycles', 1);
      return (t) => {
        if (t < w) return warm(t, w);
        const p = (t - w) / Math.max(1, T - w);
        if (p >= 1) return 0;
        const x = c * p;
        return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * (x - Math.floor(x)))));
      };
    },
  },
  polynomial: {
    accepted: ['num_warmup_steps', 'num_training_steps', 'lr_end', 'power', 'last_epoch'],
    required: ['num_warmup_steps', 'num_training_steps'],
    make: (r) => {
      const w = r.int('num_warmup_steps');
      const T = r.int('num_training_steps');
      const end = r.num('lr_end', 1e-7);
      const power = r.num('power', 1);
      if (power < 0)
        r.fail('power', `must be >= 0 (a negative power grows without bound as the decay ends), got ${power}`);
      const lr0 = r.lr();
      if (!(lr0 > end)) r.fail('lr_end', `(${end}) must be smaller than initial lr (${lr0}), as transformers requires`);
      return (t) => {
        if (t < w) return warm(t, w);
        if (t > T) return end / lr0;
        const remaining = 1 - (t - w) / (T - w);
        return ((lr0 - end) * Math.pow(remaining, power) + end) / lr0;
      };
    },
  },
  inverse_sqrt: {
    accepted: ['num_warmup_steps', 'num_training_steps', 'timescale', 'last_epoch'],
    required: ['num_warmup_steps'],
    make: (r) => {
      const w = r.int('num_warmup_steps');
      const ts = r.optNum('timescale') ?? (w || 10_000);
      return (t) => (t < w ? warm(t, w) : 1 / Math.sqrt((t + ts - w) / ts));
    },
  },
  cosine_with_min_lr: {
    accepted: ['num_warmup_steps', 'num_training_steps', 'num_cycles', 'min_lr', 'min_lr_rate', 'last_epoch'],
    required: ['num_warmup_steps', 'num_training_steps'],
    make: (r) => {
      const w = r.int('num_warmup_steps');
      const T = r.int('num_training_steps');
      const c = r.num('num_cycles', 0.5);
      const rate = minLrRate(r);
      return (t) => {
        if (t < w) return warm(t, w);
        const p = (t - w) / Math.max(1, T - w);
        const f = 0.5 * (1 + Math.cos(Math.PI * c * 2 * p));
        return Math.max(0, f * (1 - rate) + rate);
      };
    },
  },
  cosine_warmup_with_min_lr: {
    accepted: [
      'num_warmup_steps',
      'num_training_steps',
      'num_cycles',
      'min_lr',
      'min_lr_rate',
      'warmup_lr_rate',
      'last_epoch',
    ],
    required: ['num_warmup_steps', 'num_training_steps'],
    make: (r) => {
      const w = r.int('num_warmup_steps');
      const T = r.int('num_training_steps');
      const c = r.num('num_cycles', 0.5);
      const rate = minLrRate(r);
      const wr = r.optNum('warmup_lr_rate');
      return (t) => {
        if (t < w) return wr === undefined ? (t + 1) / Math.max(1, w) : wr + ((1 - wr) * t) / Math.max(1, w - 1);
        const p = (t - w + 1) / Math.max(1, T - w);
        const f = 0.5 * (1 + Math.cos(Math.PI * c * 2 * p));
        return Math.max(0, f * (1 - rate) + rate);
      };
    },
  },
  warmup_stable_decay: {
    accepted: [
      'num_warmup_steps',
      'num_decay_steps',
      'num_training_steps',
      'num_stable_steps',
      'warmup_type',
      'decay_type',
      'min_lr_ratio',
      'num_cycles',
      'last_epoch',
    ],
    required: ['num_warmup_steps', 'num_decay_steps'],
    make: (r) => {
      const w = r.int('num_warmup_steps');
      const d = r.int('num_decay_steps');
      if (!r.has('num_training_steps') && !r.has('num_stable_steps'))
        r.fail('num_stable_steps', 'or num_training_steps must be given (transformers raises too)');
      const s = r.has('num_stable_steps') ? r.int('num_stable_steps') : r.int('num_training_steps') - w - d;
      const wt = r.str('warmup_type', WSD_TYPES, 'linear');
      const dt = r.str('decay_type', WSD_TYPES, 'cosine');
      const m = r.num('min_lr_ratio', 0);
      const c = r.num('num_cycles', 0.5);
      return (t) => {
        if (t < w) {
          const p = t / Math.max(1, w);
          const f = wt === 'linear' ? p : wt === 'cosine' ? 0.5 * (1 - Math.cos(Math.PI * p)) : 1 - Math.sqrt(1 - p);
          return Math.max(0, f * (1 - m) + m);
        }
        if (t < w + s) return 1;
        if (t < w + s + d) {
          const p = (t - w - s) / Math.max(1, d);
          const f =
            dt === 'linear' ? 1 - p : dt === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * c * 2 * p)) : 1 - Math.sqrt(p);
          return Math.max(0, f * (1 - m) + m);
        }
        return m;
      };
    },
  },
};

function minLrRate(r: ReturnType<typeof readKwargs>): number {
  const minLr = r.optNum('min_lr');
  const rate = r.optNum('min_lr_rate');
  if (minLr !== undefined && rate !== undefined)
    r.fail('min_lr', 'and min_lr_rate are both set; transformers accepts only one');
  if (minLr !== undefined) {
    const lr = r.lr();
    if (lr === 0) r.fail('min_lr', 'needs a non-zero base lr to become a rate');
    return minLr / lr;
  }
  if (rate === undefined) r.fail('min_lr_rate', 'or min_lr must be set (transformers raises too)');
  return rate as number;
}

/** transformers' function names, mapped to the SchedulerType names above. */
const aliases: Record<string, string> = {
  get_constant_schedule: 'constant',
  get_constant_schedule_with_warmup: 'constant_with_warmup',
  get_linear_schedule_with_warmup: 'linear',
  get_cosine_schedule_with_warmup: 'cosine',
  get_cosine_with_hard_restarts_schedule_with_warmup: 'cosine_with_restarts',
  get_polynomial_decay_schedule_with_warmup: 'polynomial',
  get_inverse_sqrt_schedule: 'inverse_sqrt',
  get_cosine_with_min_lr_schedule_with_warmup: 'cosine_with_min_lr',
  get_cosine_with_min_lr_schedule_with_warmup_lr_rate: 'cosine_warmup_with_min_lr',
  get_wsd_schedule: 'warmup_stable_decay',
};

/** get_scheduler's `scheduler_specific_kwargs` are merged into the top-level keywords (a clash throws). */
function flatten(kwargs: Kwargs): Kwargs {
  if (!kwargs || typeof kwargs !== 'object') return kwargs;
  const { scheduler_specific_kwargs: extra, ...rest } = kwargs;
  if (extra === undefined || extra === null) return rest;
  if (typeof extra !== 'object' || Array.isArray(extra))
    throw new TypeError(`fromTransformers: scheduler_specific_kwargs must be an object, got ${String(extra)}`);
  for (const k of Object.keys(extra))
    if (k in rest)
      throw new TypeError(
        `fromTransformers: ${JSON.stringify(k)} is given both directly and in scheduler_specific_kwargs`,
      );
  return { ...rest, ...(extra as Kwargs) };
}

/** Every name fromTransformers accepts (SchedulerType values and get_* function names). */
export const transformersSchedulerNames: readonly string[] = [...Object.keys(table), ...Object.keys(aliases)];

/**
 * The LR transformers would use at optimizer update `step` (after `step` calls of scheduler.step()), for a
 * scheduler named as `SchedulerType` (e.g. 'warmup_stable_decay') or by its function (e.g. 'get_wsd_schedule'),
 * with kwargs spelled as transformers spells them (get_scheduler's `scheduler_specific_kwargs` may be nested or
 * flattened). `lr` (default 1) is the optimizer's base LR.
 * `reduce_lr_on_plateau` is not a function of the step and is refused.
 */
export function fromTransformers(name: string, kwargs: Kwargs = {}): Schedule {
  const key = own(aliases, name) ?? name;
  const entry = own(table, key);
  if (!entry) unknownName('fromTransformers', name, transformersSchedulerNames);
  const r = readKwargs('fromTransformers', name, flatten(kwargs), entry.accepted, entry.required);
  if (r.has('last_epoch') && r.int('last_epoch') !== -1)
    r.fail('last_epoch', 'must be -1 (a resumed scheduler is the same schedule: evaluate it at the resumed step)');
  const lr = r.lr();
  const factor = asKwargError('fromTransformers', name, kwargs, () => entry.make(r));
  return defineSchedule({ type: 'fromTransformers', name, kwargs: { ...kwargs } }, (t) => lr * factor(t), {
    integer: true,
  });
}
