import { checkOptions, describeValue } from '@blockwise/tensor';
/**
 * A mask function: `true` where query `qIdx` may attend to key `kvIdx` (batch `b`, head `h`).
 * Same contract as FlexAttention's `mask_mod`.
 */
export type MaskMod = (b: number, h: number, qIdx: number, kvIdx: number) => boolean;

/** Options of `createBlockMask`. */
export interface BlockMaskOptions {
  /** Query length. */
  qLen: number;
  /** Key/value length. */
  kvLen: number;
  /** Block size, or `[qBlock, kvBlock]` (default 128, FlexAttention's default). */
  blockSize?: number | [number, number];
  /** Batch entries the mask distinguishes (1 = the same mask for every batch entry). */
  batch?: number;
  /** Heads the mask distinguishes (1 = the same mask for every head). */
  heads?: number;
}

/**
 * A block-sparse mask in FlexAttention's format. Arrays are flat, row-major over
 * `[batch, heads, numQBlocks(, numKvBlocks)]` for the kv lists and
 * `[batch, heads, numKvBlocks(, numQBlocks)]` for the transposed q lists. In each index row the
 * listed blocks come first in ascending order, the unlisted ones after (like PyTorch's stable
 * argsort).
 */
export interface BlockMask {
  readonly batch: number;
  readonly heads: number;
  readonly qLen: number;
  readonly kvLen: number;
  readonly qBlock: number;
  readonly kvBlock: number;
  readonly numQBlocks: number;
  readonly numKvBlocks: number;
  /** Partial blocks per query block: the mask is evaluated inside them. */
  readonly kvNumBlocks: Int32Array;
  readonly kvIndices: Int32Array;
  /** Full blocks per query block: every pair attends, no mask is evaluated. */
  readonly fullKvNumBlocks: Int32Array;
  readonly fullKvIndices: Int32Array;
  /** Transposed lists (per key block) for the backward pass. */
  readonly qNumBlocks: Int32Array;
  readonly qIndices: Int32Array;
  readonly fullQNumBlocks: Int32Array;
  readonly fullQIndices: Int32Array;
  /**
   * Element masks of the partial blocks: `partialOffset[(bh * numQBlocks + qb) * numKvBlocks + kb]`
   * is the start (in units of qBlock*kvBlock) of that block's 0/1 bytes in `partialBits`, or -1.
   * Padded positions are 0.
   */
  readonly partialOffset: Int32Array;
  readonly partialBits: Uint8Array;
  readonly maskMod: MaskMod;
  /** `[batch, heads, qLen, kvLen]`. */
  readonly shape: [number, number, number, number];
  /** FlexAttention's sparsity in percent: `100 * (1 - computed blocks * qBlock * kvBlock / numel)`. */
  sparsity(): number;
  /** Block-level dense mask `[batch, heads, numQBlocks, numKvBlocks]`: 1 where a block is partial or full. */
  toDense(): Uint8Array;
  /** Token-level mask `[batch, heads, qLen, kvLen]` (1 = attend), from the stored blocks. */
  toTokenMask(): Uint8Array;
}

const BLOCK_MASK_KEYS = ['qLen', 'kvLen', 'blockSize', 'batch', 'heads'] as const;
/** Most (query, key) pairs `createBlockMask` evaluates (one mask call and up to one byte each). */
const MAX_PAIRS = 2 ** 31;

function checkPositiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`createBlockMask: ${name} must be a positive integer, got ${describeValue(v)}`);
  }
  return v;
}

/** Listed blocks first (ascending), then the rest (ascending), as PyTorch's stable descending argsort. */
function orderRow(
  dense: Uint8Array,
  base: number,
  n: number,
  stride: number,
  outIdx: Int32Array,
  outBase: number,
): number {
  let k = 0;
  for (let j = 0; j < n; j++) if (dense[base + j * stride]) outIdx[outBase + k++] = j;
  const count = k;
  for (let j = 0; j < n; j++) if (!dense[base + j * stride]) outIdx[outBase + k++] = j;
  return count;
}

function ordered(
  dense: Uint8Array,
  bh: number,
  rows: number,
  cols: number,
  transpose: boolean,
): { num: Int32Array; idx: Int32Array } {
  const outRows = transpose ? cols : rows;
  const outCols = transpose ? rows : cols;
  const num = new Int32Array(bh * outRows);
  const idx = new Int32Array(bh * outRows * outCols);
  for (let s = 0; s < bh; s++) {
    for (let r = 0; r < outRows; r++) {
      const base = transpose ? s * rows * cols + r : (s * rows + r) * cols;
      const stride = transpose ? cols : 1;
      num[s * outRows + r] = orderRow(dense, base, outCols, stride, idx, (s * outRows + r) * outCols);
    }
  }
  return { num, idx };
}

