import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '@blockwise/tensor';
import { describeBackends, expectClose, useBackend } from '@blockwise/tensor/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBlockMask } from './blockMask.js';
import { denseAttention } from './dense.js';
import { causal } from './masks.js';
import { keyPermutation, permutedBlockSparseAttention } from './permuted.js';
import { pickBlocks, selectBlocks, selectBlocksFromArrays } from './selectBlocks.js';

useBackend('cpu');

describe('pickBlocks', () => {
  const prob = Float64Array.from([0.5, 0.1, 0.3, 0.1]);
  const all = Uint8Array.from([1, 1, 1, 1]);
  it('keeps the smallest set reaching the mass threshold', () => {
    // sorted: 0 (.5), 2 (.3), 1 (.1), 3 (.1). 0.7: .5 < .7 -> add 2 -> .8 >= .7 -> {0, 2}.
    expect([...pickBlocks(prob, all, [], { threshold: 0.7 })]).toEqual([1, 0, 1, 0]);
    // 0.5: block 0 alone reaches it.
    expect([...pickBlocks(prob, all, [], { threshold: 0.5 })]).toEqual([1, 0, 0, 0]);
  });
  it('topK breaks ties by position and always-kept blocks are added', () => {
    expect([...pickBlocks(prob, all, [], { topK: 3 })]).toEqual([1, 1, 1, 0]);
    expect([...pickBlocks(prob, all, [3], { topK: 1 })]).toEqual([1, 0, 0, 1]);
    // a non-candidate is never kept, even when asked to always keep it
    expect([...pickBlocks(prob, Uint8Array.from([1, 1, 1, 0]), [3], { topK: 1 })]).toEqual([1, 0, 0, 0]);
  });
});

describe('selectBlocks', () => {
  // 16 positions, 4-blocks, dim 4. Every query is e1; keys 4..7 are 10 e1, the rest 0, so key block 1
  // has by far the highest pooled score wherever it is a (causal) candidate.
  let q: tf.Tensor;
  let k: tf.Tensor;
  beforeAll(() => {
    q = tf.tidy(() => tf.tile(tf.tensor4d([1, 0, 0, 0], [1, 1, 1, 4]), [1, 1, 16, 1]));
    const kd = new Float32Array(64);
    for (let i = 4; i < 8; i++) kd[i * 4] = 10;
    k = tf.tensor4d(kd, [1, 1, 16, 4]);
  });

  it('topK 1 keeps the best block plus the first and diagonal blocks', async () => {
    const m = await selectBlocks(q, k, { blockSize: 4, topK: 1, maskMod: causal });
    // qb0: {0}; qb1: {1 best/diagonal, 0 first}; qb2: {1, 0, 2}; qb3: {1, 0, 3}
    expect([...m.toDense()]).toEqual([1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1]);
    // the diagonal blocks stay partial (causal inside), the others are full
    expect([...m.kvNumBlocks]).toEqual([1, 1, 1, 1]);
    expect([...m.fullKvNumBlocks]).toEqual([0, 1, 2, 2]);
  });
  it('threshold 1 keeps every candidate block (the plain causal mask)', async () => {
    const m = await selectBlocks(q, k, { blockSize: 4, threshold: 1, maskMod: causal, pooling: 'max' });
    expect([...m.toDense()]).toEqual([...createBlockMask(causal, { qLen: 16, kvLen: 16, blockSize: 4 }).toDense()]);
  });
  it('rejects ambiguous or bad options', async () => {
    await expect(selectBlocks(q, k, { blockSize: 4 })).rejects.toThrow(/exactly one of topK or threshold/);
    await expect(selectBlocks(q, k, { blockSize: 4, threshold: 1.5 })).rejects.toThrow(
      /threshold must be in \(0, 1\], got 1.5/,
    );
    await expect(selectBlocks(q, k, { blockSize: 0, topK: 1 })).rejects.toThrow(
      /blockSize \(query\) must be a positive integer, got 0/,
    );
  });
});

