/** fromOptax: optax schedule constructors by name with their keyword arguments (`optax/schedules/_schedule.py`). */
import { joinSchedules } from './compose.js';
import { asKwargError, readKwargs, unknownName, type Kwargs } from './kwargs.js';
import { defineSchedule, type Schedule } from './schedule.js';
import { own } from './validate.js';
import {
  constantSchedule,
  cosineDecay,
  exponentialDecay,
  linearSchedule,
  piecewiseConstant,
  piecewiseInterpolate,
  polynomialSchedule,
} from './shapes.js';
import {
  cosineOneCycle,
  linearOneCycle,
  sgdrSchedule,
  warmupConstant,
  warmupCosineDecay,
  warmupExponentialDecay,
  type WarmupCosineDecayOptions,
} from './warmup.js';

type Reader = ReturnType<typeof readKwargs>;

function table(r: Reader): Record<string, () => Schedule> {
  const begin = () => Math.max(0, r.num('transition_begin', 0)); // optax falls back to 0 for a negative begin
  const bs = (): { boundaries: number[]; scales: number[] } => {
    const d = r.kw.boundaries_and_scales ?? {};
    if (typeof d !== 'object' || d === null)
      r.fail('boundaries_and_scales', `must be an object {step: scale}, got ${String(d)}`);
    const entries = Object.entries(d as Record<string, number>);
    return { boundaries: entries.map(([k]) => Number(k)), scales: entries.map(([, v]) => v) };
  };
  const end = () => (r.has('end_value') ? r.num('end_value') : undefined);
  return {
    constant_schedule: () => constantSchedule(r.num('value')),
    linear_schedule: () =>
      linearSchedule({
        initValue: r.num('init_value'),
        endValue: r.num('end_value'),
        transitionSteps: r.num('transition_steps'),
        transitionBegin: begin(),
      }),
    polynomial_schedule: () =>
      polynomialSchedule({
        initValue: r.num('init_value'),
        endValue: r.num('end_value'),
        power: r.num('power'),
        transitionSteps: r.num('transition_steps'),
        transitionBegin: begin(),
      }),
    exponential_decay: () => {
      const e = end();
      return exponentialDecay({
        initValue: r.num('init_value'),
        transitionSteps: r.num('transition_steps'),
        decayRate: r.num('decay_rate'),
        transitionBegin: begin(),
        staircase: r.bool('staircase', false),
        ...(e === undefined ? {} : { endValue: e }),
      });
    },
    cosine_decay_schedule: () => {
      const T = r.num('decay_steps');
      if (!(T > 0)) r.fail('decay_steps', `must be positive (optax raises), got ${T}`);
      return cosineDecay({
        initValue: r.num('init_value'),
        decaySteps: T,
        alpha: r.num('alpha', 0),
        exponent: r.num('exponent', 1),
      });
    },
    piecewise_constant_schedule: () => piecewiseConstant({ initValue: r.num('init_value'), ...bs() }),
    piecewise_interpolate_schedule: () => {
      const kind = r.str('interpolate_type', ['linear', 'cosine'] as const);
      return piecewiseInterpolate({ interpolation: kind, initValue: r.num('init_value'), ...bs() });
    },
    linear_onecycle_schedule: () =>
      linearOneCycle({
        transitionSteps: r.num('transition_steps'),
        peakValue: r.num('peak_value'),
        pctStart: r.num('pct_start', 0.3),
        pctFinal: r.num('pct_final', 0.85),
        divFactor: r.num('div_factor', 25),
        finalDivFactor: r.num('final_div_factor', 1e4),
      }),
    cosine_onecycle_schedule: () =>
      cosineOneCycle({
        transitionSteps: r.num('transition_steps'),
        peakValue: r.num('peak_value'),
        pctStart: r.num('pct_start', 0.3),
        divFactor: r.num('div_factor', 25),
        finalDivFactor: r.num('final_div_factor', 1e4),
      }),
    warmup_constant_schedule: () =>
      warmupConstant({
        initValue: r.num('init_value'),
        peakValue: r.num('peak_value'),
        warmupSteps: r.num('warmup_steps'),
      }),
    warmup_cosine_decay_schedule: () =>
      warmupCosineDecay({
        initValue: r.num('init_value'),
        peakValue: r.num('peak_value'),
        warmupSteps: r.num('warmup_steps'),
        decaySteps: r.num('decay_steps'),
        endValue: r.num('end_value', 0),
        exponent: r.num('exponent', 1),
      }),
    warmup_exponential_decay_schedule: () => {
      const e = end();
      return warmupExponentialDecay({
        initValue: r.num('init_value'),
        peakValue: r.num('peak_value'),
        warmupSteps: r.num('warmup_steps'),
        transitionSteps: r.num('transition_steps'),
        decayRate: r.num('decay_rate'),
        transitionBegin: begin(),
        staircase: r.bool('staircase', false),
        ...(e === undefined ? {} : { endValue: e }),
      });
    },
    sgdr_schedule: () => {
      const list = r.kw.cosine_kwargs;
      if (!Array.isArray(list))
        r.fail('cosine_kwargs', `must be a list of warmup_cosine_decay_schedule kwargs, got ${String(list)}`);
      return sgdrSchedule(
        (list as Kwargs[]).map((k, i) => {
          const s = readKwargs(
            'fromOptax',
            `sgdr_schedule cosine_kwargs[${i}]`,
            k,
            params.warmup_cosine_decay_schedule as string[],
            ['init_value', 'peak_value', 'warmup_steps', 'decay_steps'],
          );
          const o: WarmupCosineDecayOptions = {
            initValue: s.num('init_value'),
            peakValue: s.num('peak_value'),
            warmupSteps: s.num('warmup_steps'),
            decaySteps: s.num('decay_steps'),
            endValue: s.num('end_value', 0),
            exponent: s.num('exponent', 1),
          };
          return o;
        }),
      );
    },
    join_schedules: () => {
      const ss = r.kw.schedules;
      if (!Array.isArray(ss)) r.fail('schedules', `must be a list of schedules, got ${String(ss)}`);
      const b = r.kw.boundaries;
      if (!Array.isArray(b)) r.fail('boundaries', `must be a list of steps, got ${String(b)}`);
      return joinSchedules(ss as Schedule[], b as number[]);
    },
  };
}

