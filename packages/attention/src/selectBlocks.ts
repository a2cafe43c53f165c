import { checkOptions, describeValue } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { assembleBlockMask, createBlockMask, type BlockMask, type MaskMod } from './blockMask.js';
import { fullMask } from './masks.js';
import { checkQkv, resolveScale } from './validate.js';

/**
 * Throws when `data` (the values of tensor `name`) holds NaN or ±Infinity: the pooled scores, and
 * so the selected blocks, would be garbage without any other sign. @internal
 */
export function checkFinite(where: string, name: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!))
      throw new Error(`${where}: ${name} must be finite, got ${String(data[i])} at flat index ${i}`);
  }
}

/** Options of `selectBlocks`. */
export interface SelectBlocksOptions {
  /** Block size (or `[qBlock, kvBlock]`) of the returned mask. */
  blockSize: number | [number, number];
  /** Keep this many top-scoring key blocks per query block (plus the first and diagonal blocks). */
  topK?: number;
  /** Keep the smallest set of key blocks whose softmax mass reaches this fraction (0, 1]. */
  threshold?: number;
  /** How a block's rows are pooled before scoring: mean (default) or elementwise max. */
  pooling?: 'mean' | 'max';
  /** Pairs that may attend at all (e.g. `causal`); blocks without any allowed pair are never kept. */
  maskMod?: MaskMod;
  /** Softmax scale of the pooled scores (default 1/sqrt(dim)). */
  scale?: number;
  /** `[batch, heads]` that `maskMod` distinguishes (default [1, 1]: the same for all). */
  maskShape?: [number, number];
}

function pool(
  x: Float32Array,
  rows: number,
  block: number,
  d: number,
  mode: 'mean' | 'max',
  head: number,
): Float32Array {
  const nb = Math.ceil(rows / block);
  const out = new Float32Array(nb * d);
  for (let bi = 0; bi < nb; bi++) {
    const r0 = bi * block;
    const r1 = Math.min(rows, r0 + block);
    for (let t = 0; t < d; t++) {
      let acc = mode === 'max' ? -Infinity : 0;
      for (let r = r0; r < r1; r++) {
        const val = x[(head * rows + r) * d + t]!;
        acc = mode === 'max' ? Math.max(acc, val) : acc + val;
      }
      out[bi * d + t] = mode === 'max' ? acc : acc / (r1 - r0);
    }
  }
  return out;
}

/**
 * Picks key blocks per query block from pooled-score probabilities `prob` (one row of `nk`,
 * zero for blocks that are not candidates): the `topK` best, or the smallest set reaching
 * `threshold` of the mass; `always` blocks are added when they are candidates.
 * @internal
 */
export function pickBlocks(
  prob: Float64Array,
  candidate: Uint8Array,
  always: number[],
  opts: { topK?: number; threshold?: number },
): Uint8Array {
  const nk = prob.length;
  const keep = new Uint8Array(nk);
  const order = Array.from({ length: nk }, (_, i) => i).filter((i) => candidate[i]);
  order.sort((a, b) => prob[b]! - prob[a]! || a - b);
  if (opts.topK !== undefined) {
    for (let i = 0; i < Math.min(opts.topK, order.length); i++) keep[order[i]!] = 1;
  } else {
    const th = opts.threshold!;
    if (th >= 1) for (const i of order) keep[i] = 1;
    else {
      let mass = 0;
      for (const i of order) {
        if (mass >= th) break;
        keep[i] = 1;
        mass += prob[i]!;
      }
    }
  }
  for (const i of always) if (i >= 0 && i < nk && candidate[i]) keep[i] = 1;
  return keep;
}

