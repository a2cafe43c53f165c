import * as tf from '@tensorflow/tfjs-core';
import { cachedStep, disposeCache, emptyCache, truncateCache, type KvCache } from './kvcache.js';
import type { LmWeights } from './model.js';

/** Generated tokens and how many model calls they took. */
export interface Decoded {
  tokens: Int32Array;
  /** Every forward pass, the prompt's prefill included. */
  calls: number;
  /** Size of every decoded block (autoregressive: all 1; sliding: the tokens each call finished). */
  blockSizes: number[];
}

/** Most likely non-[MASK] token of every row and its probability (renormalised without [MASK]), read at once. */
async function topOf(logits: tf.Tensor2D, maskId: number): Promise<{ token: Int32Array; prob: Float32Array }> {
  const [rows, vocab] = logits.shape;
  const both = tf.tidy(() => {
    // [MASK] is the last id: drop its column so it is never predicted
    const kept = maskId === vocab - 1 ? tf.slice(logits, [0, 0], [rows, vocab - 1]) : logits;
    const p = tf.softmax(kept);
    return tf.concat([tf.cast(tf.argMax(p, -1), 'float32'), tf.max(p, -1)]);
  });
  const v = await both.data();
  both.dispose();
  return { token: Int32Array.from(v.subarray(0, rows)), prob: Float32Array.from(v.subarray(rows)) };
}

function checkDecodeArgs(what: string, w: LmWeights, prompt: Int32Array, count: number): void {
  if (!(prompt instanceof Int32Array) || prompt.length === 0)
    throw new Error(
      `${what}: prompt must be a non-empty Int32Array, got ${prompt?.constructor?.name ?? String(prompt)} of length ${prompt?.length}`,
    );
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`${what}: count must be a positive integer, got ${String(count)}`);
  if (prompt.length + count > w.config.maxLen)
    throw new Error(
      `${what}: prompt (${prompt.length}) + count (${count}) exceeds the model's ${w.config.maxLen} positions`,
    );
}

/**
 * Greedy autoregressive decoding with a key/value cache (the fair baseline): the prompt in one
 * call that also yields the first token, then one call per token on that token alone.
 */
export async function decodeAutoregressive(
  w: LmWeights,
  prompt: Int32Array,
  count: number,
  maskId = w.config.vocab - 1,
): Promise<Decoded> {
  checkDecodeArgs('decodeAutoregressive', w, prompt, count);
  let cache = emptyCache(w);
  const out: number[] = [];
  let input = prompt;
  let calls = 0;
  try {
    while (out.length < count) {
      const step = cachedStep(w, cache, input, input.length, input.length - 1);
      if (step.cache !== cache) disposeCache(cache);
      cache = step.cache;
      calls++;
      const top = await topOf(step.logits, maskId);
      step.logits.dispose();
      out.push(top.token[0]!);
      input = Int32Array.of(top.token[0]!);
    }
  } finally {
    disposeCache(cache);
  }
  return { tokens: Int32Array.from(out), calls, blockSizes: out.map(() => 1) };
}

/** AdaBlock-dLLM: end each block at a confidently predicted delimiter. */
export interface AdaptiveBlocks {
  /** Token that ends a semantic step (a space: words; a newline: lines). */
  delimiterId: number;
  minBlock: number;
  maxBlock: number;
  /** Confidence the delimiter needs to end the block there (default 0.5). */
  delimiterThreshold?: number;
}

/** Options of `decodeBlocks`. */
export interface BlockDecodeOptions {
  /** Tokens per block (with `adaptive`: the block size when no delimiter is confident). */
  blockSize: number;
  /** Unmask every position whose probability reaches this; at least the most confident one per call. */
  threshold: number;
  /** Fast-dLLM v2's sub-blocks: only the first sub-block that still has masked positions is unmasked. */
  subBlockSize?: number;
  adaptive?: AdaptiveBlocks;
  /**
   * Also unmask the leftmost masked position in every call, confident or not (default false:
   * Fast-dLLM's rule, the most confident position when none reaches the threshold). Every token
   * before it is known, so its prediction is the one autoregressive decoding would make there;
   * the threshold then only decides which tokens further right come for free.
   */
  alwaysLeftmost?: boolean;
}

const DECODE_KEYS = ['blockSize', 'threshold', 'subBlockSize', 'adaptive', 'alwaysLeftmost'];
const ADAPTIVE_KEYS = ['delimiterId', 'minBlock', 'maxBlock', 'delimiterThreshold'];

