import { createBlockMask, decodeBlockDiffusion, type BlockDiffusionModel } from '@blockwise/attention';
import { createRng } from '@blockwise/tensor';
import { describeBackends, useBackend } from '@blockwise/tensor/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeAutoregressive,
  decodeBlocks,
  decodeSliding,
  decodeSpeculative,
  type BlockDecodeOptions,
} from './decode.js';
import { greedyWindows } from './distill.js';
import { cachedStep, disposeCache, emptyCache, truncateCache } from './kvcache.js';
import { createLm, lmForward, type LmWeights } from './model.js';
import { trainNgram } from './ngram.js';
import { charTokenizer } from './tokenizer.js';
import { AdamW } from '@blockwise/optimizers';
import {
  blockDiffusionLoss,
  blockIndex,
  causalLoss,
  causalMask,
  conversionMask,
  mixDistilled,
  noiseWindows,
  sampleWindows,
  trainLm,
} from './train.js';

const V = 12;
const MASK = V - 1;

function model(name: string): LmWeights {
  // larger weights than the 0.02 init so that predictions differ by position and are not all tied
  const w = createLm({ vocab: V, dim: 16, heads: 2, layers: 2, maxLen: 32 }, createRng(1), name);
  for (const v of w.vars) if (v.shape.length === 2) v.assign(tf.mul(v, 20));
  return w;
}

