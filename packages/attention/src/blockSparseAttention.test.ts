import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { createRng } from '@blockwise/tensor';
import { describeBackends, expectClose, expectNoLeaks, useBackend } from '@blockwise/tensor/testing';
import { describe, expect, it } from 'vitest';
import { blockSparseAttention, chooseImpl } from './blockSparseAttention.js';
import { createBlockMask, type MaskMod } from './blockMask.js';
import { denseAttention } from './dense.js';
import { blockDiffusion, causal, fullMask, not, slidingWindow } from './masks.js';
import { attentionSimdSupported } from './simdKernel.js';

function qkv(
  seed: number,
  b: number,
  hq: number,
  hkv: number,
  lq: number,
  lk: number,
  d: number,
): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
  const rng = createRng(seed);
  return [
    rng.normalTensor([b, hq, lq, d]) as tf.Tensor4D,
    rng.normalTensor([b, hkv, lk, d]) as tf.Tensor4D,
    rng.normalTensor([b, hkv, lk, d]) as tf.Tensor4D,
  ];
}

type Result = { out: Float32Array; lse: Float32Array; dq: Float32Array; dk: Float32Array; dv: Float32Array };
type Attn = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => { output: tf.Tensor; lse: tf.Tensor };

/** Output, LSE and the gradients of sum(out * w) + sum(lse * w2) (lse terms skipped where -Infinity), as tensors. */
function runTensors(attn: Attn, q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, useLse: boolean): tf.Tensor[] {
  return tf.tidy(() => {
    const rng = createRng(99);
    const w = rng.normalTensor(q.shape);
    const w2 = rng.normalTensor(q.shape.slice(0, 3));
    const { output, lse } = attn(q, k, v);
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Scalar => {
      const r = attn(a, b, c);
      const main = tf.sum(tf.mul(r.output, w));
      if (!useLse) return main as tf.Scalar;
      const finite = tf.where(tf.isFinite(r.lse), r.lse, tf.zerosLike(r.lse));
      return tf.add(main, tf.sum(tf.mul(finite, w2))) as tf.Scalar;
    };
    const [dq, dk, dv] = tf.grads(f)([q, k, v]);
    return [output, lse, dq!, dk!, dv!];
  });
}

async function runAsync(attn: Attn, q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, useLse: boolean): Promise<Result> {
  const ts = runTensors(attn, q, k, v, useLse);
  const [out, lse, dq, dk, dv] = (await Promise.all(ts.map((t) => t.data()))) as Float32Array[];
  tf.dispose(ts);
  return { out: out!, lse: lse!, dq: dq!, dk: dk!, dv: dv! };
}

function run(attn: Attn, q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, useLse: boolean): Result {
  const ts = runTensors(attn, q, k, v, useLse);
  const [out, lse, dq, dk, dv] = ts.map((t) => t.dataSync() as Float32Array);
  tf.dispose(ts);
  return { out: out!, lse: lse!, dq: dq!, dk: dk!, dv: dv! };
}

function compare(
  mod: MaskMod,
  dims: [number, number, number, number, number, number],
  block: number | [number, number],
  useLse: boolean,
  impl: 'kernel' | 'ops' | 'dense' = 'kernel',
): void {
  const [b, hq, hkv, lq, lk, d] = dims;
  const [q, k, v] = qkv(7, b, hq, hkv, lq, lk, d);
  const blockMask = createBlockMask(mod, { qLen: lq, kvLen: lk, blockSize: block });
  const sparse = run((x, y, z) => blockSparseAttention(x, y, z, { blockMask, returnLse: true, impl }), q, k, v, useLse);
  const dense = run((x, y, z) => denseAttention(x, y, z, { mask: mod, returnLse: true }), q, k, v, useLse);
  const tol = { atol: 1e-5, rtol: 1e-5 };
  expectClose(sparse.out, dense.out, { ...tol, label: 'output' });
  // expectClose counts -Infinity vs -Infinity as a difference: compare those rows separately
  const finite = (a: Float32Array): Float32Array => a.map((x) => (x === -Infinity ? -1e30 : x));
  expectClose(finite(sparse.lse), finite(dense.lse), { ...tol, label: 'lse' });
  expect(Array.from(sparse.lse).map((x) => x === -Infinity)).toEqual(Array.from(dense.lse).map((x) => x === -Infinity));
  expectClose(sparse.dq, dense.dq, { ...tol, label: 'dq' });
  expectClose(sparse.dk, dense.dk, { ...tol, label: 'dk' });
  expectClose(sparse.dv, dense.dv, { ...tol, label: 'dv' });
  tf.dispose([q, k, v]);
}

