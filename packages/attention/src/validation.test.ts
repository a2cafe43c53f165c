import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '@blockwise/tensor';
import { useBackend } from '@blockwise/tensor/testing';
import { describe, expect, it } from 'vitest';
import { blockSparseAttention, chooseImpl } from './blockSparseAttention.js';
import { createBlockMask } from './blockMask.js';
import { decodeBlockDiffusion, type BlockDiffusionModel } from './decoding.js';
import { denseAttention } from './dense.js';
import { and, blockDiffusion, blockRank, causal, not, or, slidingWindow } from './masks.js';
import { permutedBlockSparseAttention } from './permuted.js';
import { selectBlocks } from './selectBlocks.js';

/** Issue 14: misspelt options, bad numbers and unbounded sizes give errors naming the problem. */
describe('bad input gives a clear error at the call', () => {
  useBackend('cpu');

  it('createBlockMask: a misspelt option throws naming the nearest valid key (used to give 128-token blocks silently)', () => {
    expect(() => createBlockMask(causal, { qLen: 16, kvLen: 16, blocksize: 8 } as never)).toThrow(
      /blocksize.*blockSize/,
    );
    expect(() => createBlockMask(causal, null as never)).toThrow(/createBlockMask: options .* required, got null/);
    expect(() => createBlockMask(causal, { qLen: 16, kvLen: '16' } as never)).toThrow(
      /kvLen must be a positive integer, got "16"/,
    );
  });

  it('createBlockMask: qLen 1e6 is refused up front instead of evaluating 1e12 pairs', () => {
    const t0 = performance.now();
    expect(() => createBlockMask(causal, { qLen: 1e6, kvLen: 1e6 })).toThrow(
      /qLen 1000000, kvLen 1000000.*|more than the 2\^31/,
    );
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('blockSparseAttention: scal (for scale), impl and returnLse of the wrong type throw', () => {
    const rng = createRng(1);
    const q = rng.normalTensor([1, 1, 8, 4]);
    const blockMask = createBlockMask(causal, { qLen: 8, kvLen: 8, blockSize: 4 });
    expect(() => blockSparseAttention(q, q, q, { blockMask, scal: 0.5 } as never)).toThrow(/scal.*scale/);
    expect(() => blockSparseAttention(q, q, q, { blockMask, impl: 'fast' } as never)).toThrow(
      /impl must be one of .*"fast"/,
    );
    expect(() => blockSparseAttention(q, q, q, { blockMask, returnLse: 'yes' } as never)).toThrow(
      /returnLse must be true or false, got "yes"/,
    );
    expect(() => blockSparseAttention(q, q, q, null as never)).toThrow(
      /options \{ blockMask \} are required, got null/,
    );
    expect(() => denseAttention(q, q, q, { scal: 1 } as never)).toThrow(/scal.*scale/);
    expect(() => chooseImpl(blockMask, { batch: 1, head: 1 } as never)).toThrow(/head.*heads/);
    tf.dispose(q);
  });

  it('mask combinators reject what is not a mask function: and(causal, 5)', () => {
    expect(() => and(causal, 5 as never)).toThrow(/and: argument 2 must be a mask function .*got 5/);
    expect(() => or(causal, 'x' as never)).toThrow(/or: argument 2 must be a mask function/);
    expect(() => not(undefined as never)).toThrow(/not: argument 1 must be a mask function/);
    expect(() => slidingWindow(3, { casual: false } as never)).toThrow(/casual.*causal/);
    expect(() => slidingWindow(3, { causal: 'no' } as never)).toThrow(/causal must be true or false/);
    expect(() => blockRank([2, 2], { causual: true } as never)).toThrow(/causual.*causal/);
    expect(() => blockDiffusion({ seqLen: 4, blocksize: 2 } as never)).toThrow(/blocksize.*blockSize/);
  });

  it('selectBlocks and permutedBlockSparseAttention: NaN in q or k throws naming the tensor', async () => {
    const q = tf.tensor4d([1, 2, NaN, 4, 5, 6, 7, 8], [1, 1, 4, 2]);
    const k = tf.ones([1, 1, 4, 2]);
    await expect(selectBlocks(q, k, { blockSize: 2, topK: 1 })).rejects.toThrow(
      /selectBlocks: q must be finite, got NaN at flat index 2/,
    );
    await expect(selectBlocks(k, q, { blockSize: 2, topK: 1 })).rejects.toThrow(/selectBlocks: k must be finite/);
    await expect(selectBlocks(k, k, { blockSize: 2, topk: 1 } as never)).rejects.toThrow(/topk.*topK/);
    await expect(permutedBlockSparseAttention(q, k, k, { blockSize: 2, segmentSize: 2, topK: 1 })).rejects.toThrow(
      /q must be finite/,
    );
    tf.dispose([q, k]);
  });
});

describe('decodeBlockDiffusion refuses a broken model instead of decoding garbage', () => {
  const model = (
    predict: (block: Int32Array) => Float32Array,
    over: Partial<BlockDiffusionModel<null>> = {},
  ): BlockDiffusionModel<null> => ({
    vocabSize: 4,
    maskId: 3,
    initCache: () => null,
    extendCache: () => null,
    predict,
    ...over,
  });
  const good = (block: Int32Array): Float32Array =>
    Float32Array.from({ length: block.length * 4 }, (_, i) => (i % 4 === 1 ? 5 : 0));

  it('decodes with a well-formed model (control)', async () => {
    const r = await decodeBlockDiffusion(model(good), new Int32Array([0]), { maxTokens: 4, blockSize: 2 });
    // token 1 has the highest logit everywhere (the mask token 3 is never predicted)
    expect(Array.from(r.tokens)).toEqual([1, 1, 1, 1]);
  });
  it('NaN logits, short logits, a maskId outside the vocabulary, misspelt options', async () => {
    await expect(
      decodeBlockDiffusion(
        model((b) => new Float32Array(b.length * 4).fill(NaN)),
        new Int32Array([0]),
        { maxTokens: 2, blockSize: 2 },
      ),
    ).rejects.toThrow(/model.predict returned NaN at position 0/);
    await expect(
      decodeBlockDiffusion(
        model((b) => new Float32Array(b.length * 4 - 1)),
        new Int32Array([0]),
        { maxTokens: 2, blockSize: 2 },
      ),
    ).rejects.toThrow(/returned 7 logits, expected 8/);
    await expect(
      decodeBlockDiffusion(model(good, { maskId: 4 }), new Int32Array([0]), { maxTokens: 2, blockSize: 2 }),
    ).rejects.toThrow(/model.maskId must be an integer in \[0, 3\], got 4/);
    await expect(
      decodeBlockDiffusion(model(good), new Int32Array([0]), { maxTokens: 2, blocksize: 2 } as never),
    ).rejects.toThrow(/blocksize.*blockSize/);
    await expect(
      decodeBlockDiffusion(model(good), new Int32Array([0]), { maxTokens: 2, blockSize: 2, eosId: 9 }),
    ).rejects.toThrow(/eosId must be an integer in \[0, 3\]/);
  });
});
