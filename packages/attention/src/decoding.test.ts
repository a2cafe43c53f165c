import { describe, expect, it } from 'vitest';
import { decodeBlockDiffusion, type BlockDiffusionModel } from './decoding.js';

const VOCAB = 12;
const MASK = 11;
const DELIM = 0;
/** Target token at absolute position p: a delimiter every 5th token, else 1 + (3p mod 10). */
const target = (p: number): number => ((p + 1) % 5 === 0 ? DELIM : 1 + ((3 * p) % 10));

/**
 * Deterministic toy model: its argmax at every masked position is the target token. Confidence is
 * 0.95 when a known token (prefix or unmasked) sits at most `reach` positions to the left, else 0.3;
 * the delimiter is always predicted with 0.97. Logits = log of those probabilities spread over the
 * other tokens. The cache is the list of finished tokens; predict checks it never holds a
 * block that is still being decoded.
 */
function toyModel(reach: number, log: { cacheLens: number[] }): BlockDiffusionModel<number[]> {
  return {
    vocabSize: VOCAB,
    maskId: MASK,
    initCache: (prompt) => Array.from(prompt),
    extendCache: (cache, block) => {
      expect(block.includes(MASK)).toBe(false);
      return [...cache, ...block];
    },
    predict: (block, cache) => {
      log.cacheLens.push(cache.length);
      const logits = new Float32Array(block.length * VOCAB);
      for (let i = 0; i < block.length; i++) {
        const p = cache.length + i;
        let known = false;
        // positions left of the block are known (the prefix, or a virtual BOS at -1)
        for (let r = 1; r <= reach; r++)
          if (i - r < 0 ? cache.length + i - r >= -1 : block[i - r] !== MASK) known = true;
        const want = target(p);
        const conf = want === DELIM ? 0.97 : known ? 0.95 : 0.3;
        for (let t = 0; t < VOCAB; t++) logits[i * VOCAB + t] = Math.log(t === want ? conf : (1 - conf) / (VOCAB - 2));
        logits[i * VOCAB + MASK] = -1e9;
      }
      return logits;
    },
  };
}

const expected = (n: number, start = 0): number[] => Array.from({ length: n }, (_, i) => target(start + i));

describe('decodeBlockDiffusion with a deterministic toy model', () => {
  it('parallel unmasking: 2 tokens per call when the model is confident two positions ahead', async () => {
    // reach 2: a masked position is confident (0.95 >= 0.9) when a known token is 1 or 2 to its left
    // (a virtual BOS at -1 counts as known); delimiters (4, 9, 14) always are (0.97).
    // block 0..7:  step 1 unmasks 0, 1, 4; step 2: 2, 3, 5, 6; step 3: 7       -> 3 calls
    // block 8..15: step 1 unmasks 8, 9, 14; step 2: 10, 11, 15; step 3: 12, 13 -> 3 calls
    // 16 tokens / 6 calls.
    const log = { cacheLens: [] as number[] };
    const r = await decodeBlockDiffusion(toyModel(2, log), new Int32Array(0), {
      maxTokens: 16,
      blockSize: 8,
      threshold: 0.9,
    });
    expect(Array.from(r.tokens)).toEqual(expected(16));
    expect(r.modelCalls).toBe(6);
    expect(r.tokensPerCall).toBeCloseTo(16 / 6, 12);
    expect(r.blockSizes).toEqual([8, 8]);
    // KV cache: calls for block 1 see an empty prefix, calls for block 2 see the 8 finished tokens
    expect(log.cacheLens).toEqual([0, 0, 0, 8, 8, 8]);
  });

  it('a threshold nothing reaches still unmasks one token per call', async () => {
    const r = await decodeBlockDiffusion(toyModel(2, { cacheLens: [] }), new Int32Array(0), {
      maxTokens: 8,
      blockSize: 8,
      threshold: 0.99,
    });
    expect(Array.from(r.tokens)).toEqual(expected(8));
    expect(r.modelCalls).toBe(8);
  });

  it('block size 1 is autoregressive decoding: one call per token', async () => {
    const prompt = Int32Array.from(expected(3));
    const r = await decodeBlockDiffusion(toyModel(2, { cacheLens: [] }), prompt, { maxTokens: 10, blockSize: 1 });
    expect(Array.from(r.tokens)).toEqual(expected(10, 3));
    expect(r.modelCalls).toBe(10);
    expect(r.tokensPerCall).toBe(1);
  });

  it('sub-blocks: nothing past the current sub-block is unmasked', async () => {
    const seen: number[][] = [];
    const r = await decodeBlockDiffusion(toyModel(8, { cacheLens: [] }), new Int32Array(0), {
      maxTokens: 8,
      blockSize: 8,
      subBlockSize: 4,
      threshold: 0.9,
      onStep: ({ unmasked }) => seen.push(unmasked),
    });
    // reach 8: every masked position is confident, so each call completes one 4-token sub-block.
    expect(seen).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
    expect(r.modelCalls).toBe(2);
    expect(Array.from(r.tokens)).toEqual(expected(8));
  });

  it('adaptive block size ends blocks at a confident delimiter (AdaBlock)', async () => {
    // delimiters at positions 4, 9, 14: blocks of 5 within [minBlock 2, maxBlock 8].
    const r = await decodeBlockDiffusion(toyModel(8, { cacheLens: [] }), new Int32Array(0), {
      maxTokens: 15,
      blockSize: 4,
      threshold: 0.9,
      adaptive: { delimiterId: DELIM, minBlock: 2, maxBlock: 8, delimiterThreshold: 0.9 },
    });
    expect(r.blockSizes).toEqual([5, 5, 5]);
    expect(Array.from(r.tokens)).toEqual(expected(15));
    // with reach 8 the window call unmasks the whole block: one call per block
    expect(r.modelCalls).toBe(3);
  });

  it('stops at the end-of-sequence token and rejects bad options', async () => {
    const r = await decodeBlockDiffusion(toyModel(8, { cacheLens: [] }), new Int32Array(0), {
      maxTokens: 20,
      blockSize: 8,
      eosId: DELIM,
    });
    expect(Array.from(r.tokens)).toEqual(expected(5));
    await expect(
      decodeBlockDiffusion(toyModel(1, { cacheLens: [] }), new Int32Array(0), { maxTokens: 4, blockSize: 0 }),
    ).rejects.toThrow(/blockSize must be an integer >= 1, got 0/);
  });
});
