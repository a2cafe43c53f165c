// Times the SIMD module's step() alone (no copies, no tfjs) on 1M elements as 4 blocks of 256K, Adam (algo 0) or
// momentum (1).
// Usage: npx tsx packages/optimizers/bench/stepOnly.ts [algo]
import { createRng } from '@blockwise/tensor';
import { signedDynamicMap, unsignedDynamicMap } from '../src/dynamicMap.js';
import { codeTable } from '../src/fastQuantize.js';
import { threshold } from '../src/fused8bitSimd.js';
import { FUSED8BIT_WASM_BASE64 } from '../src/wasm/fused8bitWasm.js';

import { readFileSync } from 'node:fs';
// WASM=path/to/file.wasm times another build of the module (experiments).
const bytes = process.env.WASM
  ? new Uint8Array(readFileSync(process.env.WASM))
  : Uint8Array.from(atob(FUSED8BIT_WASM_BASE64), (c) => c.charCodeAt(0));
const memory = new WebAssembly.Memory({ initial: 400 });
const e = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as any;
const buf = memory.buffer;
[signedDynamicMap(), unsignedDynamicMap()].forEach((map, s) => {
  const t = codeTable(map);
  new Float32Array(buf, s ? e.MAP1.value : e.MAP0.value, 256).set(map);
  new Float32Array(buf, s ? e.THR1.value : e.THR0.value, 256).set(Array.from(t.mid, threshold));
  new Uint8Array(buf, s ? e.BASE1.value : e.BASE0.value, t.base.length).set(t.base);
});
const algo = Number(process.argv[2] ?? 0);
const n = 262144,
  B = 256;
const rng = createRng(3);
const pP = 1 << 20,
  pQ = pP + 4 * n,
  pG = pQ + 4 * n,
  pSt = pG + 4 * n;
new Float32Array(buf, pP, n).set(rng.fillNormal(new Float32Array(n), 0, 0.05));
new Float32Array(buf, pG, n).set(rng.fillNormal(new Float32Array(n), 0, 0.01));
new Float32Array(buf, 0, 12).set(
  algo === 0 ? [0.9, 0.1, 0.999, 0.001, 0, 1 - 1e-5, 1e-2, 31.6, 1e-8, 0.1, 0.001, 0.01] : [0.9, 1, 0.01, 1e-3, 0, 0],
);
const S = algo === 0 ? 2 : 1;
const pOut = pSt + S * (n + n / B) * 4;
const step = () => e.step(algo, n, B, pP, pQ, pG, pSt, pOut, 0);
for (let k = 0; k < 20; k++) step();
const ts: number[] = [];
for (let r = 0; r < 15; r++) {
  const t0 = performance.now();
  for (let k = 0; k < 4; k++) step();
  ts.push(performance.now() - t0);
}
ts.sort((a, b) => a - b);
console.log(`algo ${algo}: step() on 4 x 256K: min ${ts[0]!.toFixed(2)} ms, median ${ts[7]!.toFixed(2)} ms`);
