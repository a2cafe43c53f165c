import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { describeBackends, expectClose } from '@blockwise/tensor/testing';
import { BlockwiseFlow, segmentBoundaries } from './blockwise.js';
import { trainClassifier } from './classifier.js';
import { classifierFreeGuidance, guidedVelocity } from './guidance.js';
import { logLikelihood } from './likelihood.js';
import { createMlp } from './mlp.js';
import { exactW2, frechetDistance, mmdRbf, slicedWasserstein } from './metrics.js';
import { solveOde, type VelocityFn } from './ode.js';
import { affinePath } from './path.js';
import { condOTScheduler, polynomialScheduler, vpScheduler } from './schedulers.js';
import { linearAssignment, squaredDistances } from './assignment.js';
import { flipTime } from './convention.js';
import { denseFlops, timeFeatures } from './mlp.js';
import { divergence } from './likelihood.js';
import { checkTimeGrid, dynamicShiftMu, dynamicShiftTime, shiftTime, uniformTimeGrid } from './timegrid.js';
import { sampleToy } from './toys.js';
import { drawFlowBatch, otCoupling, trainFlowMatching } from './training.js';
import { createRng } from '@blockwise/tensor';
import { createVelocityMlp, velocityFromLayersModel } from './velocity.js';

// Every public entry point that takes options or data, driven with one corrupted option, argument
// or tensor at a time: the call must throw an error naming what is wrong, or return a finite
// result that agrees with a reference (an exact solution or the same call without the option).

/** What a corrupted option or argument is replaced with. */
const BAD: unknown[] = [NaN, Infinity, -Infinity, -1, 0, 1.5, 1e30, 2 ** 40, 'yes', null, true, {}, [], () => 1];
const FC = { seed: 42, numRuns: 80 };
const path = affinePath(condOTScheduler());

/** A corruption: an unknown option name, or a known option (or argument) replaced by a bad value. */
type Mutation = { kind: 'unknown'; key: string } | { kind: 'bad'; key: string; value: unknown };

function mutations(keys: readonly string[]): fc.Arbitrary<Mutation> {
  const unknown = fc
    .string({ minLength: 1, maxLength: 12 })
    .filter((k) => !keys.includes(k) && k !== '__proto__')
    .map((key): Mutation => ({ kind: 'unknown', key }));
  const bad = fc
    .record({ key: fc.constantFrom(...keys), value: fc.constantFrom(...BAD) })
    .map((m): Mutation => ({ kind: 'bad', ...m }));
  return fc.oneof(unknown, bad);
}

function apply(base: Record<string, unknown>, m: Mutation): Record<string, unknown> {
  return { ...base, [m.key]: m.kind === 'unknown' ? 1 : m.value };
}

/** The error must name the option (its key, or for an unknown key, that key quoted). */
function expectNamed(e: unknown, m: Mutation): void {
  const msg = e instanceof Error ? e.message : String(e);
  if (m.kind === 'unknown') expect(msg, `unknown ${m.key}`).toContain(`unknown option ${JSON.stringify(m.key)}`);
  else expect(msg, `bad ${m.key} = ${String(m.value)}`).toContain(m.key);
}

/** Runs `call` with the mutation; on success hands the result to `check`. */
async function probe<T>(m: Mutation, call: () => T | Promise<T>, check: (r: T) => void | Promise<void>): Promise<void> {
  let r: T;
  try {
    r = await call();
  } catch (e) {
    expectNamed(e, m);
    return;
  }
  // Accepted: only an unknown key must never be accepted.
  expect(m.kind, `accepted unknown option ${m.key}`).toBe('bad');
  await check(r);
}

const allFinite = async (t: tf.Tensor): Promise<boolean> => Array.from(await t.data()).every(Number.isFinite);

