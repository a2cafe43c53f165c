/**
 * Issue 14's hostile inputs for schedules: each case returned garbage, said "valid", crashed the process
 * or failed late before the fix; each must now give a clear error at the call (or a correct result).
 */
import { describe, expect, it } from 'vitest';
import * as S from './index.js';
import { MAX_SPEC_DEPTH } from './spec.js';

const PROTO_NAMES = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'];

describe('names that are Object.prototype members', () => {
  it.each(PROTO_NAMES)('spec type %j is unknown, as an object and as JSON', (name) => {
    const json = `{"type":${JSON.stringify(name)}}`;
    expect(S.validateSpec(json)).toMatch(
      `fromSpec: unknown type ${JSON.stringify(name)}; valid types are constantSchedule`,
    );
    expect(() => S.fromSpec(JSON.parse(json) as S.ScheduleSpec)).toThrow(/unknown type/);
  });
  it('a nested spec whose type is a prototype member is not rebuilt as a schedule', () => {
    expect(S.validateSpec({ type: 'scaleSchedule', schedule: { type: 'constructor' }, factor: 1 })).toMatch(
      /schedule must be a schedule/,
    );
  });
  it.each(PROTO_NAMES)('interop name %j is unknown to every translator', (name) => {
    expect(() => S.fromTorch(name, {})).toThrow(
      `fromTorch: unknown scheduler ${JSON.stringify(name)}; valid names are`,
    );
    expect(() => S.fromOptax(name, {})).toThrow(`fromOptax: unknown scheduler ${JSON.stringify(name)}`);
    expect(() => S.fromTransformers(name, {})).toThrow(`fromTransformers: unknown scheduler ${JSON.stringify(name)}`);
    expect(() => S.fromTimm(name, {})).toThrow(`fromTimm: unknown scheduler ${JSON.stringify(name)}`);
    expect(() =>
      S.fromTorch('SequentialLR', {
        schedulers: [{ name }, { name: 'StepLR', kwargs: { step_size: 2 } }],
        milestones: [3],
      }),
    ).toThrow(`fromTorch schedulers[0]: unknown scheduler ${JSON.stringify(name)}`);
  });
  it('a non-string name is refused by name, not with a TypeError from inside', () => {
    expect(() => S.fromOptax(5 as never, {})).toThrow('fromOptax: unknown scheduler 5');
  });
});

