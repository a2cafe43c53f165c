/** The Schedule type, its JSON spec and the wrapper every built-in schedule goes through. */
import { stepCount } from './validate.js';

/** A schedule: a pure function from the step (update count, from 0) to a value such as the learning rate. */
export type Schedule = (step: number) => number;

/** JSON description of a built-in schedule: `type` names the builder, the other fields are its options. */
export interface ScheduleSpec {
  type: string;
  [option: string]: unknown;
}

/** How a schedule treats its step argument. */
export interface StepRule {
  /** Only integer steps are valid (PyTorch, transformers and timm count updates). */
  integer?: boolean;
}

const specs = new WeakMap<Schedule, ScheduleSpec>();

/** Checks a step: finite, >= 0 and, where the reference library counts whole updates, an integer. */
export function checkStep(step: unknown, rule: StepRule = {}): number {
  if (typeof step !== 'number' || !Number.isFinite(step) || step < 0) {
    throw new RangeError(`step must be a finite number >= 0, got ${String(step)}`);
  }
  if (rule.integer && !Number.isInteger(step))
    throw new RangeError(`step must be an integer (an update count), got ${step}`);
  return step;
}

/**
 * Wraps a raw step function as a built-in schedule: validates the step, refuses to return a
 * non-finite value, and records the spec that `toSpec` returns.
 */
export function defineSchedule(spec: ScheduleSpec, fn: (step: number) => number, rule: StepRule = {}): Schedule {
  const schedule: Schedule = (step: number) => {
    const s = checkStep(step, rule);
    const v = fn(s);
    if (!Number.isFinite(v))
      throw new RangeError(`schedule ${spec.type} produced ${v} at step ${s}; check its options`);
    return v;
  };
  specs.set(schedule, spec);
  return schedule;
}

/** The recorded spec of a built-in schedule, or undefined for a user-written function. */
export function specOf(schedule: Schedule): ScheduleSpec | undefined {
  return specs.get(schedule);
}

/** Throws unless `s` is a function (a Schedule). */
export function checkSchedule(name: string, s: unknown): Schedule {
  if (typeof s !== 'function')
    throw new TypeError(`${name} must be a schedule (a function of the step), got ${String(s)}`);
  return s as Schedule;
}

/** Samples a schedule at steps 0..n-1 (handy for plots and tests). */
export function sampleSchedule(schedule: Schedule, n: number, start = 0): number[] {
  checkSchedule('schedule', schedule);
  stepCount('sampleSchedule: n', n, 0);
  checkStep(start);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = schedule(start + i);
  return out;
}
