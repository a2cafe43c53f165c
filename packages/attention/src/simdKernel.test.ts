import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { createRng } from '@blockwise/tensor';
import { useBackend } from '@blockwise/tensor/testing';
import { describe, expect, it } from 'vitest';
import { blockSparseAttention, dimsOf, packBlockMask } from './blockSparseAttention.js';
import { createBlockMask, type BlockMask, type MaskMod } from './blockMask.js';
import { blockDiffusion, causal, fullMask, not, slidingWindow } from './masks.js';
import {
  attentionSimdSupported,
  blockSparseBackwardSimd,
  blockSparseForwardSimd,
  lastAttentionPath,
} from './simdKernel.js';
import { blockSparseBackwardReference, blockSparseForwardReference, type MaskArrays } from './sparseKernel.js';

function arrays(mask: BlockMask): MaskArrays {
  const { data, offsets: o } = packBlockMask(mask);
  const sub = (f: number, t: number): Int32Array => data.subarray(f, t);
  return {
    kvNum: sub(o.offKvNum, o.offKvIdx),
    kvIdx: sub(o.offKvIdx, o.offFullNum),
    fullNum: sub(o.offFullNum, o.offFullIdx),
    fullIdx: sub(o.offFullIdx, o.offPOff),
    pOff: sub(o.offPOff, o.offQNum),
    pBits: new Uint8Array(data.buffer, data.byteOffset + o.offBits * 4, (data.length - o.offBits) * 4),
  };
}

/** Largest |a - b| / (1 + |b|) (infinities must agree exactly). */
function relErr(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const e = Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!));
    m = Number.isNaN(e) ? Infinity : Math.max(m, e);
  }
  return m;
}

interface Case {
  label: string;
  mod: MaskMod;
  dims: [number, number, number, number, number, number];
  block: number | [number, number];
  heads?: number;
}

const cases: Case[] = [
  { label: 'all-true, dim 3, length not a block multiple', mod: fullMask, dims: [1, 1, 1, 10, 10, 3], block: 4 },
  { label: 'causal, GQA 4/2, batch 2', mod: causal, dims: [2, 4, 2, 12, 12, 8], block: 4 },
  {
    label: 'sliding window, rectangular blocks, qLen != kvLen',
    mod: slidingWindow(3),
    dims: [1, 2, 1, 9, 13, 4],
    block: [4, 2],
  },
  {
    label: 'BD3-LM block diffusion',
    mod: blockDiffusion({ seqLen: 6, blockSize: 3 }),
    dims: [1, 2, 2, 12, 12, 8],
    block: 4,
  },
  { label: 'empty rows (not causal)', mod: not(causal), dims: [1, 1, 1, 6, 6, 4], block: 4 },
  {
    label: 'per-head masks',
    mod: (b, h, i, j) => (h % 2 === 0 ? causal(b, h, i, j) : slidingWindow(3, { causal: false })(b, h, i, j)),
    dims: [2, 4, 2, 7, 7, 4],
    block: 2,
    heads: 4,
  },
  { label: 'causal, dim 64, 64-blocks, length 200', mod: causal, dims: [1, 2, 1, 200, 200, 64], block: 64 },
  {
    label: 'sliding window 40, 32 x 128 blocks, dim 48',
    mod: slidingWindow(40),
    dims: [1, 1, 1, 150, 150, 48],
    block: [32, 128],
  },
];

