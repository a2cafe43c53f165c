import { causal, createBlockMask, type BlockMask, type MaskMod } from '@blockwise/attention';
import type { Rng } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { lmForward, tokenLoss, type LmWeights } from './model.js';

const maskCache = new Map<string, BlockMask>();

function cached(key: string, make: () => BlockMask): BlockMask {
  let m = maskCache.get(key);
  if (!m) maskCache.set(key, (m = make()));
  return m;
}

/** Causal mask over `len` tokens (cached). */
export function causalMask(len: number, tile = 16): BlockMask {
  return cached(`causal:${len}:${tile}`, () =>
    createBlockMask(causal, { qLen: len, kvLen: len, blockSize: Math.min(tile, len) }),
  );
}

/**
 * Index of the block that position `i` falls in, for blocks of `block` tokens starting at
 * `offset` (the first block, before `offset`, is partial). Decoding starts blocks wherever the
 * prompt ends, so training sees every alignment.
 */
export function blockIndex(i: number, block: number, offset: number): number {
  return Math.floor((i + block - offset) / block);
}

/**
 * Block-diffusion training mask over `streams` noisy copies of a sequence of `n` tokens followed
 * by the clean sequence: `[x_t^1; ...; x_t^k; x_0]`. A noisy token sees the noisy tokens of its
 * own block (bidirectionally) and the clean tokens of earlier blocks; the clean stream is causal,
 * exactly as in the autoregressive model it is converted from. BD3-LM makes the clean stream
 * block-causal instead; keeping it causal makes the cache of finished tokens independent of where
 * blocks start, which AdaBlock's variable block sizes need, and keeps the converted weights'
 * prefix computation unchanged. Noisy streams never see each other (Fast-dLLM v2's complementary
 * masks share one clean stream this way).
 */
