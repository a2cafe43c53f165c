import { createRng } from '@blockwise/tensor';
import { useBackend } from '@blockwise/tensor/testing';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeAutoregressive, decodeBlockDiffusion } from './decode.js';
import { createLm, lmForward } from './model.js';
import { charTokenizer } from './tokenizer.js';
import { bd3Mask, causalMask } from './train.js';

useBackend('cpu');

describe('character tokenizer', () => {
  it('round-trips known characters and maps rare ones to ?', () => {
    const tok = charTokenizer('aaabbbccc!', 3);
    expect(tok.chars).toEqual(['?', 'a', 'b', 'c']);
    expect(tok.maskId).toBe(4);
    expect(tok.decode(tok.encode('abc!'))).toBe('abc?');
  });
});

describe('character transformer', () => {
  const V = 12;
  let w: ReturnType<typeof createLm>;
  beforeAll(() => {
    w = createLm({ vocab: V, dim: 16, heads: 2, layers: 1, maxLen: 16 }, createRng(1), 'lmtest');
  });
  const logits = (tokens: number[], mask: Parameters<typeof lmForward>[2], segments?: number[]) =>
    tf.tidy(() => lmForward(w, tf.tensor2d(Int32Array.from(tokens), [1, tokens.length], 'int32'), mask, segments).dataSync() as Float32Array);

  it('is causal under the causal mask: a later token never changes earlier logits', () => {
    const a = [1, 2, 3, 4, 5, 6, 7, 8];
    const b = [...a.slice(0, 5), 9, 9, 9];
    const la = logits(a, causalMask(8));
    const lb = logits(b, causalMask(8));
    expect(Array.from(la.subarray(0, 5 * V))).toEqual(Array.from(lb.subarray(0, 5 * V)));
    expect(Array.from(la.subarray(5 * V))).not.toEqual(Array.from(lb.subarray(5 * V)));
  });

  it('under the BD3 mask x_t block j sees x_0 blocks before j only', () => {
    // n = 8, blocks of 4: [x_t (8); x_0 (8)]. Changing x_0's second block (positions 12..15) must not
    // change the logits of x_t's second block (positions 4..7), but does change x_0's own block.
    const xt = [11, 2, 11, 4, 11, 11, 7, 11];
    const x0 = [1, 2, 3, 4, 5, 6, 7, 8];
    const other = [1, 2, 3, 4, 9, 9, 9, 9];
    const la = logits([...xt, ...x0], bd3Mask(8, 4), [8, 8]);
    const lb = logits([...xt, ...other], bd3Mask(8, 4), [8, 8]);
    expect(Array.from(la.subarray(0, 8 * V))).toEqual(Array.from(lb.subarray(0, 8 * V)));
    expect(Array.from(la.subarray(12 * V))).not.toEqual(Array.from(lb.subarray(12 * V)));
  });

  it('decodes: one call per token autoregressively, at most one call per token by block diffusion', async () => {
    const prompt = Int32Array.from([1, 2, 3, 4]);
    const ar = decodeAutoregressive(w, prompt, 6);
    expect(ar.tokens.length).toBe(6);
    expect(ar.calls).toBe(6);
    expect(Array.from(ar.tokens).every((t) => t >= 0 && t < V - 1)).toBe(true); // never [MASK]
    const bd = await decodeBlockDiffusion(w, prompt, 8, { blockSize: 4, threshold: 0.05 }, V - 1, 4);
    expect(bd.tokens.length).toBe(8);
    expect(bd.calls).toBeLessThanOrEqual(8);
    expect(Array.from(bd.tokens).includes(V - 1)).toBe(false);
  });

  it('frees its tensors', () => {
    tf.dispose(w.vars);
    expect(w.vars.every((v) => v.isDisposed)).toBe(true);
  });
});
