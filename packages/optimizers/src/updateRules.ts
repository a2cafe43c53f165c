import type { Fused8bitAttrs } from './fused8bit.js';

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

/**
 * Updates one block's elements [start, end): reads p, g and the dequantized old states, writes
 * the new parameter (LAMB: the update) to `outP` and the new float32 states to `s0`/`s1`
 * (block-relative), and the states' max |value| to `blockMax`. Each rule is a
 * separate loop so every loop stays small and monomorphic.
 */
/** Max |state| of the block last updated by `updateBlock` (state 0, state 1). */
export const blockMax = new Float64Array(2);

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
  const { algo, lr, beta1: b1, beta2: b2, eps, weightDecay: wd } = a;
  if (algo === 0 || algo === 3) {
    const decoupled = a.decoupled !== 0;
    const decay = decoupled ? 1 - lr * wd : 1;
    const l2 = decoupled ? 0 : wd;
    const stepSize = lr / a.bc1;
    const invSqrtBc2 = 1 / Math.sqrt(a.bc2);
    const c1 = 1 - b1;
    const c2 = 1 - b2;
    const lamb = algo === 3;
    let mx0 = 0;
    let mx1 = 0;
    for (let i = start; i < end; i++) {
      const j = i - start;
      const pi = p[i]!;
      let gi = g[i]!;
      const m = map0[codes[i]!]! * a0;
      const v = map1[codes[off1 + i]!]! * a1;
      let nm = m;
      let nv = v;
      if (gi - gi === 0) {
        // finite gradient (x - x is NaN for NaN and +-Infinity)
        gi += l2 * pi;
        nm = b1 * m + c1 * gi;
        nv = b2 * v + c2 * gi * gi;
        outP[i] = lamb
          ? nm / a.bc1 / (Math.sqrt(nv / a.bc2) + eps) + wd * pi
          : pi * decay - (stepSize * nm) / (Math.sqrt(nv) * invSqrtBc2 + eps);
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
  } else if (algo === 1) {
    const { momentum: mu, dampening, nesterov, fresh } = a;
    const c = 1 - dampening;
    let mx0 = 0;
    for (let i = start; i < end; i++) {
      const j = i - start;
      const pi = p[i]!;
      const m = map0[codes[i]!]! * a0;
      const g0 = g[i]!;
      let nm = m;
      if (g0 - g0 === 0) {
        const gi = g0 + wd * pi;
        nm = fresh ? gi : mu * m + c * gi;
        outP[i] = pi - lr * (nesterov ? gi + mu * nm : nm);
      } else {
        outP[i] = pi;
      }
      s0[j] = nm;
      const am = nm < 0 ? -nm : nm;
      if (am > mx0) mx0 = am;
    }
    blockMax[0] = mx0;
  } else {
    const decay = 1 - lr * wd;
    let mx0 = 0;
    for (let i = start; i < end; i++) {
      const j = i - start;
      const pi = p[i]!;
      const m = map0[codes[i]!]! * a0;
      const gi = g[i]!;
      let nm = m;
      if (gi - gi === 0) {
        const c = b1 * m + (1 - b1) * gi;
        outP[i] = pi * decay - lr * (c > 0 ? 1 : c < 0 ? -1 : 0);
        nm = b2 * m + (1 - b2) * gi;
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

