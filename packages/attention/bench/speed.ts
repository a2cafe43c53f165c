// Micro-benchmark: dense (tfjs ops) vs block-sparse forward at a few sparsities.
// npx tsx packages/attention/bench/speed.ts wasm 1024
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, createRng } from '@blockwise/tensor';
import { blockSparseAttention, createBlockMask, denseAttention, fullMask, slidingWindow } from '../src/index.js';

const backend = (process.argv[2] ?? 'wasm') as 'wasm' | 'cpu';
await initBackend(backend);
const L = Number(process.argv[3] ?? 1024);
const H = 4,
  D = 64,
  BS = 128;
const rng = createRng(1);
const q = rng.normalTensor([1, H, L, D]),
  k = rng.normalTensor([1, H, L, D]),
  v = rng.normalTensor([1, H, L, D]);
async function time(fn: () => tf.Tensor, reps = 5): Promise<number> {
  tf.dispose(fn()); // warm
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const o = fn();
    await o.data();
    o.dispose();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}
console.log('dense', (await time(() => denseAttention(q, k, v))).toFixed(1));
const maskT = tf.ones([1, 1, L, L], 'bool');
console.log('dense masked', (await time(() => denseAttention(q, k, v, { mask: maskT }))).toFixed(1));
for (const w of [L, Math.round(L * 0.25), Math.round(L * 0.05)]) {
  const bm = createBlockMask(w >= L ? fullMask : slidingWindow(w, { causal: false }), {
    qLen: L,
    kvLen: L,
    blockSize: BS,
  });
  console.log(
    'sparse',
    bm.sparsity().toFixed(1),
    (await time(() => blockSparseAttention(q, k, v, { blockMask: bm }))).toFixed(1),
  );
}
const bias = tf.zeros([1, 1, L, L]);
console.log(
  'baseline',
  (
    await time(() => tf.tidy(() => tf.matMul(tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 0.125), bias)), v)))
  ).toFixed(1),
);
console.log(
  'baseline nomask',
  (await time(() => tf.tidy(() => tf.matMul(tf.softmax(tf.mul(tf.matMul(q, k, false, true), 0.125)), v)))).toFixed(1),
);
const s0 = tf.matMul(q, k, false, true);
console.log('matmul only', (await time(() => tf.matMul(q, k, false, true))).toFixed(1));
console.log('softmax only', (await time(() => tf.softmax(s0))).toFixed(1));
