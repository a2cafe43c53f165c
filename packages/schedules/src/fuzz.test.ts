/**
 * Property-based hostile input for every public builder and translator of @blockwise/schedules: one option
 * replaced by a bad value, or one unknown option added. The call must throw an error naming that option, or
 * build a schedule whose values are finite at every step sampled (never a NaN or a late failure).
 * Schedules are plain JavaScript (no tfjs), so there is no backend to vary.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as S from './index.js';

const BAD: unknown[] = [
  Number.NaN,
  Infinity,
  -Infinity,
  -1,
  0,
  0.5,
  1.5,
  1e30,
  -1e30,
  2 ** 40,
  '3',
  null,
  true,
  {},
  [],
  undefined,
];
const STEPS = [0, 1, 2, 7, 50, 99, 100, 101, 1000, 12345];
const RUNS = { seed: 42, numRuns: 300 };

type Builder = [name: string, build: (o: Record<string, unknown>) => S.Schedule, base: Record<string, unknown>];

const wrap = (f: (o: never) => S.Schedule) => (o: Record<string, unknown>) => f(o as never);
const one = S.constantSchedule(1);

const BUILDERS: Builder[] = [
  [
    'polynomialSchedule',
    wrap(S.polynomialSchedule),
    { initValue: 1, endValue: 0.1, power: 2, transitionSteps: 50, transitionBegin: 5 },
  ],
  ['linearSchedule', wrap(S.linearSchedule), { initValue: 1, endValue: 0, transitionSteps: 80, transitionBegin: 2 }],
  [
    'exponentialDecay',
    wrap(S.exponentialDecay),
    { initValue: 1, transitionSteps: 10, decayRate: 0.5, endValue: 0.1, staircase: true },
  ],
  ['cosineDecay', wrap(S.cosineDecay), { initValue: 1, decaySteps: 100, alpha: 0.1, exponent: 1 }],
  ['piecewiseConstant', wrap(S.piecewiseConstant), { initValue: 1, boundaries: [10, 40], scales: [0.5, 0.1] }],
  [
    'piecewiseInterpolate',
    wrap(S.piecewiseInterpolate),
    { interpolation: 'cosine', initValue: 1, boundaries: [10, 40], scales: [0.5, 0.1] },
  ],
  ['stepDecay', wrap(S.stepDecay), { initValue: 1, stepSize: 7, gamma: 0.5 }],
  ['multiStepDecay', wrap(S.multiStepDecay), { initValue: 1, milestones: [10, 30], gamma: 0.1 }],
  ['inverseSqrtSchedule', wrap(S.inverseSqrtSchedule), { peakValue: 1, warmupSteps: 10 }],
  ['warmupConstant', wrap(S.warmupConstant), { peakValue: 1, warmupSteps: 10 }],
  ['warmupCosineDecay', wrap(S.warmupCosineDecay), { peakValue: 1, warmupSteps: 10, decaySteps: 100, endValue: 0.1 }],
  [
    'warmupExponentialDecay',
    wrap(S.warmupExponentialDecay),
    { peakValue: 1, warmupSteps: 10, transitionSteps: 10, decayRate: 0.5 },
  ],
  ['linearOneCycle', wrap(S.linearOneCycle), { transitionSteps: 100, peakValue: 1 }],
  ['cosineOneCycle', wrap(S.cosineOneCycle), { transitionSteps: 100, peakValue: 1 }],
  ['cyclicSchedule', wrap(S.cyclicSchedule), { baseValue: 0.1, maxValue: 1, stepSizeUp: 10, mode: 'triangular2' }],
  ['oneCycle', wrap(S.oneCycle), { maxValue: 1, totalSteps: 100 }],
  ['cosineWarmRestarts', wrap(S.cosineWarmRestarts), { initValue: 1, firstCycleSteps: 10, cycleMult: 2 }],
  [
    'warmupStableDecay',
    wrap(S.warmupStableDecay),
    { peakValue: 1, warmupSteps: 10, stableSteps: 50, decaySteps: 40, decayShape: '1-sqrt', minRatio: 0.1 },
  ],
  ['wsdsSchedule', wrap(S.wsdsSchedule), { peakValue: 1, warmupSteps: 5, budgets: [50, 100] }],
  ['rewarmSchedule', wrap(S.rewarmSchedule), { initValue: 3e-5, peakValue: 3e-4, warmupSteps: 100, totalSteps: 1100 }],
  ['rexSchedule', wrap(S.rexSchedule), { peakValue: 1, totalSteps: 100 }],
  [
    'powerSchedule',
    wrap(S.powerSchedule),
    { a: 4.6, b: -0.51, maxValue: 0.02, batchSize: 1024, tokensPerStep: 4096 * 1024 },
  ],
  ['refinedSchedule', wrap(S.refinedSchedule), { gradNorms: [1, 2, 3, 2, 1, 1, 1], optimizer: 'adam' }],
  ['oneCycleMomentum', wrap(S.oneCycleMomentum), { totalSteps: 100, pctStart: 0.3 }],
  ['cosineRamp', wrap(S.cosineRamp), { initValue: 0, endValue: 1, rampSteps: 10, rampBegin: 5 }],
  ['weightDecaySchedule', wrap(S.weightDecaySchedule), { initValue: 0.04, endValue: 0.4, totalSteps: 100 }],
  ['polynomialSparsity', wrap(S.polynomialSparsity), { finalSparsity: 0.8, beginStep: 0, endStep: 100 }],
  ['blockSizeCurriculum', wrap(S.blockSizeCurriculum), { sizes: [16, 8, 4], totalSteps: 90 }],
  ['withWarmup', (o) => S.withWarmup(one, o as never), { warmupSteps: 10 }],
  ['clampSchedule', (o) => S.clampSchedule(one, o as never), { min: 0, max: 2 }],
  ['cycleSchedule', (o) => S.cycleSchedule(one, o as never), { period: 20, decay: 0.8 }],
  ['fromTorch', (o) => S.fromTorch('OneCycleLR', o), { max_lr: 1, total_steps: 101, pct_start: 0.25 }],
  ['fromTorch', (o) => S.fromTorch('CosineAnnealingWarmRestarts', o), { T_0: 10, T_mult: 2, eta_min: 0.01 }],
  ['fromTorch', (o) => S.fromTorch('PolynomialLR', o), { total_iters: 10, power: 2 }],
  ['fromTorchMomentum', (o) => S.fromTorchMomentum('CyclicLR', o), { base_lr: 0.1, max_lr: 1, step_size_up: 10 }],
  [
    'fromOptax',
    (o) => S.fromOptax('warmup_cosine_decay_schedule', o),
    { init_value: 0, peak_value: 1, warmup_steps: 10, decay_steps: 100 },
  ],
  [
    'fromTransformers',
    (o) => S.fromTransformers('polynomial', o),
    { num_warmup_steps: 10, num_training_steps: 100, power: 2 },
  ],
  [
    'fromTransformers',
    (o) => S.fromTransformers('warmup_stable_decay', o),
    { num_warmup_steps: 10, num_decay_steps: 20, num_training_steps: 100 },
  ],
  ['fromTimm', (o) => S.fromTimm('CosineLRScheduler', o), { t_initial: 100, warmup_t: 5, lr: 0.1, lr_min: 0.01 }],
];

/**
 * A schedule's value at `t`: finite, or a clear error about the step (finite-horizon schedules such as PyTorch's
 * OneCycleLR refuse steps past their end, as PyTorch does). "produced NaN at step t" is the late failure banned here.
 */
