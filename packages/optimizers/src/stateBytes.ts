import * as tf from '@tensorflow/tfjs-core';
import type { BlockwiseOptimizer } from './optimizerBase.js';

function tensorBytes(t: tf.Tensor): number {
  // float32 and int32 take 4 bytes; bool is stored as 1 byte per element in tfjs.
  return t.size * (t.dtype === 'bool' ? 1 : 4);
}

/**
 * Bytes held by an optimizer's state tensors. For this package's optimizers it is the exact
 * sum over every state slot (8-bit states count 1 byte per code plus 4 per block absmax); for
 * other tf.Optimizer instances (tfjs's own) it sums the variables found in its fields.
 */
export function optimizerStateBytes(optimizer: tf.Optimizer): number {
  if (!(optimizer instanceof tf.Optimizer)) {
    throw new Error(`optimizer must be a tf.Optimizer, got ${typeof optimizer}`);
  }
  // tf.Optimizer overrides Symbol.hasInstance (any object with minimize/applyGradients passes),
  // so `instanceof BlockwiseOptimizer` cannot tell ours apart: look for the method instead.
  if (typeof (optimizer as Partial<BlockwiseOptimizer>).stateVariables === 'function') {
    return (optimizer as BlockwiseOptimizer)
      .stateVariables()
      .reduce((sum, { variable }) => sum + tensorBytes(variable), 0);
  }
  let total = 0;
  const seen = new Set<number>();
  const add = (x: unknown): void => {
    if (x instanceof tf.Variable && !x.isDisposed && !seen.has(x.id)) {
      seen.add(x.id);
      total += tensorBytes(x);
    }
  };
  for (const value of Object.values(optimizer as object)) {
    add(value);
    if (Array.isArray(value)) for (const item of value) add((item as { variable?: unknown })?.variable ?? item);
  }
  return total;
}
