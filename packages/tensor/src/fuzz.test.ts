/**
 * Property-based hostile input for every public entry point of @blockwise/tensor, on cpu and wasm: each call
 * either throws an error naming the argument, or returns a result equal to the typed-array reference.
 */
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockAbsmax, blockAbsmaxReference } from './absmax.js';
import { initBackend } from './backend.js';
import { createGpuKernel } from './gpujs.js';
import { defineKernel } from './kernel.js';
import { checkNumber, checkOptions } from './options.js';
import { createRng } from './random.js';
import { describeBackends } from './testing.js';
import { fromView, packUint8, shapeSize, toView, unpackUint8, view } from './view.js';

const RUNS = { seed: 42, numRuns: 25 };

/** Values that break numerics: NaN, infinities, huge and tiny magnitudes, signed zeros. */
const nasty = fc.oneof(
  fc.constantFrom(Number.NaN, Infinity, -Infinity, 1e30, -1e30, 1e-30, 0, -0, 3.4e38),
  fc.float({ noNaN: true, min: -1e6, max: 1e6 }),
);
/** Option values of every wrong type. */
const junk = fc.oneof(
  fc.constantFrom(null, undefined, Number.NaN, Infinity, -1, 0, 1.5, 2 ** 35, '', 'yes', true, [], {}),
  fc.string({ maxLength: 6 }),
);