/** Keeps only the blocks `table` (per batch, head, query block, key block) marks, broadcasting `base` over batch and heads. @internal */
export function restrictBlockMask(base: BlockMask, table: Uint8Array, batch: number, heads: number): BlockMask {
  const { numQBlocks: nq, numKvBlocks: nk } = base;
  const partialDense = new Uint8Array(batch * heads * nq * nk);
  const fullDense = new Uint8Array(partialDense.length);
  const partialOffset = new Int32Array(partialDense.length).fill(-1);
  const baseDense = base.toDense();
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const s = b * heads + h;
      const bs = (base.batch === 1 ? 0 : b) * base.heads + (base.heads === 1 ? 0 : h);
      for (let c = 0; c < nq * nk; c++) {
        const cell = s * nq * nk + c;
        const bc = bs * nq * nk + c;
        if (!table[cell] || !baseDense[bc]) continue;
        const off = base.partialOffset[bc]!;
        if (off >= 0) {
          partialDense[cell] = 1;
          partialOffset[cell] = off;
        } else fullDense[cell] = 1;
      }
    }
  }
  return assembleBlockMask({
    batch,
    heads,
    qLen: base.qLen,
    kvLen: base.kvLen,
    qBlock: base.qBlock,
    kvBlock: base.kvBlock,
    partialDense,
    fullDense,
    partialOffset,
    partialBits: base.partialBits,
    maskMod: (b, h, q, kv) =>
      table[((b * heads + h) * nq + Math.floor(q / base.qBlock)) * nk + Math.floor(kv / base.kvBlock)] === 1 &&
      base.maskMod(b, h, q, kv),
  });
}

/**
 * Long-context block selection: scores key blocks per query block by pooled `Q·Kᵀ` (softmax over
 * the candidate blocks), keeps the `topK` best or the smallest set reaching `threshold` of the mass,
 * always keeping the first block (attention sink) and the diagonal block, and returns a
 * `[batch, heads]` `BlockMask` for `blockSparseAttention`.
 */
export async function selectBlocks(q: tf.Tensor, k: tf.Tensor, opts: SelectBlocksOptions): Promise<BlockMask> {
  const where = 'selectBlocks';
  const s = checkQkv(q, k, k, where);
  const backend = tf.getBackend();
  if (backend === 'cpu' || backend === 'wasm') {
    // host backends: the data is already here, and the float64 host scores are the reference
    const [qData, kData] = (await Promise.all([q.data(), k.data()])) as [Float32Array, Float32Array];
    checkFinite(where, 'q', qData);
    checkFinite(where, 'k', kData);
    return selectBlocksFromArrays(qData, kData, s, opts, where);
  }
  // device backends: pool and score on the device, read back only the [batch, heads, nq, nk]
  // block probabilities (not q and k)
  return selectBlocksFromArrays(null, null, s, opts, where, undefined, { q, k });
}

/**
 * Pooled block probabilities computed with tfjs ops on the tensors' backend: `[batch, hq, nq, nk]`
 * softmax over each row's candidate blocks (0 elsewhere), read back as one small array.
 */
