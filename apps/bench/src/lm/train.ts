import { blockCausal, blockDiffusion, causal, createBlockMask, type BlockMask } from '@blockwise/attention';
import type { Rng } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { lmForward, tokenLoss, type LmWeights } from './model.js';

const maskCache = new Map<string, BlockMask>();

/** Causal mask over `len` tokens (cached). */
export function causalMask(len: number, tile = 16): BlockMask {
  const key = `causal:${len}:${tile}`;
  if (!maskCache.has(key)) maskCache.set(key, createBlockMask(causal, { qLen: len, kvLen: len, blockSize: Math.min(tile, len) }));
  return maskCache.get(key)!;
}

/** BD3-LM training mask over [x_t; x_0] for sequences of `n` tokens and blocks of `block` (cached). */
export function bd3Mask(n: number, block: number): BlockMask {
  const key = `bd3:${n}:${block}`;
  if (!maskCache.has(key)) maskCache.set(key, createBlockMask(blockDiffusion({ seqLen: n, blockSize: block }), { qLen: 2 * n, kvLen: 2 * n, blockSize: block }));
  return maskCache.get(key)!;
}

/** Block-causal inference mask over `len` tokens with blocks of `block` (cached). */
export function blockCausalMask(len: number, block: number): BlockMask {
  const key = `bc:${len}:${block}`;
  if (!maskCache.has(key)) maskCache.set(key, createBlockMask(blockCausal(block), { qLen: len, kvLen: len, blockSize: block }));
  return maskCache.get(key)!;
}

/** `count` random windows of `len + 1` tokens from a stream, as [inputs, next tokens]. */
export function sampleWindows(ids: Int32Array, count: number, len: number, rng: Rng): { x: Int32Array; y: Int32Array } {
  const x = new Int32Array(count * len);
  const y = new Int32Array(count * len);
  for (let i = 0; i < count; i++) {
    const s = rng.int(ids.length - len - 1);
    x.set(ids.subarray(s, s + len), i * len);
    y.set(ids.subarray(s + 1, s + len + 1), i * len);
  }
  return { x, y };
}

/** Fixed, evenly spaced validation windows. */
export function validationWindows(ids: Int32Array, count: number, len: number): { x: Int32Array; y: Int32Array } {
  const x = new Int32Array(count * len);
  const y = new Int32Array(count * len);
  const stride = Math.floor((ids.length - len - 1) / count);
  for (let i = 0; i < count; i++) {
    const s = i * stride;
    x.set(ids.subarray(s, s + len), i * len);
    y.set(ids.subarray(s + 1, s + len + 1), i * len);
  }
  return { x, y };
}

/** Next-token loss of a causal model (nats per token). */
export function causalLoss(w: LmWeights, x: Int32Array, y: Int32Array, batch: number, len: number): tf.Scalar {
  return tf.tidy(() => {
    const xt = tf.tensor2d(x, [batch, len], 'int32');
    const yt = tf.tensor2d(y, [batch, len], 'int32');
    return tokenLoss(lmForward(w, xt, causalMask(len)), yt);
  });
}

/**
 * BD3-LM masked-diffusion loss: each block of each sequence gets a noise level t ~ U(0.05, 1),
 * its tokens are replaced by [MASK] with probability t, and the model sees [x_t; x_0] under the
 * BD3 mask; the loss is the cross-entropy on the masked tokens (nats per masked token).
 */
export function bd3Loss(w: LmWeights, x0: Int32Array, batch: number, n: number, block: number, maskId: number, rng: Rng): tf.Scalar {
  const xt = new Int32Array(x0.length);
  const weight = new Float32Array(x0.length);
  for (let b = 0; b < batch; b++) {
    for (let start = 0; start < n; start += block) {
      const t = 0.05 + 0.95 * rng.next();
      let any = false;
      for (let i = start; i < Math.min(n, start + block); i++) {
        const k = b * n + i;
        const masked = rng.next() < t;
        xt[k] = masked ? maskId : x0[k]!;
        weight[k] = masked ? 1 : 0;
        any ||= masked;
      }
      if (!any) {
        const k = b * n + start + rng.int(Math.min(block, n - start));
        xt[k] = maskId;
        weight[k] = 1;
      }
    }
  }
  return tf.tidy(() => {
    const both = new Int32Array(batch * 2 * n);
    for (let b = 0; b < batch; b++) {
      both.set(xt.subarray(b * n, (b + 1) * n), b * 2 * n);
      both.set(x0.subarray(b * n, (b + 1) * n), b * 2 * n + n);
    }
    const logits = lmForward(w, tf.tensor2d(both, [batch, 2 * n], 'int32'), bd3Mask(n, block), [n, n]);
    const first = tf.slice(logits, [0, 0, 0], [batch, n, w.config.vocab]) as tf.Tensor3D;
    return tokenLoss(first, tf.tensor2d(x0, [batch, n], 'int32'), tf.tensor2d(weight, [batch, n]));
  });
}

/** What a training run measured. */
export interface TrainLog {
  losses: number[];
  lrs: number[];
  stepMs: number;
  tokensPerSecond: number;
}

/** Options of `trainLm`. */
export interface TrainLmOptions {
  steps: number;
  batch: number;
  len: number;
  mode: 'causal' | 'bd3';
  /** BD3 block size per step (a block-size curriculum), or a constant. */
  blockSize?: number | ((step: number) => number);
  maskId: number;
  learningRate: (step: number) => number;
  rng: Rng;
  progress?: (done: number, total: number) => void;
}

/** Trains in place with `optimizer`; returns the per-step losses and speed. */
export async function trainLm(w: LmWeights, train: Int32Array, optimizer: tf.Optimizer, o: TrainLmOptions): Promise<TrainLog> {
  const log: TrainLog = { losses: [], lrs: [], stepMs: 0, tokensPerSecond: 0 };
  const t0 = performance.now();
  for (let s = 0; s < o.steps; s++) {
    const { x, y } = sampleWindows(train, o.batch, o.len, o.rng);
    const block = typeof o.blockSize === 'function' ? o.blockSize(s) : (o.blockSize ?? 8);
    const loss = optimizer.minimize(
      () => (o.mode === 'causal' ? causalLoss(w, x, y, o.batch, o.len) : bd3Loss(w, x, o.batch, o.len, block, o.maskId, o.rng)),
      true,
      w.vars,
    )!;
    const value = (await loss.data())[0]!;
    loss.dispose();
    if (!Number.isFinite(value)) throw new Error(`trainLm: loss became ${value} at step ${s}`);
    log.losses.push(value);
    log.lrs.push(o.learningRate(s));
    o.progress?.(s + 1, o.steps);
  }
  const ms = performance.now() - t0;
  log.stepMs = ms / o.steps;
  log.tokensPerSecond = (o.steps * o.batch * o.len) / (ms / 1000);
  return log;
}