function valueAt(s: S.Schedule, t: number, what: string): void {
  let v: number;
  try {
    v = s(t);
  } catch (e) {
    const msg = (e as Error).message;
    expect(msg, `${what} failed late at step ${t}: ${msg}`).not.toMatch(/produced/);
    expect(msg).toMatch(/step/);
    return;
  }
  expect(Number.isFinite(v), `${what} gave ${v} at step ${t}`).toBe(true);
}

/** The error must name the option (as given, or its first word for nested paths such as `scales[1]`). */
function namesOption(message: string, key: string): boolean {
  return message.includes(key);
}

describe('every builder and translator: clear error or finite schedule', () => {
  it('the base options are valid (so each case below corrupts exactly one thing)', () => {
    for (const [name, build, base] of BUILDERS) {
      const s = build(base);
      for (const t of STEPS) valueAt(s, t, name);
    }
  });

  it('one option replaced by a bad value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: BUILDERS.length - 1 }),
        fc.nat(),
        fc.constantFrom(...BAD),
        (bi, ki, bad) => {
          const [name, build, base] = BUILDERS[bi]!;
          const keys = Object.keys(base);
          const key = keys[ki % keys.length]!;
          let s: S.Schedule;
          try {
            s = build({ ...base, [key]: bad });
          } catch (e) {
            const msg = (e as Error).message;
            expect(
              namesOption(msg, key),
              `${name}({ ${key}: ${String(bad)} }) threw without naming ${key}: ${msg}`,
            ).toBe(true);
            return;
          }
          // Accepted: then every value is finite (a late NaN or Infinity error is the silent failure issue 14 bans).
          for (const t of STEPS) valueAt(s, t, `${name}({ ${key}: ${String(bad)} })`);
        },
      ),
      RUNS,
    );
  });

  it('an unknown option is named, with the valid ones', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: BUILDERS.length - 1 }),
        fc.oneof(
          fc.constantFrom('learningrate', 'warmup_step', 'constructor', '__proto__', 'toString', 'steps'),
          fc.string({ minLength: 1, maxLength: 8 }),
        ),
        fc.constantFrom(...BAD),
        (bi, key, value) => {
          const [name, build, base] = BUILDERS[bi]!;
          fc.pre(!Object.prototype.hasOwnProperty.call(base, key));
          // defineProperty: an own "__proto__" key, as JSON.parse would make it.
          const opts = Object.defineProperty({ ...base }, key, {
            value,
            enumerable: true,
            configurable: true,
            writable: true,
          });
          let err: Error | undefined;
          try {
            build(opts);
          } catch (e) {
            err = e as Error;
          }
          expect(err, `${name} accepted the unknown option ${JSON.stringify(key)}`).toBeInstanceOf(Error);
          expect(err!.message).toMatch(/unknown (option|keyword)/);
          expect(err!.message).toContain(JSON.stringify(key));
        },
      ),
      RUNS,
    );
  });

  it('steps, specs and samples: a bad step or size is named, a hostile spec is refused', () => {
    fc.assert(
      fc.property(fc.constantFrom(...BAD), fc.integer({ min: 0, max: BUILDERS.length - 1 }), (bad, bi) => {
        const [, build, base] = BUILDERS[bi]!;
        const s = build(base);
        if (typeof bad !== 'number' || !Number.isFinite(bad) || bad < 0) {
          expect(() => s(bad as number)).toThrow(/^step must be a finite number >= 0/);
        } else valueAt(s, bad, 'schedule');
        try {
          expect(S.sampleSchedule(s, bad as number)).toHaveLength(bad as number);
        } catch (e) {
          expect((e as Error).message).toMatch(/sampleSchedule: n must be an integer in \[0, 10000000\]/);
        }
        // A spec round-trips exactly, and a corrupted one is refused by validateSpec with a message, never "valid".
        const spec = S.toSpec(s);
        expect(S.fromSpec(JSON.stringify(spec))(7)).toBe(s(7));
        const broken = { ...spec, type: typeof bad === 'string' ? 'toString' : bad };
        expect(S.validateSpec(broken as S.ScheduleSpec)).toMatch(/unknown type/);
      }),
      { seed: 42, numRuns: 100 },
    );
  });
});

