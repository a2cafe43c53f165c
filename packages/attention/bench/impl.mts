// Micro-benchmark: the kernel and tfjs-ops paths of blockSparseAttention, forward and backward.
// npx tsx packages/attention/bench/impl.mts wasm 2048
import { initBackend, createRng } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { blockSparseAttention, createBlockMask } from '../src/index.js';
await initBackend((process.argv[2] ?? 'wasm') as 'wasm');
const L = Number(process.argv[3] ?? 2048),
  BS = 64,
  nk = L / BS;
const rng = createRng(1);
const q = rng.normalTensor([1, 1, L, 64]),
  k = rng.normalTensor([1, 1, L, 64]),
  v = rng.normalTensor([1, 1, L, 64]),
  dO = rng.normalTensor([1, 1, L, 64]);
function mask(keep: number) {
  const t = new Uint8Array(nk * nk);
  for (let qb = 0; qb < nk; qb++) {
    t[qb * nk + qb] = 1;
    let c = 1;
    for (const kb of rng.permutation(nk)) {
      if (c >= keep) break;
      if (!t[qb * nk + kb]) {
        t[qb * nk + kb] = 1;
        c++;
      }
    }
  }
  return createBlockMask((_b, _h, i, j) => t[Math.floor(i / BS) * nk + Math.floor(j / BS)] === 1, {
    qLen: L,
    kvLen: L,
    blockSize: BS,
  });
}
for (const keep of [nk, Math.round(nk / 10)]) {
  const m = mask(keep);
  for (const impl of ['kernel', 'ops', 'kernel', 'ops'] as const) {
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      blockSparseAttention(a, b, c, { blockMask: m, impl }),
    );
    let t0 = performance.now();
    const o = blockSparseAttention(q, k, v, { blockMask: m, impl });
    await o.data();
    const f = performance.now() - t0;
    o.dispose();
    t0 = performance.now();
    const gs = g([q, k, v], dO);
    await Promise.all(gs.map((x) => x.data()));
    const b = performance.now() - t0;
    tf.dispose(gs);
    console.log(m.sparsity().toFixed(1), impl, 'fwd', f.toFixed(0), 'bwd', b.toFixed(0));
  }
}
