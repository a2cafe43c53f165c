import * as tf from '@tensorflow/tfjs-core';
import { lmForward, type LmWeights } from './model.js';
import { blockCausalMask, causalMask } from './train.js';

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
 * Block-diffusion decoding (Fast-dLLM style): each new block starts as [MASK]; every model call
 * (block-causal mask over the clean prefix and the block) fills the masked positions whose top
 * probability exceeds `threshold`, at least the most confident one, until the block is clean.
 * The prompt length must be a multiple of the block size.
 */
export function decodeBlockDiffusion(w: LmWeights, prompt: Int32Array, count: number, block: number, threshold: number, maskId: number): Decoded {
  if (prompt.length % block !== 0) throw new Error(`decodeBlockDiffusion: prompt length ${prompt.length} must be a multiple of block ${block}`);
  const seq = Array.from(prompt);
  let calls = 0;
  const V = w.config.vocab - 1; // exclude [MASK] from predictions
  while (seq.length - prompt.length < count) {
    const start = seq.length;
    for (let i = 0; i < block; i++) seq.push(maskId);
    for (;;) {
      const open = seq.map((t, i) => (i >= start && t === maskId ? i : -1)).filter((i) => i >= 0);
      if (open.length === 0) break;
      const len = seq.length;
      const [probs, ids] = tf.tidy(() => {
        const logits = lmForward(w, tf.tensor2d(Int32Array.from(seq), [1, len], 'int32'), blockCausalMask(len, block));
        const blk = tf.reshape(tf.slice(logits, [0, start, 0], [1, block, V]), [block, V]);
        const p = tf.softmax(blk);
        return [tf.max(p, -1).dataSync(), tf.argMax(p, -1).dataSync()];
      });
      calls++;
      let best = open[0]!;
      let fill = 0;
      for (const i of open) {
        if (probs[i - start]! > probs[best - start]!) best = i;
        if (probs[i - start]! >= threshold) {
          seq[i] = ids[i - start]!;
          fill++;
        }
      }
      if (fill === 0) seq[best] = ids[best - start]!;
    }
  }
  return { tokens: Int32Array.from(seq.slice(prompt.length, prompt.length + count)), calls };
}
