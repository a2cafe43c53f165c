import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { describeBackends } from '@blockwise/tensor/testing';
import {
  Adam8bit,
  AdamW,
  AdamW8bit,
  createDynamicMap,
  decodePackedState,
  dequantizeBlockwise,
  LAMB,
  LAMB8bit,
  LARS,
  Lion,
  Lion8bit,
  Momentum8bit,
  Muon,
  nearestCode,
  newtonSchulz,
  optimizerStateBytes,
  packedStateLength,
  quantizeBlockwise,
} from './index.js';
import type { BlockwiseOptimizer } from './optimizerBase.js';

/**
 * Property-based checks of every public entry point with hostile input: each call either throws
 * an error whose message names the argument, or returns a finite result equal to the reference
 * (for the optimizers: the same step with the typed-array kernel `kernel: 'js'`).
 */

type Ctor = new (o?: Record<string, unknown>) => BlockwiseOptimizer;

/** Each optimizer with the option names it accepts. */
const OPTIMIZERS: [string, Ctor, string[]][] = [
  ['AdamW', AdamW as unknown as Ctor, ['learningRate', 'beta1', 'beta2', 'epsilon', 'weightDecay']],
  [
    'Adam8bit',
    Adam8bit as unknown as Ctor,
    ['learningRate', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'blockSize', 'optimBits', 'minQuantizedSize'],
  ],
  [
    'AdamW8bit',
    AdamW8bit as unknown as Ctor,
    ['learningRate', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'blockSize', 'optimBits', 'minQuantizedSize'],
  ],
  ['Lion', Lion as unknown as Ctor, ['learningRate', 'beta1', 'beta2', 'weightDecay']],
  [
    'Lion8bit',
    Lion8bit as unknown as Ctor,
    ['learningRate', 'beta1', 'beta2', 'weightDecay', 'blockSize', 'minQuantizedSize'],
  ],
  [
    'Momentum8bit',
    Momentum8bit as unknown as Ctor,
    ['learningRate', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'optimBits', 'minQuantizedSize'],
  ],
  [
    'LAMB',
    LAMB as unknown as Ctor,
    ['learningRate', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'excludeFromLayerAdaptation'],
  ],
  [
    'LAMB8bit',
    LAMB8bit as unknown as Ctor,
    ['learningRate', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'blockSize', 'minQuantizedSize'],
  ],
  ['LARS', LARS as unknown as Ctor, ['learningRate', 'momentum', 'weightDecay', 'eeta', 'epsilon', 'nesterov']],
  [
    'Muon',
    Muon as unknown as Ctor,
    ['learningRate', 'weightDecay', 'momentum', 'nesterov', 'nsSteps', 'epsilon', 'adamw'],
  ],
];

const badValue = fc.constantFrom<unknown>(
  NaN,
  Infinity,
  -Infinity,
  -1,
  1e30,
  2 ** 35,
  1.5,
  0,
  'yes',
  null,
  true,
  [],
  {},
  { lr: 0.1 },
  () => NaN,
);
const goodGrad = fc.float({ min: -1, max: 1, noNaN: true });
const hostileGrad = fc.oneof(goodGrad, fc.constantFrom(NaN, Infinity, -Infinity, 1e30, -1e30, 3e38));

/** True when the error message names one of `names`. */
const names = (e: unknown, ...which: string[]): boolean =>
  e instanceof Error && which.some((w) => e.message.includes(w));