async function fullLogits(
  w: LmWeights,
  tokens: number[],
  mask: Parameters<typeof lmForward>[2],
  segments?: number[],
  attention: 'dense' | 'blockSparse' = 'dense',
): Promise<Float32Array> {
  const t = tf.tidy(() =>
    lmForward(
      w,
      tf.tensor2d(Int32Array.from(tokens), [1, tokens.length], 'int32'),
      mask,
      segments,
      undefined,
      attention,
    ),
  );
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

describe('character tokenizer', () => {
  useBackend('cpu');
  it('round-trips known characters and maps rare ones to ?', () => {
    const tok = charTokenizer('aaabbbccc!', 3);
    expect(tok.chars).toEqual(['?', 'a', 'b', 'c']);
    expect(tok.maskId).toBe(4);
    expect(tok.decode(tok.encode('abc!'))).toBe('abc?');
  });
});

describe('masks of the character transformer', () => {
  useBackend('cpu');
  let w: LmWeights;
  beforeAll(() => {
    w = model('lmmask');
  });
  afterAll(() => tf.dispose(w.vars));

  it('is causal under the causal mask: a later token never changes earlier logits', async () => {
    const a = [1, 2, 3, 4, 5, 6, 7, 8];
    const b = [...a.slice(0, 5), 9, 9, 9];
    const la = await fullLogits(w, a, causalMask(8));
    const lb = await fullLogits(w, b, causalMask(8));
    expect(Array.from(la.subarray(0, 5 * V))).toEqual(Array.from(lb.subarray(0, 5 * V)));
    expect(Array.from(la.subarray(5 * V))).not.toEqual(Array.from(lb.subarray(5 * V)));
  });

  it('blockIndex starts a block at every offset + k * block', () => {
    // blocks of 4 at offset 1: [0], [1..4], [5..8]
    expect([0, 1, 4, 5, 8, 9].map((i) => blockIndex(i, 4, 1))).toEqual([0, 1, 1, 2, 2, 3]);
  });

  it('conversion mask: a noisy block sees its own noisy block and earlier clean tokens only; the clean stream is causal', async () => {
    // n = 8, blocks of 4 at offset 0, two noisy streams: [x_t^1 (8); x_t^2 (8); x_0 (8)].
    const m = conversionMask(8, 4, 0, 2);
    const allowed = (q: number, k: number) => m.maskMod(0, 0, q, k);
    expect(allowed(5, 4) && allowed(5, 7)).toBe(true); // own block, both directions
    expect(allowed(5, 3)).toBe(false); // earlier noisy block
    expect(allowed(5, 16 + 3) && !allowed(5, 16 + 4)).toBe(true); // clean: earlier blocks only
    expect(allowed(5, 8 + 5) || allowed(13, 5)).toBe(false); // the noisy streams never see each other
    expect(allowed(16 + 5, 16 + 5) && !allowed(16 + 5, 16 + 6) && !allowed(16 + 5, 5)).toBe(true); // clean: causal, never noisy
    // and the model obeys it: changing clean block 2 (x_0[4..7]) leaves both noisy copies of block 2 unchanged
    const xt = [MASK, 2, MASK, 4, MASK, MASK, 7, MASK];
    const xc = [1, MASK, 3, MASK, 5, 6, MASK, 8];
    const la = await fullLogits(w, [...xt, ...xc, 1, 2, 3, 4, 5, 6, 7, 8], m, [8, 8, 8]);
    const lb = await fullLogits(w, [...xt, ...xc, 1, 2, 3, 4, 9, 9, 9, 9], m, [8, 8, 8]);
    expect(Array.from(la.subarray(0, 16 * V))).toEqual(Array.from(lb.subarray(0, 16 * V)));
    expect(Array.from(la.subarray(20 * V))).not.toEqual(Array.from(lb.subarray(20 * V)));
  });

  it('dense (bias) attention equals the block-sparse kernel under the same mask', async () => {
    const tokens = [1, 2, 3, MASK, MASK, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8];
    const m = conversionMask(8, 4, 2, 1);
    const dense = await fullLogits(w, tokens, m, [8, 8], 'dense');
    const sparse = await fullLogits(w, tokens, m, [8, 8], 'blockSparse');
    dense.forEach((v, i) => expect(v).toBeCloseTo(sparse[i]!, 4));
  });
});

describeBackends(['cpu', 'wasm', 'webgpu'], () => {
  let w: LmWeights;
  beforeAll(() => {
    w = model('lmcache');
  });
  afterAll(() => tf.dispose(w.vars));

  it('cached autoregressive steps give the full causal forward pass logits', async () => {
    const seq = [1, 5, 2, 7, 3, 3, 9, 0, 4];
    const ref = await fullLogits(w, seq, causalMask(seq.length));
    let cache = emptyCache(w);
    // prefill 4 tokens, then one token per call
    const rows: number[] = [];
    for (const [start, end] of [
      [0, 4],
      [4, 5],
      [5, 6],
      [6, 9],
    ] as const) {
      const step = cachedStep(w, cache, Int32Array.from(seq.slice(start, end)), end - start, 0);
      if (step.cache !== cache) disposeCache(cache);
      cache = step.cache;
      rows.push(...(await step.logits.data()));
      step.logits.dispose();
    }
    disposeCache(cache);
    expect(rows.length).toBe(ref.length);
    rows.forEach((v, i) => expect(v).toBeCloseTo(ref[i]!, 3));
  });

  it('a cached commit-and-denoise call gives the full forward pass under the block-diffusion mask', async () => {
    // cache 5 tokens, then commit 3 clean tokens and denoise a block of 4 in one call; reference:
    // the whole sequence at once, clean causal, block bidirectional over everything before it.
    const clean = [1, 5, 2, 7, 3, 3, 9, 0];
    const block = [MASK, 4, MASK, MASK];
    const all = [...clean, ...block];
    const mod = (_b: number, _h: number, q: number, k: number) => (q < clean.length ? k <= q : true);
    const ref = await fullLogits(
      w,
      all,
      createBlockMask(mod, { qLen: all.length, kvLen: all.length, blockSize: 4 }),
      undefined,
      'blockSparse',
    );
    const first = cachedStep(w, emptyCache(w), Int32Array.from(clean.slice(0, 5)), 5, 4);
    first.logits.dispose();
    const step = cachedStep(w, first.cache, Int32Array.from([...clean.slice(5), ...block]), 3, 3);
    expect(step.cache.length).toBe(8);
    const got = await step.logits.data();
    step.logits.dispose();
    disposeCache(first.cache);
    disposeCache(step.cache);
    got.forEach((v, i) => expect(v).toBeCloseTo(ref[8 * V + i]!, 3));
  });
});

// cached decoding against full forward passes on both CPU backends (wasm routes small and large
// matmuls differently, so the cached and the full pass sum in different orders there)
describeBackends(['cpu', 'wasm'], () =>
  describe('decoders', () => {
    let w: LmWeights;
    beforeAll(() => {
      w = model('lmdec');
    });
    afterAll(() => tf.dispose(w.vars));
    const prompt = Int32Array.from([1, 2, 3, 4]);

    it('autoregressive with a cache equals greedy decoding by full forward passes, one call per token', async () => {
      const ar = await decodeAutoregressive(w, prompt, 10);
      const seq = Array.from(prompt);
      for (let i = 0; i < 10; i++) {
        const l = (await fullLogits(w, seq, causalMask(seq.length))).subarray((seq.length - 1) * V, seq.length * V - 1); // never [MASK]
        seq.push(l.indexOf(Math.max(...l)));
      }
      expect(Array.from(ar.tokens)).toEqual(seq.slice(4));
      expect(ar.calls).toBe(10);
    });

    // Reference: the attention package's decoding loop over a cache-less, shift-reading model that recomputes the
    // prefix with full forward passes; it counts block commits as free, our loop fuses them into
    // the next block's first call, so both count the same calls.
    const reference = (o: BlockDecodeOptions, count: number) => {
      const m: BlockDiffusionModel<number[]> = {
        vocabSize: V,
        maskId: MASK,
        initCache: (p) => Array.from(p),
        extendCache: (c, b) => [...c, ...b],
        predict: async (block, cache) => {
          const all = [...cache, ...block];
          const mod = (_b: number, _h: number, q: number, k: number) => (q < cache.length ? k <= q : true);
          const l = await fullLogits(
            w,
            all,
            createBlockMask(mod, { qLen: all.length, kvLen: all.length, blockSize: 4 }),
          );
          // the autoregressive shift: block position j is read from the output before it
          return l.slice((cache.length - 1) * V, (all.length - 1) * V);
        },
      };
      return decodeBlockDiffusion(m, prompt, { maxTokens: count, ...o });
    };

    for (const o of [
      { blockSize: 4, threshold: 0.3 },
      { blockSize: 8, threshold: 0.2, subBlockSize: 4 },
      { blockSize: 1, threshold: 0.9 },
      { blockSize: 4, threshold: 0.3, adaptive: { delimiterId: 3, minBlock: 2, maxBlock: 6, delimiterThreshold: 0.1 } },
    ] as BlockDecodeOptions[]) {
      it(`block diffusion with a block cache equals the attention package's loop without one (${JSON.stringify(o)})`, async () => {
        const before = tf.memory().numTensors;
        const got = await decodeBlocks(w, prompt, 14, o);
        expect(tf.memory().numTensors).toBe(before);
        const ref = await reference(o, 14);
        expect(Array.from(got.tokens)).toEqual(Array.from(ref.tokens));
        expect(got.calls).toBe(ref.modelCalls);
        expect(got.blockSizes).toEqual(ref.blockSizes);
        expect(got.tokens.includes(MASK)).toBe(false);
      });
    }

    // Reference for alwaysLeftmost: no cache, a full forward pass per call (finished tokens causal,
    // the block bidirectional over everything before it), the autoregressive shift, and the rule
    // spelt out: every masked position at or above the threshold, plus the leftmost masked one.
    const leftmostReference = async (blockSize: number, threshold: number, count: number) => {
      const seq = Array.from(prompt);
      let calls = 0;
      while (seq.length < prompt.length + count) {
        const block: number[] = Array(Math.min(blockSize, prompt.length + count - seq.length)).fill(MASK);
        while (block.includes(MASK)) {
          const all = [...seq, ...block];
          const mod = (_b: number, _h: number, q: number, k: number) => (q < seq.length ? k <= q : true);
          const l = await fullLogits(
            w,
            all,
            createBlockMask(mod, { qLen: all.length, kvLen: all.length, blockSize: 4 }),
          );
          calls++;
          const lo = block.indexOf(MASK);
          const picks = block.map((t, j) => {
            if (t !== MASK) return t;
            const row = Array.from(l.subarray((seq.length - 1 + j) * V, (seq.length + j) * V - 1)); // never [MASK]
            const top = Math.max(...row);
            const p = 1 / row.reduce((a, v) => a + Math.exp(v - top), 0);
            return j === lo || p >= threshold ? row.indexOf(top) : MASK;
          });
          block.splice(0, block.length, ...picks);
        }
        seq.push(...block);
      }
      return { tokens: seq.slice(prompt.length), calls };
    };

    for (const [blockSize, threshold] of [
      [4, 0.3],
      [6, 0.6],
    ] as const) {
      it(`alwaysLeftmost unmasks the leftmost masked position in every call, plus the confident ones (block ${blockSize}, threshold ${threshold})`, async () => {
        const before = tf.memory().numTensors;
        const got = await decodeBlocks(w, prompt, 13, { blockSize, threshold, alwaysLeftmost: true });
        expect(tf.memory().numTensors).toBe(before);
        const ref = await leftmostReference(blockSize, threshold, 13);
        expect(Array.from(got.tokens)).toEqual(ref.tokens);
        expect(got.calls).toBe(ref.calls);
      });
    }

    // Reference for the sliding block: no cache, a full forward pass per call over the finished
    // tokens (causal) and the window (bidirectional over everything before it), the autoregressive
    // shift; the window's first position and every confident one are unmasked, then it slides past
    // the finished prefix.
    const slidingReference = async (blockSize: number, threshold: number, count: number) => {
      const seq = Array.from(prompt);
      let win: number[] = [];
      let calls = 0;
      while (seq.length < prompt.length + count) {
        while (win.length < Math.min(blockSize, prompt.length + count - seq.length)) win.push(MASK);
        const all = [...seq, ...win];
        const mod = (_b: number, _h: number, q: number, k: number) => (q < seq.length ? k <= q : true);
        const l = await fullLogits(w, all, createBlockMask(mod, { qLen: all.length, kvLen: all.length, blockSize: 4 }));
        calls++;
        win = win.map((t, j) => {
          if (t !== MASK) return t;
          const row = Array.from(l.subarray((seq.length - 1 + j) * V, (seq.length + j) * V - 1)); // never [MASK]
          const top = Math.max(...row);
          const p = 1 / row.reduce((a, v) => a + Math.exp(v - top), 0);
          return j === 0 || p >= threshold ? row.indexOf(top) : MASK;
        });
        while (win.length > 0 && win[0] !== MASK) seq.push(win.shift()!);
      }
      return { tokens: seq.slice(prompt.length), calls };
    };

    for (const [blockSize, threshold] of [
      [4, 0.3],
      [7, 0.35],
    ] as const) {
      it(`sliding block decoding with a KV cache equals full forward passes (block ${blockSize}, threshold ${threshold})`, async () => {
        const before = tf.memory().numTensors;
        const got = await decodeSliding(w, prompt, 15, { blockSize, threshold });
        expect(tf.memory().numTensors).toBe(before);
        const ref = await slidingReference(blockSize, threshold, 15);
        expect(Array.from(got.tokens)).toEqual(ref.tokens);
        expect(got.calls).toBe(ref.calls);
        expect(got.calls).toBeLessThan(15); // some calls finished more than one token
        expect(got.blockSizes.reduce((a, b) => a + b, 0)).toBe(15);
      });
    }

    it('sliding block decoding with an unreachable threshold is autoregressive decoding, call for call', async () => {
      // the window's first position is read from the last finished token's causal output
      const sl = await decodeSliding(w, prompt, 12, { blockSize: 6, threshold: 1 });
      const ar = await decodeAutoregressive(w, prompt, 12);
      expect(Array.from(sl.tokens)).toEqual(Array.from(ar.tokens));
      expect(sl.calls).toBe(12);
      await expect(decodeSliding(w, prompt, 4, { blockSize: 4, threshold: 0.5, adaptive: 1 } as never)).rejects.toThrow(
        /unknown option "adaptive"/,
      );
      await expect(decodeSliding(w, prompt, 4, { blockSize: 0, threshold: 0.5 })).rejects.toThrow(
        /blockSize must be an integer >= 1, got 0/,
      );
    });

    // Reference of self-speculative decoding by full forward passes: verified tokens and drafts
    // attend causally, the window of [MASK] sees them all and itself; a draft is kept while it equals
    // the greedy prediction before it; the window's confident prefix drafts only when all were kept.
    const speculativeReference = async (blockSize: number, threshold: number, count: number) => {
      const seq = Array.from(prompt);
      let drafts: number[] = [];
      let calls = 0;
      const top = (l: Float32Array, row: number) => {
        const r = Array.from(l.subarray(row * V, row * V + V - 1)); // never [MASK]
        const e = r.map((x) => Math.exp(x - Math.max(...r)));
        const z = e.reduce((a, b) => a + b, 0);
        const t = r.indexOf(Math.max(...r));
        return { t, p: e[t]! / z };
      };
      while (seq.length - prompt.length < count) {
        const left = count - (seq.length - prompt.length);
        drafts = drafts.slice(0, left - 1);
        const size = Math.min(blockSize, left - 1 - drafts.length);
        const clean = seq.length + drafts.length;
        const all = [...seq, ...drafts, ...Array(size).fill(MASK)];
        const mod = (_b: number, _h: number, q: number, k: number) => (q < clean ? k <= q : true);
        const l = await fullLogits(w, all, createBlockMask(mod, { qLen: all.length, kvLen: all.length, blockSize: 4 }));
        calls++;
        let acc = 0;
        while (acc < drafts.length && drafts[acc] === top(l, seq.length - 1 + acc).t) acc++;
        seq.push(...drafts.slice(0, acc), top(l, seq.length - 1 + acc).t);
        const kept = acc === drafts.length;
        const base = clean - 1; // the row of window position 0
        drafts = [];
        if (kept)
          for (let j = 1; j < size; j++) {
            const { t, p } = top(l, base + j);
            if (p < threshold) break;
            drafts.push(t);
          }
      }
      return { tokens: seq.slice(prompt.length), calls };
    };

    for (const [blockSize, threshold] of [
      [4, 0],
      [6, 0.2],
      [3, 0.5],
    ] as const) {
      it(`self-speculative decoding is the model's greedy autoregressive decoding, and equals full forward passes call for call (block ${blockSize}, threshold ${threshold})`, async () => {
        const before = tf.memory().numTensors;
        const got = await decodeSpeculative(w, prompt, 16, { blockSize, threshold });
        expect(tf.memory().numTensors).toBe(before);
        const ar = await decodeAutoregressive(w, prompt, 16);
        expect(Array.from(got.tokens)).toEqual(Array.from(ar.tokens));
        const ref = await speculativeReference(blockSize, threshold, 16);
        expect(Array.from(got.tokens)).toEqual(ref.tokens);
        expect(got.calls).toBe(ref.calls);
        expect(got.blockSizes.reduce((a, b) => a + b, 0)).toBe(16);
        expect(got.blockSizes.length).toBe(got.calls);
      });
    }

    it('self-speculative decoding accepts drafts: on a model that repeats its input every call finishes the window', async () => {
      // The final layer norm's bias is 1 and the head maps every dimension to token 5: the normalised
      // activations sum to zero, so token 5's logit is 3 x 16 = 48 at every position, whatever the
      // input. Greedy decoding is 5 5 5 ..., every draft is accepted, and each call after the first
      // yields the window's drafts plus one token.
      const c = createLm({ vocab: V, dim: 16, heads: 2, layers: 1, maxLen: 32 }, createRng(2), 'lmconst');
      c.lnfb.assign(tf.ones(c.lnfb.shape));
      c.head.assign(tf.oneHot(tf.fill([16], 5, 'int32'), V).mul(3) as tf.Tensor2D);
      const got = await decodeSpeculative(c, prompt, 13, { blockSize: 4, threshold: 0.5 });
      expect(Array.from(got.tokens)).toEqual(Array(13).fill(5));
      // call 1: token 1 + drafts 2..4; then 4 tokens per call (3 drafts + 1): 1 + 4 + 4 + 4 = 13
      expect(got.blockSizes).toEqual([1, 4, 4, 4]);
      tf.dispose(c.vars);
    });

    it('truncateCache keeps the keys and values of the first tokens', async () => {
      const long = cachedStep(w, emptyCache(w), Int32Array.from([1, 2, 3, 4, 5, 6]), 6, 5);
      const short = cachedStep(w, emptyCache(w), Int32Array.from([1, 2, 3, 4]), 4, 3);
      const cut = truncateCache(long.cache, 4);
      expect(cut.length).toBe(4);
      for (let l = 0; l < cut.keys.length; l++) {
        expect(Array.from(await cut.keys[l]!.data())).toEqual(Array.from(await short.cache.keys[l]!.data()));
        expect(Array.from(await cut.values[l]!.data())).toEqual(Array.from(await short.cache.values[l]!.data()));
      }
      expect(() => truncateCache(long.cache, 7)).toThrow(/length must be an integer in \[0, 6\], got 7/);
      tf.dispose([long.logits, short.logits]);
      [long.cache, short.cache, cut].forEach(disposeCache);
    });

    it('greedyWindows pairs a prompt from the text with the greedy continuation', async () => {
      const ids = Int32Array.from({ length: 50 }, (_, i) => i % (V - 1));
      const got = await greedyWindows(w, ids, 3, 4, 6, createRng(9));
      expect(got.length).toBe(3 * 10);
      for (let k = 0; k < 3; k++) {
        const p = got.slice(k * 10, k * 10 + 4);
        // the prompt is four consecutive characters of the text
        for (let j = 1; j < 4; j++) expect(p[j]).toBe((p[j - 1]! + 1) % (V - 1));
        const ar = await decodeAutoregressive(w, p, 6);
        expect(Array.from(got.slice(k * 10 + 4, k * 10 + 10))).toEqual(Array.from(ar.tokens));
      }
    });

    it('block size 1 is autoregressive decoding (the same weights, the same tokens and calls)', async () => {
      const bd = await decodeBlocks(w, prompt, 8, { blockSize: 1, threshold: 0.9 });
      const ar = await decodeAutoregressive(w, prompt, 8);
      expect(Array.from(bd.tokens)).toEqual(Array.from(ar.tokens));
      expect(bd.calls).toBe(8);
    });

    it('rejects bad options naming them', async () => {
      await expect(decodeBlocks(w, prompt, 4, { blockSize: 4, threshold: 0.9, treshold: 1 } as never)).rejects.toThrow(
        /unknown option "treshold"/,
      );
      await expect(decodeBlocks(w, prompt, 4, { blockSize: 4, threshold: 0 })).rejects.toThrow(
        /threshold must be a number in \(0, 1\], got 0/,
      );
      await expect(decodeBlocks(w, prompt, 4, { blockSize: 2.5, threshold: 0.5 })).rejects.toThrow(
        /blockSize must be an integer >= 1, got 2.5/,
      );
      await expect(decodeBlocks(w, prompt, 40, { blockSize: 4, threshold: 0.5 })).rejects.toThrow(
        /exceeds the model's 32 positions/,
      );
      await expect(decodeSpeculative(w, prompt, 4, { blockSize: 4, threshold: 1.5 })).rejects.toThrow(
        /threshold must be a number in \[0, 1\], got 1.5/,
      );
      await expect(
        decodeSpeculative(w, prompt, 4, { blockSize: 4, threshold: 0.5, window: 2 } as never),
      ).rejects.toThrow(/unknown option "window"/);
      await expect(decodeAutoregressive(w, new Int32Array(0), 4)).rejects.toThrow(
        /prompt must be a non-empty Int32Array/,
      );
    });
  }),
);

describe('block-diffusion training', () => {
  useBackend('cpu');
  it('the conversion loss is the cross-entropy of the masked tokens: a uniform model scores log(V)', async () => {
    // all-zero weights give uniform logits over the V ids, so every masked token costs log(V)
    const w = createLm({ vocab: V, dim: 8, heads: 2, layers: 1, maxLen: 16 }, createRng(2), 'lmzero');
    for (const v of w.vars) v.assign(tf.zerosLike(v));
    const x0 = Int32Array.from({ length: 2 * 16 }, (_, i) => i % (V - 1));
    const l = blockDiffusionLoss(w, x0, 2, 16, MASK, { block: 4, offset: 1 }, createRng(3));
    expect((await l.data())[0]).toBeCloseTo(Math.log(V), 5);
    tf.dispose([l, ...w.vars]);
  });

  it("arWeight mixes in the clean stream's next-token loss, which is the causal model's loss", async () => {
    // the clean stream is causal with its own positions, so its outputs 0..n-2 are the causal
    // model's on x0[0..n-2]; the same rng seed draws the same masks for both calls
    const w = model('lmarw');
    const n = 12;
    const x0 = Int32Array.from({ length: 2 * n }, (_, i) => (i * 5 + 3) % (V - 1));
    const value = async (t: tf.Scalar) => {
      const v = (await t.data())[0]!;
      t.dispose();
      return v;
    };
    const masked = await value(blockDiffusionLoss(w, x0, 2, n, MASK, { block: 4, offset: 1 }, createRng(3)));
    const mixed = await value(
      blockDiffusionLoss(w, x0, 2, n, MASK, { block: 4, offset: 1, arWeight: 0.25 }, createRng(3)),
    );
    const x = Int32Array.from([...x0.subarray(0, n - 1), ...x0.subarray(n, 2 * n - 1)]);
    const y = Int32Array.from([...x0.subarray(1, n), ...x0.subarray(n + 1, 2 * n)]);
    const ar = await value(causalLoss(w, x, y, 2, n - 1));
    expect(Math.abs(ar - masked)).toBeGreaterThan(0.01);
    expect(mixed).toBeCloseTo(0.75 * masked + 0.25 * ar, 4);
    expect(() => blockDiffusionLoss(w, x0, 2, n, MASK, { block: 4, arWeight: 1 }, createRng(3))).toThrow(
      /arWeight must be in \[0, 1\), got 1/,
    );
    tf.dispose(w.vars);
  });

  it('noises windows: complementary copies mask each token exactly once; suffix copies mask from a uniform cut', () => {
    const n = 64;
    const batch = 50;
    const x0 = Int32Array.from({ length: batch * n }, (_, i) => i % (V - 1));
    const u = noiseWindows(x0, batch, n, MASK, { block: 8, offset: 3 }, createRng(5));
    for (let b = 0; b < batch; b++)
      for (let i = 0; i < n; i++) {
        const row = b * 3 * n;
        expect((u.tokens[row + i] === MASK ? 1 : 0) + (u.tokens[row + n + i] === MASK ? 1 : 0)).toBe(1);
        expect(u.tokens[row + 2 * n + i]).toBe(x0[b * n + i]);
      }
    // suffix: blocks of 8 from offset 3 (full blocks start at 3, 11, ...); in every full block the
    // first masked position is the cut, uniform over 0..7, and 85% of the positions after it are masked
    const sfx = noiseWindows(x0, batch, n, MASK, { block: 8, offset: 3, pattern: 'suffix' }, createRng(6));
    const firsts = new Array(8).fill(0);
    let after = 0;
    let afterMasked = 0;
    for (let b = 0; b < batch; b++)
      for (let s = 0; s < 2; s++)
        for (let start = 3; start + 8 <= n; start += 8) {
          const blk = Array.from(sfx.tokens.subarray(b * 3 * n + s * n + start, b * 3 * n + s * n + start + 8));
          const c = blk.indexOf(MASK);
          expect(c).toBeGreaterThanOrEqual(0);
          firsts[c]++;
          for (let k = c + 1; k < 8; k++) {
            after++;
            if (blk[k] === MASK) afterMasked++;
          }
        }
    const blocks = firsts.reduce((a, v) => a + v, 0);
    for (const f of firsts) expect(Math.abs(f / blocks - 1 / 8)).toBeLessThan(0.03);
    expect(Math.abs(afterMasked / after - 0.85)).toBeLessThan(0.02);
  });

  it('mixes distillation windows into a batch: the first round(fraction x batch) windows are whole distilled ones', () => {
    const ids = Int32Array.from({ length: 200 }, (_, i) => i % 10); // text: 0 1 2 ... 9 0 1 ...
    const windows = Int32Array.from({ length: 3 * 8 }, (_, i) => 20 + Math.floor(i / 8)); // 20 x8, 21 x8, 22 x8
    const { x } = sampleWindows(ids, 5, 8, createRng(3));
    mixDistilled(x, { windows, fraction: 0.5 }, 5, 8, createRng(4));
    for (let b = 0; b < 5; b++) {
      const w = Array.from(x.subarray(b * 8, b * 8 + 8));
      if (b < 3) {
        // round(0.5 x 5) = 3 distilled windows, each one of the three constant rows
        expect(new Set(w).size).toBe(1);
        expect(w[0]).toBeGreaterThanOrEqual(20);
      } else for (let j = 1; j < 8; j++) expect(w[j]).toBe((w[j - 1]! + 1) % 10); // still text
    }
  });

  it('rejects distillation outside block diffusion or with a bad fraction', async () => {
    const w = model('lmdistill');
    const ids = Int32Array.from({ length: 100 }, (_, i) => i % (V - 1));
    const opt = new AdamW({ learningRate: 1e-2 });
    const base = { steps: 1, batch: 2, len: 8, maskId: MASK, learningRate: () => 1e-2, rng: createRng(1) };
    const windows = new Int32Array(16);
    await expect(
      trainLm(w, ids, opt, { ...base, mode: 'causal', distill: { windows, fraction: 0.5 } }),
    ).rejects.toThrow(/distill needs mode blockDiffusion/);
    await expect(
      trainLm(w, ids, opt, { ...base, mode: 'blockDiffusion', distill: { windows, fraction: 2 } }),
    ).rejects.toThrow(/distill.fraction must be in \[0, 1\], got 2/);
    await expect(
      trainLm(w, ids, opt, {
        ...base,
        mode: 'blockDiffusion',
        distill: { windows: new Int32Array(12), fraction: 0.5 },
      }),
    ).rejects.toThrow(/whole windows of len 8, got 12 tokens/);
    opt.dispose();
    tf.dispose(w.vars);
  });

  it('trains from a causal model without NaN or leaked tensors, reading the loss every syncEvery steps', async () => {
    const w = model('lmtrain');
    const ids = Int32Array.from({ length: 400 }, (_, i) => (i * 7) % (V - 1));
    const opt = new AdamW({ learningRate: 1e-2 });
    const reads: number[] = [];
    const run = (steps: number) =>
      trainLm(w, ids, opt, {
        steps,
        batch: 2,
        len: 16,
        mode: 'blockDiffusion',
        blockSize: 4,
        maskId: MASK,
        learningRate: () => 1e-2,
        rng: createRng(4),
        syncEvery: 3,
        progress: (d) => reads.push(d),
      });
    await run(1); // creates the optimizer's state
    const before = tf.memory().numTensors;
    reads.length = 0;
    const log = await run(7);
    expect(reads).toEqual([3, 6, 7]);
    expect(log.losses.length).toBe(7);
    expect(log.losses.every(Number.isFinite)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    tf.dispose(w.vars);
  });
});

describe('n-gram judge', () => {
  it('gives Witten-Bell probabilities that sum to one', () => {
    const ids = [0, 1, 2, 0, 1, 2, 0, 1, 1];
    const ng = trainNgram(ids, 4, 2);
    // after "0": seen "0 1" three times, one distinct continuation: P(1|0) = (3 + 1 * P_uni(1)) / (3 + 1),
    // P_uni(1) = (4 + 3 * 1/4) / (9 + 3) over counts 0:3, 1:4, 2:2 with 3 distinct
    const uni1 = (4 + 3 / 4) / 12;
    expect(ng.prob([0], 1)).toBeCloseTo((3 + uni1) / 4, 12);
    for (const ctx of [[0], [1], [3], []]) {
      const s = [0, 1, 2, 3].reduce((a, t) => a + ng.prob(ctx, t), 0);
      expect(s).toBeCloseTo(1, 12);
    }
    expect(ng.nll([0, 1, 2], 1)).toBeCloseTo(-(Math.log(ng.prob([0], 1)) + Math.log(ng.prob([1], 2))) / 2, 12);
  });
});