function checkBlockOptions(o: BlockDecodeOptions): void {
  const int = (name: string, v: unknown, min: number) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      throw new Error(`decodeBlocks: ${name} must be an integer >= ${min}, got ${String(v)}`);
  };
  if (o === null || typeof o !== 'object') throw new Error(`decodeBlocks: options must be an object, got ${String(o)}`);
  for (const k of Object.keys(o))
    if (!DECODE_KEYS.includes(k))
      throw new Error(`decodeBlocks: unknown option ${JSON.stringify(k)} (expected one of ${DECODE_KEYS.join(', ')})`);
  int('blockSize', o.blockSize, 1);
  if (typeof o.threshold !== 'number' || !(o.threshold > 0 && o.threshold <= 1))
    throw new Error(`decodeBlocks: threshold must be a number in (0, 1], got ${String(o.threshold)}`);
  if (o.subBlockSize !== undefined) int('subBlockSize', o.subBlockSize, 1);
  if (o.alwaysLeftmost !== undefined && typeof o.alwaysLeftmost !== 'boolean')
    throw new Error(`decodeBlocks: alwaysLeftmost must be a boolean, got ${String(o.alwaysLeftmost)}`);
  if (o.adaptive !== undefined) {
    for (const k of Object.keys(o.adaptive))
      if (!ADAPTIVE_KEYS.includes(k))
        throw new Error(`decodeBlocks: unknown option adaptive.${k} (expected one of ${ADAPTIVE_KEYS.join(', ')})`);
    int('adaptive.delimiterId', o.adaptive.delimiterId, 0);
    int('adaptive.minBlock', o.adaptive.minBlock, 1);
    int('adaptive.maxBlock', o.adaptive.maxBlock, o.adaptive.minBlock);
  }
}

/**
 * Block-diffusion decoding with a cache of finished blocks: blocks left to right, each denoised
 * from all-[MASK] by model calls that unmask every position whose confidence reaches the
 * threshold (at least the most confident one, or always the leftmost with `alwaysLeftmost`),
 * within the current sub-block when sub-blocks are on. Position j of a block is predicted from the output at the position before it, as the
 * conversion trained it (so block size 1 is exactly autoregressive decoding). The call that
 * opens a block also commits the previous one (its clean tokens' keys and
 * values join the cache in the same forward pass), so a block of k calls costs exactly k calls;
 * the first call also carries the prompt. With `adaptive`, the opening call runs a `maxBlock`
 * window and the block ends at the first position (at least `minBlock`) where the delimiter is
 * predicted with enough confidence; that call's predictions are the block's first step.
 */
export async function decodeBlocks(
  w: LmWeights,
  prompt: Int32Array,
  count: number,
  opts: BlockDecodeOptions,
  maskId = w.config.vocab - 1,
): Promise<Decoded> {
  checkDecodeArgs('decodeBlocks', w, prompt, count);
  checkBlockOptions(opts);
  const { threshold, adaptive } = opts;
  const sub = opts.subBlockSize ?? Infinity;
  let cache: KvCache = emptyCache(w);
  let pendingClean = prompt;
  const out: number[] = [];
  const blockSizes: number[] = [];
  let calls = 0;
  // Predictions keep the autoregressive shift: block position j is read from the output at the
  // position before it. The call that opens a block reads position 0 from the last committed
  // token; that output does not change while the block is denoised, so later calls reuse it.
  let opening: { token: number; prob: number } = { token: 0, prob: 0 };
  const call = async (block: Int32Array) => {
    const P = pendingClean.length;
    const input = new Int32Array(P + block.length);
    input.set(pendingClean);
    input.set(block, P);
    const step =
      P > 0
        ? cachedStep(w, cache, input, P, P - 1, P - 1 + block.length)
        : block.length > 1
          ? cachedStep(w, cache, input, 0, 0, block.length - 1)
          : undefined;
    // a one-token block is always finished by its opening call, so no call is ever skipped here
    if (!step) return { token: Int32Array.of(opening.token), prob: Float32Array.of(opening.prob) };
    calls++;
    if (step.cache !== cache) disposeCache(cache);
    cache = step.cache;
    pendingClean = new Int32Array(0);
    const top = await topOf(step.logits, maskId);
    step.logits.dispose();
    if (P > 0) {
      opening = { token: top.token[0]!, prob: top.prob[0]! };
      return top;
    }
    const token = new Int32Array(block.length);
    const prob = new Float32Array(block.length);
    token[0] = opening.token;
    prob[0] = opening.prob;
    token.set(top.token, 1);
    prob.set(top.prob, 1);
    return { token, prob };
  };
  try {
    while (out.length < count) {
      const left = count - out.length;
      let size = Math.min(opts.blockSize, left);
      let first: Awaited<ReturnType<typeof call>> | undefined;
      if (adaptive) {
        const window = Math.min(adaptive.maxBlock, left);
        first = await call(new Int32Array(window).fill(maskId));
        size = Math.min(Math.max(adaptive.minBlock, opts.blockSize), window);
        for (let i = Math.min(adaptive.minBlock, window) - 1; i < window; i++) {
          if (first.token[i] === adaptive.delimiterId && first.prob[i]! >= (adaptive.delimiterThreshold ?? 0.5)) {
            size = i + 1;
            break;
          }
        }
      }
      const block = new Int32Array(size).fill(maskId);
      let masked = size;
      while (masked > 0) {
        const top = first ?? (await call(block));
        first = undefined;
        let lo = 0;
        while (block[lo] !== maskId) lo++;
        const subStart = Number.isFinite(sub) ? Math.floor(lo / sub) * sub : 0;
        const subEnd = Math.min(size, subStart + sub);
        let best = -1;
        const chosen: number[] = [];
        for (let i = subStart; i < subEnd; i++) {
          if (block[i] !== maskId) continue;
          if (top.prob[i]! >= threshold) chosen.push(i);
          if (best < 0 || top.prob[i]! > top.prob[best]!) best = i;
        }
        if (opts.alwaysLeftmost && !chosen.includes(lo)) chosen.push(lo);
        else if (chosen.length === 0) chosen.push(best);
        for (const i of chosen) block[i] = top.token[i]!;
        masked -= chosen.length;
      }
      blockSizes.push(size);
      out.push(...block);
      pendingClean = block;
    }
  } finally {
    disposeCache(cache);
  }
  return { tokens: Int32Array.from(out), calls, blockSizes };
}

