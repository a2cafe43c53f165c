import { checkBoolean, checkOptions, describeValue } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import type { BlockMask } from './blockMask.js';
import { blockSparseAttention } from './blockSparseAttention.js';
import { checkFinite, selectBlocksFromArrays } from './selectBlocks.js';
import { checkQkv, resolveScale } from './validate.js';

/** Options of `permutedBlockSparseAttention`. */
export interface PermutedAttentionOptions {
  /** Block size for queries and keys. */
  blockSize: number;
  /** Keys are reordered only within segments of this many positions (a multiple of blockSize). */
  segmentSize: number;
  /** Block selection: keep the smallest set of key blocks reaching this softmax mass (0, 1]. */
  threshold?: number;
  /** Block selection: keep this many key blocks per query block. */
  topK?: number;
  pooling?: 'mean' | 'max';
  /** Causal attention on the original positions (default true). */
  causal?: boolean;
  scale?: number;
}

/** Result of `permutedBlockSparseAttention`. */
export interface PermutedAttentionResult {
  output: tf.Tensor4D;
  /** The mask over permuted keys that was run. */
  blockMask: BlockMask;
  /** `[batch, kvHeads, kvLen]`: permuted position -> original key position. */
  permutation: Int32Array;
}

/**
 * Query-aware key permutation (PBS-Attn, arXiv 2510.21270): for each batch entry and key/value head,
 * key importance = attention mass from the last query block (summed over the query heads of the
 * group); keys are sorted by it, descending, within segments of `segmentSize`, so the keys that
 * matter gather in fewer blocks. Returns the permutation.
 * @internal
 */
export function keyPermutation(
  qData: Float32Array,
  kData: Float32Array,
  s: { batch: number; hq: number; hkv: number; lq: number; lk: number; d: number },
  blockSize: number,
  segmentSize: number,
  scale: number,
  causal: boolean,
): Int32Array {
  const group = s.hq / s.hkv;
  const perm = new Int32Array(s.batch * s.hkv * s.lk);
  const importance = new Float64Array(s.lk);
  const row = new Float64Array(s.lk);
  const offset = s.lk - s.lq;
  const first = Math.floor((s.lq - 1) / blockSize) * blockSize;
  for (let b = 0; b < s.batch; b++) {
    for (let hk = 0; hk < s.hkv; hk++) {
      importance.fill(0);
      const kHead = (b * s.hkv + hk) * s.lk;
      for (let h = hk * group; h < (hk + 1) * group; h++) {
        for (let i = first; i < s.lq; i++) {
          const qOff = ((b * s.hq + h) * s.lq + i) * s.d;
          const limit = causal ? Math.min(s.lk, i + offset + 1) : s.lk;
          let mx = -Infinity;
          for (let j = 0; j < limit; j++) {
            let dot = 0;
            for (let t = 0; t < s.d; t++) dot += qData[qOff + t]! * kData[(kHead + j) * s.d + t]!;
            row[j] = dot * scale;
            mx = Math.max(mx, row[j]!);
          }
          let sum = 0;
          for (let j = 0; j < limit; j++) sum += row[j] = Math.exp(row[j]! - mx);
          for (let j = 0; j < limit; j++) importance[j]! += row[j]! / sum;
        }
      }
      const base = (b * s.hkv + hk) * s.lk;
      for (let s0 = 0; s0 < s.lk; s0 += segmentSize) {
        const idx = Array.from({ length: Math.min(segmentSize, s.lk - s0) }, (_, i) => s0 + i);
        idx.sort((x, y) => importance[y]! - importance[x]! || x - y);
        idx.forEach((orig, i) => (perm[base + s0 + i] = orig));
      }
    }
  }
  return perm;
}

/**
 * Permuted block-sparse attention (PBS-Attn, arXiv 2510.21270): keys and values are permuted
 * within segments by the last query block's attention (`keyPermutation`), key blocks are selected
 * on the permuted keys (`selectBlocks` rules: first block and the query's own segment always kept),
 * causality is checked on original positions, and block-sparse attention runs on the permuted keys.
 * Softmax does not depend on key order, so with threshold 1 the output equals unpermuted attention.
 * Queries keep their order, so the output needs no inverse permutation.
 */
export async function permutedBlockSparseAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  opts: PermutedAttentionOptions,
): Promise<PermutedAttentionResult> {
  const where = 'permutedBlockSparseAttention';
  const s = checkQkv(q, k, v, where);
  if (!opts || typeof opts !== 'object' || Array.isArray(opts))
    throw new Error(
      `${where}: options { blockSize, segmentSize, threshold | topK } are required, got ${describeValue(opts)}`,
    );
  checkOptions(where, opts, ['blockSize', 'segmentSize', 'threshold', 'topK', 'pooling', 'causal', 'scale']);
  if (opts.causal !== undefined) checkBoolean(`${where}: causal`, opts.causal);
  const { blockSize, segmentSize } = opts;
  if (!Number.isInteger(blockSize) || blockSize <= 0)
    throw new Error(`${where}: blockSize must be a positive integer, got ${String(blockSize)}`);
  if (!Number.isInteger(segmentSize) || segmentSize <= 0 || segmentSize % blockSize !== 0) {
    throw new Error(
      `${where}: segmentSize must be a positive multiple of blockSize ${blockSize}, got ${String(segmentSize)}`,
    );
  }
  const scale = resolveScale(opts.scale, s.d, where);
  const causal = opts.causal !== false;
  const [qData, kData] = (await Promise.all([q.data(), k.data()])) as [Float32Array, Float32Array];
  checkFinite(where, 'q', qData);
  checkFinite(where, 'k', kData);
  const perm = keyPermutation(qData, kData, s, blockSize, segmentSize, scale, causal);
  const group = s.hq / s.hkv;
  const offset = s.lk - s.lq;
  const nk = Math.ceil(s.lk / blockSize);
  const blocksPerSegment = segmentSize / blockSize;
  const blockMask = selectBlocksFromArrays(
    qData,
    gatherRows(kData, perm, s.batch * s.hkv, s.lk, s.d),
    s,
    {
      blockSize,
      topK: opts.topK,
      threshold: opts.threshold,
      pooling: opts.pooling,
      scale,
      maskMod: causal
        ? (b, h, qi, kv) => qi + offset >= perm[(b * s.hkv + Math.floor(h / group)) * s.lk + kv]!
        : undefined,
      maskShape: causal ? [s.batch, s.hq] : [1, 1],
    },
    where,
    (qb) => {
      // first block (attention sink) and every block of the segment holding the query block's end
      const last = Math.min((qb + 1) * blockSize, s.lq) - 1 + offset;
      const seg = Math.floor(Math.max(0, last) / segmentSize);
      const out = [0];
      // a segment longer than the keys holds at most nk blocks (segmentSize may be huge)
      for (let i = 0; i < Math.min(blocksPerSegment, nk); i++) out.push(Math.min(nk - 1, seg * blocksPerSegment + i));
      return out;
    },
  );
  const output = tf.tidy(() => {
    const idx = tf.tensor3d(perm, [s.batch, s.hkv, s.lk], 'int32');
    const kp = tf.gather(k, idx, 2, 2);
    const vp = tf.gather(v, idx, 2, 2);
    return blockSparseAttention(q, kp, vp, { blockMask, scale });
  });
  return { output, blockMask, permutation: perm };
}

function gatherRows(x: Float32Array, perm: Int32Array, heads: number, len: number, d: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < len; i++)
      out.set(
        x.subarray((h * len + perm[h * len + i]!) * d, (h * len + perm[h * len + i]! + 1) * d),
        (h * len + i) * d,
      );
  }
  return out;
}