/**
 * Builds a `BlockMask` from a mask function by evaluating it over every (query, key) pair, as
 * PyTorch's `create_block_mask`: lengths are padded up to whole blocks, padded positions count as
 * masked, a block is full when every pair in it attends and partial when some do.
 */
export function createBlockMask(maskMod: MaskMod, opts: BlockMaskOptions): BlockMask {
  if (typeof maskMod !== 'function')
    throw new Error(
      `createBlockMask: maskMod must be a function (b, h, qIdx, kvIdx) => boolean, got ${typeof maskMod}`,
    );
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts))
    throw new Error(`createBlockMask: options { qLen, kvLen, blockSize } are required, got ${describeValue(opts)}`);
  checkOptions('createBlockMask', opts, BLOCK_MASK_KEYS);
  const qLen = checkPositiveInt('qLen', opts.qLen);
  const kvLen = checkPositiveInt('kvLen', opts.kvLen);
  const bs = opts.blockSize ?? 128;
  const [qBlockRaw, kvBlockRaw] = Array.isArray(bs) ? bs : [bs, bs];
  const qBlock = checkPositiveInt('blockSize (query)', qBlockRaw);
  const kvBlock = checkPositiveInt('blockSize (key/value)', kvBlockRaw);
  const batch = checkPositiveInt('batch', opts.batch ?? 1);
  const heads = checkPositiveInt('heads', opts.heads ?? 1);
  // The mask function runs once per pair and the partial blocks keep a byte per pair: bound the
  // work and memory with a clear error instead of hanging or running out of memory.
  const pairs = batch * heads * Math.ceil(qLen / qBlock) * qBlock * Math.ceil(kvLen / kvBlock) * kvBlock;
  if (pairs > MAX_PAIRS) {
    throw new Error(
      `createBlockMask: batch * heads * qLen * kvLen (padded to whole blocks) is ${pairs}, more than the 2^31 (query, key) pairs a mask can evaluate (batch ${batch}, heads ${heads}, qLen ${qLen}, kvLen ${kvLen}, blockSize [${qBlock}, ${kvBlock}])`,
    );
  }
  const nq = Math.ceil(qLen / qBlock);
  const nk = Math.ceil(kvLen / kvBlock);
  const bhCount = batch * heads;
  const blockArea = qBlock * kvBlock;
  const partialDense = new Uint8Array(bhCount * nq * nk);
  const fullDense = new Uint8Array(bhCount * nq * nk);
  const partialOffset = new Int32Array(bhCount * nq * nk).fill(-1);
  const tile = new Uint8Array(blockArea);
  const chunks: Uint8Array[] = [];
  let numPartial = 0;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const s = b * heads + h;
      for (let qb = 0; qb < nq; qb++) {
        const q0 = qb * qBlock;
        const qEnd = Math.min(q0 + qBlock, qLen);
        for (let kb = 0; kb < nk; kb++) {
          const k0 = kb * kvBlock;
          const kEnd = Math.min(k0 + kvBlock, kvLen);
          tile.fill(0);
          let count = 0;
          for (let q = q0; q < qEnd; q++) {
            const row = (q - q0) * kvBlock - k0;
            for (let k = k0; k < kEnd; k++) {
              if (maskMod(b, h, q, k)) {
                tile[row + k] = 1;
                count++;
              }
            }
          }
          const cell = (s * nq + qb) * nk + kb;
          if (count === blockArea) fullDense[cell] = 1;
          else if (count > 0) {
            partialDense[cell] = 1;
            partialOffset[cell] = numPartial++;
            chunks.push(tile.slice());
          }
        }
      }
    }
  }
  const partialBits = new Uint8Array(numPartial * blockArea);
  chunks.forEach((c, i) => partialBits.set(c, i * blockArea));
  return assembleBlockMask({
    batch,
    heads,
    qLen,
    kvLen,
    qBlock,
    kvBlock,
    partialDense,
    fullDense,
    partialOffset,
    partialBits,
    maskMod,
  });
}

