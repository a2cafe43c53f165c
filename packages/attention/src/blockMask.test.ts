import { describe, expect, it } from 'vitest';
import { createBlockMask, type BlockMask, type MaskMod } from './blockMask.js';
import {
  and,
  blockCausal,
  blockDiffusion,
  blockRank,
  causal,
  contextCausal,
  documents,
  not,
  or,
  prefixLM,
  slidingWindow,
} from './masks.js';

function sum(a: Int32Array): number {
  return a.reduce((s, v) => s + v, 0);
}
function counts(m: BlockMask): { partial: number; full: number } {
  return { partial: sum(m.kvNumBlocks), full: sum(m.fullKvNumBlocks) };
}
function density(mod: MaskMod, len: number): number {
  let c = 0;
  for (let q = 0; q < len; q++) for (let k = 0; k < len; k++) if (mod(0, 0, q, k)) c++;
  return c / (len * len);
}

describe('createBlockMask (FlexAttention definitions)', () => {
  it('causal 256 with 128-blocks: 2 partial (diagonal), 1 full, sparsity 25%', () => {
    // Blocks: (0,0) lower triangle -> partial; (1,0) all q>=k -> full; (1,1) partial; (0,1) empty.
    // sparsity = 100 * (1 - 3 * 128*128 / (256*256)) = 25.
    const m = createBlockMask(causal, { qLen: 256, kvLen: 256, blockSize: 128 });
    expect(counts(m)).toEqual({ partial: 2, full: 1 });
    expect(m.sparsity()).toBeCloseTo(25, 10);
    expect([...m.kvNumBlocks]).toEqual([1, 1]);
    expect([...m.kvIndices]).toEqual([0, 1, 1, 0]);
    expect([...m.fullKvNumBlocks]).toEqual([0, 1]);
    expect([...m.fullKvIndices]).toEqual([0, 1, 0, 1]);
    // transposed: key block 0 has partial q block 0 and full q block 1
    expect([...m.qNumBlocks]).toEqual([1, 1]);
    expect([...m.fullQNumBlocks]).toEqual([1, 0]);
    expect([...m.fullQIndices]).toEqual([1, 0, 0, 1]);
    expect([...m.toDense()]).toEqual([1, 0, 1, 1]);
  });

  it('causal 10 with 4-blocks: padding makes the last row of blocks partial', () => {
    // 3x3 blocks. qb0: kb0 partial. qb1: kb0 full, kb1 partial. qb2 = rows 8,9 + 2 padded rows:
    // kb0 and kb1 are seen by rows 8,9 but not by the padded rows -> partial; kb2 partial.
    // partial 5, full 1; sparsity = 100 * (1 - 6 * 16 / 100) = 4.
    const m = createBlockMask(causal, { qLen: 10, kvLen: 10, blockSize: 4 });
    expect(counts(m)).toEqual({ partial: 5, full: 1 });
    expect(m.sparsity()).toBeCloseTo(4, 10);
    // transposed partial lists: kb0 <- qb0, qb2 ; kb1 <- qb1, qb2 ; kb2 <- qb2 (then the rest ascending)
    expect([...m.qNumBlocks]).toEqual([2, 2, 1]);
    expect([...m.qIndices]).toEqual([0, 2, 1, 1, 2, 0, 2, 0, 1]);
    expect([...m.fullQNumBlocks]).toEqual([1, 0, 0]);
    expect([...m.fullQIndices.slice(0, 3)]).toEqual([1, 0, 2]);
    // token mask equals the mask function
    const t = m.toTokenMask();
    for (let q = 0; q < 10; q++) for (let k = 0; k < 10; k++) expect(t[q * 10 + k]).toBe(q >= k ? 1 : 0);
  });

  it('causal 300 with 128-blocks: sparsity can go negative exactly as in PyTorch', () => {
    // Same block pattern as the 10/4 case (3 blocks, last padded): partial 5, full 1.
    // sparsity = 100 * (1 - 6 * 16384 / 90000) = -9.2266...
    const m = createBlockMask(causal, { qLen: 300, kvLen: 300, blockSize: 128 });
    expect(counts(m)).toEqual({ partial: 5, full: 1 });
    expect(m.sparsity()).toBeCloseTo(100 * (1 - (6 * 16384) / 90000), 10);
  });

  it('sliding window 4 and 8 over 16 tokens, 4-blocks', () => {
    // w=4 (0 <= q-k < 4): each q block i>=1 touches kb i-1 (row 4i sees 4i-3..) partially and
    // kb i (triangle) partially; qb0 only kb0. partial 1 + 2*3 = 7, full 0, sparsity 100*(1-7*16/256) = 56.25.
    const m4 = createBlockMask(slidingWindow(4), { qLen: 16, kvLen: 16, blockSize: 4 });
    expect(counts(m4)).toEqual({ partial: 7, full: 0 });
    expect(m4.sparsity()).toBeCloseTo(56.25, 10);
    // w=8: qb1: kb0 full (row 4 sees 0..4), kb1 partial; qb2: kb0 partial (row 8 misses col 0),
    // kb1 full, kb2 partial; qb3 likewise. partial 6, full 3, sparsity 100*(1-9*16/256) = 43.75.
    const m8 = createBlockMask(slidingWindow(8), { qLen: 16, kvLen: 16, blockSize: 4 });
    expect(counts(m8)).toEqual({ partial: 6, full: 3 });
    expect(m8.sparsity()).toBeCloseTo(43.75, 10);
  });

  it('block-diagonal documents at a length that is not a multiple of the block', () => {
    // docs: 0..5 -> doc 0, 6..9 -> doc 1; 4-blocks over 10 (3x3, last padded).
    // qb0: kb0 full, kb1 partial (cols 4,5 only). qb1 (rows 4,5 doc0; 6,7 doc1): kb0, kb1, kb2 partial.
    // qb2 (rows 8,9 doc1 + padding): kb1 partial (cols 6,7), kb2 partial. full 1, partial 6.
    // sparsity = 100 * (1 - 7 * 16 / 100) = -12.
    const m = createBlockMask(documents([0, 0, 0, 0, 0, 0, 1, 1, 1, 1]), { qLen: 10, kvLen: 10, blockSize: 4 });
    expect(counts(m)).toEqual({ partial: 6, full: 1 });
    expect(m.sparsity()).toBeCloseTo(-12, 10);
  });

  it('prefix-LM(6) over 12 tokens, 4-blocks', () => {
    // qb0: kb0 full, kb1 partial (cols 4,5 visible, 6,7 not). qb1: kb0 full, kb1 partial (row 4 misses 6).
    // qb2: kb0 full, kb1 full (4,5 prefix; 6,7 <= 8), kb2 partial (diagonal).
    // full 4, partial 3, sparsity = 100 * (1 - 7 * 16 / 144) = 22.22...
    const m = createBlockMask(prefixLM(6), { qLen: 12, kvLen: 12, blockSize: 4 });
    expect(counts(m)).toEqual({ partial: 3, full: 4 });
    expect(m.sparsity()).toBeCloseTo(100 * (1 - 112 / 144), 10);
  });

  it('BD3-LM mask: block-aligned gives N^2+N full blocks; coarser blocks give partial ones', () => {
    // n = 8, B = 4 -> N = 2, length 16. With 4-blocks every block is full or empty:
    // x_t diagonal N + x_t->x_0 strictly earlier N(N-1)/2 + x_0 causal N(N+1)/2 = N^2 + N = 6 full.
    // sparsity = 100 * (1 - 6 * 16 / 256) = 62.5 = 100 * (1 - (N+1)/(4N)).
    const mod = blockDiffusion({ seqLen: 8, blockSize: 4 });
    const m = createBlockMask(mod, { qLen: 16, kvLen: 16, blockSize: 4 });
    expect(counts(m)).toEqual({ partial: 0, full: 6 });
    expect(m.sparsity()).toBeCloseTo(62.5, 10);
    // With 8-blocks (one per half): (x_t,x_t) block diagonal -> partial; (x_t,x_0) only block 1 sees
    // block 0 -> partial; (x_0,x_t) empty; (x_0,x_0) block-causal -> partial. 3 partial:
    // sparsity = 100 * (1 - 3 * 64 / 256) = 25.
    const m8 = createBlockMask(mod, { qLen: 16, kvLen: 16, blockSize: 8 });
    expect(counts(m8)).toEqual({ partial: 3, full: 0 });
    expect(m8.sparsity()).toBeCloseTo(25, 10);
    // n = 6, B = 3 (length 12) with 8-blocks: mask block 0 = x_t 0..5 and x_0 6, 7; block 1 = x_0 8..11
    // plus 4 padded. (0,0): x_t diagonal blocks and x_t block 1 -> x_0 6, 7, but no x_0 -> x_t: partial.
    // (0,1): x_t block 1 sees x_0 key 8: partial. (1,0): x_0 queries see x_0 6, 7, not x_t: partial.
    // (1,1): x_0 block-causal plus padding: partial. 4 partial, 0 full: 100 * (1 - 4 * 64 / 144).
    const m12 = createBlockMask(blockDiffusion({ seqLen: 6, blockSize: 3 }), { qLen: 12, kvLen: 12, blockSize: 8 });
    expect(counts(m12)).toEqual({ partial: 4, full: 0 });
    expect(m12.sparsity()).toBeCloseTo(100 * (1 - 256 / 144), 10);
    // the same mask with 3-blocks (aligned, no padding): N^2 + N = 6 full blocks, sparsity 62.5
    const m3 = createBlockMask(blockDiffusion({ seqLen: 6, blockSize: 3 }), { qLen: 12, kvLen: 12, blockSize: 3 });
    expect(counts(m3)).toEqual({ partial: 0, full: 6 });
    expect(m3.sparsity()).toBeCloseTo(62.5, 10);
    // token density (N+1)/(4N) for N = 2, 3, 4
    for (const N of [2, 3, 4])
      expect(density(blockDiffusion({ seqLen: N * 3, blockSize: 3 }), 6 * N)).toBeCloseTo((N + 1) / (4 * N), 12);
  });

  it('rectangular blocks [4, 2] on causal 8', () => {
    // qb0 (rows 0-3): kb0 (0,1) and kb1 (2,3) partial. qb1 (rows 4-7): kb0, kb1 full; kb2 (4,5), kb3 (6,7) partial.
    // full 2, partial 4, sparsity = 100 * (1 - 6 * 8 / 64) = 25.
    const m = createBlockMask(causal, { qLen: 8, kvLen: 8, blockSize: [4, 2] });
    expect(counts(m)).toEqual({ partial: 4, full: 2 });
    expect(m.numKvBlocks).toBe(4);
    expect(m.sparsity()).toBeCloseTo(25, 10);
  });

  it('per-head masks and combinators', () => {
    // head 0 causal (3 blocks used of 4 at 8/4), head 1 not(causal) = strictly upper (qb0: kb0 partial, kb1 full; qb1: kb1 partial).
    const m = createBlockMask((b, h, q, k) => (h === 0 ? causal(b, h, q, k) : not(causal)(b, h, q, k)), {
      qLen: 8,
      kvLen: 8,
      blockSize: 4,
      heads: 2,
    });
    expect([...m.kvNumBlocks]).toEqual([1, 1, 1, 1]);
    expect([...m.fullKvNumBlocks]).toEqual([0, 1, 1, 0]);
    // 6 of 8 blocks computed over 2 heads: sparsity = 100 * (1 - 6 * 16 / (2 * 64)) = 25
    expect(m.sparsity()).toBeCloseTo(25, 10);
    expect(or(causal, not(causal))(0, 0, 1, 5)).toBe(true);
    expect(and(causal, slidingWindow(2))(0, 0, 5, 3)).toBe(false);
  });

  it('semi-autoregressive, NBDiff and BlockRank masks', () => {
    const bc = blockCausal(2);
    expect([bc(0, 0, 0, 1), bc(0, 0, 1, 2), bc(0, 0, 3, 2)]).toEqual([true, false, true]);
    const cc = contextCausal(3, 2); // context 0..2 causal; blocks {3,4}, {5,6}
    expect([cc(0, 0, 1, 2), cc(0, 0, 2, 1), cc(0, 0, 3, 4), cc(0, 0, 4, 0), cc(0, 0, 3, 5), cc(0, 0, 1, 3)]).toEqual([
      false,
      true,
      true,
      true,
      false,
      false,
    ]);
    const br = blockRank([2, 2, 2, 1], { causal: false }); // instr 0,1 | doc 2,3 | doc 4,5 | query 6
    expect([br(0, 0, 2, 0), br(0, 0, 2, 4), br(0, 0, 4, 3), br(0, 0, 6, 3), br(0, 0, 0, 2)]).toEqual([
      true,
      false,
      false,
      true,
      false,
    ]);
    expect(blockRank([2, 2, 1])(0, 0, 1, 3)).toBe(false); // causal by default
  });

  it('rejects bad sizes with clear errors', () => {
    expect(() => createBlockMask(causal, { qLen: 8, kvLen: 8, blockSize: 0 })).toThrow(
      /blockSize \(query\) must be a positive integer, got 0/,
    );
    expect(() => createBlockMask(causal, { qLen: 0, kvLen: 8 })).toThrow(/qLen must be a positive integer, got 0/);
    expect(() => slidingWindow(0)).toThrow(/window must be an integer >= 1, got 0/);
    expect(() => blockDiffusion({ seqLen: 8, blockSize: 0 })).toThrow(/blockSize/);
  });
});
