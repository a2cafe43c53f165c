/** JSON specs for every built-in schedule: toSpec records how it was built, fromSpec rebuilds it (validated). */
import { batchScaledSchedule, type BatchScalingOptions } from './batchSize.js';
import {
  clampSchedule,
  cycleSchedule,
  delaySchedule,
  joinSchedules,
  multiplySchedules,
  scaleSchedule,
  withWarmup,
} from './compose.js';
import { cosineWarmRestarts, cyclicSchedule, oneCycle } from './cyclic.js';
import { blockSizeCurriculum, cosineRamp, oneCycleMomentum, polynomialSparsity } from './hyperparams.js';
import { fromOptax } from './optax.js';
import { powerSchedule } from './power.js';
import { refinedSchedule } from './refined.js';
import { rexSchedule } from './rex.js';
import { specOf, type Schedule, type ScheduleSpec } from './schedule.js';
import * as shapes from './shapes.js';
import { fromTimm } from './timm.js';
import { fromTorch, fromTorchMomentum } from './torch.js';
import { fromTransformers } from './transformers.js';
import * as warm from './warmup.js';
import { didYouMean, own } from './validate.js';
import { rewarmSchedule, warmupStableDecay, wsdsSchedule } from './wsd.js';

type Opts = Record<string, unknown>;
// Builders take the spec without its `type`; nested specs have already been rebuilt into schedules.
const o = (f: (x: any) => Schedule) => (s: Opts) => f(s);
const pick = (s: Opts, k: string) => s[k];
const without = (s: Opts, ...keys: string[]) =>
  Object.fromEntries(Object.entries(s).filter(([k]) => !keys.includes(k)));

const registry: Record<string, (s: Opts) => Schedule> = {
  constantSchedule: (s) => {
    if (Object.keys(s).some((k) => k !== 'value')) throw new TypeError('constantSchedule spec takes only "value"');
    return shapes.constantSchedule(s.value as number);
  },
  polynomialSchedule: o(shapes.polynomialSchedule),
  linearSchedule: o(shapes.linearSchedule),
  exponentialDecay: o(shapes.exponentialDecay),
  cosineDecay: o(shapes.cosineDecay),
  piecewiseConstant: o(shapes.piecewiseConstant),
  piecewiseInterpolate: o(shapes.piecewiseInterpolate),
  stepDecay: o(shapes.stepDecay),
  multiStepDecay: o(shapes.multiStepDecay),
  inverseSqrtSchedule: o(shapes.inverseSqrtSchedule),
  warmupConstant: o(warm.warmupConstant),
  warmupCosineDecay: o(warm.warmupCosineDecay),
  warmupExponentialDecay: o(warm.warmupExponentialDecay),
  sgdrSchedule: (s) => warm.sgdrSchedule(s.cycles as warm.WarmupCosineDecayOptions[]),
  linearOneCycle: o(warm.linearOneCycle),
  cosineOneCycle: o(warm.cosineOneCycle),
  cyclicSchedule: o(cyclicSchedule),
  oneCycle: o(oneCycle),
  cosineWarmRestarts: o(cosineWarmRestarts),
  warmupStableDecay: o(warmupStableDecay),
  wsdsSchedule: o(wsdsSchedule),
  rewarmSchedule: o(rewarmSchedule),
  rexSchedule: o(rexSchedule),
  powerSchedule: o(powerSchedule),
  refinedSchedule: o(refinedSchedule),
  oneCycleMomentum: o(oneCycleMomentum),
  cosineRamp: o(cosineRamp),
  blockSizeCurriculum: o(blockSizeCurriculum),
  polynomialSparsity: o(polynomialSparsity),
  joinSchedules: (s) => joinSchedules(s.schedules as Schedule[], s.boundaries as number[]),
  withWarmup: (s) => withWarmup(s.schedule as Schedule, without(s, 'schedule') as never),
  scaleSchedule: (s) => scaleSchedule(s.schedule as Schedule, s.factor as number),
  clampSchedule: (s) => clampSchedule(s.schedule as Schedule, without(s, 'schedule')),
  multiplySchedules: (s) => {
    if (!Array.isArray(s.schedules))
      throw new TypeError('multiplySchedules spec needs "schedules": an array of specs and numbers');
    return multiplySchedules(...(s.schedules as (Schedule | number)[]));
  },
  cycleSchedule: (s) => cycleSchedule(s.schedule as Schedule, without(s, 'schedule') as never),
  delaySchedule: (s) => delaySchedule(s.schedule as Schedule, s.delay as number),
  batchScaledSchedule: (s) =>
    batchScaledSchedule(s.schedule as Schedule, without(s, 'schedule') as unknown as BatchScalingOptions),
  fromTorch: (s) => fromTorch(pick(s, 'name') as string, s.kwargs as Opts),
  fromTorchMomentum: (s) => fromTorchMomentum(pick(s, 'name') as 'CyclicLR', s.kwargs as Opts),
  fromOptax: (s) => fromOptax(pick(s, 'name') as string, s.kwargs as Opts),
  fromTransformers: (s) => fromTransformers(pick(s, 'name') as string, s.kwargs as Opts),
  fromTimm: (s) => fromTimm(pick(s, 'name') as string, s.kwargs as Opts),
};

