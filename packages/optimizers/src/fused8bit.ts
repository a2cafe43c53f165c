import * as tf from '@tensorflow/tfjs-core';
import { defineKernel, type KernelIO, type WebGPUProgramSpec } from '@blockwise/tensor';
import { signedDynamicMap, unsignedDynamicMap } from './dynamicMap.js';
import { codeTable, nearestCodeFast } from './fastQuantize.js';
import { fused8bitWgsl } from './fused8bitWgsl.js';

/** Update rules the fused 8-bit kernel knows. */
export const ALGO = { adam: 0, momentum: 1, lion: 2, lamb: 3 } as const;

/** Number of quantized states each rule keeps. */
export const ALGO_STATES: Record<number, 1 | 2> = { 0: 2, 1: 1, 2: 1, 3: 2 };

/** Scalar attributes of one fused step (all numbers so they pass through tfjs attrs). */
export interface Fused8bitAttrs {
  algo: number;
  n: number;
  blockSize: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1: decoupled weight decay (AdamW, Lion); 0: L2 added to the gradient. */
  decoupled: number;
  /** Bias corrections 1 - beta^t (adam, lamb). */
  bc1: number;
  bc2: number;
  /** SGD: momentum, dampening, nesterov (0/1), fresh (1 on the state's first step). */
  momentum: number;
  dampening: number;
  nesterov: number;
  fresh: number;
}

/**
 * Layout of a packed quantized state with S states over n elements in blocks of B:
 * `[codes of state 0 (ceil(n/4) int32 words, 4 codes each, little-endian)] ... [codes of state
 * S-1] [absmax of state 0 (ceil(n/B) float32 bit patterns)] ... [absmax of state S-1]`.
 */
export function packedStateLength(n: number, numStates: number, blockSize: number): number {
  return numStates * (Math.ceil(n / 4) + Math.ceil(n / blockSize));
}

/** Dequantizes state `s` of a packed state array on the host (tests, diagnostics). */
export function decodePackedState(data: Int32Array, n: number, numStates: number, blockSize: number, s: number): Float32Array {
  const W = Math.ceil(n / 4);
  const nb = Math.ceil(n / blockSize);
  const bytes = new Uint8Array(data.buffer, data.byteOffset + s * W * 4, W * 4);
  const absmax = new Float32Array(data.buffer, data.byteOffset + (numStates * W + s * nb) * 4, nb);
  const map = stateMap(s, numStates);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = map[bytes[i]!]! * absmax[(i / blockSize) | 0]!;
  return out;
}

/** The map of state `s`: signed for first moments and momenta, unsigned for Adam's second moment. */
export function stateMap(s: number, numStates: number): Float32Array {
  return s === 1 && numStates === 2 ? unsignedDynamicMap() : signedDynamicMap();
}

