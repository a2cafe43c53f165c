import { createBlockMask, decodeBlockDiffusion as decodeBlocks, type BlockDecodeOptions, type BlockDiffusionModel, type BlockMask, type MaskMod } from '@blockwise/attention';
import * as tf from '@tensorflow/tfjs-core';
import { lmForward, type LmWeights } from './model.js';
import { causalMask } from './train.js';

/** Generated tokens and how many model calls they took. */
export interface Decoded {
  tokens: Int32Array;
  calls: number;
}

/** Greedy autoregressive decoding: one model call per token. */
export function decodeAutoregressive(w: LmWeights, prompt: Int32Array, count: number): Decoded {
  const seq = Array.from(prompt);
  let calls = 0;
  for (let i = 0; i < count; i++) {
    const ctx = seq.slice(-w.config.maxLen);
    const next = tf.tidy(() => {
      const logits = lmForward(w, tf.tensor2d(Int32Array.from(ctx), [1, ctx.length], 'int32'), causalMask(ctx.length));
      const last = tf.slice(logits, [0, ctx.length - 1, 0], [1, 1, w.config.vocab - 1]); // never [MASK]
      return tf.argMax(tf.reshape(last, [-1])).dataSync()[0]!;
    });
    calls++;
    seq.push(next);
  }
  return { tokens: Int32Array.from(seq.slice(prompt.length)), calls };
}

/**
 * The BD3 model as `@blockwise/attention`'s decoding loop sees it. The cache is the clean prefix
 * (tokens; the model recomputes it, which changes time but not the count of model calls). A
 * call runs [prefix; block]: the prefix attends block-causally with the training block size
 * (bidirectional inside B-aligned blocks, as x_0 did in training), the block attends to the
 * whole prefix and to itself.
 */
export function bd3DecodingModel(w: LmWeights, maskId: number, trainBlock: number): BlockDiffusionModel<number[]> {
  const masks = new Map<string, BlockMask>();
  const maskFor = (prefix: number, len: number): BlockMask => {
    const key = `${prefix}:${len}`;
    if (!masks.has(key)) {
      const mod: MaskMod = (_b, _h, q, kv) => q >= prefix || (kv < prefix && Math.floor(kv / trainBlock) <= Math.floor(q / trainBlock));
      masks.set(key, createBlockMask(mod, { qLen: len, kvLen: len, blockSize: 16 }));
    }
    return masks.get(key)!;
  };
  const V = w.config.vocab;
  return {
    vocabSize: V,
    maskId,
    initCache: (prompt) => Array.from(prompt),
    extendCache: (cache, block) => [...cache, ...block],
    predict: (block, cache) => {
      const ctx = cache.slice(-(w.config.maxLen - block.length));
      const len = ctx.length + block.length;
      return tf.tidy(() => {
        const logits = lmForward(w, tf.tensor2d(Int32Array.from([...ctx, ...block]), [1, len], 'int32'), maskFor(ctx.length, len));
        return tf.slice(logits, [0, ctx.length, 0], [1, block.length, V]).dataSync() as Float32Array;
      });
    },
  };
}

/** Block-diffusion decoding of `count` tokens with the attention package's loop. */
export async function decodeBlockDiffusion(w: LmWeights, prompt: Int32Array, count: number, opts: Omit<BlockDecodeOptions, 'maxTokens'>, maskId: number, trainBlock: number): Promise<Decoded> {
  const r = await decodeBlocks(bd3DecodingModel(w, maskId, trainBlock), prompt, { ...opts, maxTokens: count });
  return { tokens: r.tokens, calls: r.modelCalls };
}
