import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { blockAbsmax, blockAbsmaxReference } from './absmax.js';
import { createRng } from './random.js';
import { describeBackends, expectClose, expectNoLeaks } from './testing.js';

describe('blockAbsmaxReference', () => {
  it('takes the max |x| per block, the last block short', () => {
    // blocks of 3: [1,-5,2] -> 5, [0.5,-0.25,4] -> 4, [-7] -> 7
    const x = Float32Array.from([1, -5, 2, 0.5, -0.25, 4, -7]);
    expect(Array.from(blockAbsmaxReference(x, 3))).toEqual([5, 4, 7]);
  });
  it('rejects a block size of 0', () => {
    expect(() => blockAbsmaxReference(new Float32Array(4), 0)).toThrow(
      /blockSize must be an integer in \[1, 1073741824\], got 0/,
    );
  });
});

describeBackends(['cpu', 'wasm', 'webgpu'], (backend) => {
  it(`agrees with the typed-array reference on ${backend}`, async () => {
    expect(tf.getBackend()).toBe(backend);
    const rng = createRng(7);
    for (const [n, block] of [
      [1000, 64],
      [777, 32],
      [4096, 256],
      [5, 8],
    ] as const) {
      const data = rng.fillNormal(new Float32Array(n), 0, 3);
      const x = tf.tensor1d(data);
      const out = blockAbsmax(x, block);
      expect(out.shape).toEqual([Math.ceil(n / block)]);
      expectClose(await out.data(), blockAbsmaxReference(data, block), {
        atol: 0,
        rtol: 0,
        label: `absmax n=${n} block=${block}`,
      });
      tf.dispose([x, out]);
    }
  });
  it(`leaves no tensors behind on ${backend}`, async () => {
    const x = tf.ones([300]);
    await expectNoLeaks(async () => {
      const y = blockAbsmax(x, 64);
      await y.data();
      y.dispose();
    });
    x.dispose();
  });
});