describe('sizes without a cap', () => {
  it('sampleSchedule refuses 1e9 samples instead of exhausting memory', () => {
    expect(() => S.sampleSchedule(S.constantSchedule(1), 1e9)).toThrow(
      'sampleSchedule: n must be an integer in [0, 10000000], got 1000000000',
    );
    expect(() => S.sampleSchedule(5 as never, 3)).toThrow(/schedule must be a schedule/);
    expect(() => S.sampleSchedule(S.constantSchedule(1), 2, -1)).toThrow(/step must be a finite number >= 0/);
    expect(S.sampleSchedule(S.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 4 }), 3, 1)).toEqual([
      0.75, 0.5, 0.25,
    ]);
  });
  it('plots refuse huge sides and steps, unknown options and non-object options', () => {
    const series = { a: [1, 2, 3] };
    expect(() => S.plotTerminal(series, { width: 1e7 })).toThrow(
      'plotTerminal: width must be an integer in [1, 1000], got 10000000',
    );
    expect(() => S.plotTerminal(series, { height: 1e6 })).toThrow(
      /plotTerminal: height must be an integer in \[1, 500\]/,
    );
    expect(() => S.plotSvg(series, { width: 1e9 })).toThrow(/plotSvg: width must be an integer in \[1, 20000\]/);
    expect(() => S.plotSvg({ s: S.constantSchedule(1) }, { steps: 1e9 })).toThrow(
      /steps must be an integer in \[1, 100000\]/,
    );
    expect(() => S.plotTerminal(series, { widht: 30 } as never)).toThrow('plotTerminal: unknown option "widht"');
    expect(() => S.plot(series, { format: 'png' } as never)).toThrow(
      /format must be one of "svg", "terminal", got "png"/,
    );
    expect(() => S.plot(series, { colour: 'red' } as never)).toThrow('plot: unknown option "colour"');
    expect(() => S.plotTerminal(series, 'wide' as never)).toThrow(/options must be an options object/);
    expect(() => S.plotTerminal({ a: 'abc' as never })).toThrow(/series "a" must be an array or typed array/);
    // A 3-row chart of a rising series: its top row holds the last point, its bottom row the first.
    const rows = S.plotTerminal(series, { width: 3, height: 3 }).split('\n');
    expect(rows[0]).toBe('3 |  *');
    expect(rows[2]).toBe('1 |*  ');
  });
  it('forecasting refuses 1e9 steps', () => {
    const fit = { L0: 1, A: 1, alpha: 0.5, C: 0, lambda: 0.9, rmse: 0 };
    expect(() => S.scheduleLrs(S.constantSchedule(0.1), 1e9)).toThrow(
      /totalSteps must be an integer in \[1, 10000000\]/,
    );
    expect(() => S.rankSchedules(fit, { a: S.constantSchedule(0.1) }, 1e9)).toThrow(
      /totalSteps must be an integer in \[1, 10000000\]/,
    );
  });
  it('autoLRS bounds its trials and stages', async () => {
    const base = {
      minLr: 0.01,
      maxLr: 1,
      stages: 1,
      stageSteps: 10,
      train: () => [3, 2, 1],
      checkpoint: () => 0,
      restore: () => undefined,
    };
    await expect(S.autoLRS({ ...base, trials: 1e6 })).rejects.toThrow('autoLRS: trials must be <= 200, got 1000000');
    await expect(S.autoLRS({ ...base, stages: 1e9 })).rejects.toThrow(
      'autoLRS: stages must be <= 100000, got 1000000000',
    );
    await expect(S.autoLRS({ ...base, kappa: -1 })).rejects.toThrow('autoLRS: kappa must be >= 0, got -1');
    await expect(S.autoLRS({ ...base, timeBudgetMs: 1e12 } as never)).rejects.toThrow(
      'autoLRS: unknown option "timeBudgetMs"',
    );
  });
});

