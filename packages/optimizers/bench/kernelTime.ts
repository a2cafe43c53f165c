// Times the fused 8-bit step's kernel alone on the wasm backend (in-heap SIMD path vs the JS reference), 1M parameters as 4 x 256K.
import * as tf from '@tensorflow/tfjs-core';
import { createRng, initBackend } from '@blockwise/tensor';
import { fused8bitStep, type Fused8bitAttrs } from '../src/fused8bit.js';
import { twoStates } from '../src/kernelDefs.js';

await initBackend('wasm');
const n = 262144;
const rng = createRng(1);
const algo = Number(process.argv[2] ?? 0);
const S = twoStates(algo) ? 2 : 1;
const p = rng.normalTensor([n], 0, 0.05);
const g = rng.normalTensor([n], 0, 0.01);
let st = tf.zeros([S * (n / 4 + n / 256)], 'int32');
const a: Fused8bitAttrs = {
  algo,
  n,
  blockSize: 256,
  bits: 8,
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
  decoupled: 1,
  bc1: 0.1,
  bc2: 0.001,
  momentum: 0.9,
  dampening: 0,
  nesterov: 0,
  fresh: 0,
  impl: 'auto',
};
let impl: 'simd' | 'js' = 'simd';
const step = () => {
  const [q, s] = fused8bitStep(p, g, st, { ...a, impl });
  q.dispose();
  st.dispose();
  st = s;
};
for (const choice of ['simd', 'js', 'simd'] as const) {
  impl = choice;
  for (let k = 0; k < 3; k++) step();
  const ts: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    for (let k = 0; k < 4; k++) step();
    ts.push(performance.now() - t0);
  }
  ts.sort((x, y) => x - y);
  console.log(`algo ${algo} ${impl}: 4 x 256K kernel calls ${ts[3]!.toFixed(2)} ms (median of 7)`);
}