async function deviceProbabilities(
  q: tf.Tensor,
  k: tf.Tensor,
  s: { batch: number; hq: number; hkv: number; lq: number; lk: number; d: number },
  base: BlockMask,
  pooling: 'mean' | 'max',
  scale: number,
  where: string,
): Promise<Float32Array> {
  const { numQBlocks: nq, numKvBlocks: nk, qBlock, kvBlock } = base;
  const prob = tf.tidy(() => {
    const pool = (x: tf.Tensor, heads: number, len: number, block: number, n: number): tf.Tensor => {
      const extra = n * block - len;
      // padding: 0 for the mean (divided by the real row count below), a huge negative for the max
      const padded =
        extra > 0
          ? tf.pad(
              x,
              [
                [0, 0],
                [0, 0],
                [0, extra],
                [0, 0],
              ],
              pooling === 'max' ? -3e38 : 0,
            )
          : x;
      const blocks = tf.reshape(padded, [s.batch, heads, n, block, s.d]);
      if (pooling === 'max') return tf.max(blocks, 3);
      const counts = Float32Array.from({ length: n }, (_, i) => Math.min(block, len - i * block));
      return tf.div(tf.sum(blocks, 3), tf.reshape(tf.tensor1d(counts), [1, 1, n, 1]));
    };
    const pq = pool(q, s.hq, s.lq, qBlock, nq);
    const pk = pool(k, s.hkv, s.lk, kvBlock, nk);
    const group = s.hq / s.hkv;
    // query heads of one kv head share its pooled keys: [b, hkv, group * nq, d] x [b, hkv, nk, d]^T
    const scores = tf.mul(
      tf.reshape(tf.matMul(tf.reshape(pq, [s.batch, s.hkv, group * nq, s.d]), pk, false, true), [
        s.batch,
        s.hq,
        nq,
        nk,
      ]),
      scale,
    );
    const cand = tf.cast(tf.tensor4d(base.toDense(), [base.batch, base.heads, nq, nk], 'int32'), 'bool');
    const full = tf.logicalAnd(cand, tf.cast(tf.onesLike(scores), 'bool'));
    const masked = tf.where(full, scores, tf.fill(scores.shape, -Infinity));
    const mx = tf.max(masked, -1, true);
    const e = tf.where(full, tf.exp(tf.sub(masked, mx)), tf.zerosLike(scores));
    const sum = tf.sum(e, -1, true);
    return tf.where(tf.greater(sum, 0), tf.div(e, tf.maximum(sum, 1e-30)), tf.zerosLike(e));
  });
  const data = (await prob.data()) as Float32Array;
  prob.dispose();
  // non-finite q or k (not read back here) show up as NaN probabilities
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!))
      throw new Error(`${where}: q and k must be finite (the pooled block scores hold ${String(data[i])})`);
  }
  return data;
}