/**
 * Checks the arguments of the window decoders (`blockSize` and `threshold` options): the
 * threshold lies in (0, 1], or in [0, 1] with `zeroThreshold`.
 */
function checkWindowOptions(
  what: string,
  w: LmWeights,
  prompt: Int32Array,
  count: number,
  opts: { blockSize: number; threshold: number },
  keys: string[],
  zeroThreshold: boolean,
): void {
  checkDecodeArgs(what, w, prompt, count);
  if (opts === null || typeof opts !== 'object')
    throw new Error(`${what}: options must be an object, got ${String(opts)}`);
  for (const k of Object.keys(opts))
    if (!keys.includes(k))
      throw new Error(`${what}: unknown option ${JSON.stringify(k)} (expected one of ${keys.join(', ')})`);
  if (!Number.isInteger(opts.blockSize) || opts.blockSize < 1)
    throw new Error(`${what}: blockSize must be an integer >= 1, got ${String(opts.blockSize)}`);
  const t = opts.threshold;
  if (typeof t !== 'number' || !((zeroThreshold ? t >= 0 : t > 0) && t <= 1))
    throw new Error(`${what}: threshold must be a number in ${zeroThreshold ? '[' : '('}0, 1], got ${String(t)}`);
}

/** Options of `decodeSliding`. */
export interface SlidingDecodeOptions {
  /** Positions denoised per call (the window after the last finished token). */
  blockSize: number;
  /** Besides the window's first position, unmask every position whose probability reaches this. */
  threshold: number;
}

const SLIDING_KEYS = ['blockSize', 'threshold'];

/**
 * Block-diffusion decoding with a sliding block: every call commits the finished tokens that
 * follow the cache (their keys and values join it in the same forward pass) and denoises a
 * window of `blockSize` positions right after them. The window's first position is read from
 * the last finished token's causal output, so it is exactly the autoregressive prediction of the
 * clean stream and is always unmasked; every other masked position of the window whose
 * confidence reaches the threshold is unmasked with it, and the window then slides past the
 * finished prefix. With a threshold no position reaches, it is autoregressive decoding with a
 * KV cache, call for call. The conversion trains blocks at every offset, so a block starting at
 * any position is in distribution.
 */