describe('obscure or late failures', () => {
  it('a negative polynomial power is refused when the schedule is built, not at its last step', () => {
    const hint = /power must be >= 0 \(a negative power grows without bound/;
    expect(() => S.polynomialSchedule({ initValue: 1, endValue: 0, power: -2, transitionSteps: 10 })).toThrow(hint);
    expect(() =>
      S.fromOptax('polynomial_schedule', { init_value: 1, end_value: 0, power: -2, transition_steps: 10 }),
    ).toThrow(hint);
    expect(() => S.fromTorch('PolynomialLR', { total_iters: 10, power: -2 })).toThrow(hint);
    expect(() => S.fromTransformers('polynomial', { num_warmup_steps: 0, num_training_steps: 10, power: -2 })).toThrow(
      hint,
    );
    expect(() => S.fromTimm('PolyLRScheduler', { t_initial: 10, power: -2 })).toThrow(hint);
    // power 0 stays valid: (1 - t/T)^0 = 1 everywhere, including 0^0 at the last step (optax agrees).
    expect(S.polynomialSchedule({ initValue: 1, endValue: 0, power: 0, transitionSteps: 10 })(10)).toBe(1);
  });
  it('a NaN or hand-broken fit is refused instead of forecasting NaN', () => {
    const fit = { L0: Number.NaN, A: 1, alpha: 0.5, C: 0, lambda: 0.9, rmse: 0 };
    expect(() => S.predictLossCurve(fit, [0.1, 0.1])).toThrow(
      'predictLossCurve: fit.L0 must be a finite number, got NaN',
    );
    expect(() => S.predictLossCurve({ ...fit, L0: 1, lambda: 2 }, [0.1])).toThrow(
      /fit.lambda must be in \[0, 1\], got 2/,
    );
    expect(() => S.rankSchedules({ ...fit, L0: 1, alpha: Infinity }, {}, 3)).toThrow(
      /rankSchedules: fit.alpha must be a finite number/,
    );
    expect(() => S.forecastError({ ...fit, L0: 1 }, [0.1], [])).toThrow('forecastError: losses is empty');
    expect(() => S.predictLossCurve(null as never, [0.1])).toThrow(
      /predictLossCurve: fit must be an options object, got null/,
    );
  });
  it('fitLossCurve names a NaN loss or a non-array input', () => {
    const lrs = Array.from({ length: 20 }, () => 0.1);
    const losses = lrs.map((_, i) => 2 + 1 / Math.sqrt(i + 1));
    losses[7] = Number.NaN;
    expect(() => S.fitLossCurve({ lrs, losses })).toThrow('losses[7] must be a finite number, got NaN');
    expect(() => S.fitLossCurve({ lrs: 5 as never, losses })).toThrow(
      'lrs must be an array or typed array of numbers, got 5',
    );
  });
  it('the forecast of overflowing LR sums throws instead of returning -Infinity', () => {
    // S2 sums LR drops: a drop of 1.7e308 twice overflows it to Infinity, and C * S2 then is infinite.
    const fit = { L0: 1, A: 1, alpha: 0.5, C: 1, lambda: 0.9, rmse: 0 };
    expect(() => S.predictLossCurve(fit, [1.7e308, 0, 1.7e308, 0])).toThrow(
      /predictLossCurve: the forecast is -?Infinity after update/,
    );
  });
  it('specs nested 20,000 deep give an error, not a stack overflow', () => {
    const deep = (n: number) => {
      let s: S.ScheduleSpec = { type: 'constantSchedule', value: 1 };
      for (let i = 0; i < n; i++) s = { type: 'scaleSchedule', schedule: s, factor: 1 };
      return s;
    };
    expect(S.validateSpec(deep(20_000))).toMatch(
      `fromSpec: the spec is nested more than ${MAX_SPEC_DEPTH} levels deep`,
    );
    // Built by hand: JSON.stringify itself overflows the stack at this depth.
    const text =
      '{"type":"scaleSchedule","factor":1,"schedule":'.repeat(20_000) +
      '{"type":"constantSchedule","value":1}' +
      '}'.repeat(20_000);
    expect(S.validateSpec(text)).toMatch(/fromSpec: the JSON is nested more than \d+ levels deep/);
    // Depth within the bound still round-trips: 50 nested x1 scales of the constant 1 are 1.
    expect(S.fromSpec(JSON.stringify(deep(50)))(3)).toBe(1);
    // Brackets inside strings do not count as nesting.
    expect(S.validateSpec(JSON.stringify({ type: 'fromTorch', name: '['.repeat(1000), kwargs: {} }))).toMatch(
      /unknown scheduler/,
    );
  });
});

describe('misspelt names', () => {
  it('name the nearest valid spelling, and none for an unrelated name', () => {
    expect(() => S.cosineDecay({ initValue: 1, decaySteps: 10, alfa: 0.1 } as never)).toThrow(
      /unknown option "alfa"; valid options are .* \(did you mean "alpha"\?\)$/,
    );
    expect(() => S.fromTorch('StepLr', { step_size: 2 })).toThrow(
      /unknown scheduler "StepLr".*\(did you mean "StepLR"\?\)$/,
    );
    expect(() => S.fromTorch('StepLR', { step_size: 2, gama: 0.1 })).toThrow(
      /unknown keyword "gama".*\(did you mean "gamma"\?\)$/,
    );
    expect(S.validateSpec({ type: 'cosinedecay' })).toMatch(/\(did you mean "cosineDecay"\?\)$/);
    expect(() => S.cosineDecay({ initValue: 1, decaySteps: 10, zzzzzzzz: 1 } as never)).toThrow(
      /valid options are initValue, decaySteps, alpha, exponent$/,
    );
  });
});