/** `selectBlocks` on host arrays (q `[batch, hq, lq, d]`, k `[batch, hkv, lk, d]`), for callers that already hold them. @internal */
export function selectBlocksFromArrays(
  qData: Float32Array,
  kData: Float32Array,
  s: { batch: number; hq: number; hkv: number; lq: number; lk: number; d: number },
  opts: SelectBlocksOptions,
  where?: string,
  always?: (qb: number, nk: number) => number[],
): BlockMask;
/** The device variant: q and k stay tensors, only the block probabilities are read. @internal */
export function selectBlocksFromArrays(
  qData: null,
  kData: null,
  s: { batch: number; hq: number; hkv: number; lq: number; lk: number; d: number },
  opts: SelectBlocksOptions,
  where: string,
  always: undefined,
  device: { q: tf.Tensor; k: tf.Tensor },
): Promise<BlockMask>;
export function selectBlocksFromArrays(
  qData: Float32Array | null,
  kData: Float32Array | null,
  s: { batch: number; hq: number; hkv: number; lq: number; lk: number; d: number },
  opts: SelectBlocksOptions,
  where = 'selectBlocks',
  always?: (qb: number, nk: number) => number[],
  device?: { q: tf.Tensor; k: tf.Tensor },
): BlockMask | Promise<BlockMask> {
  if (!opts || typeof opts !== 'object' || Array.isArray(opts))
    throw new Error(`${where}: options { blockSize, topK | threshold } are required, got ${describeValue(opts)}`);
  checkOptions(where, opts, ['blockSize', 'topK', 'threshold', 'pooling', 'maskMod', 'scale', 'maskShape']);
  if (opts.maskMod !== undefined && typeof opts.maskMod !== 'function')
    throw new Error(
      `${where}: maskMod must be a mask function (b, h, qIdx, kvIdx) => boolean, got ${describeValue(opts.maskMod)}`,
    );
  if (opts.maskShape !== undefined && (!Array.isArray(opts.maskShape) || opts.maskShape.length !== 2))
    throw new Error(`${where}: maskShape must be [batch, heads], got ${describeValue(opts.maskShape)}`);
  const { topK, threshold } = opts;
  if ((topK === undefined) === (threshold === undefined)) {
    throw new Error(
      `${where}: give exactly one of topK or threshold, got topK ${String(topK)} and threshold ${String(threshold)}`,
    );
  }
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 1))
    throw new Error(`${where}: topK must be a positive integer, got ${String(topK)}`);
  if (threshold !== undefined && !(threshold > 0 && threshold <= 1))
    throw new Error(`${where}: threshold must be in (0, 1], got ${String(threshold)}`);
  const pooling = opts.pooling ?? 'mean';
  if (pooling !== 'mean' && pooling !== 'max')
    throw new Error(`${where}: pooling must be 'mean' or 'max', got ${String(pooling)}`);
  const scale = resolveScale(opts.scale, s.d, where);
  const [mBatch, mHeads] = opts.maskShape ?? [1, 1];
  const base = createBlockMask(opts.maskMod ?? fullMask, {
    qLen: s.lq,
    kvLen: s.lk,
    blockSize: opts.blockSize,
    batch: mBatch,
    heads: mHeads,
  });
  const { numQBlocks: nq, numKvBlocks: nk, qBlock, kvBlock } = base;
  const baseDense = base.toDense();
  const group = s.hq / s.hkv;
  const table = new Uint8Array(s.batch * s.hq * nq * nk);
  const prob = new Float64Array(nk);
  const defaultAlways = (qb: number): number[] => {
    // The key block holding the query block's last position, aligned to the end when lq < lk.
    const lastQ = Math.min((qb + 1) * qBlock, s.lq) - 1 + (s.lk - s.lq);
    return [0, Math.min(nk - 1, Math.floor(Math.max(0, lastQ) / kvBlock))];
  };
  const candidateOf = (b: number, h: number, qb: number): Uint8Array => {
    const slice = ((mBatch === 1 ? 0 : b) * mHeads + (mHeads === 1 ? 0 : h)) * nq + qb;
    return baseDense.subarray(slice * nk, (slice + 1) * nk);
  };
  const pick = (b: number, h: number, qb: number): void => {
    const keep = pickBlocks(prob, candidateOf(b, h, qb), (always ?? defaultAlways)(qb, nk), { topK, threshold });
    table.set(keep, ((b * s.hq + h) * nq + qb) * nk);
  };
  if (device) {
    return deviceProbabilities(device.q, device.k, s, base, pooling, scale, where).then((all) => {
      for (let b = 0; b < s.batch; b++) {
        for (let h = 0; h < s.hq; h++) {
          for (let qb = 0; qb < nq; qb++) {
            const row = ((b * s.hq + h) * nq + qb) * nk;
            for (let kb = 0; kb < nk; kb++) prob[kb] = all[row + kb]!;
            pick(b, h, qb);
          }
        }
      }
      return restrictBlockMask(base, table, s.batch, s.hq);
    });
  }
  for (let b = 0; b < s.batch; b++) {
    for (let h = 0; h < s.hq; h++) {
      const pq = pool(qData!, s.lq, qBlock, s.d, pooling, b * s.hq + h);
      const pk = pool(kData!, s.lk, kvBlock, s.d, pooling, b * s.hkv + Math.floor(h / group));
      for (let qb = 0; qb < nq; qb++) {
        const candidate = candidateOf(b, h, qb);
        let mx = -Infinity;
        for (let kb = 0; kb < nk; kb++) {
          if (!candidate[kb]) continue;
          let dot = 0;
          for (let t = 0; t < s.d; t++) dot += pq[qb * s.d + t]! * pk[kb * s.d + t]!;
          prob[kb] = dot * scale;
          mx = Math.max(mx, prob[kb]!);
        }
        let sum = 0;
        for (let kb = 0; kb < nk; kb++) {
          prob[kb] = candidate[kb] ? Math.exp(prob[kb]! - mx) : 0;
          sum += prob[kb]!;
        }
        for (let kb = 0; kb < nk; kb++) prob[kb] = sum > 0 ? prob[kb]! / sum : 0;
        pick(b, h, qb);
      }
    }
  }
  return restrictBlockMask(base, table, s.batch, s.hq);
}
