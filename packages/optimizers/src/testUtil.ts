import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '@blockwise/tensor';
import { stateMap } from './fused8bit.js';
import { quantizeBlockwise } from './quantize.js';

/** A variable with a unique name holding `values`. */
export function makeVar(values: Float32Array, shape: number[], name?: string): tf.Variable {
  return tf.variable(tf.tensor(values, shape), true, name ?? `w_${Math.random().toString(36).slice(2)}`);
}

/** A sequence of seeded gradient arrays. */
export function gradSequence(seed: number, steps: number, n: number, scale = 1): Float32Array[] {
  const rng = createRng(seed);
  return Array.from({ length: steps }, () => rng.fillNormal(new Float32Array(n), 0, scale));
}

/** Applies one gradient array to one variable. */
export function applyGrad(opt: tf.Optimizer, v: tf.Variable, g: Float32Array): void {
  const gt = tf.tensor(g, v.shape);
  opt.applyGradients({ [v.name]: gt });
  gt.dispose();
}

/** Float64 copy of a variable's values. */
export function values64(v: tf.Tensor): Float64Array {
  return Float64Array.from(v.dataSync() as Float32Array);
}

/**
 * A packed 4-bit state of S states: random codes for the n elements (the unused nibbles and bytes
 * zero, as the reference writes them) and random block maxima around 1e-2 (state 0) and 1e-4
 * (state 1); with `zeroFirstBlock`, the first block's maximum is 0 (every element decodes to 0).
 */
export function randomPackedState4(
  n: number,
  S: number,
  blockSize: number,
  seed: number,
  zeroFirstBlock = false,
): Int32Array {
  const rng = createRng(seed);
  const W = Math.ceil(n / 8);
  const nb = Math.ceil(n / blockSize);
  const out = new Int32Array(S * (W + nb));
  const bytes = new Uint8Array(out.buffer);
  const absmax = new Float32Array(out.buffer, S * W * 4, S * nb);
  for (let s = 0; s < S; s++) {
    for (let i = 0; i < n; i++)
      bytes[s * W * 4 + (i >> 1)]! |= (Math.floor(rng.uniform(0, 16)) & 15) << (i & 1 ? 4 : 0);
    for (let b = 0; b < nb; b++) absmax[s * nb + b] = Math.abs(rng.normal(0, s === 1 ? 1e-4 : 1e-2));
    if (zeroFirstBlock) absmax[s * nb] = 0;
  }
  return out;
}

/**
 * A packed 8-bit state of S quantized random moments (v >= 0 for Adam's second state); with
 * `zeroFirstBlock`, one block of zeros (block max 0) exercises the zero-scale path.
 */
export function randomPackedState(
  n: number,
  S: number,
  blockSize: number,
  seed: number,
  zeroFirstBlock = false,
): Int32Array {
  const rng = createRng(seed);
  const W = Math.ceil(n / 4);
  const nb = Math.ceil(n / blockSize);
  const out = new Int32Array(S * (W + nb));
  const bytes = new Uint8Array(out.buffer);
  const absmax = new Float32Array(out.buffer, S * W * 4, S * nb);
  for (let s = 0; s < S; s++) {
    const x = rng.fillNormal(new Float32Array(n), 0, s === 1 ? 1e-4 : 1e-2);
    if (s === 1) for (let i = 0; i < n; i++) x[i] = Math.abs(x[i]!);
    if (zeroFirstBlock) x.fill(0, 0, Math.min(n, blockSize));
    const q = quantizeBlockwise(x, { blockSize, map: stateMap(s, S) });
    bytes.set(q.codes, s * W * 4);
    absmax.set(q.absmax, s * nb);
  }
  return out;
}