describeBackends(['cpu', 'wasm'], (backend) => {
  it('optimizer constructors: an unknown or misspelt option, a bad value or a non-object throws naming it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: OPTIMIZERS.length - 1 }),
        fc.oneof(
          fc.record({
            kind: fc.constant('misspelt' as const),
            k: fc.nat(20),
            edit: fc.constantFrom('lower', 'drop', 'snake'),
          }),
          fc.record({ kind: fc.constant('value' as const), k: fc.nat(20), v: badValue }),
          fc.record({ kind: fc.constant('whole' as const), v: fc.constantFrom<unknown>(null, 5, 'fast', [1, 2]) }),
        ),
        (i, c) => {
          const [cls, Ctor, keys] = OPTIMIZERS[i]!;
          if (c.kind === 'whole') {
            expect(() => new Ctor(c.v as Record<string, unknown>)).toThrow(/options must be an object/);
            return;
          }
          const key = keys[c.k % keys.length]!;
          if (c.kind === 'misspelt') {
            const bad =
              c.edit === 'lower'
                ? key.toLowerCase()
                : c.edit === 'drop'
                  ? key.slice(0, -1)
                  : key.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
            if (bad === key) return;
            expect(() => new Ctor({ [bad]: 0.1 }), `${cls} ${bad}`).toThrow(new RegExp(`unknown option "${bad}"`));
            return;
          }
          let opt: BlockwiseOptimizer | undefined;
          try {
            opt = new Ctor({ [key]: c.v });
          } catch (e) {
            expect(names(e, key), `${cls}.${key} = ${String(c.v)}: ${String(e)}`).toBe(true);
            return;
          }
          // Accepted: a step gives finite parameters equal to the typed-array kernel's.
          const check = (o: BlockwiseOptimizer, tag: string): Float32Array => {
            const w = tf.variable(
              tf.fill([8, 8], 0.5),
              true,
              `fuzz_${backend}_${tag}_${Math.random().toString(36).slice(2)}`,
            );
            const g = tf.fill([8, 8], 0.01);
            try {
              o.applyGradients({ [w.name]: g });
              return Float32Array.from(w.dataSync());
            } finally {
              tf.dispose([w, g]);
              o.dispose();
            }
          };
          let got: Float32Array;
          try {
            got = check(opt, 'a');
          } catch (e) {
            // A schedule whose value is bad throws at the step, naming the option.
            expect(typeof c.v === 'function' && names(e, key), `${cls}.${key} = ${String(c.v)}: ${String(e)}`).toBe(
              true,
            );
            return;
          }
          expect(got.every(Number.isFinite), `${cls}.${key} = ${String(c.v)}`).toBe(true);
          expect(got).toEqual(check(new Ctor({ [key]: c.v, kernel: 'js' }), 'b'));
        },
      ),
      { seed: 42, numRuns: 60 },
    );
  });

  it('applyGradients: hostile gradients (NaN, +-Inf, 1e30, int32, wrong shapes) throw naming the gradient or leave everything finite', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: OPTIMIZERS.length - 1 }),
        fc.array(hostileGrad, { minLength: 64, maxLength: 64 }),
        fc.constantFrom('float32', 'int32', 'shape', 'rank'),
        (i, values, variant) => {
          const [cls, Ctor] = OPTIMIZERS[i]!;
          const w = tf.variable(tf.fill([8, 8], 0.5), true, `fuzzg_${backend}_${Math.random().toString(36).slice(2)}`);
          const opt = new Ctor();
          const g =
            variant === 'int32'
              ? tf.tensor(
                  values.map((v) => (Number.isFinite(v) ? Math.round(v * 3) : 0)),
                  [8, 8],
                  'int32',
                )
              : variant === 'shape'
                ? tf.tensor(values.slice(0, 60), [6, 10])
                : variant === 'rank'
                  ? tf.tensor(values, [64])
                  : tf.tensor(values, [8, 8]);
          try {
            for (let k = 0; k < 3; k++) opt.applyGradients({ [w.name]: g });
            expect(variant === 'shape', `${cls}: a gradient of another size must throw`).toBe(false);
            expect((w.dataSync() as Float32Array).every(Number.isFinite), `${cls} ${variant}`).toBe(true);
          } catch (e) {
            expect(names(e, 'gradient'), `${cls} ${variant}: ${String(e)}`).toBe(true);
          } finally {
            opt.dispose();
            tf.dispose([w, g]);
          }
        },
      ),
      { seed: 42, numRuns: 40 },
    );
  });
});