/** Every spec type fromSpec understands. */
export const specTypes: readonly string[] = Object.keys(registry);

function toJson(v: unknown, path: string, depth = 0): unknown {
  if (depth > MAX_SPEC_DEPTH) throw new RangeError(`toSpec: ${path} is nested more than ${MAX_SPEC_DEPTH} levels deep`);
  if (typeof v === 'function') {
    const inner = specOf(v as Schedule);
    if (!inner)
      throw new TypeError(`toSpec: ${path} is a user-written function; only built-in schedules have a JSON spec`);
    return toJson(inner, path, depth + 1);
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError(`toSpec: ${path} is ${v}, which JSON cannot hold`);
    return v;
  }
  if (Array.isArray(v)) return v.map((x, i) => toJson(x, `${path}[${i}]`, depth + 1));
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x, `${path}.${k}`, depth + 1)]));
  return v;
}

/** The JSON spec of a built-in schedule (nested schedules included); throws for user-written functions. */
export function toSpec(schedule: Schedule): ScheduleSpec {
  if (typeof schedule !== 'function') throw new TypeError(`toSpec expects a schedule, got ${String(schedule)}`);
  return toJson(schedule, 'schedule') as ScheduleSpec;
}

function isSpec(v: unknown): v is ScheduleSpec {
  return !!v && typeof v === 'object' && !Array.isArray(v) && own(registry, (v as Opts).type) !== undefined;
}

/**
 * Deepest nesting a spec may have. Real compositions nest a few levels; the bound turns a hostile or
 * runaway spec (20,000 levels) into a clear error instead of a stack overflow, here and when the
 * rebuilt schedule (one call frame per level) is evaluated.
 */
export const MAX_SPEC_DEPTH = 100;

function rebuild(v: unknown, depth: number, path: string): unknown {
  if (depth > MAX_SPEC_DEPTH) {
    const where = path.length > 80 ? `${path.slice(0, 40)}...${path.slice(-30)}` : path;
    throw new RangeError(
      `fromSpec: the spec is nested more than ${MAX_SPEC_DEPTH} levels deep (at ${where}); flatten it`,
    );
  }
  if (isSpec(v)) return build(v, depth, path);
  if (Array.isArray(v)) return v.map((x, i) => rebuild(x, depth + 1, `${path}[${i}]`));
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rebuild(x, depth + 1, `${path}.${k}`)]));
  return v;
}

function build(s: Opts, depth: number, path: string): Schedule {
  const type = s.type;
  const make = own(registry, type);
  if (!make) {
    throw new RangeError(
      `fromSpec: unknown type ${describe(type)}; valid types are ${specTypes.join(', ')}${didYouMean(type, specTypes)}`,
    );
  }
  const { type: _t, ...rest } = s;
  void _t;
  const built = Object.fromEntries(Object.entries(rest).map(([k, x]) => [k, rebuild(x, depth + 1, `${path}.${k}`)]));
  try {
    return make(built);
  } catch (e) {
    const err = e as Error;
    if (!err.message.startsWith('fromSpec')) err.message = `fromSpec(${type as string}): ${err.message}`;
    throw err;
  }
}

function describe(v: unknown): string {
  return v === undefined ? 'undefined' : (JSON.stringify(v) ?? String(v));
}

/** JSON.parse recurses per level and overflows the stack on deep input: measure the nesting before parsing. */
function checkJsonDepth(text: string): void {
  // Every spec level is one object, and arrays or kwargs add a level or two each.
  const limit = 3 * MAX_SPEC_DEPTH;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > limit)
        throw new RangeError(`fromSpec: the JSON is nested more than ${limit} levels deep; flatten the spec`);
    } else if (c === 125 || c === 93) depth--;
  }
}

/** Rebuilds a schedule from its JSON spec (an object or a JSON string), validating every field. */
export function fromSpec(spec: ScheduleSpec | string): Schedule {
  let s: unknown = spec;
  if (typeof spec === 'string') {
    checkJsonDepth(spec);
    try {
      s = JSON.parse(spec);
    } catch (e) {
      throw new SyntaxError(`fromSpec: not valid JSON: ${(e as Error).message}`, { cause: e });
    }
  }
  if (!s || typeof s !== 'object' || Array.isArray(s))
    throw new TypeError(`fromSpec expects an object with a "type", got ${String(s)}`);
  return build(s as Opts, 0, 'spec');
}

/** Checks a spec without keeping the schedule: returns null when valid, else the error message. */
export function validateSpec(spec: ScheduleSpec | string): string | null {
  try {
    fromSpec(spec);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
