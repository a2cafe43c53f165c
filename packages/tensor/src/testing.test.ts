import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectClose, expectNoLeaks, useBackend } from './testing.js';

useBackend('cpu');

describe('expectClose', () => {
  it('passes within tolerance and names the worst index otherwise', () => {
    expectClose([1, 2, 3], [1, 2, 3 + 1e-7]);
    expect(() => expectClose([1, 2.5, 3.1], [1, 2, 3], { atol: 0.2, rtol: 0, label: 'out' })).toThrow(
      'out: 1 of 3 elements differ (atol 0.2, rtol 0); worst at index 1: actual 2.5, expected 2, |diff| 0.5',
    );
    expect(() => expectClose([NaN], [1])).toThrow(/worst at index 0: actual NaN/);
    expect(() => expectClose([1, 2], [1])).toThrow(/length 2/);
    expectClose([-Infinity, Infinity, NaN], [-Infinity, Infinity, NaN]);
    expect(() => expectClose([-Infinity], [Infinity])).toThrow(/worst at index 0/);
  });
  it('accepts tensors', () => {
    const t = tf.tensor1d([0.5, 0.25]);
    expectClose(t, [0.5, 0.25], { atol: 0 });
    t.dispose();
  });
});

describe('expectNoLeaks', () => {
  it('catches a leaked tensor', async () => {
    let leaked: tf.Tensor | undefined;
    await expect(
      expectNoLeaks(() => {
        leaked = tf.ones([2]);
      }, 'leaky'),
    ).rejects.toThrow('leaky leaked 1 tensors');
    leaked?.dispose();
    await expectNoLeaks(() => tf.tidy(() => tf.add(tf.ones([2]), 1).dataSync()));
  });
});