/** Typed-array reference of the fused step (what cpu and wasm run). */
export function fused8bitReference(inputs: KernelIO[], a: Fused8bitAttrs): KernelIO[] {
  const p = inputs[0]!.data as Float32Array;
  const g = inputs[1]!.data as Float32Array;
  const st = inputs[2]!.data as Int32Array;
  const { n, blockSize: B, algo } = a;
  const S = ALGO_STATES[algo]!;
  const W = Math.ceil(n / 4);
  const nb = Math.ceil(n / B);
  if (st.length !== packedStateLength(n, S, B)) {
    throw new Error(`Fused8bitStep: state holds ${st.length} words, expected ${packedStateLength(n, S, B)} for ${n} elements, block ${B}`);
  }
  const outP = new Float32Array(n);
  const outS = new Int32Array(st.length);
  const codesIn = new Uint8Array(st.buffer, st.byteOffset, S * W * 4);
  const absIn = new Float32Array(st.buffer, st.byteOffset + S * W * 4, S * nb);
  const codesOut = new Uint8Array(outS.buffer, 0, S * W * 4);
  const absOut = new Float32Array(outS.buffer, S * W * 4, S * nb);
  const map0 = stateMap(0, S);
  const map1 = stateMap(1, S);
  const t0 = codeTable(map0);
  const t1 = codeTable(map1);
  const s0 = new Float32Array(B);
  const s1 = new Float32Array(B);
  const { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, decoupled, bc1, bc2, momentum: mu, dampening, nesterov, fresh } = a;
  const stepSize = lr / bc1;
  const sqrtBc2 = Math.sqrt(bc2);
  const decay = decoupled ? 1 - lr * wd : 1;
  const l2 = decoupled ? 0 : wd;
  const off1 = W * 4;
  for (let b = 0; b < nb; b++) {
    const start = b * B;
    const end = Math.min(n, start + B);
    const a0 = absIn[b]!;
    const a1 = S === 2 ? absIn[nb + b]! : 0;
    let max0 = 0;
    let max1 = 0;
    for (let i = start; i < end; i++) {
      const j = i - start;
      const pi = p[i]!;
      let gi = g[i]!;
      const m = map0[codesIn[i]!]! * a0;
      const v = S === 2 ? map1[codesIn[off1 + i]!]! * a1 : 0;
      let nm = m;
      let nv = v;
      let np = pi;
      if (gi - gi === 0) {
        // finite gradient (x - x is NaN for NaN and +-Infinity)
        if (algo === 0 || algo === 3) {
          gi += l2 * pi;
          nm = b1 * m + (1 - b1) * gi;
          nv = b2 * v + (1 - b2) * gi * gi;
          if (algo === 0) {
            np = pi * decay - (stepSize * nm) / (Math.sqrt(nv) / sqrtBc2 + eps);
          } else {
            // LAMB: the kernel returns the raw update; the trust ratio is applied outside.
            np = nm / bc1 / (Math.sqrt(nv / bc2) + eps) + wd * pi;
          }
        } else if (algo === 1) {
          gi += wd * pi;
          nm = fresh ? gi : mu * m + (1 - dampening) * gi;
          np = pi - lr * (nesterov ? gi + mu * nm : nm);
        } else {
          const c = b1 * m + (1 - b1) * gi;
          np = pi * decay - lr * (c > 0 ? 1 : c < 0 ? -1 : 0);
          nm = b2 * m + (1 - b2) * gi;
        }
      } else if (algo === 3) {
        np = 0;
      }
      outP[i] = np;
      s0[j] = nm;
      const am = Math.abs(nm);
      if (am > max0) max0 = am;
      if (S === 2) {
        s1[j] = nv;
        const av = Math.abs(nv);
        if (av > max1) max1 = av;
      }
    }
    max0 = Math.fround(max0);
    max1 = Math.fround(max1);
    absOut[b] = max0;
    for (let i = start; i < end; i++) {
      codesOut[i] = nearestCodeFast(t0, map0, max0 > 0 ? Math.fround(s0[i - start]! / max0) : 0);
    }
    if (S === 2) {
      absOut[nb + b] = max1;
      for (let i = start; i < end; i++) {
        codesOut[off1 + i] = nearestCodeFast(t1, map1, max1 > 0 ? Math.fround(s1[i - start]! / max1) : 0);
      }
    }
  }
  return [
    { data: outP, shape: [n], dtype: 'float32' },
    { data: outS, shape: [outS.length], dtype: 'int32' },
  ];
}

function webgpu(inputs: { shape: number[] }[], a: Fused8bitAttrs): WebGPUProgramSpec[] {
  return fused8bitWgsl(inputs[2]!.shape[0]!, a);
}

const fusedOp = defineKernel<Fused8bitAttrs>({
  name: 'BlockwiseFused8bitStep',
  inputNames: ['p', 'g', 'state', 'qmap'],
  compute: fused8bitReference,
  webgpu,
});

let mapTensor: tf.Tensor | undefined;

/** Both maps (signed, then unsigned) as one float32 tensor, kept for the process. */
function mapsTensor(): tf.Tensor {
  if (!mapTensor || mapTensor.isDisposed) {
    mapTensor = tf.keep(tf.tensor1d(Float32Array.from([...signedDynamicMap(), ...unsignedDynamicMap()])));
  }
  return mapTensor;
}

/**
 * One fused dequantize-update-requantize step over a flat parameter: returns the new parameter
 * (for LAMB, the raw update) and the new packed state. One kernel call per tensor on every backend.
 */
export function fused8bitStep(p: tf.Tensor, g: tf.Tensor, state: tf.Tensor, attrs: Fused8bitAttrs): [tf.Tensor, tf.Tensor] {
  const out = fusedOp({ p, g, state, qmap: mapsTensor() }, attrs) as tf.Tensor[];
  return [out[0]!, out[1]!];
}