describe('blockSparseAttention vs denseAttention (cpu)', () => {
  useBackend('cpu');

  it('all-true mask: output, log-sum-exp and dq, dk, dv within 1e-5 (length not a block multiple)', () => {
    compare(fullMask, [1, 2, 2, 10, 10, 8], 4, true);
  });
  it('causal, with GQA (4 query heads, 2 kv heads) and batch 2', () => {
    compare(causal, [2, 4, 2, 12, 12, 8], 4, true);
  });
  it('sliding window 3, rectangular blocks, qLen != kvLen', () => {
    compare(slidingWindow(3), [1, 2, 1, 9, 13, 4], [4, 2], false);
  });
  it('BD3-LM block-diffusion mask (n = 6, B = 3) with 4-blocks', () => {
    compare(blockDiffusion({ seqLen: 6, blockSize: 3 }), [1, 2, 2, 12, 12, 8], 4, true);
  });
  it('rows with no allowed key give 0 output, -Infinity lse and finite gradients', () => {
    // not(causal) = strictly upper: the last query row sees nothing.
    const [q, k, v] = qkv(3, 1, 1, 1, 6, 6, 4);
    const blockMask = createBlockMask(not(causal), { qLen: 6, kvLen: 6, blockSize: 4 });
    const r = run((x, y, z) => blockSparseAttention(x, y, z, { blockMask, returnLse: true }), q, k, v, true);
    expect(Array.from(r.out.slice(20, 24))).toEqual([0, 0, 0, 0]);
    expect(r.lse[5]).toBe(-Infinity);
    for (const g of [r.dq, r.dk, r.dv]) expect(g.every(Number.isFinite)).toBe(true);
    const dense = run((x, y, z) => denseAttention(x, y, z, { mask: not(causal), returnLse: true }), q, k, v, true);
    expectClose(r.out, dense.out, { atol: 1e-5, rtol: 1e-5 });
    expectClose(r.dq, dense.dq, { atol: 1e-5, rtol: 1e-5 });
    tf.dispose([q, k, v]);
  });
  it('leaves no tensors behind across training steps', async () => {
    const [q, k, v] = qkv(5, 1, 2, 2, 8, 8, 4);
    const blockMask = createBlockMask(causal, { qLen: 8, kvLen: 8, blockSize: 4 });
    for (let step = 0; step < 2; step++) {
      await expectNoLeaks(() => {
        const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(blockSparseAttention(a, b, v, { blockMask })),
        )([q, k]);
        tf.dispose(value);
        tf.dispose(grads);
        const g = tf.grads((a: tf.Tensor) => tf.sum(blockSparseAttention(a, k, v, { blockMask })))([q]);
        tf.dispose(g);
        tf.dispose(blockSparseAttention(q, k, v, { blockMask }));
      });
    }
    tf.dispose([q, k, v]);
  });
  it('rejects shapes that disagree, head counts that do not divide and masks for other lengths', () => {
    const [q, k, v] = qkv(1, 1, 3, 2, 8, 8, 4);
    const m8 = createBlockMask(causal, { qLen: 8, kvLen: 8, blockSize: 4 });
    expect(() => blockSparseAttention(q, k, v, { blockMask: m8 })).toThrow(
      /query heads \(3, q \[1, 3, 8, 4\]\) must be a multiple of key\/value heads \(2, k \[1, 2, 8, 4\]\)/,
    );
    const [q2, k2, v2] = qkv(1, 1, 2, 2, 8, 8, 4);
    const m6 = createBlockMask(causal, { qLen: 6, kvLen: 6, blockSize: 4 });
    expect(() => blockSparseAttention(q2, k2, v2, { blockMask: m6 })).toThrow(
      /built for shape \[1, 1, 6, 6\].*qLen 8, kvLen 8/,
    );
    expect(() => blockSparseAttention(q2, k2, tf.zeros([1, 2, 7, 4]), { blockMask: m8 })).toThrow(
      /k and v shapes must match, got k \[1, 2, 8, 4\] and v \[1, 2, 7, 4\]/,
    );
    expect(() => blockSparseAttention(q2, tf.zeros([1, 2, 8, 5]), tf.zeros([1, 2, 8, 5]), { blockMask: m8 })).toThrow(
      /head dims disagree/,
    );
    expect(() => blockSparseAttention(tf.zeros([2, 8, 4]), k2, v2, { blockMask: m8 })).toThrow(/q must be 4-D/);
    expect(() => blockSparseAttention(q2, k2, v2, { blockMask: m8, scale: 0 })).toThrow(
      /scale must be a finite positive number, got 0/,
    );
    tf.dispose([q, k, v, q2, k2, v2]);
  });
});