describeBackends(['cpu', 'wasm'], (backend) => {
  // dx/dt = -x from x0 = [1, -2]: exact x(1) = x0 / e. Any accepted solve of this contracting
  // field is at least as accurate as one Euler step (error |x0| / e), so within 0.37 |x0| + 1e-3.
  const decay: VelocityFn = (x) => tf.neg(x);
  const x0Vals = [1, -2];
  const SOLVE_KEYS = [
    'method',
    'timeGrid',
    'stepSize',
    'returnIntermediates',
    'checkFinite',
    'syncEvery',
    'rtol',
    'atol',
    'safety',
    'ifactor',
    'dfactor',
    'firstStep',
    'maxSteps',
  ];

  it(`solveOde: bad options throw naming them, or the result is finite and accurate [${backend}]`, async () => {
    const x0 = tf.tensor1d(x0Vals);
    const n0 = tf.memory().numTensors;
    await fc.assert(
      fc.asyncProperty(mutations(SOLVE_KEYS), fc.constantFrom('euler', 'rk4', 'dopri5'), async (m, method) => {
        const opts = apply({ method }, m);
        await probe(
          m,
          () => solveOde(decay, x0, opts as never),
          async (r) => {
            const got = Array.from(await r.x.data());
            const endT = Array.isArray(opts.timeGrid) ? opts.timeGrid[opts.timeGrid.length - 1]! : 1;
            got.forEach((g, i) => {
              const want = x0Vals[i]! * Math.exp(-endT);
              expect(Number.isFinite(g)).toBe(true);
              expect(
                Math.abs(g - want),
                `${method} ${m.key}=${String((m as { value?: unknown }).value)}`,
              ).toBeLessThanOrEqual(0.37 * Math.abs(x0Vals[i]!) + 1e-3);
            });
            tf.dispose([r.x, ...(r.intermediates ?? [])]);
          },
        );
      }),
      FC,
    );
    expect(tf.memory().numTensors).toBe(n0);
    x0.dispose();
  });

  it(`solveOde and BlockwiseFlow.sample: bad states (NaN, Inf, empty, int32, wrong rank) are named [${backend}]`, async () => {
    const f = new BlockwiseFlow({ dim: 2, segments: 2, hidden: [4], seed: 1 });
    const states = fc.constantFrom<[string, () => tf.Tensor]>(
      ['NaN', () => tf.tensor2d([[NaN, 1]])],
      ['Inf', () => tf.tensor2d([[Infinity, 1]])],
      ['-Inf', () => tf.tensor2d([[1, -Infinity]])],
      ['empty', () => tf.zeros([0, 2])],
      ['int32', () => tf.tensor2d([[1, 2]], [1, 2], 'int32')],
      ['rank 1', () => tf.tensor1d([1, 2])],
      ['1e30', () => tf.tensor2d([[1e30, -1e30]])],
    );
    await fc.assert(
      fc.asyncProperty(states, fc.constantFrom('euler', 'rk4', 'dopri5', 'sample'), async ([name, make], method) => {
        const x = make();
        try {
          const r =
            method === 'sample'
              ? await f.sample(x as tf.Tensor2D, { steps: 2 })
              : await solveOde(decay, x, { method: method as 'euler' });
          // Only finite, float32, non-empty states of the right rank may pass; 1e30 decays exactly.
          expect(name === '1e30' || (name === 'rank 1' && method !== 'sample'), `${name} accepted by ${method}`).toBe(
            true,
          );
          expect(await allFinite(r.x)).toBe(true);
          if (method !== 'sample') {
            const got = Array.from(await r.x.data());
            const want = Array.from(await x.data()).map((v) => v * Math.exp(-1));
            got.forEach((g, i) =>
              expect(Math.abs(g - want[i]!)).toBeLessThanOrEqual(0.37 * Math.abs(want[i]! * Math.E) + 1e-3),
            );
          }
          r.x.dispose();
        } catch (e) {
          expect((e as Error).message).toMatch(/x0/);
        } finally {
          x.dispose();
        }
      }),
      { seed: 42, numRuns: 20 },
    );
    f.dispose();
  });

  it(`BlockwiseFlow: bad config, train and sample options throw naming them [${backend}]`, async () => {
    const data = sampleToy('twoMoons', 32, 1);
    const CONFIG = [
      'dim',
      'segments',
      'hidden',
      'frequencies',
      'activation',
      'seed',
      'features',
      'stateFrequencies',
      'stateScale',
    ];
    const TRAIN = [
      'data',
      'path',
      'steps',
      'batchSize',
      'learningRate',
      'optimizer',
      'seed',
      'ot',
      'stratified',
      'logEvery',
      'onLog',
      'syncEvery',
    ];
    const SAMPLE = ['steps', 'method', 'residual', 'checkFinite'];
    const target = fc.constantFrom('config', 'train', 'sample');
    await fc.assert(
      fc.asyncProperty(target, fc.nat(), async (which, pick) => {
        const keys = which === 'config' ? CONFIG : which === 'train' ? TRAIN : SAMPLE;
        const m = fc.sample(mutations(keys), { seed: pick, numRuns: 1 })[0] as Mutation;
        const n0 = tf.memory().numTensors;
        if (which === 'config') {
          await probe(
            m,
            () => new BlockwiseFlow(apply({ dim: 2, segments: 2, hidden: [4] }, m) as never),
            async (f) => {
              expect(f.K).toBeGreaterThanOrEqual(1);
              f.dispose();
            },
          );
        } else {
          const f = new BlockwiseFlow({ dim: 2, segments: 2, hidden: [4], seed: 1 });
          const n1 = tf.memory().numTensors;
          if (which === 'train') {
            await probe(
              m,
              () => f.train(apply({ data, path, steps: 2, batchSize: 8 }, m) as never),
              async (losses) => {
                expect(losses.every(Number.isFinite)).toBe(true);
              },
            );
            for (const v of f.trainableVariables) expect(await allFinite(v), 'parameters stay finite').toBe(true);
          } else {
            const x0 = tf.tensor2d([[0.5, -0.5]]);
            await probe(
              m,
              () => f.sample(x0, apply({ steps: 2 }, m) as never),
              async (r) => {
                expect(await allFinite(r.x)).toBe(true);
                r.x.dispose();
              },
            );
            x0.dispose();
          }
          expect(tf.memory().numTensors, `${which} leaks`).toBe(n1);
          f.dispose();
        }
        expect(tf.memory().numTensors, `${which} leaks`).toBe(n0);
      }),
      FC,
    );
  });

  it(`trainFlowMatching, logLikelihood, createMlp, createVelocityMlp: bad options throw naming them [${backend}]`, async () => {
    const data = sampleToy('rings', 32, 2);
    const entries = ['trainFlowMatching', 'logLikelihood', 'createMlp', 'createVelocityMlp'] as const;
    const keysOf = {
      trainFlowMatching: [
        'data',
        'dim',
        'path',
        'steps',
        'batchSize',
        'learningRate',
        'optimizer',
        'ot',
        'seed',
        'onLog',
        'logEvery',
        'syncEvery',
      ],
      logLikelihood: ['method', 'steps', 'rtol', 'atol', 'divergence', 'probe', 'seed', 'logP0'],
      createMlp: ['inputDim', 'hidden', 'outputDim', 'activation', 'seed'],
      createVelocityMlp: [
        'dim',
        'hidden',
        'condDim',
        'frequencies',
        'activation',
        'seed',
        'stateFrequencies',
        'stateScale',
      ],
    };
    // logLikelihood of dx/dt = 0 is the noise density itself: log N(x) per row.
    const x1 = tf.tensor2d([[0.5, -1]]);
    const exactLogP = -0.5 * (0.25 + 1) - Math.log(2 * Math.PI);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...entries), fc.nat(), async (entry, pick) => {
        const m = fc.sample(mutations(keysOf[entry]), { seed: pick, numRuns: 1 })[0] as Mutation;
        const n0 = tf.memory().numTensors;
        if (entry === 'trainFlowMatching') {
          const model = createVelocityMlp({ dim: 2, hidden: [4], seed: 1 });
          await probe(
            m,
            () => trainFlowMatching(model, apply({ data, dim: 2, path, steps: 2, batchSize: 8 }, m) as never),
            (losses) => {
              expect(losses.every(Number.isFinite)).toBe(true);
            },
          );
          for (const v of model.trainableVariables) expect(await allFinite(v)).toBe(true);
          model.dispose();
        } else if (entry === 'logLikelihood') {
          await probe(
            m,
            () => logLikelihood((x) => tf.zerosLike(x), x1, apply({ steps: 2 }, m) as never),
            async (r) => {
              const lp = (await r.logLikelihood.data())[0]!;
              // A logP0 that is not the default changes the answer; only check finiteness then.
              if (m.key !== 'logP0') expect(Math.abs(lp - exactLogP)).toBeLessThan(1e-4);
              else expect(Number.isFinite(lp)).toBe(true);
              tf.dispose([r.logLikelihood, r.x0]);
            },
          );
        } else if (entry === 'createMlp') {
          await probe(
            m,
            () => createMlp(apply({ inputDim: 2, hidden: [3], outputDim: 1 }, m) as never),
            async (mlp) => {
              const x = tf.ones([1, mlp.config.inputDim]) as tf.Tensor2D;
              const y = mlp.apply(x);
              expect(await allFinite(y)).toBe(true);
              tf.dispose([x, y]);
              mlp.dispose();
            },
          );
        } else {
          await probe(
            m,
            () => createVelocityMlp(apply({ dim: 2, hidden: [3] }, m) as never),
            async (v) => {
              const x = tf.ones([1, 2]) as tf.Tensor2D;
              const cd = (m as { value?: unknown }).value;
              const c = (m.key === 'condDim' && typeof cd === 'number' && cd > 0 ? tf.ones([1, cd]) : undefined) as
                tf.Tensor2D | undefined;
              const y = v.predict(x, 0.5, c);
              expect(await allFinite(y)).toBe(true);
              tf.dispose([x, y, ...(c ? [c] : [])]);
              v.dispose();
            },
          );
        }
        expect(tf.memory().numTensors, `${entry} leaks`).toBe(n0);
      }),
      FC,
    );
    x1.dispose();
  });

  it(`metrics, grids, toys, guidance, classifier: bad arguments throw naming them [${backend}]`, async () => {
    const a = sampleToy('eightGaussians', 16, 1);
    const b = sampleToy('eightGaussians', 16, 2);
    const ref = {
      sw: slicedWasserstein(a, b, 2),
      mmd: mmdRbf(a, b, 2),
      w2: exactW2(a, b, 2),
      fd: frechetDistance(a, b, 2),
    };
    const entries = [
      'slicedWasserstein',
      'mmdRbf',
      'samples',
      'uniformTimeGrid',
      'shiftTime',
      'dynamicShiftMu',
      'sampleToy',
      'guidance',
      'trainClassifier',
      'segmentBoundaries',
      'velocityFromLayersModel',
    ] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...entries), fc.nat(), async (entry, pick) => {
        const one = <T>(arb: fc.Arbitrary<T>): T => fc.sample(arb, { seed: pick, numRuns: 1 })[0] as T;
        const bad = one(fc.constantFrom(...BAD));
        const m = (key: string): Mutation => ({ kind: 'bad', key, value: bad });
        switch (entry) {
          case 'slicedWasserstein': {
            const mu = one(mutations(['projections', 'seed']));
            return probe(
              mu,
              () => slicedWasserstein(a, b, 2, apply({}, mu)),
              (r) => expect(Number.isFinite(r)).toBe(true),
            );
          }
          case 'mmdRbf': {
            const mu = one(mutations(['bandwidths', 'unbiased']));
            return probe(
              mu,
              () => mmdRbf(a, b, 2, apply({}, mu)),
              (r) => expect(Number.isFinite(r)).toBe(true),
            );
          }
          case 'samples': {
            // One corrupted sample value: named with its array and index, never a NaN distance.
            const c = a.slice();
            c[3] = typeof bad === 'number' ? bad : NaN;
            const fns = [
              () => slicedWasserstein(c, b, 2),
              () => mmdRbf(c, b, 2),
              () => exactW2(c, b, 2),
              () => frechetDistance(c, b, 2),
            ];
            const refs = [ref.sw, ref.mmd, ref.w2, ref.fd];
            for (const [i, fn] of fns.entries()) {
              try {
                const r = fn();
                expect(Number.isFinite(c[3]), `non-finite sample accepted`).toBe(true);
                expect(Number.isFinite(r)).toBe(true);
                if (c[3] === a[3]) expect(r).toBeCloseTo(refs[i]!, 9);
              } catch (e) {
                expect((e as Error).message).toMatch(/a\[3\]/);
              }
            }
            return;
          }
          case 'uniformTimeGrid':
            return probe(
              m('steps'),
              () => uniformTimeGrid(bad as number),
              (g) => {
                expect(g[0]).toBe(0);
                expect(g[g.length - 1]).toBe(1);
              },
            );
          case 'shiftTime':
            return probe(
              m('shift'),
              () => shiftTime(0.5, bad as number),
              (t) => expect(t).toBeGreaterThanOrEqual(0),
            );
          case 'dynamicShiftMu': {
            const mu = one(mutations(['baseSeqLen', 'maxSeqLen', 'baseShift', 'maxShift']));
            return probe(
              mu,
              () => dynamicShiftMu(1024, apply({}, mu)),
              (r) => expect(Number.isFinite(r)).toBe(true),
            );
          }
          case 'sampleToy':
            return probe(
              m('n'),
              () => sampleToy('rings', bad as number, 1),
              (x) => expect(x.every(Number.isFinite)).toBe(true),
            );
          case 'guidance': {
            const mu = one(mutations(['scale', 'convention']));
            const c = tf.tensor1d([2, 0]);
            const u = tf.tensor1d([1, 1]);
            await probe(
              mu,
              () => guidedVelocity(c, u, apply({ scale: 1, convention: 'diffusers' }, mu) as never),
              async (v) => {
                expect(await allFinite(v)).toBe(true);
                v.dispose();
              },
            );
            await probe(
              mu,
              () => classifierFreeGuidance((x) => x, c, apply({ scale: 1, convention: 'diffusers' }, mu) as never),
              () => undefined,
            );
            tf.dispose([c, u]);
            return;
          }
          case 'trainClassifier': {
            const mu = one(mutations(['hidden', 'steps', 'batchSize', 'learningRate', 'seed']));
            const y = Int32Array.from({ length: 16 }, (_, i) => i % 2);
            return probe(
              mu,
              () => trainClassifier(a, y, 2, 2, apply({ steps: 2, hidden: [4] }, mu) as never),
              (clf) => clf.dispose(),
            );
          }
          case 'segmentBoundaries':
            return probe(
              m('segments'),
              () => segmentBoundaries(bad as number),
              (s) => expect(s[s.length - 1]).toBe(1),
            );
          case 'velocityFromLayersModel': {
            const mu = one(mutations(['frequencies']));
            const fake = { apply: (x: tf.Tensor) => x, trainableWeights: [] };
            return probe(
              mu,
              () => velocityFromLayersModel(fake, apply({}, mu) as never),
              (v) => expect(v.flopsPerCall).toBe(0),
            );
          }
        }
      }),
      { seed: 42, numRuns: 150 },
    );
  });

  it(`schedulers, paths, time helpers, assignment, batches: bad numbers throw naming the argument [${backend}]`, async () => {
    const names = [
      'polynomialScheduler',
      'vpScheduler',
      'path.sample',
      'flipTime',
      'checkTimeGrid',
      'dynamicShiftTime',
      'timeFeatures',
      'denseFlops',
      'linearAssignment',
      'squaredDistances',
      'otCoupling',
      'drawFlowBatch',
      'divergence',
    ] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...names), fc.constantFrom(...BAD), async (entry, bad) => {
        const n0 = tf.memory().numTensors;
        const m = (key: string): Mutation => ({ kind: 'bad', key, value: bad });
        const num = bad as number;
        const finite = (x: number): void => expect(Number.isFinite(x), `${entry}(${String(bad)})`).toBe(true);
        switch (entry) {
          case 'polynomialScheduler':
            await probe(
              m('n'),
              () => polynomialScheduler(num).at(0.5),
              (o) => [o.alpha, o.sigma, o.dAlpha].forEach(finite),
            );
            break;
          case 'vpScheduler':
            await probe(
              m('beta'),
              () => vpScheduler(0.1, num).at(0.5),
              (o) => [o.alpha, o.sigma, o.dAlpha].forEach(finite),
            );
            break;
          case 'path.sample': {
            const x0 = tf.tensor2d([[1, 2]]);
            const x1 = tf.tensor2d([[3, 4]]);
            await probe(
              m('t'),
              () => path.sample(x0, x1, num),
              async (r) => {
                // x_t = (1 - t) x0 + t x1 on the OT path.
                expectClose(await r.xt.data(), [1 + 2 * num, 2 + 2 * num], { rtol: 1e-6 });
                tf.dispose([r.xt, r.dxt]);
              },
            );
            tf.dispose([x0, x1]);
            break;
          }
          case 'flipTime':
            await probe(
              m('t'),
              () => flipTime(num),
              (r) => expect(r).toBe(1 - num),
            );
            break;
          case 'checkTimeGrid':
            await probe(
              m('timeGrid'),
              () => checkTimeGrid([0, num, 2]),
              (g) => expect(g).toEqual([0, num, 2]),
            );
            break;
          case 'dynamicShiftTime':
            await probe(m('mu'), () => dynamicShiftTime(0.5, num), finite);
            await probe(m('power'), () => dynamicShiftTime(0.5, 0.5, num), finite);
            break;
          case 'timeFeatures':
            await probe(
              m('frequencies'),
              () => timeFeatures(0.5, 1, num),
              async (f) => {
                expect(await allFinite(f)).toBe(true);
                f.dispose();
              },
            );
            break;
          case 'denseFlops':
            await probe(
              m('widths'),
              () => denseFlops([2, num, 1]),
              (f) => {
                finite(f);
                expect(f).toBe(2 * 2 * num + 2 * num);
              },
            );
            break;
          case 'linearAssignment':
            // Diagonal pairing costs 0 + 0, the other 1 + num.
            await probe(
              m('cost'),
              () => linearAssignment([0, 1, num, 0], 2),
              (r) => expect(r.cost).toBe(Math.min(0, 1 + num)),
            );
            await probe(
              m('n'),
              () => linearAssignment([0], num),
              (r) => expect(r.cost).toBe(0),
            );
            break;
          case 'squaredDistances':
            await probe(
              m('d'),
              () => squaredDistances([1, 2], [3, 4], num),
              (r) => expect(Array.from(r).every(Number.isFinite)).toBe(true),
            );
            break;
          case 'otCoupling':
            await probe(
              m('d'),
              () => otCoupling(new Float32Array(4), new Float32Array(4), num),
              (r) => expect(r.length).toBe(4),
            );
            break;
          case 'drawFlowBatch': {
            const data = Float32Array.from([0, 1, 2, 3]);
            await probe(
              m('batchSize'),
              () => drawFlowBatch(data, 2, num, createRng(1)),
              (b) => expect(b.x1.every(Number.isFinite)).toBe(true),
            );
            break;
          }
          case 'divergence': {
            // div of v = a x is 2 a for x in R^2 (exact divergence, one gradient per dimension).
            if (typeof bad !== 'number' || !Number.isFinite(bad)) break;
            const x = tf.tensor2d([[1, 2]]);
            const { v, div } = divergence((y) => tf.mul(y, num), x, 0.5);
            const d = (await div.data())[0]!;
            expect(Math.abs(d - 2 * num)).toBeLessThanOrEqual(1e-6 * Math.abs(2 * num) + 1e-6);
            tf.dispose([v, div, x]);
            break;
          }
        }
        expect(tf.memory().numTensors, `${entry} leaks`).toBe(n0);
      }),
      { seed: 42, numRuns: 120 },
    );
  });
});