/** Entry points with positional arguments: [name, call, valid arguments]. */
type Call = [name: string, call: (...args: unknown[]) => unknown, args: unknown[]];
const hg = { initialLr: 0.1, hyperLr: 0.01, minLr: 0.01, maxLr: 0.2 };
const lrs = Array.from({ length: 30 }, (_, i) => 0.1 * (1 - i / 40));
const fit = S.fitLossCurve({ lrs, losses: lrs.map((_, i) => 2 + 1 / Math.sqrt(i + 1)) });
const CALLS: Call[] = [
  ['constantSchedule', (v) => S.constantSchedule(v as number), [0.5]],
  ['scaleSchedule', (a, b) => S.scaleSchedule(a as S.Schedule, b as number), [one, 2]],
  ['delaySchedule', (a, b) => S.delaySchedule(a as S.Schedule, b as number), [one, 5]],
  ['joinSchedules', (a, b) => S.joinSchedules(a as S.Schedule[], b as number[]), [[one, S.constantSchedule(2)], [10]]],
  ['multiplySchedules', (a, b) => S.multiplySchedules(a as S.Schedule, b as number), [one, 0.5]],
  ['sgdrSchedule', (a) => S.sgdrSchedule(a as never), [[{ peakValue: 1, warmupSteps: 5, decaySteps: 50 }]]],
  [
    'scaleLearningRate',
    (a, b) => S.scaleLearningRate(a as number, b as never),
    [0.1, { baseBatchSize: 256, batchSize: 1024, optimizer: 'sgd' }],
  ],
  [
    'batchScaledSchedule',
    (a, b) => S.batchScaledSchedule(a as S.Schedule, b as never),
    [one, { baseBatchSize: 256, batchSize: 1024, rule: 'sqrt' }],
  ],
  ['refinedShape', (a, b, c) => S.refinedShape(a as number[], b as 'adam', c as number), [[1, 2, 3, 2, 1], 'adam', 1]],
  ['wsdsCheckpoints', (a) => S.wsdsCheckpoints(a as never), [{ peakValue: 1, warmupSteps: 5, budgets: [50, 100] }]],
  ['hypergradientInit', (a) => S.hypergradientInit(a as never), [hg]],
  [
    'hypergradientStep',
    (a, b, c) => S.hypergradientStep(a as never, b as number[], c as never),
    [S.hypergradientInit(hg), [1, 2], hg],
  ],
  ['createHypergradientLR', (a) => S.createHypergradientLR(a as never).lr, [hg]],
  [
    'multigridSchedule',
    (a) => S.multigridSchedule(a as never)(17),
    [{ baseBatchSize: 8, baseShape: [16, 32, 32], longCycleSteps: 40, totalSteps: 200, finalFraction: 0.2 }],
  ],
  [
    'mixtureSchedule',
    (a) => S.mixtureSchedule(a as never)(95),
    [{ weights: { web: 3, code: 1 }, finalWeights: { web: 1, code: 1, math: 2 }, totalSteps: 100, finalFraction: 0.2 }],
  ],
  ['fitLossCurve', (a) => S.fitLossCurve(a as never), [{ lrs, losses: lrs.map((_, i) => 2 + 1 / Math.sqrt(i + 1)) }]],
  ['predictLossCurve', (a, b) => S.predictLossCurve(a as never, b as number[]), [fit, lrs]],
  [
    'forecastError',
    (a, b, c) => S.forecastError(a as never, b as number[], c as number[]),
    [fit, lrs, [2.5, 2.4, 2.3]],
  ],
  [
    'rankSchedules',
    (a, b, c) => S.rankSchedules(a as never, b as never, c as number).map((r) => r.finalLoss),
    [fit, { a: S.constantSchedule(0.1) }, 40],
  ],
  [
    'plotTerminal',
    (a, b) => S.plotTerminal(a as never, b as never).length,
    [{ a: [1, 2, 3] }, { width: 20, height: 5 }],
  ],
  ['plotSvg', (a, b) => S.plotSvg(a as never, b as never).length, [{ a: one }, { steps: 10 }]],
  ['fromSpec', (a) => S.fromSpec(a as never), [{ type: 'constantSchedule', value: 1 }]],
  ['toSpec', (a) => S.toSpec(a as never).type, [one]],
];

