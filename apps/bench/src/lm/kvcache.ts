import * as tf from '@tensorflow/tfjs-core';
import { maskedAttention, type LmWeights } from './model.js';

/**
 * Keys and values of finished tokens, per layer `[heads, length, dh]`, so that a model call only
 * runs the tokens it adds: the autoregressive baseline's key/value cache and block diffusion's
 * cache of finished blocks are the same object (the converted model keeps a causal clean stream).
 */
export interface KvCache {
  keys: tf.Tensor3D[];
  values: tf.Tensor3D[];
  /** Finished tokens held (the next position). */
  length: number;
}

/** An empty cache for `w`. */
export function emptyCache(w: LmWeights): KvCache {
  const { heads, dim, layers } = w.config;
  const empty = () => Array.from({ length: layers }, () => tf.zeros([heads, 0, dim / heads]) as tf.Tensor3D);
  return { keys: empty(), values: empty(), length: 0 };
}

/** Frees a cache's tensors. */
export function disposeCache(c: KvCache): void {
  tf.dispose([...c.keys, ...c.values]);
}

function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
}

function gelu(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/** What one cached model call returns: logits of the requested rows and the cache after it. */
export interface StepResult {
  /** `[to - from, vocab]` for token positions `from..to-1`. */
  logits: tf.Tensor2D;
  /** The input cache plus the `clean` tokens' keys and values (the same object when `clean` is 0). */
  cache: KvCache;
}

/**
 * One model call on `tokens` placed after the cache. The first `clean` tokens are finished: they
 * attend causally (to the cache and to the clean tokens up to themselves) and their keys and
 * values join the cache. The rest are a block being denoised: they attend to the cache, the
 * clean tokens and every token of their block (bidirectionally), and nothing of theirs is kept.
 * Autoregressive decoding calls it with one clean token; block diffusion commits a finished block
 * and opens the next in the same call. The caller disposes the old cache once it has the new one.
 */
export function cachedStep(
  w: LmWeights,
  cache: KvCache,
  tokens: Int32Array,
  clean: number,
  from: number,
  to = tokens.length,
): StepResult {
  const m = tokens.length;
  const T = cache.length;
  const { dim, heads, vocab, maxLen } = w.config;
  if (m === 0) throw new Error('cachedStep: tokens must not be empty');
  if (!Number.isInteger(clean) || clean < 0 || clean > m)
    throw new Error(`cachedStep: clean must be an integer in [0, ${m}], got ${clean}`);
  if (!Number.isInteger(from) || from < 0 || from >= m)
    throw new Error(`cachedStep: from must be an integer in [0, ${m - 1}], got ${from}`);
  if (!Number.isInteger(to) || to <= from || to > m)
    throw new Error(`cachedStep: to must be an integer in [${from + 1}, ${m}], got ${to}`);
  if (T + m > maxLen)
    throw new Error(`cachedStep: ${T} cached + ${m} new tokens exceed the model's ${maxLen} positions`);
  const dh = dim / heads;
  const bias = new Float32Array(m * (T + m));
  for (let r = 0; r < clean; r++) for (let j = r + 1; j < m; j++) bias[r * (T + m) + T + j] = -1e9;
  const next: KvCache = { keys: [], values: [], length: T + clean };
  const logits = tf.tidy((): tf.Tensor2D => {
    const biasT = tf.tensor2d(bias, [m, T + m]);
    const tok = tf.oneHot(tf.tensor1d(tokens, 'int32'), vocab);
    let x: tf.Tensor = tf.add(tf.matMul(tok, w.tokEmb), tf.slice(w.posEmb, [T, 0], [m, dim]));
    w.blocks.forEach((blk, l) => {
      const h = layerNorm(x, blk.ln1g, blk.ln1b) as tf.Tensor2D;
      const proj = (mat: tf.Tensor) =>
        tf.transpose(tf.reshape(tf.matMul(h, mat as tf.Tensor2D), [m, heads, dh]), [1, 0, 2]) as tf.Tensor3D;
      const k = tf.concat([cache.keys[l]!, proj(blk.wk)], 1) as tf.Tensor3D;
      const v = tf.concat([cache.values[l]!, proj(blk.wv)], 1) as tf.Tensor3D;
      if (clean > 0) {
        next.keys.push(tf.keep(tf.slice(k, [0, 0, 0], [heads, T + clean, dh])));
        next.values.push(tf.keep(tf.slice(v, [0, 0, 0], [heads, T + clean, dh])));
      }
      const att = maskedAttention(
        tf.expandDims(proj(blk.wq), 0) as tf.Tensor4D,
        tf.expandDims(k, 0) as tf.Tensor4D,
        tf.expandDims(v, 0) as tf.Tensor4D,
        biasT,
      );
      x = tf.add(x, tf.matMul(tf.reshape(tf.transpose(tf.squeeze(att, [0]), [1, 0, 2]), [m, dim]), blk.wo));
      const h2 = layerNorm(x, blk.ln2g, blk.ln2b) as tf.Tensor2D;
      x = tf.add(x, tf.matMul(gelu(tf.matMul(h2, blk.w1)) as tf.Tensor2D, blk.w2));
    });
    const rows = tf.slice(x, [from, 0], [to - from, dim]);
    return tf.matMul(layerNorm(rows, w.lnfg, w.lnfb) as tf.Tensor2D, w.head as tf.Tensor2D);
  });
  return { logits, cache: clean > 0 ? next : cache };
}

/**
 * The first `length` tokens of a cache (a new cache; the caller disposes the old one): speculative
 * decoding drops the keys and values of drafted tokens that verification rejected.
 */
export function truncateCache(c: KvCache, length: number): KvCache {
  if (!Number.isInteger(length) || length < 0 || length > c.length)
    throw new Error(`truncateCache: length must be an integer in [0, ${c.length}], got ${String(length)}`);
  const cut = (t: tf.Tensor3D) => tf.slice(t, [0, 0, 0], [t.shape[0], length, t.shape[2]]);
  return { keys: c.keys.map(cut), values: c.values.map(cut), length };
}