it('quantization helpers and newtonSchulz: bad arguments throw naming them; good ones give finite results equal to the reference', async () => {
  const { initBackend } = await import('@blockwise/tensor');
  await initBackend('cpu');
  fc.assert(
    fc.property(
      fc.array(hostileGrad, { minLength: 0, maxLength: 80 }),
      fc.constantFrom<unknown>(32, 48, 0, -32, 2 ** 35, NaN, '64'),
      (xs, blockSize) => {
        const x = Float32Array.from(xs);
        try {
          const q = quantizeBlockwise(x, { blockSize: blockSize as number });
          const back = dequantizeBlockwise(q, { blockSize: blockSize as number });
          expect(back.every(Number.isFinite)).toBe(true);
          // The reference: each value within half a map step of its block's scale (<= 2^-6 relative for the signed map).
          back.forEach((v, i) =>
            expect(Math.abs(v - x[i]!)).toBeLessThanOrEqual(
              0.02 * q.absmax[Math.floor(i / (blockSize as number))]! + 1e-30,
            ),
          );
        } catch (e) {
          expect(names(e, 'blockSize', 'x must be finite'), String(e)).toBe(true);
        }
      },
    ),
    { seed: 42, numRuns: 60 },
  );
  expect(() => quantizeBlockwise(new Float32Array(4), { blocksize: 64 } as never)).toThrow(
    /unknown option "blocksize"; did you mean "blockSize"/,
  );
  expect(() => quantizeBlockwise(new Float32Array(4), null as never)).toThrow(/options must be an object, got null/);
  expect(() => dequantizeBlockwise({ codes: new Uint8Array(4), absmax: Float32Array.of(NaN) })).toThrow(
    /absmax must be finite and >= 0, got NaN/,
  );
  expect(() => nearestCode(new Float32Array(3), 0)).toThrow(/map must be a Float32Array of 256/);
  expect(() => nearestCode(createDynamicMap(), NaN)).toThrow(/nearestCode: x must be a number, got NaN/);
  expect(() => createDynamicMap('yes' as never)).toThrow(/signed must be true or false/);
  expect(() => createDynamicMap(true, 9)).toThrow(/maxExponentBits/);
  expect(() => packedStateLength(1e12, 2, 256)).toThrow(/packedStateLength: n must be/);
  expect(() => packedStateLength(100, 3, 256)).toThrow(/numStates must be one of 1, 2, got 3/);
  expect(() => packedStateLength(100, 2, 2 ** 35)).toThrow(/blockSize must be a positive multiple of 32 up to 65536/);
  expect(() => decodePackedState(new Int32Array(3), 100, 2, 256, 0)).toThrow(
    /decodePackedState: data must be an Int32Array of \d+ words/,
  );
  expect(() => decodePackedState(new Int32Array(packedStateLength(100, 2, 256)), 100, 2, 256, 2)).toThrow(
    /decodePackedState: s must be/,
  );
  expect(() => optimizerStateBytes({} as never)).toThrow(/optimizer must be a tf.Optimizer/);
  const g = tf.fill([4, 6], 0.1) as tf.Tensor2D;
  expect(() => newtonSchulz(g, 1e9)).toThrow(/newtonSchulz: steps must be/);
  expect(() => newtonSchulz(tf.fill([4], 1) as never)).toThrow(/g must be a 2-D tf.Tensor, got rank 1/);
  expect(() => newtonSchulz(g, 5, [1, NaN, 2])).toThrow(/coefficients must be three finite numbers/);
  expect(() => new Muon({ nsSteps: 1e9 })).toThrow(/nsSteps must be/);
  expect(() => new Muon({ adamw: { lr: 0.1 } as never })).toThrow(/Muon adamw: unknown option "lr"/);
  expect(() => new AdamW8bit({ blockSize: 2 ** 35 })).toThrow(
    /blockSize must be a positive multiple of 32 up to 65536, got 34359738368/,
  );
  expect(() => new AdamW8bit({ learningrate: 0.5 } as never)).toThrow(
    /unknown option "learningrate"; did you mean "learningRate"/,
  );
  expect(() => new Momentum8bit({ nesterov: 'yes' as never })).toThrow(/nesterov must be true or false, got "yes"/);
  expect(() => new AdamW({ epsilon: Infinity })).toThrow(/epsilon must be a finite number >= 0, got Infinity/);
  // A good call equals its reference: orthogonalizing an orthogonal matrix (a scaled identity) gives ~ the identity's direction.
  const o = newtonSchulz(tf.mul(tf.eye(4), 3) as tf.Tensor2D);
  expect((o.dataSync() as Float32Array).every(Number.isFinite)).toBe(true);
  tf.dispose([g, o]);
});
