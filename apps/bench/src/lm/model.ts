import { blockSparseAttention, type BlockMask } from '@blockwise/attention';
import type { Rng } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';

/** Sizes of the character transformer. */
export interface LmConfig {
  vocab: number; // including [MASK]
  dim: number;
  heads: number;
  layers: number;
  maxLen: number; // positions
}

/** The model's weights, named so optimizers and pruning can tell them apart. */
export interface LmWeights {
  config: LmConfig;
  vars: tf.Variable[];
  tokEmb: tf.Variable;
  posEmb: tf.Variable;
  blocks: {
    ln1g: tf.Variable;
    ln1b: tf.Variable;
    wq: tf.Variable;
    wk: tf.Variable;
    wv: tf.Variable;
    wo: tf.Variable;
    ln2g: tf.Variable;
    ln2b: tf.Variable;
    w1: tf.Variable;
    w2: tf.Variable;
  }[];
  lnfg: tf.Variable;
  lnfb: tf.Variable;
  head: tf.Variable;
}

/** Creates a pre-norm transformer with GPT-2-style initialisation (std 0.02, scaled residuals). */
export function createLm(config: LmConfig, rng: Rng, name = 'lm'): LmWeights {
  const { vocab, dim, layers, maxLen } = config;
  const vars: tf.Variable[] = [];
  const v = (t: tf.Tensor, n: string) => {
    const x = tf.variable(t, true, `${name}/${n}`);
    vars.push(x);
    return x;
  };
  const normal = (shape: number[], std: number) => rng.normalTensor(shape, 0, std);
  const resid = 0.02 / Math.sqrt(2 * layers);
  const tokEmb = v(normal([vocab, dim], 0.02), 'tok_embedding');
  const posEmb = v(normal([maxLen, dim], 0.01), 'pos_embedding');
  const blocks: LmWeights['blocks'] = [];
  for (let l = 0; l < layers; l++) {
    blocks.push({
      ln1g: v(tf.ones([dim]), `block${l}/ln1/gamma`),
      ln1b: v(tf.zeros([dim]), `block${l}/ln1/beta`),
      wq: v(normal([dim, dim], 0.02), `block${l}/attn/q/kernel`),
      wk: v(normal([dim, dim], 0.02), `block${l}/attn/k/kernel`),
      wv: v(normal([dim, dim], 0.02), `block${l}/attn/v/kernel`),
      wo: v(normal([dim, dim], resid), `block${l}/attn/out/kernel`),
      ln2g: v(tf.ones([dim]), `block${l}/ln2/gamma`),
      ln2b: v(tf.zeros([dim]), `block${l}/ln2/beta`),
      w1: v(normal([dim, 4 * dim], 0.02), `block${l}/mlp/fc1/kernel`),
      w2: v(normal([4 * dim, dim], resid), `block${l}/mlp/fc2/kernel`),
    });
  }
  const lnfg = v(tf.ones([dim]), 'ln_f/gamma');
  const lnfb = v(tf.zeros([dim]), 'ln_f/beta');
  const head = v(normal([dim, vocab], 0.02), 'head/kernel');
  const w: LmWeights = { config, vars, tokEmb, posEmb, blocks, lnfg, lnfb, head };
  return w;
}

/** Number of trainable parameters. */
export function parameterCount(w: LmWeights): number {
  return w.vars.reduce((s, x) => s + x.size, 0);
}

function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
}

/**
 * x @ w with a gradient that transposes explicitly: tfjs-wasm's transposed matmuls (which the
 * built-in gradient uses) ran about 2.5x slower than a transpose plus a plain matmul here.
 */
const linear = tf.customGrad(((x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy as tf.Tensor2D)];
    },
  };
}) as never) as unknown as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor2D;