describe.skipIf(!attentionSimdSupported())('WebAssembly SIMD kernel vs the typed-array reference', () => {
  for (const c of cases) {
    it(`${c.label}: output, LSE, dq, dk, dv within 2e-6 (relative to 1 + |x|)`, () => {
      const [B, HQ, HKV, LQ, LK, D] = c.dims;
      const mask = createBlockMask(c.mod, { qLen: LQ, kvLen: LK, blockSize: c.block, heads: c.heads ?? 1 });
      const rng = createRng(3);
      const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());
      const q = rand(B * HQ * LQ * D);
      const k = rand(B * HKV * LK * D);
      const v = rand(B * HKV * LK * D);
      const dO = rand(q.length);
      const dims = dimsOf([B, HQ, LQ, D], [B, HKV, LK, D], {
        scale: 1 / Math.sqrt(D),
        maskBatch: mask.batch,
        maskHeads: mask.heads,
        qBlock: mask.qBlock,
        kvBlock: mask.kvBlock,
      } as Parameters<typeof dimsOf>[2]);
      const m = arrays(mask);
      const [o1, o2] = [new Float32Array(q.length), new Float32Array(q.length)];
      const [l1, l2] = [new Float32Array(B * HQ * LQ), new Float32Array(B * HQ * LQ)];
      blockSparseForwardReference(q, k, v, dims, m, o1, l1);
      blockSparseForwardSimd(q, k, v, dims, m, o2, l2);
      // Not bit-identical: the module sums dot products four lanes at a time and its exp is a
      // float32 polynomial (about 1 ulp) where the reference calls Math.exp; at dim 64 the largest
      // difference measured 1.1e-6, and both stay within 1e-5 of dense attention (other tests).
      const tol = 2e-6;
      expect(relErr(o2, o1), 'output').toBeLessThan(tol);
      expect(relErr(l2, l1), 'lse').toBeLessThan(tol);
      // delta as the gradient computes it: rowsum(dO * O)
      const delta = new Float32Array(l1.length);
      for (let r = 0; r < delta.length; r++) for (let t = 0; t < D; t++) delta[r]! += dO[r * D + t]! * o1[r * D + t]!;
      const g1 = [new Float32Array(q.length), new Float32Array(k.length), new Float32Array(v.length)] as const;
      const g2 = [new Float32Array(q.length), new Float32Array(k.length), new Float32Array(v.length)] as const;
      blockSparseBackwardReference(q, k, v, l1, delta, dO, dims, m, ...g1);
      blockSparseBackwardSimd(q, k, v, l1, delta, dO, dims, m, ...g2);
      ['dq', 'dk', 'dv'].forEach((name, i) => expect(relErr(g2[i]!, g1[i]!), name).toBeLessThan(tol));
      for (const g of g2) expect(g.every(Number.isFinite)).toBe(true);
    });
  }

  it('a NaN in q reaches the output of its rows only, as in the reference', () => {
    const mask = createBlockMask(causal, { qLen: 8, kvLen: 8, blockSize: 4 });
    const q = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i));
    q[5 * 4] = NaN; // row 5
    const k = Float32Array.from({ length: 32 }, (_, i) => Math.cos(i));
    const dims = dimsOf([1, 1, 8, 4], [1, 1, 8, 4], {
      scale: 0.5,
      maskBatch: 1,
      maskHeads: 1,
      qBlock: 4,
      kvBlock: 4,
    } as Parameters<typeof dimsOf>[2]);
    const [o1, o2, l1, l2] = [new Float32Array(32), new Float32Array(32), new Float32Array(8), new Float32Array(8)];
    blockSparseForwardReference(q, k, k, dims, arrays(mask), o1, l1);
    blockSparseForwardSimd(q, k, k, dims, arrays(mask), o2, l2);
    expect(Array.from(o2).map(Number.isNaN)).toEqual(Array.from(o1).map(Number.isNaN));
    expect(
      relErr(
        o2.map((x) => (Number.isNaN(x) ? 0 : x)),
        o1.map((x) => (Number.isNaN(x) ? 0 : x)),
      ),
    ).toBeLessThan(2e-6);
  });
});

describe.skipIf(!attentionSimdSupported())('the wasm backend runs the SIMD kernel, cpu the typed-array one', () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    describe(backend, () => {
      useBackend(backend);
      it(`forward and backward take the ${backend === 'wasm' ? 'wasm-simd' : 'js'} path`, () => {
        const mask = createBlockMask(causal, { qLen: 8, kvLen: 8, blockSize: 4 });
        const rng = createRng(1);
        const [q, k, v] = [0, 1, 2].map(() => rng.normalTensor([1, 1, 8, 4]));
        lastAttentionPath.path = 'none';
        const g = tf.grads((a: tf.Tensor) =>
          tf.sum(blockSparseAttention(a, k!, v!, { blockMask: mask, impl: 'kernel' })),
        )([q!]);
        expect(lastAttentionPath.path).toBe(backend === 'wasm' ? 'wasm-simd' : 'js');
        tf.dispose([...g, q!, k!, v!]);
      });
    });
  }
});