describe("impl 'ops' (gather + batched matMul, hand-written gradient) vs denseAttention (cpu)", () => {
  useBackend('cpu');
  it('all-true mask, length not a block multiple (padding bias) and a multiple (no bias)', () => {
    compare(fullMask, [1, 2, 2, 10, 10, 8], 4, false, 'ops');
    compare(fullMask, [1, 2, 1, 8, 8, 8], 4, false, 'ops');
  });
  it('causal with GQA and batch 2', () => compare(causal, [2, 4, 2, 12, 12, 8], 4, false, 'ops'));
  it('sliding window, rectangular blocks, qLen != kvLen', () =>
    compare(slidingWindow(3), [1, 2, 1, 9, 13, 4], [4, 2], false, 'ops'));
  it('BD3-LM mask', () => compare(blockDiffusion({ seqLen: 6, blockSize: 3 }), [1, 2, 2, 12, 12, 8], 4, false, 'ops'));
  it('empty rows and empty query blocks give 0 and finite gradients', () => {
    // not(causal) with 4-blocks over 6: the last row sees nothing; (k < q is never true for q = 5)
    compare(not(causal), [1, 1, 1, 6, 6, 4], 4, false, 'ops');
    // keys only in the first block: query block 1 of a [0, 0, ...] mask has no listed block at all
    compare((_b, _h, q, kv) => q < 4 && kv < 4, [1, 1, 1, 8, 8, 4], 4, false, 'ops');
  });
  it('masks that differ by head and by batch entry (slice by slice), with GQA', () => {
    const perHead: MaskMod = (b, h, i, j) =>
      h % 2 === 0 ? causal(b, h, i, j) : slidingWindow(3, { causal: false })(b, h, i, j);
    const [q, k, v] = qkv(21, 2, 4, 2, 7, 7, 4);
    for (const opts of [{ heads: 4 }, { batch: 2 }, { batch: 2, heads: 4 }]) {
      const mod: MaskMod = (b, h, i, j) => perHead(b, opts.heads ? h : 0, i, j) && (!opts.batch || b === 0 || j !== 0);
      const blockMask = createBlockMask(mod, { qLen: 7, kvLen: 7, blockSize: 2, ...opts });
      const sparse = run(
        (x, y, z) => blockSparseAttention(x, y, z, { blockMask, returnLse: true, impl: 'ops' }),
        q,
        k,
        v,
        false,
      );
      const dense = run((x, y, z) => denseAttention(x, y, z, { mask: blockMask, returnLse: true }), q, k, v, false);
      const tol = { atol: 1e-5, rtol: 1e-5 };
      expectClose(sparse.out, dense.out, { ...tol, label: `output ${JSON.stringify(opts)}` });
      const finite = (a: Float32Array): Float32Array => a.map((x) => (x === -Infinity ? -1e30 : x));
      expectClose(finite(sparse.lse), finite(dense.lse), { ...tol, label: `lse ${JSON.stringify(opts)}` });
      expectClose(sparse.dq, dense.dq, { ...tol, label: `dq ${JSON.stringify(opts)}` });
      expectClose(sparse.dk, dense.dk, { ...tol, label: `dk ${JSON.stringify(opts)}` });
      expectClose(sparse.dv, dense.dv, { ...tol, label: `dv ${JSON.stringify(opts)}` });
    }
    tf.dispose([q, k, v]);
  });
  it('does not leak', async () => {
    const [q, k, v] = qkv(5, 1, 2, 1, 8, 8, 4);
    const blockMask = createBlockMask(causal, { qLen: 8, kvLen: 8, blockSize: 4 });
    for (let step = 0; step < 2; step++) {
      await expectNoLeaks(() => {
        tf.dispose(
          tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
            tf.sum(blockSparseAttention(a, b, c, { blockMask, impl: 'ops' })),
          )([q, k, v]),
        );
        const r = blockSparseAttention(q, k, v, { blockMask, impl: 'ops', returnLse: true });
        tf.dispose([r.output, r.lse]);
      });
    }
    tf.dispose([q, k, v]);
  });
});

