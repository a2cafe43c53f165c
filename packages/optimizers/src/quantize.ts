import { checkOptions, describeValue } from '@blockwise/tensor';
import { signedDynamicMap } from './dynamicMap.js';

/** Options of `quantizeBlockwise` / `dequantizeBlockwise`. */
export interface BlockwiseOptions {
  /** Elements per block, a positive multiple of 32 (default 256). */
  blockSize?: number;
  /** Sorted 256-entry quantization map (default: the signed dynamic map). */
  map?: Float32Array;
}

/** Codes and per-block scales of a block-wise quantized array. */
export interface QuantizedBlocks {
  /** One map index per element. */
  codes: Uint8Array;
  /** max |x| of each block (the last block may be short). */
  absmax: Float32Array;
}

/** Largest block: bitsandbytes uses at most 4096; larger blocks only lose precision (and 2**35 would not fit in memory). */
export const MAX_BLOCK_SIZE = 1 << 16;

/** Throws unless `blockSize` is a multiple of 32 in [32, MAX_BLOCK_SIZE]. */
export function checkBlockSize(blockSize: unknown, label = 'blockSize'): number {
  if (
    typeof blockSize !== 'number' ||
    !Number.isInteger(blockSize) ||
    blockSize <= 0 ||
    blockSize % 32 !== 0 ||
    blockSize > MAX_BLOCK_SIZE
  ) {
    throw new Error(
      `${label} must be a positive multiple of 32 up to ${MAX_BLOCK_SIZE}, got ${describeValue(blockSize)}`,
    );
  }
  return blockSize;
}

function checkMap(map: unknown): Float32Array {
  if (!(map instanceof Float32Array) || map.length !== 256) {
    throw new Error(
      `map must be a Float32Array of 256 sorted values, got ${map instanceof Float32Array ? `length ${map.length}` : typeof map}`,
    );
  }
  return map;
}

/**
 * Index of the map entry nearest to `x` (map sorted ascending, 256 entries): an 8-step binary
 * search for the last entry <= x, then the closer of it and its successor (ties go down).
 */
export function nearestCode(map: Float32Array, x: number): number {
  checkMap(map);
  if (typeof x !== 'number' || Number.isNaN(x))
    throw new TypeError(`nearestCode: x must be a number, got ${describeValue(x)}`);
  let lo = 0;
  // Invariant: map[lo] <= x or lo === 0; each step halves the window of 256.
  for (let half = 128; half >= 1; half >>= 1) {
    if (map[lo + half]! <= x) lo += half;
  }
  if (lo < 255) {
    const below = x - map[lo]!;
    const above = map[lo + 1]! - x;
    if (above < below) return lo + 1;
  }
  return lo;
}

/**
 * Block-wise quantization (arXiv 2110.02861): each block of `blockSize` elements is divided by
 * its max |x| and every value is rounded to the nearest map entry. Non-finite inputs throw.
 */
export function quantizeBlockwise(x: Float32Array, options?: BlockwiseOptions): QuantizedBlocks {
  const opts = checkOptions('quantizeBlockwise', options, ['blockSize', 'map']);
  const blockSize = checkBlockSize(opts.blockSize ?? 256);
  const map = checkMap(opts.map ?? signedDynamicMap());
  if (!(x instanceof Float32Array)) throw new Error(`x must be a Float32Array, got ${typeof x}`);
  const n = x.length;
  const nb = Math.ceil(n / blockSize);
  const codes = new Uint8Array(n);
  const absmax = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    const start = b * blockSize;
    const end = Math.min(n, start + blockSize);
    let amax = 0;
    for (let i = start; i < end; i++) {
      const v = x[i]!;
      if (!Number.isFinite(v)) throw new Error(`x must be finite, got ${v} at index ${i}`);
      const a = Math.abs(v);
      if (a > amax) amax = a;
    }
    absmax[b] = amax;
    // As bitsandbytes: scale by the float32 reciprocal of the block max.
    const inv = amax > 0 ? Math.fround(1 / amax) : 0;
    for (let i = start; i < end; i++) codes[i] = nearestCode(map, Math.fround(x[i]! * inv));
  }
  return { codes, absmax };
}

/** Inverse of `quantizeBlockwise`: `map[code] * absmax[block]` for every element. */
export function dequantizeBlockwise(q: QuantizedBlocks, options?: BlockwiseOptions): Float32Array {
  const opts = checkOptions('dequantizeBlockwise', options, ['blockSize', 'map']);
  const blockSize = checkBlockSize(opts.blockSize ?? 256);
  const map = checkMap(opts.map ?? signedDynamicMap());
  if (typeof q !== 'object' || q === null || !(q.codes instanceof Uint8Array) || !(q.absmax instanceof Float32Array)) {
    throw new TypeError(
      `dequantizeBlockwise: q must be { codes: Uint8Array, absmax: Float32Array }, got ${describeValue(q)}`,
    );
  }
  const { codes, absmax } = q;
  for (let b = 0; b < absmax.length; b++) {
    const a = absmax[b]!;
    if (!(a >= 0 && a - a === 0))
      throw new RangeError(`dequantizeBlockwise: absmax must be finite and >= 0, got ${a} at block ${b}`);
  }
  const nb = Math.ceil(codes.length / blockSize);
  if (absmax.length !== nb) {
    throw new Error(
      `absmax must hold one value per block (${nb} for ${codes.length} codes, block ${blockSize}), got ${absmax.length}`,
    );
  }
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = map[codes[i]!]! * absmax[(i / blockSize) | 0]!;
  return out;
}
