import * as tf from '@tensorflow/tfjs-core';
import type { KernelIO } from '@blockwise/tensor';
import { signedDynamicMap, unsignedDynamicMap } from './dynamicMap.js';
import { codeTable } from './fastQuantize.js';
import type { Fused8bitAttrs } from './fused8bit.js';
import { FUSED8BIT_WASM_BASE64 } from './wasm/fused8bitWasm.js';

/** Implementations of the fused 8-bit step on the cpu and wasm backends. */
export type Fused8bitImplementation = 'wasm-simd' | 'js';

interface Exports {
  memory: WebAssembly.Memory;
  step: (algo: number, n4: number, bs: number, p: number, g: number, c0: number, c1: number, abs0: number, abs1: number, s0: number, s1: number) => void;
  MAP0: WebAssembly.Global;
  MAP1: WebAssembly.Global;
  THR0: WebAssembly.Global;
  THR1: WebAssembly.Global;
  BASE0: WebAssembly.Global;
  BASE1: WebAssembly.Global;
  SCRATCH: WebAssembly.Global;
}

let bytes: Uint8Array<ArrayBuffer> | undefined;
let supported: boolean | undefined;
let module: Exports | undefined;
let preference: 'auto' | Fused8bitImplementation = 'auto';
const zeroCodes = new Uint8Array(2);

function moduleBytes(): Uint8Array<ArrayBuffer> {
  if (!bytes) {
    const s = atob(FUSED8BIT_WASM_BASE64);
    bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  }
  return bytes;
}

/** True when this JavaScript engine runs WebAssembly with 128-bit SIMD (validates the module itself). */
export function wasmSimdSupported(): boolean {
  if (supported === undefined) {
    try {
      supported = typeof WebAssembly === 'object' && WebAssembly.validate(moduleBytes());
    } catch {
      supported = false;
    }
  }
  return supported;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The smallest float32 above `mid`, so that for a float32 x, `x > mid` is `x >= threshold(mid)`. */
function threshold(mid: number): number {
  const f = Math.fround(mid);
  if (f > mid || !Number.isFinite(f)) return f;
  if (f === 0) return 1.401298464324817e-45; // the smallest positive subnormal
  f32[0] = f;
  u32[0] = f > 0 ? u32[0]! + 1 : u32[0]! - 1;
  return f32[0]!;
}

/** Instantiates the module once (synchronously: it is 2 KB) and fills its tables. */
function instance(): Exports {
  if (module) return module;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes()), {});
  const e = inst.exports as unknown as Exports;
  const buf = e.memory.buffer;
  const maps = [signedDynamicMap(), unsignedDynamicMap()] as const;
  maps.forEach((map, s) => {
    const t = codeTable(map);
    new Float64Array(buf, (s ? e.MAP1 : e.MAP0).value as number, 256).set(map);
    new Float32Array(buf, (s ? e.THR1 : e.THR0).value as number, 256).set(Array.from(t.mid, threshold));
    new Uint8Array(buf, (s ? e.BASE1 : e.BASE0).value as number, t.base.length).set(t.base);
    zeroCodes[s] = map.indexOf(0);
  });
  module = e;
  return e;
}

/**
 * Chooses the implementation of the fused 8-bit step on the cpu and wasm backends: `'auto'`
 * (default: WebAssembly SIMD where the engine has it, else JavaScript), `'wasm-simd'` (throws if
 * unsupported) or `'js'` (the typed-array reference). Both give bit-identical results.
 */
export function setFused8bitImplementation(choice: 'auto' | Fused8bitImplementation): void {
  if (choice !== 'auto' && choice !== 'wasm-simd' && choice !== 'js') {
    throw new Error(`setFused8bitImplementation: choice must be 'auto', 'wasm-simd' or 'js', got ${String(choice)}`);
  }
  if (choice === 'wasm-simd' && !wasmSimdSupported()) {
    throw new Error("setFused8bitImplementation: 'wasm-simd' needs WebAssembly SIMD, which this engine lacks");
  }
  preference = choice;
}