/** Every number in a result, however nested (schedules are sampled). */
function numbersIn(v: unknown, out: number[] = [], depth = 0): number[] {
  if (depth > 4) return out;
  if (typeof v === 'number') out.push(v);
  else if (typeof v === 'function') for (const t of [0, 1, 7, 50]) numbersIn((v as S.Schedule)(t), out, depth + 1);
  else if (Array.isArray(v) || ArrayBuffer.isView(v))
    for (const x of Array.from(v as ArrayLike<unknown>)) numbersIn(x, out, depth + 1);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) numbersIn(x, out, depth + 1);
  return out;
}

describe('positional entry points: clear error or finite result', () => {
  it('one argument replaced by a bad value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: CALLS.length - 1 }),
        fc.nat(),
        fc.constantFrom(...BAD, one, [one], { a: Number.NaN }),
        (ci, ai, bad) => {
          const [name, call, args] = CALLS[ci]!;
          const i = ai % args.length;
          const a = [...args];
          a[i] = bad;
          let out: unknown;
          try {
            out = call(...a);
          } catch (e) {
            // A clear error is one the library wrote: not a TypeError from deep inside, and not a late NaN.
            const msg = (e as Error).message;
            expect(msg, `${name} with argument ${i} = ${String(bad)}`).not.toMatch(
              /Cannot read|is not a function|is not iterable|produced NaN/,
            );
            return;
          }
          for (const v of numbersIn(out))
            expect(Number.isFinite(v), `${name} with argument ${i} = ${String(bad)} gave ${v}`).toBe(true);
        },
      ),
      RUNS,
    );
  });
});