async function throwsNaming(p: () => unknown, names: RegExp): Promise<void> {
  let err: unknown;
  try {
    await p();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').toBeInstanceOf(Error);
  expect((err as Error).message).toMatch(names);
}

describeBackends(['cpu', 'wasm'], (backend) => {
  it('blockAbsmax equals the reference for any float32 data, and names a bad blockSize or x', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(nasty, { minLength: 0, maxLength: 40 }),
        fc.oneof(fc.integer({ min: 1, max: 16 }), junk),
        async (xs, bs) => {
          const data = Float32Array.from(xs);
          const valid = typeof bs === 'number' && Number.isInteger(bs) && bs >= 1 && bs <= 2 ** 30;
          const x = tf.tensor1d(data, 'float32');
          try {
            if (!valid || data.length === 0) {
              await throwsNaming(
                () => blockAbsmax(x, bs as number),
                valid ? /blockAbsmax: x must not be empty/ : /blockAbsmax: blockSize must be/,
              );
              return;
            }
            const out = blockAbsmax(x, bs as number);
            const got = await out.data();
            out.dispose();
            // NaN in a block propagates, as the reference says (a NaN absmax must be visible, not hidden).
            expect(Array.from(got)).toEqual(Array.from(blockAbsmaxReference(data, bs as number)));
          } finally {
            x.dispose();
          }
        },
      ),
      RUNS,
    );
  });
  it('blockAbsmax refuses int32, non-tensors and wrong ranks only by name', async () => {
    const i = tf.tensor1d([1, -5, 3], 'int32');
    await throwsNaming(() => blockAbsmax(i, 2), /blockAbsmax: x must be float32, got int32/);
    i.dispose();
    await throwsNaming(() => blockAbsmax([1, 2] as never, 2), /blockAbsmax: x must be a tf.Tensor, got an array/);
    // Rank does not matter: blocks run over the flattened data, like the reference.
    const m = tf.tensor2d([
      [1, -7],
      [3, 2],
    ]);
    expect(Array.from(await blockAbsmax(m, 3).data())).toEqual([7, 2]);
    m.dispose();
  });
  it('views, packing and tensors round-trip or name the bad shape', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(nasty, { maxLength: 12 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 4 }), junk), { maxLength: 3 }),
        async (xs, shape) => {
          const data = Float32Array.from(xs);
          const ok =
            shape.every((d) => Number.isInteger(d) && (d as number) >= 0) &&
            shape.reduce<number>((p, d) => p * (d as number), 1) === data.length;
          if (!ok) {
            await throwsNaming(() => view(data, shape as number[]), /shape|view: data has/);
            return;
          }
          const t = fromView(view(data, shape as number[]));
          const back = await toView(t);
          t.dispose();
          expect(back.shape).toEqual(shape);
          expect(Array.from(back.data)).toEqual(Array.from(data));
        },
      ),
      RUNS,
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 17 }), async (bytes) => {
        const t = packUint8(bytes);
        expect(Array.from(await unpackUint8(t, bytes.length))).toEqual(Array.from(bytes));
        t.dispose();
      }),
      RUNS,
    );
    expect(() => shapeSize([2, Number.NaN])).toThrow(/shape must hold non-negative integers/);
    await throwsNaming(() => packUint8([1, 2] as never), /packUint8: bytes must be a Uint8Array/);
  });
  it('initBackend, createRng, defineKernel and createGpuKernel name unknown or mistyped options', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 12 }), junk, async (key, value) => {
        fc.pre(!['wasmPaths', 'allowSoftwareWebGPU', 'requireGradients'].includes(key));
        await throwsNaming(
          () => initBackend(backend, { [key]: value } as never),
          new RegExp(`initBackend: unknown option ${JSON.stringify(key).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
        );
        await throwsNaming(
          () => createGpuKernel(() => 0, { output: [1], [key]: value } as never),
          /createGpuKernel: unknown option/,
        );
        await throwsNaming(
          () =>
            defineKernel({
              name: 'FuzzNever',
              inputNames: ['x'],
              compute: ([x]: { data: Float32Array; shape: number[] }[]) => x!,
              [key]: value,
            } as never),
          /defineKernel: unknown option/,
        );
      }),
      { seed: 42, numRuns: 10 },
    );
    await throwsNaming(
      () => initBackend(backend, { requireGradients: 'yes' } as never),
      /initBackend: requireGradients must be true or false, got "yes"/,
    );
    await throwsNaming(() => initBackend(backend, null as never), /initBackend: options must be an object, got null/);
    await throwsNaming(
      () => createGpuKernel(() => 0, { output: [1], settings: 5 } as never),
      /createGpuKernel: settings must be an object/,
    );
    for (const seed of [Number.NaN, Infinity, 'x'])
      await throwsNaming(() => createRng(seed as number), /createRng: seed must be a finite number/);
    const rng = createRng(7);
    await fc.assert(
      fc.asyncProperty(
        nasty,
        nasty,
        fc.array(fc.oneof(fc.integer({ min: 0, max: 3 }), junk), { maxLength: 3 }),
        async (m, sd, shape) => {
          let t: tf.Tensor | undefined;
          try {
            t = rng.normalTensor(shape as number[], m, sd);
          } catch (e) {
            expect((e as Error).message).toMatch(
              /^Rng\.(normalTensor: shape|fillNormal: (mean|std) must be a finite number)/,
            );
            return;
          }
          // Accepted: finite parameters give finite samples, unless mean or std is near float32's maximum (3.4e38),
          // where the float32 tensor itself cannot hold mean + std * z.
          const data = await t.data();
          t.dispose();
          expect(data.every((v) => Number.isFinite(v)) || Math.abs(m) > 1e37 || Math.abs(sd) > 1e37).toBe(true);
        },
      ),
      RUNS,
    );
    await throwsNaming(
      () => rng.uniformTensor([1e6, 1e6]),
      /Rng.uniformTensor: shape \[1000000, 1000000\] has 1000000000000 elements; at most 268435456/,
    );
    expect(tf.getBackend()).toBe(backend);
  });
  it('the option checkers name the argument for every junk value', () => {
    fc.assert(
      fc.property(junk, (v) => {
        try {
          const n = checkNumber('fuzz: epsilon', v, { min: 0 });
          expect(Number.isFinite(n) && n >= 0).toBe(true);
        } catch (e) {
          expect((e as Error).message).toMatch(/^fuzz: epsilon must be a finite number >= 0, got /);
        }
        try {
          checkOptions('fuzz', v as never, ['a']);
        } catch (e) {
          expect((e as Error).message).toMatch(/^fuzz: (options must be an object|unknown option)/);
        }
      }),
      RUNS,
    );
  });
});

describe('tensor memory', () => {
  it('blockAbsmax leaks nothing across calls', async () => {
    // Each call returns one new tensor; disposing it must bring the count back.
    await initBackend('cpu');
    const x = createRng(1).normalTensor([64]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) blockAbsmax(x, 8).dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