/**
 * The implementation that runs the fused step of 8-bit states on the cpu and wasm backends now
 * (4-bit states always run the JavaScript reference; WebGPU runs WGSL).
 */
export function fused8bitImplementation(): Fused8bitImplementation {
  if (preference !== 'auto') return preference;
  return wasmSimdSupported() ? 'wasm-simd' : 'js';
}

/** The float64 constants of one call, in the order the module's rule reads them. */
function constants(a: Fused8bitAttrs): number[] {
  const { lr, beta1: b1, beta2: b2, weightDecay: wd } = a;
  if (a.algo === 0 || a.algo === 3) {
    const decoupled = a.decoupled !== 0;
    return [b1, 1 - b1, b2, 1 - b2, decoupled ? 0 : wd, decoupled ? 1 - lr * wd : 1, lr / a.bc1, 1 / Math.sqrt(a.bc2), a.eps, a.bc1, a.bc2, wd];
  }
  if (a.algo === 1) return [a.momentum, 1 - a.dampening, wd, lr, a.nesterov ? 1 : 0, a.fresh ? 1 : 0];
  return [b1, 1 - b1, b2, 1 - b2, 1 - lr * wd, lr];
}

/**
 * The fused step of 8-bit states in WebAssembly SIMD: copies p, g and the packed state into the
 * module's memory, runs it, and returns views of that memory on the wasm backend (which copies
 * kernel outputs into its heap) or copies elsewhere. Same inputs, outputs and results as
 * `fused8bitReference`.
 */
export function fused8bitSimd(inputs: KernelIO[], a: Fused8bitAttrs, numStates: 1 | 2): KernelIO[] {
  const p = inputs[0]!.data;
  const g = inputs[1]!.data;
  const st = inputs[2]!.data;
  const { n, blockSize: B } = a;
  const S = numStates;
  const W = Math.ceil(n / 4);
  const nb = Math.ceil(n / B);
  if (st.length !== S * (W + nb)) {
    throw new Error(`Fused8bitStep: state holds ${st.length} words, expected ${S * (W + nb)} for ${n} elements, block ${B}`);
  }
  const e = instance();
  const n4 = 4 * W;
  const scratch = e.SCRATCH.value as number;
  const pP = (scratch + 8 * B + 15) & ~15;
  const pG = pP + 4 * n4;
  const pSt = pG + 4 * n4;
  const need = pSt + 4 * st.length;
  const have = e.memory.buffer.byteLength;
  if (need > have) e.memory.grow(Math.ceil((need - have) / 65536));
  const buf = e.memory.buffer;
  const pv = new Float32Array(buf, pP, n4);
  pv.set(p);
  pv.fill(0, n);
  const gv = new Float32Array(buf, pG, n4);
  gv.set(g);
  gv.fill(0, n);
  const sv = new Int32Array(buf, pSt, st.length);
  sv.set(st);
  const codes = new Uint8Array(buf, pSt, S * n4);
  // Padded lanes: p = g = 0 and the code of 0.0, so their states stay exactly 0.
  for (let s = 0; s < S; s++) codes.fill(zeroCodes[s]!, s * n4 + n, (s + 1) * n4);
  new Float64Array(buf, 0, 16).set(constants(a));
  const c1 = pSt + n4;
  const abs0 = pSt + S * n4;
  e.step(a.algo, n4, B, pP, pG, pSt, c1, abs0, abs0 + 4 * nb, scratch, scratch + 4 * B);
  for (let s = 0; s < S; s++) codes.fill(0, s * n4 + n, (s + 1) * n4);
  let outP = new Float32Array(buf, pP, n);
  let outS = sv;
  if (tf.getBackend() !== 'wasm') {
    outP = outP.slice();
    outS = outS.slice();
  }
  return [
    { data: outP, shape: [n], dtype: 'float32' },
    { data: outS, shape: [outS.length], dtype: 'int32' },
  ];
}