export function conversionMask(n: number, block: number, offset = 0, streams = 1): BlockMask {
  const noisy = streams * n;
  const mod: MaskMod = (_b, _h, q, kv) => {
    if (q >= noisy) return kv >= noisy && kv <= q;
    const i = q % n;
    if (kv >= noisy) return blockIndex(kv - noisy, block, offset) < blockIndex(i, block, offset);
    return (
      Math.floor(kv / n) === Math.floor(q / n) && blockIndex(kv % n, block, offset) === blockIndex(i, block, offset)
    );
  };
  const len = noisy + n;
  return cached(`conv:${n}:${block}:${offset}:${streams}`, () =>
    createBlockMask(mod, { qLen: len, kvLen: len, blockSize: 16 }),
  );
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

/**
 * Replaces the first round(fraction x batch) of `batch` windows of `len` tokens in `x` by windows
 * drawn at random from `distill.windows` (in place).
 */
export function mixDistilled(
  x: Int32Array,
  distill: { windows: Int32Array; fraction: number },
  batch: number,
  len: number,
  rng: Rng,
): void {
  const k = Math.round(distill.fraction * batch);
  const count = distill.windows.length / len;
  for (let b = 0; b < k; b++) {
    const w = rng.int(count);
    x.set(distill.windows.subarray(w * len, (w + 1) * len), b * len);
  }
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

/** How `blockDiffusionLoss` noises a batch. */
export interface NoiseOptions {
  /** Tokens per block. */
  block: number;
  /** Where the first full block starts (0..block-1). */
  offset?: number;
  /**
   * Fast-dLLM v2's complementary masks: a second noisy copy masks exactly the tokens the first
   * leaves clean, so every token is trained masked once per step and no step is wasted on a
   * copy that happens to mask little.
   */
  complementary?: boolean;
  /**
   * Weight λ in [0, 1) of the clean stream's next-token loss: the loss is (1 - λ) x masked-token
   * loss + λ x autoregressive loss of the clean stream (default 0). The clean stream is the
   * autoregressive model the conversion starts from, and decoding reads the first token of every
   * block and the cache of finished blocks from it, so keeping it trained keeps both as good as
   * the causal model's.
   */
  arWeight?: number;
  /**
   * 'uniform' (default): every block draws t ~ U(0, 1) and masks each token with probability t
   * (the complementary copy masks the rest). 'suffix': every block of every noisy copy draws a
   * cut c uniform over its positions and masks position c and, each with probability 0.85, the
   * positions after it (the state sliding-block decoding meets: a finished prefix, then a window
   * of masks with a few tokens already unmasked); the copies draw independent cuts.
   */
  pattern?: 'uniform' | 'suffix';
}

/**
 * The noisy copies of a batch of windows for `blockDiffusionLoss`: per window the tokens
 * `[x_t^1; (x_t^2;) x_0]`, and per noisy copy the masked-token weights and targets of positions
 * 1..n-1.
 */
export function noiseWindows(
  x0: Int32Array,
  batch: number,
  n: number,
  maskId: number,
  noise: NoiseOptions,
  rng: Rng,
): { tokens: Int32Array; weight: Float32Array; targets: Int32Array; streams: number } {
  const { block, offset = 0, complementary = true, pattern = 'uniform' } = noise;
  if (pattern !== 'uniform' && pattern !== 'suffix')
    throw new Error(`blockDiffusionLoss: pattern must be 'uniform' or 'suffix', got ${String(pattern)}`);
  const streams = complementary ? 2 : 1;
  const tokens = new Int32Array(batch * (streams + 1) * n);
  const weight = new Float32Array(batch * streams * (n - 1));
  const targets = new Int32Array(batch * streams * (n - 1));
  for (let b = 0; b < batch; b++) {
    const row = b * (streams + 1) * n;
    const win = x0.subarray(b * n, (b + 1) * n);
    let t = 0;
    let cur = -1;
    const cuts = [0, 0];
    for (let i = 0; i < n; i++) {
      const bi = blockIndex(i, block, offset);
      if (bi !== cur) {
        cur = bi;
        t = rng.next();
        if (pattern === 'suffix') for (let s = 0; s < streams; s++) cuts[s] = rng.int(block);
      }
      const masked = rng.next() < t;
      const k = (i + block - offset) % block; // position within its block
      for (let s = 0; s < streams; s++) {
        const m =
          pattern === 'suffix' ? k === cuts[s]! || (k > cuts[s]! && rng.next() < 0.85) : s === 0 ? masked : !masked;
        tokens[row + s * n + i] = m ? maskId : win[i]!;
        if (i > 0) {
          weight[(b * streams + s) * (n - 1) + i - 1] = m ? 1 : 0;
          targets[(b * streams + s) * (n - 1) + i - 1] = win[i]!;
        }
      }
      tokens[row + streams * n + i] = win[i]!;
    }
  }
  return { tokens, weight, targets, streams };
}

/**
 * Block-diffusion (masked-token) loss: in each block of each window a noise level t ~ U(0, 1)
 * masks every token with probability t; the model sees the noisy copies and the clean window
 * under `conversionMask` and is scored by cross-entropy on the masked tokens only (nats per
 * masked token), as in SDAR / Efficient-DLM's conversion of an autoregressive model. Predictions
 * keep the autoregressive shift (Fast-dLLM v2): token p is read from the output at p - 1, from
 * the noisy block inside a block and from the clean stream at a block's first token, so the
 * converted model keeps the next-token head it was trained with, and its first token of every
 * block is exactly its autoregressive prediction. The window's first token has no predecessor
 * and is never scored.
 */
export function blockDiffusionLoss(
  w: LmWeights,
  x0: Int32Array,
  batch: number,
  n: number,
  maskId: number,
  noise: NoiseOptions,
  rng: Rng,
): tf.Scalar {
  const { block, offset = 0, arWeight = 0 } = noise;
  if (!(arWeight >= 0 && arWeight < 1))
    throw new Error(`blockDiffusionLoss: arWeight must be in [0, 1), got ${arWeight}`);
  const { tokens, weight, targets, streams } = noiseWindows(x0, batch, n, maskId, noise, rng);
  // target p (1..n-1) reads the clean stream's output at p - 1 when p starts a block
  const fromClean = new Float32Array(n - 1);
  for (let p = 1; p < n; p++)
    fromClean[p - 1] = blockIndex(p, block, offset) !== blockIndex(p - 1, block, offset) ? 1 : 0;
  return tf.tidy(() => {
    const V = w.config.vocab;
    const len = (streams + 1) * n;
    const logits = lmForward(
      w,
      tf.tensor2d(tokens, [batch, len], 'int32'),
      conversionMask(n, block, offset, streams),
      Array(streams + 1).fill(n),
    );
    const noisy = tf.reshape(tf.slice(logits, [0, 0, 0], [batch, streams * n, V]), [batch, streams, n, V]);
    const clean = tf.reshape(tf.slice(logits, [0, streams * n, 0], [batch, n, V]), [batch, 1, n, V]);
    const pick = tf.reshape(tf.tensor1d(fromClean), [1, 1, n - 1, 1]);
    // explicit sizes: the gradient of a slice sized -1 comes out misshapen in tfjs 4.22
    const prev = (x: tf.Tensor) => tf.slice(x, [0, 0, 0, 0], [batch, x.shape[1]!, n - 1, V]);
    const shifted = tf.add(tf.mul(prev(clean), pick), tf.mul(prev(noisy), tf.sub(1, pick)));
    const masked = tokenLoss(
      tf.reshape(shifted, [batch * streams, n - 1, V]) as tf.Tensor3D,
      tf.tensor2d(targets, [batch * streams, n - 1], 'int32'),
      tf.tensor2d(weight, [batch * streams, n - 1]),
    );
    if (arWeight === 0) return masked;
    const next = new Int32Array(batch * (n - 1));
    for (let b = 0; b < batch; b++) next.set(x0.subarray(b * n + 1, (b + 1) * n), b * (n - 1));
    const ar = tokenLoss(
      tf.reshape(prev(clean), [batch, n - 1, V]) as tf.Tensor3D,
      tf.tensor2d(next, [batch, n - 1], 'int32'),
    );
    return tf.add(tf.mul(masked, 1 - arWeight), tf.mul(ar, arWeight)) as tf.Scalar;
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
  mode: 'causal' | 'blockDiffusion';
  /** Block-diffusion block size per step, or a constant (default 8). */
  blockSize?: number | ((step: number) => number);
  maskId: number;
  /** Block diffusion: weight of the clean stream's next-token loss (see `NoiseOptions.arWeight`). */
  arWeight?: number;
  /** Block diffusion: how blocks are noised (see `NoiseOptions.pattern`). */
  pattern?: 'uniform' | 'suffix';
  /**
   * Block diffusion: distillation windows (`greedyWindows`, `len` tokens each) and the share of
   * every batch drawn from them (the rest from `train`); default none.
   */
  distill?: { windows: Int32Array; fraction: number };
  learningRate: (step: number) => number;
  rng: Rng;
  /**
   * Losses stay on the device and are read together every `syncEvery` steps (default 25): a read
   * per step stalls the WebGPU queue, and an unread queue grows without bound.
   */
  syncEvery?: number;
  progress?: (done: number, total: number, loss: number) => void;
}

/** Trains in place with `optimizer`; returns the per-step losses and speed. */
export async function trainLm(
  w: LmWeights,
  train: Int32Array,
  optimizer: tf.Optimizer,
  o: TrainLmOptions,
): Promise<TrainLog> {
  const log: TrainLog = { losses: [], lrs: [], stepMs: 0, tokensPerSecond: 0 };
  const syncEvery = o.syncEvery ?? 25;
  let pending: tf.Scalar[] = [];
  const flush = async (step: number) => {
    const stacked = tf.stack(pending);
    const values = await stacked.data();
    stacked.dispose();
    tf.dispose(pending);
    pending = [];
    for (const v of values) {
      if (!Number.isFinite(v)) throw new Error(`trainLm: loss became ${v} by step ${step}`);
      log.losses.push(v);
    }
    o.progress?.(step + 1, o.steps, values[values.length - 1]!);
  };
  const distill = o.distill;
  if (distill) {
    if (o.mode !== 'blockDiffusion') throw new Error('trainLm: distill needs mode blockDiffusion');
    if (!(distill.fraction >= 0 && distill.fraction <= 1))
      throw new Error(`trainLm: distill.fraction must be in [0, 1], got ${distill.fraction}`);
    if (distill.windows.length < o.len || distill.windows.length % o.len !== 0)
      throw new Error(
        `trainLm: distill.windows must hold whole windows of len ${o.len}, got ${distill.windows.length} tokens`,
      );
  }
  const t0 = performance.now();
  for (let s = 0; s < o.steps; s++) {
    const { x, y } = sampleWindows(train, o.batch, o.len, o.rng);
    if (distill) mixDistilled(x, distill, o.batch, o.len, o.rng);
    const block = typeof o.blockSize === 'function' ? o.blockSize(s) : (o.blockSize ?? 8);
    const offset = o.mode === 'causal' ? 0 : o.rng.int(block);
    const loss = optimizer.minimize(
      () =>
        o.mode === 'causal'
          ? causalLoss(w, x, y, o.batch, o.len)
          : blockDiffusionLoss(
              w,
              x,
              o.batch,
              o.len,
              o.maskId,
              { block, offset, arWeight: o.arWeight, pattern: o.pattern },
              o.rng,
            ),
      true,
      w.vars,
    )!;
    pending.push(loss);
    log.lrs.push(o.learningRate(s));
    if (pending.length === syncEvery || s === o.steps - 1) await flush(s);
  }
  const ms = performance.now() - t0;
  log.stepMs = ms / o.steps;
  log.tokensPerSecond = (o.steps * o.batch * o.len) / (ms / 1000);
  return log;
}

/**
 * Mean of a loss over fixed windows in batches of 8, read from the device once at the end
 * (nats per token).
 */
async function meanLoss(
  count: number,
  len: number,
  x: Int32Array,
  loss: (x: Int32Array, i: number, n: number) => tf.Scalar,
): Promise<number> {
  const parts: tf.Scalar[] = [];
  const per = 8;
  for (let i = 0; i < count; i += per) {
    const n = Math.min(per, count - i);
    parts.push(tf.tidy(() => tf.mul(loss(x.subarray(i * len, (i + n) * len), i, n), n) as tf.Scalar));
  }
  const total = tf.addN(parts);
  const v = (await total.data())[0]! / count;
  tf.dispose([total, ...parts]);
  return v;
}

/** Validation next-token loss of a causal model over `count` windows (nats per character). */
export function causalValLoss(
  w: LmWeights,
  val: { x: Int32Array; y: Int32Array },
  count: number,
  len: number,
): Promise<number> {
  return meanLoss(count, len, val.x, (x, i, n) => causalLoss(w, x, val.y.subarray(i * len, (i + n) * len), n, len));
}

/**
 * Validation masked-token loss of a block-diffusion model (nats per masked character), with a
 * fixed noise draw (seeded) so two models are scored on the same masks.
 */
export function blockDiffusionValLoss(
  w: LmWeights,
  val: { x: Int32Array },
  count: number,
  len: number,
  maskId: number,
  block: number,
  rng: Rng,
): Promise<number> {
  return meanLoss(count, len, val.x, (x, _i, n) => blockDiffusionLoss(w, x, n, len, maskId, { block }, rng));
}