/** GELU, tanh approximation (tfjs-core has no gelu op). */
function gelu(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/** Hook that sees the input of every MLP matrix (for pruning calibration). */
export type MatrixInputHook = (name: string, x2d: tf.Tensor2D) => void;

const biasCache = new WeakMap<BlockMask, Float32Array>();

/** The mask as an additive bias `[qLen, kvLen]` (0 where attending, -1e9 elsewhere), cached per mask. */
export function maskBias(mask: BlockMask): Float32Array {
  let bias = biasCache.get(mask);
  if (!bias) {
    bias = new Float32Array(mask.qLen * mask.kvLen);
    for (let q = 0; q < mask.qLen; q++)
      for (let k = 0; k < mask.kvLen; k++) if (!mask.maskMod(0, 0, q, k)) bias[q * mask.kvLen + k] = -1e9;
    biasCache.set(mask, bias);
  }
  return bias;
}

/**
 * Attention `[batch, heads, len, dh]` with the mask as an additive bias, through plain tfjs ops.
 * At these sizes (a few hundred positions) it ran 2-4x faster on wasm than the block-sparse
 * kernel, whose partial tiles (blocks that do not align with its 16-wide tiles) are evaluated
 * element by element.
 */
export function maskedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor): tf.Tensor4D {
  const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(q.shape[3])), bias);
  return tf.matMul(tf.softmax(scores), v) as tf.Tensor4D;
}

/**
 * Logits `[batch, len, vocab]` for tokens `[batch, len]`, with attention restricted by `mask`
 * (a block mask over len x len). `segments` lists segment lengths whose positions each restart
 * at 0 (default one segment: positions 0..len-1; BD3 uses [n, n] for [x_t; x_0]).
 */
export function lmForward(
  w: LmWeights,
  tokens: tf.Tensor2D,
  mask: BlockMask,
  segments?: number[],
  hook?: MatrixInputHook,
  attention: 'blockSparse' | 'dense' = 'dense',
): tf.Tensor3D {
  const [batch, len] = tokens.shape;
  const { dim, heads, vocab } = w.config;
  const dh = dim / heads;
  const segs = segments ?? [len];
  // Embeddings by one-hot matmul and slices: the wasm backend has no gather gradient.
  const tokE = tf.reshape(linear(tf.oneHot(tf.reshape(tokens, [batch * len]), vocab), w.tokEmb), [batch, len, dim]);
  const posE = tf.concat(
    segs.map((n) => tf.slice(w.posEmb, [0, 0], [n, dim])),
    0,
  );
  let x: tf.Tensor = tf.add(tokE, posE);
  const bias = attention === 'dense' ? tf.tensor2d(maskBias(mask), [mask.qLen, mask.kvLen]) : undefined;
  w.blocks.forEach((blk, l) => {
    const h = tf.reshape(layerNorm(x, blk.ln1g, blk.ln1b), [batch * len, dim]);
    const proj = (m: tf.Tensor) => tf.transpose(tf.reshape(linear(h, m), [batch, len, heads, dh]), [0, 2, 1, 3]);
    const [q, k, vv] = [proj(blk.wq), proj(blk.wk), proj(blk.wv)] as tf.Tensor4D[];
    const att = bias ? maskedAttention(q!, k!, vv!, bias) : blockSparseAttention(q!, k!, vv!, { blockMask: mask });
    const merged = tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [batch * len, dim]);
    x = tf.add(x, tf.reshape(linear(merged, blk.wo), [batch, len, dim]));
    const h2 = tf.reshape(layerNorm(x, blk.ln2g, blk.ln2b), [batch * len, dim]) as tf.Tensor2D;
    hook?.(`block${l}/mlp/fc1/kernel`, h2);
    const a = gelu(linear(h2, blk.w1)) as tf.Tensor2D;
    hook?.(`block${l}/mlp/fc2/kernel`, a);
    x = tf.add(x, tf.reshape(linear(a, blk.w2), [batch, len, dim]));
  });
  const out = linear(tf.reshape(layerNorm(x, w.lnfg, w.lnfb), [batch * len, dim]), w.head);
  return tf.reshape(out, [batch, len, w.config.vocab]) as tf.Tensor3D;
}

/** Mean cross-entropy (nats) of `logits [B, L, V]` against `targets [B, L]`, over `weights [B, L]` if given. */
export function tokenLoss(logits: tf.Tensor3D, targets: tf.Tensor2D, weights?: tf.Tensor2D): tf.Scalar {
  const [b, l, v] = logits.shape;
  const logp = tf.logSoftmax(tf.reshape(logits, [b * l, v]));
  const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.reshape(targets, [b * l]), v)), -1);
  if (!weights) return tf.neg(tf.mean(picked)) as tf.Scalar;
  const wf = tf.reshape(weights, [b * l]);
  return tf.div(tf.neg(tf.sum(tf.mul(picked, wf))), tf.maximum(tf.sum(wf), 1)) as tf.Scalar;
}
