// Quick exactness and speed check of the WebAssembly SIMD fused step against the JS reference.
import { createRng, initBackend } from '@blockwise/tensor';
import { ALGO_STATES, fused8bitReference, type Fused8bitAttrs } from '../src/fused8bit.js';
import { fused8bitSimd } from '../src/fused8bitSimd.js';
import { quantizeBlockwise } from '../src/quantize.js';
import { stateMap } from '../src/fused8bit.js';

await initBackend('cpu');
function state(n: number, S: number, B: number, rng: ReturnType<typeof createRng>) {
  const W = Math.ceil(n / 4),
    nb = Math.ceil(n / B);
  const out = new Int32Array(S * (W + nb));
  const bytes = new Uint8Array(out.buffer);
  const abs = new Float32Array(out.buffer, S * W * 4, S * nb);
  for (let s = 0; s < S; s++) {
    const x = rng.fillNormal(new Float32Array(n), 0, s ? 1e-4 : 1e-2);
    if (s) for (let i = 0; i < n; i++) x[i] = Math.abs(x[i]!);
    const q = quantizeBlockwise(x, { blockSize: B, map: stateMap(s, S) });
    bytes.set(q.codes, s * W * 4);
    abs.set(q.absmax, s * nb);
  }
  return out;
}
let bad = 0;
for (const algo of [0, 1, 2, 3])
  for (const n of [4096, 4097, 4099, 5000, 70001])
    for (const B of [32, 256])
      for (const variant of [0, 1]) {
        const rng = createRng(n + algo * 7 + B + variant);
        const S = ALGO_STATES[algo]!;
        const p = rng.fillNormal(new Float32Array(n));
        const g = rng.fillNormal(new Float32Array(n), 0, 0.01);
        g[3] = NaN;
        g[10] = Infinity;
        g[n - 1] = -Infinity;
        if (variant) for (let i = 0; i < 64; i++) g[i] = 0;
        const st = state(n, S, B, rng);
        const a: Fused8bitAttrs = {
          algo,
          n,
          blockSize: B,
          bits: 8,
          lr: 1e-2,
          beta1: 0.9,
          beta2: 0.99,
          eps: 1e-8,
          weightDecay: 0.01,
          decoupled: variant ? 0 : 1,
          bc1: 1 - 0.9 ** 3,
          bc2: 1 - 0.99 ** 3,
          momentum: 0.9,
          dampening: variant ? 0.1 : 0,
          nesterov: variant,
          fresh: variant,
        };
        const ins = [
          { data: p, shape: [n], dtype: 'float32' as const },
          { data: g, shape: [n], dtype: 'float32' as const },
          { data: st, shape: [st.length], dtype: 'int32' as const },
        ];
        const [rp, rs] = fused8bitReference(ins, a);
        const [wp, ws] = fused8bitSimd(ins, a, S);
        let dp = 0,
          ds = 0;
        for (let i = 0; i < n; i++) if (!Object.is(rp!.data[i], wp!.data[i])) dp++;
        for (let i = 0; i < rs!.data.length; i++) if (rs!.data[i] !== ws!.data[i]) ds++;
        if (dp || ds) {
          bad++;
          console.log(`algo ${algo} n ${n} B ${B} v ${variant}: ${dp} params differ, ${ds} state words differ`);
        }
      }
console.log(bad ? `${bad} cases differ` : 'all identical');
const n = 262144;
const rng = createRng(1);
for (const algo of [0, 1, 2]) {
  const S = ALGO_STATES[algo]!;
  const p = rng.fillNormal(new Float32Array(n));
  const g = rng.fillNormal(new Float32Array(n), 0, 0.01);
  const st = state(n, S, 256, rng);
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
  };
  const ins = [
    { data: p, shape: [n], dtype: 'float32' as const },
    { data: g, shape: [n], dtype: 'float32' as const },
    { data: st, shape: [st.length], dtype: 'int32' as const },
  ];
  for (let r = 0; r < 4; r++) {
    let t0 = performance.now();
    for (let k = 0; k < 4; k++) fused8bitReference(ins, a);
    const tj = performance.now() - t0;
    t0 = performance.now();
    for (let k = 0; k < 4; k++) fused8bitSimd(ins, a, S);
    const tw = performance.now() - t0;
    console.log(
      `algo ${algo} 1M params: js ${tj.toFixed(2)} ms, wasm-simd ${tw.toFixed(2)} ms (cpu backend: includes the output copies)`,
    );
  }
}