const params: Record<string, string[]> = {
  constant_schedule: ['value'],
  linear_schedule: ['init_value', 'end_value', 'transition_steps', 'transition_begin'],
  polynomial_schedule: ['init_value', 'end_value', 'power', 'transition_steps', 'transition_begin'],
  exponential_decay: ['init_value', 'transition_steps', 'decay_rate', 'transition_begin', 'staircase', 'end_value'],
  cosine_decay_schedule: ['init_value', 'decay_steps', 'alpha', 'exponent'],
  piecewise_constant_schedule: ['init_value', 'boundaries_and_scales'],
  piecewise_interpolate_schedule: ['interpolate_type', 'init_value', 'boundaries_and_scales'],
  linear_onecycle_schedule: [
    'transition_steps',
    'peak_value',
    'pct_start',
    'pct_final',
    'div_factor',
    'final_div_factor',
  ],
  cosine_onecycle_schedule: ['transition_steps', 'peak_value', 'pct_start', 'div_factor', 'final_div_factor'],
  warmup_constant_schedule: ['init_value', 'peak_value', 'warmup_steps'],
  warmup_cosine_decay_schedule: ['init_value', 'peak_value', 'warmup_steps', 'decay_steps', 'end_value', 'exponent'],
  warmup_exponential_decay_schedule: [
    'init_value',
    'peak_value',
    'warmup_steps',
    'transition_steps',
    'decay_rate',
    'transition_begin',
    'staircase',
    'end_value',
  ],
  sgdr_schedule: ['cosine_kwargs'],
  join_schedules: ['schedules', 'boundaries'],
};

const required: Record<string, string[]> = {
  constant_schedule: ['value'],
  linear_schedule: ['init_value', 'end_value', 'transition_steps'],
  polynomial_schedule: ['init_value', 'end_value', 'power', 'transition_steps'],
  exponential_decay: ['init_value', 'transition_steps', 'decay_rate'],
  cosine_decay_schedule: ['init_value', 'decay_steps'],
  piecewise_constant_schedule: ['init_value'],
  piecewise_interpolate_schedule: ['interpolate_type', 'init_value'],
  linear_onecycle_schedule: ['transition_steps', 'peak_value'],
  cosine_onecycle_schedule: ['transition_steps', 'peak_value'],
  warmup_constant_schedule: ['init_value', 'peak_value', 'warmup_steps'],
  warmup_cosine_decay_schedule: ['init_value', 'peak_value', 'warmup_steps', 'decay_steps'],
  warmup_exponential_decay_schedule: ['init_value', 'peak_value', 'warmup_steps', 'transition_steps', 'decay_rate'],
  sgdr_schedule: ['cosine_kwargs'],
  join_schedules: ['schedules', 'boundaries'],
};

/** Every name fromOptax accepts (also with the `optax.` / `optax.schedules.` prefix). */
export const optaxScheduleNames: readonly string[] = Object.keys(params);

/**
 * `optax.<name>(**kwargs)` as a Schedule: value = schedule(step), computed in float64 (optax uses float32, so
 * values agree to float32 precision). `lr` is not used: optax schedules carry their own values.
 */
export function fromOptax(name: string, kwargs: Kwargs = {}): Schedule {
  if (typeof name !== 'string') unknownName('fromOptax', name, optaxScheduleNames);
  const key = name.replace(/^optax\.(schedules\.)?/, '');
  if (!own(params, key)) unknownName('fromOptax', name, optaxScheduleNames);
  const r = readKwargs('fromOptax', key, kwargs, params[key] as string[], required[key] as string[]);
  if (r.has('lr')) r.fail('lr', 'is not an optax keyword: optax schedules carry their own values');
  const s = asKwargError('fromOptax', key, kwargs, () => (table(r)[key] as () => Schedule)());
  return defineSchedule({ type: 'fromOptax', name: key, kwargs: { ...kwargs } }, s);
}