export async function decodeSliding(
  w: LmWeights,
  prompt: Int32Array,
  count: number,
  opts: SlidingDecodeOptions,
  maskId = w.config.vocab - 1,
): Promise<Decoded> {
  checkWindowOptions('decodeSliding', w, prompt, count, opts, SLIDING_KEYS, false);
  let cache: KvCache = emptyCache(w);
  let pending = prompt;
  let window: number[] = [];
  const out: number[] = [];
  const blockSizes: number[] = [];
  let calls = 0;
  try {
    while (out.length < count) {
      const size = Math.min(opts.blockSize, count - out.length);
      while (window.length < size) window.push(maskId);
      const P = pending.length;
      const input = new Int32Array(P + size);
      input.set(pending);
      input.set(window, P);
      // rows P-1 .. P+size-2: window position j is read from the output before it
      const step = cachedStep(w, cache, input, P, P - 1, P - 1 + size);
      calls++;
      if (step.cache !== cache) disposeCache(cache);
      cache = step.cache;
      const top = await topOf(step.logits, maskId);
      step.logits.dispose();
      for (let j = 0; j < size; j++)
        if (window[j] === maskId && (j === 0 || top.prob[j]! >= opts.threshold)) window[j] = top.token[j]!;
      let k = 0;
      while (k < size && window[k] !== maskId) k++;
      pending = Int32Array.from(window.slice(0, k));
      window = window.slice(k);
      out.push(...pending);
      blockSizes.push(k);
    }
  } finally {
    disposeCache(cache);
  }
  return { tokens: Int32Array.from(out), calls, blockSizes };
}

/** Options of `decodeSpeculative`. */
export interface SpeculativeDecodeOptions {
  /** Positions denoised per call after the verified and drafted tokens (the drafting window). */
  blockSize: number;
  /**
   * A window position becomes a draft when it and every window position before it reach this
   * confidence; 0 drafts the whole window. Drafts are only guesses: verification decides.
   */
  threshold: number;
}

const SPECULATIVE_KEYS = ['blockSize', 'threshold'];

/**
 * Self-speculative block-diffusion decoding (lossless): one model call both verifies the drafts
 * of the previous call and drafts the next ones. The call's clean tokens are the last verified
 * token and the drafts, attending causally (the converted model's clean stream is the causal
 * model); the window of [MASK] after them is denoised as a block. A draft is accepted when it
 * equals the clean stream's greedy prediction at its position, read in the same call, so the
 * output is the model's greedy autoregressive decoding token for token; each call yields the
 * accepted drafts plus one token (the greedy prediction after them), and when every draft is
 * accepted the window's confident prefix becomes the next drafts. Rejected drafts leave the key/
 * value cache (it is cut back to the accepted tokens). The block-diffusion model is its own
 * draft model, with no second network and no extra call.
 */
export async function decodeSpeculative(
  w: LmWeights,
  prompt: Int32Array,
  count: number,
  opts: SpeculativeDecodeOptions,
  maskId = w.config.vocab - 1,
): Promise<Decoded> {
  checkWindowOptions('decodeSpeculative', w, prompt, count, opts, SPECULATIVE_KEYS, true);
  let cache: KvCache = emptyCache(w);
  let verified = prompt; // verified tokens not yet in the cache
  let drafts: number[] = [];
  const out: number[] = [];
  const blockSizes: number[] = [];
  let calls = 0;
  try {
    while (out.length < count) {
      const left = count - out.length;
      // drafts beyond what is still wanted are dropped; the window only when nothing more is needed
      drafts = drafts.slice(0, left - 1);
      const V = verified.length;
      const D = drafts.length;
      const size = Math.max(0, Math.min(opts.blockSize, left - 1 - D, w.config.maxLen - cache.length - V - D));
      const input = new Int32Array(V + D + size);
      input.set(verified);
      input.set(drafts, V);
      input.fill(maskId, V + D);
      // rows V-1 .. V-1+D: the greedy prediction after each clean token; the window's positions
      // 1..size-1 are read from the [MASK] before them
      // (the last [MASK]'s own output is never read; with no window, the row after the last draft)
      const step = cachedStep(w, cache, input, V + D, V - 1, V + D + Math.max(size - 1, 0));
      calls++;
      const top = await topOf(step.logits, maskId);
      step.logits.dispose();
      let acc = 0;
      while (acc < D && drafts[acc] === top.token[acc]) acc++;
      const next = top.token[acc]!;
      let cacheNext = step.cache;
      if (acc < D) {
        cacheNext = truncateCache(step.cache, cache.length + V + acc);
        disposeCache(step.cache);
      }
      if (cacheNext !== cache) disposeCache(cache);
      cache = cacheNext;
      const finished = [...drafts.slice(0, acc), next];
      out.push(...finished);
      blockSizes.push(finished.length);
      verified = Int32Array.of(next);
      drafts = [];
      if (acc === D)
        for (let j = 1; j < size && top.prob[D + j]! >= opts.threshold; j++) drafts.push(top.token[D + j]!);
    }
  } finally {
    disposeCache(cache);
  }
  return { tokens: Int32Array.from(out.slice(0, count)), calls, blockSizes };
}
