import * as tf from '@tensorflow/tfjs-core';
import { checkNumber, describeValue } from './options.js';

/** A seeded random number generator: the same seed gives the same numbers everywhere. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [lo, hi). */
  uniform(lo?: number, hi?: number): number;
  /** Normal with the given mean and standard deviation. */
  normal(mean?: number, std?: number): number;
  /** Integer uniform in [0, n). */
  int(n: number): number;
  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array;
  /** Shuffles an array in place (Fisher-Yates) and returns it. */
  shuffle<T>(a: T[]): T[];
  /** Fills with uniform values in [lo, hi) and returns the array. */
  fillUniform(a: Float32Array, lo?: number, hi?: number): Float32Array;
  /** Fills with normal values and returns the array. */
  fillNormal(a: Float32Array, mean?: number, std?: number): Float32Array;
  /** A float32 tensor of normal values. */
  normalTensor(shape: number[], mean?: number, std?: number): tf.Tensor;
  /** A float32 tensor of uniform values in [lo, hi). */
  uniformTensor(shape: number[], lo?: number, hi?: number): tf.Tensor;
  /** An independent generator seeded from this one. */
  fork(): Rng;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Most elements one call fills (1 GiB of float32): a typo such as [1e6, 1e6] must not exhaust memory. */
const MAX_ELEMENTS = 2 ** 28;

function size(shape: number[], what: string): number {
  if (!Array.isArray(shape))
    throw new TypeError(`${what}: shape must be an array of sizes, got ${describeValue(shape)}`);
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new Error(`${what}: shape must hold non-negative integers, got [${shape.join(', ')}]`);
    n *= d;
  }
  if (n > MAX_ELEMENTS)
    throw new RangeError(
      `${what}: shape [${shape.join(', ')}] has ${n} elements; at most ${MAX_ELEMENTS} are supported`,
    );
  return n;
}

/** Throws unless the distribution parameters are finite (a NaN mean would fill the whole array with NaN). */
function params(what: string, a: number, b: number, names: [string, string]): void {
  checkNumber(`${what}: ${names[0]}`, a);
  checkNumber(`${what}: ${names[1]}`, b);
}

/**
 * Creates a seeded generator (xoshiro128**, seeded by splitmix32). `seed` is any finite number;
 * its integer part is used.
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new Error(`createRng: seed must be a finite number, got ${seed}`);
  const init = splitmix32(Math.trunc(seed));
  let a = init(),
    b = init(),
    c = init(),
    d = init();
  if ((a | b | c | d) === 0) a = 1;
  const u32 = (): number => {
    const result = Math.imul((Math.imul(b, 5) << 7) | (Math.imul(b, 5) >>> 25), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    return result;
  };
  const next = (): number => u32() / 4294967296;
  let spare: number | null = null;
  const stdNormal = (): number => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  const rng: Rng = {
    next,
    uniform: (lo = 0, hi = 1) => lo + (hi - lo) * next(),
    normal: (mean = 0, std = 1) => mean + std * stdNormal(),
    int: (n) => {
      if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.int: n must be a positive integer, got ${n}`);
      return Math.floor(next() * n);
    },
    permutation: (n) => {
      if (!Number.isInteger(n) || n < 0 || n > MAX_ELEMENTS)
        throw new Error(`Rng.permutation: n must be an integer in [0, ${MAX_ELEMENTS}], got ${n}`);
      const p = new Int32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const t = p[i]!;
        p[i] = p[j]!;
        p[j] = t;
      }
      return p;
    },
    shuffle: (arr) => {
      for (let i = arr.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const t = arr[i]!;
        arr[i] = arr[j]!;
        arr[j] = t;
      }
      return arr;
    },
    fillUniform: (arr, lo = 0, hi = 1) => {
      params('Rng.fillUniform', lo, hi, ['lo', 'hi']);
      for (let i = 0; i < arr.length; i++) arr[i] = lo + (hi - lo) * next();
      return arr;
    },
    fillNormal: (arr, mean = 0, std = 1) => {
      params('Rng.fillNormal', mean, std, ['mean', 'std']);
      for (let i = 0; i < arr.length; i++) arr[i] = mean + std * stdNormal();
      return arr;
    },
    normalTensor: (shape, mean = 0, std = 1) =>
      tf.tensor(rng.fillNormal(new Float32Array(size(shape, 'Rng.normalTensor')), mean, std), shape, 'float32'),
    uniformTensor: (shape, lo = 0, hi = 1) =>
      tf.tensor(rng.fillUniform(new Float32Array(size(shape, 'Rng.uniformTensor')), lo, hi), shape, 'float32'),
    fork: () => createRng(u32()),
  };
  return rng;
}