describe("impl 'dense' (masked dense attention, hand-written gradient) vs denseAttention (cpu)", () => {
  useBackend('cpu');
  it('all-true, causal with GQA, sliding window with qLen != kvLen, empty rows', () => {
    compare(fullMask, [1, 2, 2, 8, 8, 8], 4, false, 'dense');
    compare(causal, [2, 4, 2, 12, 12, 8], 4, false, 'dense');
    compare(slidingWindow(3), [1, 2, 1, 9, 13, 4], [4, 2], false, 'dense');
    compare(not(causal), [1, 1, 1, 6, 6, 4], 4, false, 'dense');
  });
  it('does not leak', async () => {
    const [q, k, v] = qkv(9, 1, 2, 1, 8, 8, 4);
    const blockMask = createBlockMask(fullMask, { qLen: 8, kvLen: 8, blockSize: 4 });
    for (let step = 0; step < 2; step++) {
      await expectNoLeaks(() => {
        tf.dispose(
          tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
            tf.sum(blockSparseAttention(a, b, c, { blockMask, impl: 'dense' })),
          )([q, k, v]),
        );
      });
    }
    tf.dispose([q, k, v]);
  });
  it("'auto' takes it for nearly dense masks only, with the kernel's result", () => {
    const [q, k, v] = qkv(8, 1, 1, 1, 8, 8, 4);
    const dense = createBlockMask(fullMask, { qLen: 8, kvLen: 8, blockSize: 4 });
    const sparse = createBlockMask(causal, { qLen: 8, kvLen: 8, blockSize: 4 }); // 25% sparsity: kernel
    expect(chooseImpl(dense, { batch: 1, heads: 1 })).toBe('dense');
    expect(chooseImpl(sparse, { batch: 1, heads: 1 })).toBe('kernel');
    expect(chooseImpl(dense, { batch: 1, heads: 1, returnLse: true })).toBe('kernel');
    expect(chooseImpl(dense, { batch: 1, heads: 1, backend: 'webgpu' })).toBe('ops');
    // the SIMD kernel beats tfjs dense attention on wasm even at 0% sparsity (measured 4-5x)
    expect(chooseImpl(dense, { batch: 1, heads: 1, backend: 'wasm' })).toBe(
      attentionSimdSupported() ? 'kernel' : 'dense',
    );
    for (const blockMask of [dense, sparse]) {
      const a = blockSparseAttention(q, k, v, { blockMask });
      const b = blockSparseAttention(q, k, v, { blockMask, impl: 'kernel' });
      expectClose(a, b, { atol: 1e-5, rtol: 1e-5 });
      tf.dispose([a, b]);
    }
    tf.dispose([q, k, v]);
  });
});