/** Builds the index lists and methods from block-level dense masks (shared with block selection). */
export function assembleBlockMask(a: {
  batch: number;
  heads: number;
  qLen: number;
  kvLen: number;
  qBlock: number;
  kvBlock: number;
  partialDense: Uint8Array;
  fullDense: Uint8Array;
  partialOffset: Int32Array;
  partialBits: Uint8Array;
  maskMod: MaskMod;
}): BlockMask {
  const { batch, heads, qLen, kvLen, qBlock, kvBlock, partialDense, fullDense } = a;
  // The mask function runs once per pair and the partial blocks keep a byte per pair: bound the
  // work and memory with a clear error instead of hanging or running out of memory.
  const pairs = batch * heads * Math.ceil(qLen / qBlock) * qBlock * Math.ceil(kvLen / kvBlock) * kvBlock;
  if (pairs > MAX_PAIRS) {
    throw new Error(
      `createBlockMask: batch * heads * qLen * kvLen (padded to whole blocks) is ${pairs}, more than the 2^31 (query, key) pairs a mask can evaluate (batch ${batch}, heads ${heads}, qLen ${qLen}, kvLen ${kvLen}, blockSize [${qBlock}, ${kvBlock}])`,
    );
  }
  const nq = Math.ceil(qLen / qBlock);
  const nk = Math.ceil(kvLen / kvBlock);
  const bhCount = batch * heads;
  const kv = ordered(partialDense, bhCount, nq, nk, false);
  const fkv = ordered(fullDense, bhCount, nq, nk, false);
  const q = ordered(partialDense, bhCount, nq, nk, true);
  const fq = ordered(fullDense, bhCount, nq, nk, true);
  let computed = 0;
  for (let i = 0; i < partialDense.length; i++) computed += (partialDense[i] ?? 0) + (fullDense[i] ?? 0);
  const blockArea = qBlock * kvBlock;
  const mask: BlockMask = {
    batch,
    heads,
    qLen,
    kvLen,
    qBlock,
    kvBlock,
    numQBlocks: nq,
    numKvBlocks: nk,
    kvNumBlocks: kv.num,
    kvIndices: kv.idx,
    fullKvNumBlocks: fkv.num,
    fullKvIndices: fkv.idx,
    qNumBlocks: q.num,
    qIndices: q.idx,
    fullQNumBlocks: fq.num,
    fullQIndices: fq.idx,
    partialOffset: a.partialOffset,
    partialBits: a.partialBits,
    maskMod: a.maskMod,
    shape: [batch, heads, qLen, kvLen],
    sparsity: () => 100 * (1 - (computed * blockArea) / (bhCount * qLen * kvLen)),
    toDense: () => {
      const out = new Uint8Array(partialDense.length);
      for (let i = 0; i < out.length; i++) out[i] = partialDense[i]! | fullDense[i]!;
      return out;
    },
    toTokenMask: () => tokenMask(mask),
  };
  return mask;
}

function tokenMask(m: BlockMask): Uint8Array {
  const { qLen, kvLen, qBlock, kvBlock, numQBlocks: nq, numKvBlocks: nk } = m;
  const bhCount = m.batch * m.heads;
  const out = new Uint8Array(bhCount * qLen * kvLen);
  const area = qBlock * kvBlock;
  for (let s = 0; s < bhCount; s++) {
    for (let qb = 0; qb < nq; qb++) {
      const row = s * nq + qb;
      for (let t = 0; t < 2; t++) {
        const num = (t === 0 ? m.kvNumBlocks : m.fullKvNumBlocks)[row]!;
        const idx = t === 0 ? m.kvIndices : m.fullKvIndices;
        for (let i = 0; i < num; i++) {
          const kb = idx[row * nk + i]!;
          const off = m.partialOffset[row * nk + kb]!;
          for (let q = qb * qBlock; q < Math.min((qb + 1) * qBlock, qLen); q++) {
            for (let k = kb * kvBlock; k < Math.min((kb + 1) * kvBlock, kvLen); k++) {
              const v = t === 1 ? 1 : m.partialBits[off * area + (q - qb * qBlock) * kvBlock + (k - kb * kvBlock)]!;
              out[(s * qLen + q) * kvLen + k] = v;
            }
          }
        }
      }
    }
  }
  return out;
}

/**
 * Checks that `mask` fits attention over `[batch, heads, qLen, ...]` queries and `kvLen` keys;
 * throws naming both shapes otherwise. @internal
 */
export function checkBlockMask(
  mask: BlockMask,
  batch: number,
  heads: number,
  qLen: number,
  kvLen: number,
  where: string,
): void {
  if (!mask || !(mask.kvIndices instanceof Int32Array)) {
    throw new Error(`${where}: blockMask must be a BlockMask from createBlockMask, got ${typeof mask}`);
  }
  const [mb, mh, mq, mk] = mask.shape;
  if (mq !== qLen || mk !== kvLen || (mb !== 1 && mb !== batch) || (mh !== 1 && mh !== heads)) {
    throw new Error(
      `${where}: blockMask was built for shape [${mask.shape.join(', ')}] (batch, heads, qLen, kvLen) but attention has batch ${batch}, query heads ${heads}, qLen ${qLen}, kvLen ${kvLen}`,
    );
  }
}
