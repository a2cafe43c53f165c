import { checkOptions, describeValue } from '@blockwise/tensor';
/**
 * A block-diffusion language model as the decoding loop sees it. `C` is whatever holds the clean
 * prefix (a key/value cache of finished blocks, or just their tokens).
 */
export interface BlockDiffusionModel<C> {
  vocabSize: number;
  /** Token id of a masked position. */
  maskId: number;
  /** The cache for the prompt. */
  initCache(prompt: Int32Array): C | Promise<C>;
  /**
   * Logits `[block.length * vocabSize]` for every position of a partly masked block (bidirectional
   * inside the block), given the cache of the finished prefix.
   */
  predict(block: Int32Array, cache: C): Float32Array | Promise<Float32Array>;
  /** The cache extended by a finished block (called once per block). */
  extendCache(cache: C, block: Int32Array): C | Promise<C>;
}

/** AdaBlock-dLLM: end the block at a confidently predicted delimiter. */
export interface AdaptiveBlockOptions {
  /** Token that ends a semantic step (e.g. a newline). */
  delimiterId: number;
  minBlock: number;
  maxBlock: number;
  /** Confidence the delimiter needs to set the block end (default 0.5). */
  delimiterThreshold?: number;
}

/** Options of `decodeBlockDiffusion`. */
export interface BlockDecodeOptions {
  /** Tokens to generate (at most; fewer when `eosId` appears). */
  maxTokens: number;
  /** Tokens per block; 1 makes the loop autoregressive decoding. */
  blockSize: number;
  /** Unmask every position whose top probability reaches this (at least one per step). Default 0.9. */
  threshold?: number;
  /** Fast-dLLM v2 sub-blocks: only positions in the current sub-block are unmasked. Default: the block. */
  subBlockSize?: number;
  adaptive?: AdaptiveBlockOptions;
  eosId?: number;
  /** Called after every model call with the block state. */
  onStep?(info: { blockStart: number; block: Int32Array; unmasked: number[] }): void;
}

/** What `decodeBlockDiffusion` produced and what it cost. */
export interface BlockDecodeResult {
  tokens: Int32Array;
  modelCalls: number;
  tokensPerCall: number;
  /** Size of every decoded block. */
  blockSizes: number[];
}

/** Most likely token other than the mask token, and its softmax probability. */
function softmaxTop(logits: Float32Array, off: number, vocab: number, maskId: number): { token: number; prob: number } {
  let best = 0;
  let mx = -Infinity;
  for (let t = 0; t < vocab; t++) {
    if (t === maskId) continue;
    const x = logits[off + t]!;
    if (x > mx) {
      mx = x;
      best = t;
    }
  }
  let sum = 0;
  // the mask token's own probability is not a prediction; renormalise without it
  for (let t = 0; t < vocab; t++) if (t !== maskId) sum += Math.exp(logits[off + t]! - mx);
  return { token: best, prob: 1 / sum };
}

function checkInt(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new Error(`decodeBlockDiffusion: ${name} must be an integer ${range}, got ${describeValue(v)}`);
  }
  return v;
}

/** Rejects logits of the wrong length or with NaN (a broken model must not decode silently). */
function checkLogits(logits: unknown, positions: number, vocab: number, maskId: number): Float32Array {
  if (!(logits instanceof Float32Array))
    throw new Error(
      `decodeBlockDiffusion: model.predict must return a Float32Array of logits, got ${describeValue(logits)}`,
    );
  if (logits.length !== positions * vocab) {
    throw new Error(
      `decodeBlockDiffusion: model.predict returned ${logits.length} logits, expected ${positions * vocab} (${positions} positions x vocabSize ${vocab})`,
    );
  }
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]!;
    // -Infinity rules a token out; NaN and +Infinity leave no defined probability
    if (Number.isNaN(x) || x === Infinity)
      throw new Error(
        `decodeBlockDiffusion: model.predict returned ${x} at position ${Math.floor(i / vocab)}, token ${i % vocab}`,
      );
  }
  for (let p = 0; p < positions; p++) {
    let any = false;
    for (let t = 0; t < vocab && !any; t++) any = t !== maskId && logits[p * vocab + t]! > -Infinity;
    if (!any)
      throw new Error(`decodeBlockDiffusion: model.predict returned -Infinity for every token at position ${p}`);
  }
  return logits;
}

/**
 * Block-diffusion decoding: blocks left to right, each denoised from all-masked by repeated model
 * calls that unmask every position above the confidence threshold (at least the most confident
 * one), optionally sub-block by sub-block (Fast-dLLM v2) and with the block size chosen from a
 * delimiter's confidence (AdaBlock-dLLM). Finished blocks go into the model's cache.
 */