describeBackends(['cpu', 'wasm', 'webgpu'], (backend) => {
  it(`forward and gradients match dense attention on ${backend}`, async () => {
    const mod = slidingWindow(5);
    const [q, k, v] = qkv(11, 1, 2, 1, 9, 9, 4);
    const blockMask = createBlockMask(mod, { qLen: 9, kvLen: 9, blockSize: 4 });
    const sparse = await runAsync(
      (x, y, z) => blockSparseAttention(x, y, z, { blockMask, returnLse: true }),
      q,
      k,
      v,
      true,
    );
    const dense = await runAsync((x, y, z) => denseAttention(x, y, z, { mask: mod, returnLse: true }), q, k, v, true);
    const tol = { atol: 2e-5, rtol: 2e-5 };
    expectClose(sparse.out, dense.out, { ...tol, label: 'output' });
    expectClose(sparse.lse, dense.lse, { ...tol, label: 'lse' });
    expectClose(sparse.dq, dense.dq, { ...tol, label: 'dq' });
    expectClose(sparse.dk, dense.dk, { ...tol, label: 'dk' });
    expectClose(sparse.dv, dense.dv, { ...tol, label: 'dv' });
    tf.dispose([q, k, v]);
  });
  it(`per-head masks with batch 2 and GQA match dense attention on ${backend}`, async () => {
    const [q, k, v] = qkv(12, 2, 4, 2, 7, 7, 4);
    // heads 0, 2 causal; heads 1, 3 a symmetric window of 3 (rows of partial and full blocks)
    const blockMask = createBlockMask(
      (b, h, i, j) => (h % 2 === 0 ? causal(b, h, i, j) : slidingWindow(3, { causal: false })(b, h, i, j)),
      { qLen: 7, kvLen: 7, blockSize: 2, heads: 4 },
    );
    const sparse = await runAsync(
      (x, y, z) => blockSparseAttention(x, y, z, { blockMask, returnLse: true }),
      q,
      k,
      v,
      true,
    );
    const dense = await runAsync(
      (x, y, z) => denseAttention(x, y, z, { mask: blockMask, returnLse: true }),
      q,
      k,
      v,
      true,
    );
    const tol = { atol: 2e-5, rtol: 2e-5 };
    expectClose(sparse.out, dense.out, { ...tol, label: 'output' });
    expectClose(sparse.lse, dense.lse, { ...tol, label: 'lse' });
    expectClose(sparse.dq, dense.dq, { ...tol, label: 'dq' });
    expectClose(sparse.dk, dense.dk, { ...tol, label: 'dk' });
    expectClose(sparse.dv, dense.dv, { ...tol, label: 'dv' });
    tf.dispose([q, k, v]);
  });
  it(`dim 64 with 32-blocks (two WGSL chunks per block) matches dense attention on ${backend}`, async () => {
    // 31 rows of dim 64 fit a 16 KiB workgroup chunk pair, so each 32-block is read in 2 chunks (31 + 1).
    const [q, k, v] = qkv(13, 1, 2, 1, 40, 40, 64);
    const blockMask = createBlockMask(causal, { qLen: 40, kvLen: 40, blockSize: 32 });
    const sparse = await runAsync(
      (x, y, z) => blockSparseAttention(x, y, z, { blockMask, returnLse: true }),
      q,
      k,
      v,
      true,
    );
    const dense = await runAsync(
      (x, y, z) => denseAttention(x, y, z, { mask: causal, returnLse: true }),
      q,
      k,
      v,
      true,
    );
    const tol = { atol: 2e-5, rtol: 2e-5 };
    expectClose(sparse.out, dense.out, { ...tol, label: 'output' });
    expectClose(sparse.lse, dense.lse, { ...tol, label: 'lse' });
    expectClose(sparse.dq, dense.dq, { ...tol, label: 'dq' });
    expectClose(sparse.dk, dense.dk, { ...tol, label: 'dk' });
    expectClose(sparse.dv, dense.dv, { ...tol, label: 'dv' });
    tf.dispose([q, k, v]);
  });
  it(`impl 'ops' matches dense attention on ${backend}`, async () => {
    const mod = slidingWindow(5);
    const [q, k, v] = qkv(14, 1, 2, 1, 9, 9, 4);
    const blockMask = createBlockMask(mod, { qLen: 9, kvLen: 9, blockSize: 4 });
    const sparse = await runAsync(
      (x, y, z) => blockSparseAttention(x, y, z, { blockMask, returnLse: true, impl: 'ops' }),
      q,
      k,
      v,
      false,
    );
    const dense = await runAsync((x, y, z) => denseAttention(x, y, z, { mask: mod, returnLse: true }), q, k, v, false);
    const tol = { atol: 2e-5, rtol: 2e-5 };
    expectClose(sparse.out, dense.out, { ...tol, label: 'output' });
    expectClose(sparse.lse, dense.lse, { ...tol, label: 'lse' });
    expectClose(sparse.dq, dense.dq, { ...tol, label: 'dq' });
    expectClose(sparse.dk, dense.dk, { ...tol, label: 'dk' });
    expectClose(sparse.dv, dense.dv, { ...tol, label: 'dv' });
    tf.dispose([q, k, v]);
  });
});

describeBackends(['cpu', 'wasm'], (backend) => {
  it(`huge logits (q, k ~ 1e5): finite gradients on every path on ${backend}`, async () => {
    // Scores ~ 1e10: the backward recomputes them, and an LSE from the backend's own matMul
    // (impl 'dense') used to differ by more than exp's range (non-finite gradients on wasm).
    const rng = createRng(17);
    const q = tf.mul(rng.normalTensor([1, 2, 16, 8]), 1e5);
    const k = tf.mul(rng.normalTensor([1, 2, 16, 8]), 1e5);
    const v = rng.normalTensor([1, 2, 16, 8]);
    const blockMask = createBlockMask(causal, { qLen: 16, kvLen: 16, blockSize: 8 });
    for (const impl of ['dense', 'kernel', 'ops'] as const) {
      const gs = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(blockSparseAttention(a, b, c, { blockMask, impl }), v)),
      )([q, k, v]);
      for (const [i, g] of gs.entries()) {
        const data = await g.data();
        expect(data.every(Number.isFinite), `${impl} d${'qkv'[i]}`).toBe(true);
      }
      tf.dispose(gs);
    }
    tf.dispose([q, k, v]);
  });
});
