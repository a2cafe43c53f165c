import type { Schedule } from '@blockwise/schedules';

/**
 * A hyperparameter: a constant, or a `Schedule` `(step) => value` (any function of the step,
 * such as those of @blockwise/schedules) evaluated at every update.
 */
export type HyperParameter = number | Schedule;

/** A check on a hyperparameter's value: returns what was expected, or null when it is fine. */
export type HyperCheck = (v: number) => string | null;

/** Finite and >= 0. */
export const nonNegative: HyperCheck = (v) => (Number.isFinite(v) && v >= 0 ? null : 'a finite number >= 0');
/** In [0, 1). */
export const unitInterval: HyperCheck = (v) => (Number.isFinite(v) && v >= 0 && v < 1 ? null : 'a number in [0, 1)');
/** In [0, 1]. */
export const closedUnit: HyperCheck = (v) => (Number.isFinite(v) && v >= 0 && v <= 1 ? null : 'a number in [0, 1]');
/** Finite and > 0. */
export const positive: HyperCheck = (v) => (Number.isFinite(v) && v > 0 ? null : 'a finite number > 0');

/**
 * Validates a hyperparameter at construction: numbers are checked now, schedules must be
 * functions (their values are checked at every step by `evalHyper`).
 */
export function checkHyper(name: string, value: unknown, check: HyperCheck): HyperParameter {
  if (typeof value === 'function') return value as HyperParameter;
  if (typeof value !== 'number') {
    throw new Error(`${name} must be a number or a schedule (step) => number, got ${typeof value}`);
  }
  const expected = check(value);
  if (expected) throw new Error(`${name} must be ${expected}, got ${value}`);
  return value;
}

/** The value of a hyperparameter at `step`, checked; a schedule's bad value throws naming the option. */
export function evalHyper(name: string, value: HyperParameter, step: number, check: HyperCheck): number {
  if (typeof value === 'number') return value;
  const v = value(step);
  const expected = typeof v === 'number' ? check(v) : 'a number';
  if (expected) throw new Error(`${name} schedule returned ${String(v)} at step ${step}; expected ${expected}`);
  return v;
}

/** Converts exclusion patterns (strings are regular-expression sources) to RegExps. */
export function toPatterns(name: string, value: unknown): RegExp[] {
  if (value == null) return [];
  if (!Array.isArray(value)) throw new Error(`${name} must be an array of strings or RegExps, got ${typeof value}`);
  return value.map((p, k) => {
    if (p instanceof RegExp) return p;
    if (typeof p === 'string') return new RegExp(p);
    throw new Error(`${name}[${k}] must be a string or RegExp, got ${typeof p}`);
  });
}

/** True when any pattern matches the name (re.search semantics). */
export function matchesAny(patterns: RegExp[], name: string): boolean {
  return patterns.some((p) => {
    p.lastIndex = 0;
    return p.test(name);
  });
}

/**
 * The exclusion list of the layer adaptation (trust ratio): unset, null or empty falls back to
 * the weight-decay exclusions, as tensorflow-addons LAMB and the model-garden LARS read `[]`.
 */
export function adaptationPatterns(value: unknown, decay: RegExp[]): RegExp[] {
  if (value == null || (Array.isArray(value) && value.length === 0)) return decay;
  return toPatterns('excludeFromLayerAdaptation', value);
}