describe('permuted block-sparse attention', () => {
  let q: tf.Tensor;
  let k: tf.Tensor;
  let v: tf.Tensor;
  beforeAll(() => {
    const rng = createRng(4);
    q = rng.normalTensor([1, 2, 16, 4]);
    k = rng.normalTensor([1, 1, 16, 4]);
    v = rng.normalTensor([1, 1, 16, 4]);
  });

  it('keys are permuted only within segments', async () => {
    const [qd, kd] = [(await q.data()) as Float32Array, (await k.data()) as Float32Array];
    const perm = keyPermutation(qd, kd, { batch: 1, hq: 2, hkv: 1, lq: 16, lk: 16, d: 4 }, 4, 8, 0.5, true);
    for (const s0 of [0, 8])
      expect([...perm.slice(s0, s0 + 8)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => i + s0));
  });
  it('keys are ordered by the attention mass of the last query block', () => {
    // One head, dim 1, 8 keys, block 4, one segment of 8. The last query block (rows 4..7) has
    // q = 1, so row i puts weight exp(k_j) / sum over j <= i (causal). Keys 0..7 = [0, 3, 1, 0, 2, 0, 0, 0]:
    // key 1 (k = 3) gets the most mass in every row, then key 4 (k = 2), then key 2 (k = 1); the
    // k = 0 keys tie within a row: 0 and 3 are seen by all four rows (equal mass, position order
    // breaks the tie), 5, 6, 7 by three, two and one rows, so 0, 3, 5, 6, 7.
    const qd = Float32Array.from([0, 0, 0, 0, 1, 1, 1, 1]);
    const kd = Float32Array.from([0, 3, 1, 0, 2, 0, 0, 0]);
    const perm = keyPermutation(qd, kd, { batch: 1, hq: 1, hkv: 1, lq: 8, lk: 8, d: 1 }, 4, 8, 1, true);
    expect([...perm]).toEqual([1, 4, 2, 0, 3, 5, 6, 7]);
  });
  it('threshold 1 gives the unpermuted causal attention output', async () => {
    const r = await permutedBlockSparseAttention(q, k, v, { blockSize: 4, segmentSize: 8, threshold: 1 });
    const dense = denseAttention(q, k, v, { mask: causal });
    expectClose(r.output, dense, { atol: 1e-5, rtol: 1e-5 });
    tf.dispose([r.output, dense]);
  });
  it('a small topK keeps the first block and the query segment, and stays finite', async () => {
    const r = await permutedBlockSparseAttention(q, k, v, { blockSize: 4, segmentSize: 8, topK: 1 });
    const dense = r.blockMask.toDense(); // [1, 2, 4, 4]
    for (let h = 0; h < 2; h++) {
      for (let qb = 0; qb < 4; qb++) {
        const row = dense.subarray((h * 4 + qb) * 4, (h * 4 + qb + 1) * 4);
        expect(row[0]).toBe(1);
        const seg = Math.floor(qb / 2);
        expect(row[2 * seg]).toBe(1); // first block of the own segment always has a causal pair
      }
    }
    expect((await r.output.data()).every(Number.isFinite)).toBe(true);
    r.output.dispose();
  });
  it('rejects a segment size that is not a multiple of the block size', async () => {
    await expect(permutedBlockSparseAttention(q, k, v, { blockSize: 4, segmentSize: 6, threshold: 1 })).rejects.toThrow(
      /segmentSize must be a positive multiple of blockSize 4, got 6/,
    );
  });
});

describeBackends(['cpu', 'wasm', 'webgpu'], (backend) => {
  it(`the device path (pooled scores in tfjs ops, only block probabilities read back) picks the host path's blocks on ${backend}`, async () => {
    const rng = createRng(31);
    const s = { batch: 2, hq: 4, hkv: 2, lq: 60, lk: 60, d: 8 };
    const q = rng.normalTensor([s.batch, s.hq, s.lq, s.d]);
    const k = rng.normalTensor([s.batch, s.hkv, s.lk, s.d]);
    const [qData, kData] = (await Promise.all([q.data(), k.data()])) as [Float32Array, Float32Array];
    for (const opts of [
      { blockSize: 8, topK: 2, maskMod: causal },
      { blockSize: [8, 16] as [number, number], threshold: 0.6, pooling: 'max' as const },
    ]) {
      const host = selectBlocksFromArrays(qData, kData, s, opts);
      const device = await selectBlocksFromArrays(null, null, s, opts, 'selectBlocks', undefined, { q, k });
      expect(Array.from(device.toDense())).toEqual(Array.from(host.toDense()));
    }
    // on webgpu selectBlocks itself takes the device path
    const viaApi = await selectBlocks(q, k, { blockSize: 8, topK: 2, maskMod: causal });
    expect(Array.from(viaApi.toDense())).toEqual(
      Array.from(selectBlocksFromArrays(qData, kData, s, { blockSize: 8, topK: 2, maskMod: causal }).toDense()),
    );
    tf.dispose([q, k]);
  });
});
