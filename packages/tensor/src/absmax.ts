import * as tf from '@tensorflow/tfjs-core';
import { defineKernel } from './kernel.js';
import { describeValue } from './options.js';

/** Kernels index blocks with int32 arithmetic; a larger block is one block anyway for any tensor tfjs can hold. */
const MAX_BLOCK_SIZE = 2 ** 30;

function checkBlockSize(blockSize: number, fn: string): void {
  if (!Number.isInteger(blockSize) || blockSize <= 0 || blockSize > MAX_BLOCK_SIZE) {
    throw new Error(`${fn}: blockSize must be an integer in [1, ${MAX_BLOCK_SIZE}], got ${describeValue(blockSize)}`);
  }
}

/**
 * @internal Typed-array reference of block-wise absmax: `out[b] = max |x[i]|` over
 * `i in [b * blockSize, (b + 1) * blockSize)`; the last block may be shorter.
 */
export function blockAbsmaxReference(x: Float32Array, blockSize: number): Float32Array {
  checkBlockSize(blockSize, 'blockAbsmaxReference');
  const blocks = Math.ceil(x.length / blockSize);
  const out = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    const end = Math.min(x.length, (b + 1) * blockSize);
    let m = 0;
    for (let i = b * blockSize; i < end; i++) {
      const a = Math.abs(x[i]!);
      if (a > m || a !== a) m = a; // NaN propagates so callers can see it
    }
    out[b] = m;
  }
  return out;
}

interface AbsmaxAttrs {
  blockSize: number;
}

const absmaxOp = defineKernel<AbsmaxAttrs>({
  name: 'BlockwiseAbsmax',
  inputNames: ['x'],
  compute: ([x], { blockSize }) => {
    const data = x!.data instanceof Float32Array ? x!.data : Float32Array.from(x!.data);
    const out = blockAbsmaxReference(data, blockSize);
    return { data: out, shape: [out.length], dtype: 'float32' };
  },
  webgpu: ([x], { blockSize }) => {
    const n = x!.shape.reduce((a, b) => a * b, 1);
    return {
      outputShape: [Math.ceil(n / blockSize)],
      shaderKey: 'v1',
      variableNames: ['x'],
      uniforms: [
        { name: 'blockSize', type: 'i32', value: blockSize },
        { name: 'n', type: 'i32', value: n },
      ],
      userCode: `
        fn main(index : i32) {
          if (index < uniforms.size) {
            let start = index * uniforms.blockSize;
            let end = min(start + uniforms.blockSize, uniforms.n);
            var m = 0.0;
            for (var i = start; i < end; i++) {
              m = max(m, abs(x[i]));
            }
            setOutputAtIndex(index, m);
          }
        }`,
    };
  },
});

/**
 * Block-wise absmax on any backend: the max |x| of each block of `blockSize` consecutive
 * elements of the flattened float tensor, as a 1-D tensor of `ceil(size / blockSize)` values.
 */
export function blockAbsmax(x: tf.Tensor, blockSize: number): tf.Tensor1D {
  if (!(x instanceof tf.Tensor)) throw new TypeError(`blockAbsmax: x must be a tf.Tensor, got ${describeValue(x)}`);
  checkBlockSize(blockSize, 'blockAbsmax');
  if (x.dtype !== 'float32') throw new Error(`blockAbsmax: x must be float32, got ${x.dtype}`);
  if (x.size === 0) throw new Error(`blockAbsmax: x must not be empty, got shape [${x.shape.join(', ')}]`);
  return absmaxOp({ x }, { blockSize }) as tf.Tensor1D;
}
