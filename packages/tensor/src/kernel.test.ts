import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { defineKernel } from './kernel.js';
import { describeBackends, expectClose } from './testing.js';

// out = a * b + c, and a second output 2 * a that reads only `a`: on WebGPU the second program
// binds just the input it names. Gradients: d/da = b + 2 (summed over both outputs), d/db = a, d/dc = 1.
const fma2 = defineKernel<{ scale: number }>({
  name: 'TensorTestFma2',
  inputNames: ['a', 'b', 'c'],
  compute: ([a, b, c], { scale }) => [
    {
      data: a!.data.map((v, i) => scale * (v * b!.data[i]! + c!.data[i]!)) as Float32Array,
      shape: a!.shape,
      dtype: 'float32',
    },
    { data: a!.data.map((v) => 2 * v) as Float32Array, shape: a!.shape, dtype: 'float32' },
  ],
  webgpu: ([a], { scale }) => [
    {
      outputShape: a!.shape,
      shaderKey: 'fma',
      variableNames: ['a', 'b', 'c'],
      uniforms: [{ name: 'scale', type: 'f32', value: scale }],
      userCode:
        'fn main(index : i32) { if (index < uniforms.size) { setOutputAtIndex(index, uniforms.scale * (a[index] * b[index] + c[index])); } }',
    },
    {
      outputShape: a!.shape,
      shaderKey: 'twice',
      variableNames: ['a'],
      userCode: 'fn main(index : i32) { if (index < uniforms.size) { setOutputAtIndex(index, 2.0 * a[index]); } }',
    },
  ],
  saveInputs: true,
  gradient: (dys, [a, b]) => {
    const [dy0, dy1] = dys as tf.Tensor[];
    return {
      a: () => tf.add(tf.mul(dy0!, b!), tf.mul(dy1!, 2)),
      b: () => tf.mul(dy0!, a!),
      c: () => dy0!,
    };
  },
});

describeBackends(['cpu', 'wasm', 'webgpu'], (backend) => {
  it(`runs a two-output kernel with a gradient on ${backend}`, async () => {
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.tensor1d([4, 5, 6]);
    const c = tf.tensor1d([0.5, 0.5, 0.5]);
    const [y, z] = fma2({ a, b, c }, { scale: 1 }) as tf.Tensor[];
    expectClose(await y!.data(), [4.5, 10.5, 18.5], { label: 'a*b+c' });
    expectClose(await z!.data(), [2, 4, 6], { label: '2a' });
    // loss = sum(y) + sum(z): dL/da = b + 2, dL/db = a, dL/dc = 1
    const g = tf.grads((x: tf.Tensor, w: tf.Tensor, v: tf.Tensor) => {
      const [p, q] = fma2({ a: x, b: w, c: v }, { scale: 1 }) as tf.Tensor[];
      return tf.add(tf.sum(p!), tf.sum(q!));
    })([a, b, c]);
    expectClose(await g[0]!.data(), [6, 7, 8], { label: 'da' });
    expectClose(await g[1]!.data(), [1, 2, 3], { label: 'db' });
    expectClose(await g[2]!.data(), [1, 1, 1], { label: 'dc' });
    tf.dispose([a, b, c, y!, z!, ...g]);
  });
});

describe('defineKernel', () => {
  it('rejects bad definitions and inputs', () => {
    expect(() => defineKernel({ name: '9bad', inputNames: ['x'], compute: ([x]) => x! })).toThrow(
      'name must be an identifier like \'BlockwiseAbsmax\', got "9bad"',
    );
    expect(() => defineKernel({ name: 'NoInputs', inputNames: [], compute: ([x]) => x! })).toThrow(
      'inputNames must be a non-empty array',
    );
    expect(() => fma2({ a: tf.ones([1]), b: tf.ones([1]) } as never)).toThrow(
      "TensorTestFma2: input 'c' must be a tf.Tensor, got undefined",
    );
  });
});