export async function decodeBlockDiffusion<C>(
  model: BlockDiffusionModel<C>,
  prompt: Int32Array,
  opts: BlockDecodeOptions,
): Promise<BlockDecodeResult> {
  if (
    !model ||
    typeof model !== 'object' ||
    typeof model.predict !== 'function' ||
    typeof model.initCache !== 'function' ||
    typeof model.extendCache !== 'function'
  ) {
    throw new Error(
      `decodeBlockDiffusion: model must have vocabSize, maskId, initCache, predict and extendCache, got ${describeValue(model)}`,
    );
  }
  if (!(prompt instanceof Int32Array))
    throw new Error(`decodeBlockDiffusion: prompt must be an Int32Array of token ids, got ${describeValue(prompt)}`);
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts))
    throw new Error(`decodeBlockDiffusion: options { maxTokens, blockSize } are required, got ${describeValue(opts)}`);
  checkOptions('decodeBlockDiffusion', opts, [
    'maxTokens',
    'blockSize',
    'threshold',
    'subBlockSize',
    'adaptive',
    'eosId',
    'onStep',
  ]);
  // bounded: the tokens are collected in memory, and each costs model calls
  const maxTokens = checkInt('maxTokens', opts.maxTokens, 1, 2 ** 24);
  const blockSize = checkInt('blockSize', opts.blockSize, 1);
  const threshold = opts.threshold ?? 0.9;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold <= 1))
    throw new Error(`decodeBlockDiffusion: threshold must be in (0, 1], got ${describeValue(threshold)}`);
  if (opts.onStep !== undefined && typeof opts.onStep !== 'function')
    throw new Error(`decodeBlockDiffusion: onStep must be a function, got ${describeValue(opts.onStep)}`);
  const sub = opts.subBlockSize === undefined ? Infinity : checkInt('subBlockSize', opts.subBlockSize, 1);
  const ada = opts.adaptive;
  if (ada !== undefined) {
    if (ada === null || typeof ada !== 'object')
      throw new Error(
        `decodeBlockDiffusion: adaptive must be { delimiterId, minBlock, maxBlock }, got ${describeValue(ada)}`,
      );
    checkOptions('decodeBlockDiffusion: adaptive', ada, ['delimiterId', 'minBlock', 'maxBlock', 'delimiterThreshold']);
    checkInt('adaptive.minBlock', ada.minBlock, 1);
    checkInt('adaptive.maxBlock', ada.maxBlock, ada.minBlock);
    const dt = ada.delimiterThreshold ?? 0.5;
    if (typeof dt !== 'number' || !(dt > 0 && dt <= 1))
      throw new Error(`decodeBlockDiffusion: adaptive.delimiterThreshold must be in (0, 1], got ${describeValue(dt)}`);
  }
  const vocab = checkInt('model.vocabSize', model.vocabSize, 2);
  checkInt('model.maskId', model.maskId, 0, vocab - 1);
  if (ada) checkInt('adaptive.delimiterId', ada.delimiterId, 0, vocab - 1);
  if (opts.eosId !== undefined) checkInt('eosId', opts.eosId, 0, vocab - 1);
  let cache = await model.initCache(prompt);
  const out: number[] = [];
  const blockSizes: number[] = [];
  let calls = 0;
  let done = false;
  while (!done && out.length < maxTokens) {
    const left = maxTokens - out.length;
    let size = Math.min(blockSize, left);
    let pending: Float32Array | undefined;
    if (ada) {
      // One call on a maxBlock window: its predictions set the block end and serve as the first step.
      const window = new Int32Array(Math.min(ada.maxBlock, left)).fill(model.maskId);
      pending = checkLogits(await model.predict(window, cache), window.length, vocab, model.maskId);
      calls++;
      size = Math.min(Math.max(ada.minBlock, blockSize), window.length);
      for (let i = ada.minBlock - 1; i < window.length; i++) {
        const top = softmaxTop(pending, i * vocab, vocab, model.maskId);
        if (top.token === ada.delimiterId && top.prob >= (ada.delimiterThreshold ?? 0.5)) {
          size = i + 1;
          break;
        }
      }
      size = Math.min(size, window.length);
    }
    const block = new Int32Array(size).fill(model.maskId);
    let masked = size;
    while (masked > 0) {
      const logits = pending ?? checkLogits(await model.predict(block, cache), block.length, vocab, model.maskId);
      if (!pending) calls++;
      pending = undefined;
      // the current sub-block: the first one that still has masked positions
      let first = 0;
      while (block[first] !== model.maskId) first++;
      const subStart = Math.floor(first / sub) * (Number.isFinite(sub) ? sub : 0);
      const subEnd = Number.isFinite(sub) ? Math.min(size, subStart + sub) : size;
      const unmasked: number[] = [];
      let bestPos = -1;
      let bestTop = { token: 0, prob: -1 };
      const tops: { token: number; prob: number }[] = [];
      for (let i = subStart; i < subEnd; i++) {
        if (block[i] !== model.maskId) continue;
        const top = softmaxTop(logits, i * vocab, vocab, model.maskId);
        tops[i] = top;
        if (top.prob >= threshold) unmasked.push(i);
        if (top.prob > bestTop.prob) {
          bestTop = top;
          bestPos = i;
        }
      }
      if (unmasked.length === 0) unmasked.push(bestPos);
      for (const i of unmasked) block[i] = tops[i]!.token;
      masked -= unmasked.length;
      opts.onStep?.({ blockStart: out.length, block: block.slice(), unmasked });
    }
    cache = await model.extendCache(cache, block);
    blockSizes.push(size);
    for (const t of block) {
      out.push(t);
      if (opts.eosId !== undefined && t === opts.eosId) {
        done = true;
        break;
      }
    }
  }
  return {
    tokens: Int32Array.from(out),
    modelCalls: calls,
    tokensPerCall: out.length / Math.max(1, calls),
    blockSizes,
  };
}
