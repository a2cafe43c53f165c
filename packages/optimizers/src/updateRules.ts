import type { Fused8bitAttrs } from './fused8bit.js';
import { ALGO, twoStates } from './kernelDefs.js';

/** Per-block scratch arrays of the typed-array kernels. */
export interface Scratch {
  s0: Float32Array;
  s1: Float32Array;
  q: Float32Array;
  qBits: Uint32Array;
}
let scratch: Scratch | undefined;

/** Scratch arrays for blocks of up to B elements, reused between calls. */
export function getScratch(B: number): Scratch {
  if (!scratch || scratch.s0.length < B) {
    const q = new Float32Array(B);
    scratch = { s0: new Float32Array(B), s1: new Float32Array(B), q, qBits: new Uint32Array(q.buffer) };
  }
  return scratch;
}

/** Max |state| of the block last updated by `updateBlock` (state 0, state 1). */
export const blockMax = new Float64Array(2);

const f = Math.fround;

/** The constants as tuples (`ruleConstants` returns 12 for Adam/LAMB, 6 otherwise). */
type Six = [number, number, number, number, number, number];
type Twelve = [...Six, ...Six];

/**
 * The float32 constants of one step, in the order the rules (and the WebAssembly module, which
 * reads them as float32) use them: Adam/LAMB: b1, 1-b1, b2, 1-b2, l2, decay, lr/bc1,
 * 1/sqrt(bc2), eps, bc1, bc2, wd; momentum: mu, 1-dampening, wd, lr, nesterov, fresh; Lion: b1,
 * 1-b1, b2, 1-b2, 1-lr*wd, lr. Each is computed in float64 and rounded once.
 */
export function ruleConstants(a: Fused8bitAttrs): Float32Array {
  const { lr, beta1: b1, beta2: b2, weightDecay: wd } = a;
  if (twoStates(a.algo)) {
    const decoupled = a.decoupled !== 0;
    return Float32Array.of(
      b1,
      1 - b1,
      b2,
      1 - b2,
      decoupled ? 0 : wd,
      decoupled ? 1 - lr * wd : 1,
      lr / a.bc1,
      1 / Math.sqrt(a.bc2),
      a.eps,
      a.bc1,
      a.bc2,
      wd,
    );
  }
  if (a.algo === ALGO.momentum)
    return Float32Array.of(a.momentum, 1 - a.dampening, wd, lr, a.nesterov ? 1 : 0, a.fresh ? 1 : 0);
  return Float32Array.of(b1, 1 - b1, b2, 1 - b2, 1 - lr * wd, lr);
}

/**
 * Updates one block's elements [start, end): reads p, g and the dequantized old states, writes
 * the new parameter (LAMB: the update) to `outP` and the new states to `s0`/`s1`
 * (block-relative), and the states' max |value| to `blockMax`. The arithmetic is float32, one
 * rounding per operation (`Math.fround`), as bitsandbytes' kernels and our WGSL compute; the
 * WebAssembly SIMD module does the same operations in the same order and matches bit for bit.
 * Each rule is a separate loop so every loop stays small and monomorphic.
 */
export function updateBlock(
  a: Fused8bitAttrs,
  p: Float32Array,
  g: Float32Array,
  codes: Uint8Array,
  off1: number,
  a0: number,
  a1: number,
  map0: Float32Array,
  map1: Float32Array,
  outP: Float32Array,
  s0: Float32Array,
  s1: Float32Array,
  start: number,
  end: number,
): void {
  const k = ruleConstants(a);
  const algo = a.algo;
  if (twoStates(algo)) {
    const [b1, c1, b2, c2, l2, decay, stepSize, invSqrtBc2, eps, bc1, bc2, wd] = k as unknown as Twelve;
    const lamb = algo === ALGO.lamb;
    let mx0 = 0;
    let mx1 = 0;
    for (let i = start; i < end; i++) {
      const j = i - start;
      const pi = p[i]!;
      const g0 = g[i]!;
      const m = f(map0[codes[i]!]! * a0);
      const v = f(map1[codes[off1 + i]!]! * a1);
      let nm = m;
      let nv = v;
      // x - x is NaN for NaN and +-Infinity: a non-finite gradient, or an element whose update
      // overflows, keeps its parameter (LAMB: update 0) and states.
      const gi = f(g0 + f(l2 * pi));
      const tm = f(f(b1 * m) + f(c1 * gi));
      const tv = f(f(b2 * v) + f(f(c2 * gi) * gi));
      const tp = lamb
        ? f(f(f(tm / bc1) / f(f(Math.sqrt(f(tv / bc2))) + eps)) + f(wd * pi))
        : f(f(pi * decay) - f(f(stepSize * tm) / f(f(f(Math.sqrt(tv)) * invSqrtBc2) + eps)));
      if (g0 - g0 === 0 && tm - tm === 0 && tv - tv === 0 && tp - tp === 0) {
        nm = tm;
        nv = tv;
        outP[i] = tp;
      } else {
        outP[i] = lamb ? 0 : pi;
      }
      s0[j] = nm;
      s1[j] = nv;
      const am = nm < 0 ? -nm : nm;
      if (am > mx0) mx0 = am;
      if (nv > mx1) mx1 = nv;
    }
    blockMax[0] = mx0;
    blockMax[1] = mx1;
  } else if (algo === ALGO.momentum) {
    const [mu, c, wd, lr, nesterov, fresh] = k as unknown as Six;
    let mx0 = 0;
    for (let i = start; i < end; i++) {
      const j = i - start;
      const pi = p[i]!;
      const m = f(map0[codes[i]!]! * a0);
      const g0 = g[i]!;
      let nm = m;
      const gi = f(g0 + f(wd * pi));
      const tm = fresh ? gi : f(f(mu * m) + f(c * gi));
      const tp = f(pi - f(lr * (nesterov ? f(gi + f(mu * tm)) : tm)));
      if (g0 - g0 === 0 && tm - tm === 0 && tp - tp === 0) {
        nm = tm;
        outP[i] = tp;
      } else {
        outP[i] = pi;
      }
      s0[j] = nm;
      const am = nm < 0 ? -nm : nm;
      if (am > mx0) mx0 = am;
    }
    blockMax[0] = mx0;
  } else {
    const [b1, c1, b2, c2, decay, lr] = k as unknown as Six;
    let mx0 = 0;
    for (let i = start; i < end; i++) {
      const j = i - start;
      const pi = p[i]!;
      const m = f(map0[codes[i]!]! * a0);
      const gi = g[i]!;
      let nm = m;
      const c = f(f(b1 * m) + f(c1 * gi));
      const tp = f(f(pi * decay) - f(lr * (c > 0 ? 1 : c < 0 ? -1 : 0)));
      const tm = f(f(b2 * m) + f(c2 * gi));
      if (gi - gi === 0 && tm - tm === 0 && tp - tp === 0) {
        nm = tm;
        outP[i] = tp;
      } else {
        outP[i] = pi;
      }
      s0[j] = nm;
      const am = nm < 0 ? -nm : nm;
      if (am > mx0) mx0 = am;
    }
    blockMax[0] = mx0;
  }
}
