import { checkBoolean, checkOptions, describeValue } from '@blockwise/tensor';
import type { MaskMod } from './blockMask.js';

function checkMods(fn: string, mods: unknown[]): MaskMod[] {
  if (mods.length === 0) throw new Error(`${fn}: needs at least one mask`);
  mods.forEach((m, i) => {
    if (typeof m !== 'function')
      throw new Error(
        `${fn}: argument ${i + 1} must be a mask function (b, h, qIdx, kvIdx) => boolean, got ${describeValue(m)}`,
      );
  });
  return mods as MaskMod[];
}

/** `{ causal?: boolean }` of slidingWindow and blockRank. */
function causalOption(fn: string, opts: { causal?: boolean } | undefined): boolean {
  const o = checkOptions(fn, opts, ['causal']);
  return o.causal === undefined ? true : checkBoolean(`${fn}: causal`, o.causal);
}

function checkInt(fn: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`${fn}: ${name} must be an integer >= ${min}, got ${describeValue(v)}`);
  }
  return v;
}

/** Causal mask: a query sees keys at its own position and before. */
export const causal: MaskMod = (_b, _h, q, kv) => q >= kv;

/** Every pair attends (FlexAttention's `noop_mask`). */
export const fullMask: MaskMod = () => true;

/**
 * Sliding window of `window` keys ending at the query (`0 <= q - kv < window`); with
 * `{ causal: false }` the symmetric window `|q - kv| < window`.
 */
export function slidingWindow(window: number, opts: { causal?: boolean } = {}): MaskMod {
  const w = checkInt('slidingWindow', 'window', window, 1);
  if (!causalOption('slidingWindow', opts)) return (_b, _h, q, kv) => Math.abs(q - kv) < w;
  return (_b, _h, q, kv) => q >= kv && q - kv < w;
}

/** Prefix-LM: the first `prefixLen` keys are visible to every query, the rest causally. */
export function prefixLM(prefixLen: number): MaskMod {
  const n = checkInt('prefixLM', 'prefixLen', prefixLen, 0);
  return (_b, _h, q, kv) => kv < n || q >= kv;
}

/**
 * Packed sequences: a query sees only keys of the same document (`ids[q] === ids[kv]`).
 * Combine with `causal` through `and` for causal packing.
 */
export function documents(ids: ArrayLike<number>): MaskMod {
  if (!ids || typeof ids.length !== 'number' || ids.length === 0) {
    throw new Error(`documents: ids must be a non-empty array of document ids, got ${String(ids)}`);
  }
  const d = Int32Array.from(ids as ArrayLike<number>);
  return (_b, _h, q, kv) => {
    if (q >= d.length || kv >= d.length) {
      throw new Error(`documents: position ${Math.max(q, kv)} is beyond the ${d.length} document ids given`);
    }
    return d[q] === d[kv];
  };
}

/** Semi-autoregressive: bidirectional within blocks of `blockSize`, causal across blocks. */
export function blockCausal(blockSize: number): MaskMod {
  const bs = checkInt('blockCausal', 'blockSize', blockSize, 1);
  return (_b, _h, q, kv) => Math.floor(q / bs) >= Math.floor(kv / bs);
}

/**
 * NBDiff-style: causal over the first `ctxLen` tokens (the context); after them, blocks of
 * `blockSize` that see the whole context, earlier blocks and every token of their own block.
 */
export function contextCausal(ctxLen: number, blockSize: number): MaskMod {
  const c = checkInt('contextCausal', 'ctxLen', ctxLen, 0);
  const bs = checkInt('contextCausal', 'blockSize', blockSize, 1);
  return (_b, _h, q, kv) => {
    if (kv < c) return q >= kv;
    if (q < c) return false;
    return Math.floor((q - c) / bs) >= Math.floor((kv - c) / bs);
  };
}

/**
 * BlockRank: `segments = [instruction, doc1, ..., docK, query]` lengths. Documents see the
 * instruction and themselves, the query sees everything, the instruction sees itself; causal
 * inside all of it unless `{ causal: false }`.
 */
export function blockRank(segments: number[], opts: { causal?: boolean } = {}): MaskMod {
  if (!Array.isArray(segments) || segments.length < 2) {
    throw new Error(
      `blockRank: segments must list [instruction, ...documents, query] lengths (at least 2), got ${JSON.stringify(segments)}`,
    );
  }
  segments.forEach((s, i) => checkInt('blockRank', `segments[${i}]`, s, 0));
  // one int32 per position is kept: bound the total like createBlockMask bounds its pairs
  const sum = segments.reduce((a, b) => a + b, 0);
  if (sum > 2 ** 28) throw new Error(`blockRank: segments total ${sum} positions, more than 2^28`);
  const starts: number[] = [];
  let total = 0;
  for (const s of segments) {
    starts.push(total);
    total += s;
  }
  const seg = new Int32Array(total);
  segments.forEach((s, i) => seg.fill(i, starts[i]!, starts[i]! + s));
  const last = segments.length - 1;
  const isCausal = causalOption('blockRank', opts);
  return (_b, _h, q, kv) => {
    if (q >= total || kv >= total)
      throw new Error(`blockRank: position ${Math.max(q, kv)} is beyond the segments' total length ${total}`);
    if (isCausal && kv > q) return false;
    const sq = seg[q]!;
    const sk = seg[kv]!;
    if (sq === last) return true;
    return sk === 0 || sk === sq;
  };
}

/** Both masks attend. */
export function and(...mods: MaskMod[]): MaskMod {
  checkMods('and', mods);
  return (b, h, q, kv) => mods.every((m) => m(b, h, q, kv));
}

/** Either mask attends. */
export function or(...mods: MaskMod[]): MaskMod {
  checkMods('or', mods);
  return (b, h, q, kv) => mods.some((m) => m(b, h, q, kv));
}

/** The complement of a mask. */
export function not(mod: MaskMod): MaskMod {
  checkMods('not', [mod]);
  return (b, h, q, kv) => !mod(b, h, q, kv);
}

/**
 * BD3-LM training mask over `[x_t (n tokens); x_0 (n tokens)]` (length 2n), token block =
 * (index within its half) / blockSize. A pair attends when (same block and same half), or
 * (query in x_t, key in x_0, key block strictly earlier), or (both in x_0, key block not later).
 * Density (N + 1) / (4N) for N = n / blockSize blocks.
 */
export function blockDiffusion(opts: { seqLen: number; blockSize: number }): MaskMod {
  if (opts === null || typeof opts !== 'object')
    throw new Error(`blockDiffusion: options { seqLen, blockSize } are required, got ${describeValue(opts)}`);
  checkOptions('blockDiffusion', opts, ['seqLen', 'blockSize']);
  const n = checkInt('blockDiffusion', 'seqLen', opts?.seqLen, 1);
  const bs = checkInt('blockDiffusion', 'blockSize', opts?.blockSize, 1);
  return (_b, _h, q, kv) => {
    const qx0 = q >= n;
    const kx0 = kv >= n;
    const qb = Math.floor((qx0 ? q - n : q) / bs);
    const kb = Math.floor((kx0 ? kv - n : kv) / bs);
    if (qb === kb && qx0 === kx0) return true;
    if (!qx0 && kx0 && kb < qb) return true;
    return qx0 && kx0 && kb <= qb;
  };
}
