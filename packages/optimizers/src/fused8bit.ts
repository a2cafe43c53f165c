import * as tf from '@tensorflow/tfjs-core';
import { checkNumber, checkOneOf, defineKernel, describeValue, type KernelIO } from '@blockwise/tensor';
import { checkBlockSize } from './quantize.js';
import { signedDynamicMap, unsignedDynamicMap } from './dynamicMap.js';
import { codeTable, quantizeInto } from './fastQuantize.js';
import { fourBitMaps, fourBitStateMap, fused4bitReference, unpackCodes } from './fourBit.js';
import { blockMax, getScratch, updateBlock } from './updateRules.js';
import { CHUNK, fused8bitWgsl, partialMaxWgsl } from './fused8bitWgsl.js';
import { fused8bitSimd, fused8bitWasmKernel, lastFused8bitPath, wasmSimdSupported } from './fused8bitSimd.js';
import { ALGO_STATES, type Algo8, type KernelChoice } from './kernelDefs.js';

export { ALGO, ALGO_STATES } from './kernelDefs.js';

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
  /** Bits per code: 8 (four codes per int32 word) or 4 (eight per word). */
  bits: number;
  /** Implementation on cpu and wasm: 'auto' and 'simd' run WebAssembly SIMD (8-bit and 4-bit codes), 'js' the reference. */
  impl: KernelChoice;
}

/**
 * Layout of a packed quantized state with S states over n elements in blocks of B:
 * `[codes of state 0 (ceil(n/4) int32 words, 4 codes each, little-endian)] ... [codes of state
 * S-1] [absmax of state 0 (ceil(n/B) float32 bit patterns)] ... [absmax of state S-1]`.
 */
export function packedStateLength(n: number, numStates: number, blockSize: number, bits = 8): number {
  checkNumber('packedStateLength: n', n, { min: 0, max: 2 ** 31, integer: true });
  checkOneOf('packedStateLength: numStates', numStates, [1, 2] as const);
  checkBlockSize(blockSize, 'packedStateLength: blockSize');
  checkOneOf('packedStateLength: bits', bits, [4, 8] as const);
  return numStates * (Math.ceil((n * bits) / 32) + Math.ceil(n / blockSize));
}

/** Dequantizes state `s` of a packed state array on the host (tests, diagnostics). */
export function decodePackedState(
  data: Int32Array,
  n: number,
  numStates: number,
  blockSize: number,
  s: number,
  bits = 8,
): Float32Array {
  const want = packedStateLength(n, numStates, blockSize, bits);
  if (!(data instanceof Int32Array) || data.length !== want) {
    throw new RangeError(
      `decodePackedState: data must be an Int32Array of ${want} words for ${n} elements, ${numStates} states, block ${blockSize}, ${bits} bits; got ${describeValue(data)}`,
    );
  }
  checkNumber('decodePackedState: s', s, { min: 0, max: numStates - 1, integer: true });
  const W = Math.ceil((n * bits) / 32);
  const nb = Math.ceil(n / blockSize);
  const { codes, stride } = unpackCodes(data, n, numStates, bits);
  const absmax = new Float32Array(data.buffer, data.byteOffset + (numStates * W + s * nb) * 4, nb);
  const map = stateMap(s, numStates, bits);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = map[codes[s * stride + i]!]! * absmax[(i / blockSize) | 0]!;
  return out;
}

/** The map of state `s`: signed for first moments and momenta, unsigned for Adam's second moment. */
export function stateMap(s: number, numStates: number, bits = 8): Float32Array {
  if (bits === 4) return fourBitStateMap(s, numStates);
  return s === 1 && numStates === 2 ? unsignedDynamicMap() : signedDynamicMap();
}

const pool = new Map<string, { outP: Float32Array; outS: Int32Array }>();

/**
 * Output arrays of one call. The wasm backend copies kernel outputs into its heap, so there the
 * arrays are reused between calls (no 6 bytes per parameter of garbage per step); the cpu
 * backend keeps the arrays it is given, so it gets fresh ones.
 */
function outputs(n: number, stateLength: number): { outP: Float32Array; outS: Int32Array } {
  if (tf.getBackend() !== 'wasm') return { outP: new Float32Array(n), outS: new Int32Array(stateLength) };
  const key = `${n}:${stateLength}`;
  let o = pool.get(key);
  if (!o) {
    o = { outP: new Float32Array(n), outS: new Int32Array(stateLength) };
    pool.set(key, o);
  }
  return o;
}

/** Typed-array reference of the fused step (what cpu and wasm run). */
export function fused8bitReference(inputs: KernelIO[], a: Fused8bitAttrs): KernelIO[] {
  if (a.bits === 4) return fused4bitReference(inputs, a, ALGO_STATES[a.algo as Algo8]);
  const p = inputs[0]!.data as Float32Array;
  const g = inputs[1]!.data as Float32Array;
  const st = inputs[2]!.data as Int32Array;
  const { n, blockSize: B, algo } = a;
  const S = ALGO_STATES[algo as Algo8];
  const W = Math.ceil(n / 4);
  const nb = Math.ceil(n / B);
  if (st.length !== packedStateLength(n, S, B)) {
    throw new Error(
      `Fused8bitStep: state holds ${st.length} words, expected ${packedStateLength(n, S, B)} for ${n} elements, block ${B}`,
    );
  }
  const { outP, outS } = outputs(n, st.length);
  const codesIn = new Uint8Array(st.buffer, st.byteOffset, S * W * 4);
  const absIn = new Float32Array(st.buffer, st.byteOffset + S * W * 4, S * nb);
  const codesOut = new Uint8Array(outS.buffer, 0, S * W * 4);
  const absOut = new Float32Array(outS.buffer, S * W * 4, S * nb);
  const map0 = stateMap(0, S);
  const map1 = stateMap(1, S);
  const t0 = codeTable(map0);
  const t1 = codeTable(map1);
  const { s0, s1, q, qBits } = getScratch(B);
  const off1 = W * 4;
  for (let b = 0; b < nb; b++) {
    const start = b * B;
    const end = Math.min(n, start + B);
    const len = end - start;
    updateBlock(a, p, g, codesIn, off1, absIn[b]!, S === 2 ? absIn[nb + b]! : 0, map0, map1, outP, s0, s1, start, end);
    const max0 = Math.fround(blockMax[0]!);
    absOut[b] = max0;
    quantizeInto(s0, len, max0, codesOut, start, t0, q, qBits);
    if (S === 2) {
      const max1 = Math.fround(blockMax[1]!);
      absOut[nb + b] = max1;
      quantizeInto(s1, len, max1, codesOut, off1 + start, t1, q, qBits);
    }
  }
  return [
    { data: outP, shape: [n], dtype: 'float32' },
    { data: outS, shape: [outS.length], dtype: 'int32' },
  ];
}

/**
 * Typed-array reference of the WebGPU first pass: per 32-element chunk of each block, the max
 * |new state| (state s at `s * nb * (B/32) + chunk`).
 */
export function partialMaxReference(inputs: KernelIO[], a: Fused8bitAttrs): KernelIO {
  const p = inputs[0]!.data as Float32Array;
  const g = inputs[1]!.data as Float32Array;
  const st = inputs[2]!.data as Int32Array;
  const { n, blockSize: B, algo } = a;
  const S = ALGO_STATES[algo as Algo8];
  const W = Math.ceil((n * a.bits) / 32);
  const nb = Math.ceil(n / B);
  const C = B / CHUNK;
  const out = new Float32Array(S * nb * C);
  const { codes, stride } = unpackCodes(st, n, S, a.bits);
  const absIn = new Float32Array(st.buffer, st.byteOffset + S * W * 4, S * nb);
  const { s0, s1 } = getScratch(B);
  const outP = new Float32Array(n);
  for (let b = 0; b < nb; b++) {
    const start = b * B;
    const end = Math.min(n, start + B);
    updateBlock(
      a,
      p,
      g,
      codes,
      stride,
      absIn[b]!,
      S === 2 ? absIn[nb + b]! : 0,
      stateMap(0, S, a.bits),
      stateMap(1, S, a.bits),
      outP,
      s0,
      s1,
      start,
      end,
    );
    for (let j = 0; j < end - start; j++) {
      const k = b * C + ((j / CHUNK) | 0);
      out[k] = Math.max(out[k]!, Math.abs(s0[j]!));
      if (S === 2) out[nb * C + k] = Math.max(out[nb * C + k]!, Math.abs(s1[j]!));
    }
  }
  return { data: out, shape: [out.length], dtype: 'float32' };
}

const partialOp = defineKernel<Fused8bitAttrs>({
  name: 'BlockwiseFused8bitPartialMax',
  inputNames: ['p', 'g', 'state', 'qmap'],
  compute: (inputs, a) => partialMaxReference(inputs, a),
  webgpu: (_inputs, a) => partialMaxWgsl(a),
});

/** The step on cpu (and wasm without the in-heap path): WebAssembly SIMD where the engine has it, bit-identical to the reference. */
function computeFused(inputs: KernelIO[], a: Fused8bitAttrs): KernelIO[] {
  if (a.impl !== 'js' && wasmSimdSupported()) return fused8bitSimd(inputs, a, ALGO_STATES[a.algo as Algo8]);
  lastFused8bitPath.path = 'js';
  return fused8bitReference(inputs, a);
}

// On the wasm backend the SIMD module runs on the tfjs heap itself; registered before
// `defineKernel`, which keeps a kernel already registered for a backend.
if (!tf.getKernel('BlockwiseFused8bitStep', 'wasm')) {
  tf.registerKernel({
    kernelName: 'BlockwiseFused8bitStep',
    backendName: 'wasm',
    kernelFunc: fused8bitWasmKernel(computeFused, (a) => ALGO_STATES[a.algo as Algo8]),
  });
}

const fusedOp = defineKernel<Fused8bitAttrs>({
  name: 'BlockwiseFused8bitStep',
  // `partial` (the maxima of pass 1) is read only by the WebGPU programs.
  inputNames: ['p', 'g', 'state', 'qmap', 'partial'],
  compute: computeFused,
  webgpu: (inputs, a) => fused8bitWgsl(inputs[2]!.shape[0]!, a),
});

const mapTensors = new Map<string, tf.Tensor>();

/**
 * The maps (8-bit signed and unsigned at 0 and 256, 4-bit at 512 and 528) as one float32 tensor, kept per backend: a tensor made on
 * one backend would otherwise be moved (read back) when another backend runs the kernel.
 */
function mapsTensor(): tf.Tensor {
  const backend = tf.getBackend();
  let t = mapTensors.get(backend);
  if (!t || t.isDisposed) {
    const four = fourBitMaps();
    t = tf.keep(
      tf.tensor1d(
        Float32Array.from([...signedDynamicMap(), ...unsignedDynamicMap(), ...four.signed, ...four.unsigned]),
      ),
    );
    mapTensors.set(backend, t);
  }
  return t;
}

/**
 * One fused dequantize-update-requantize step over a flat parameter: returns the new parameter
 * (for LAMB, the raw update) and the new packed state: one kernel call per tensor on cpu and
 * wasm, two on WebGPU (chunk maxima, then parameter and state), all on the device.
 */
export function fused8bitStep(
  p: tf.Tensor,
  g: tf.Tensor,
  state: tf.Tensor,
  attrs: Fused8bitAttrs,
): [tf.Tensor, tf.Tensor] {
  const qmap = mapsTensor();
  if (tf.getBackend() !== 'webgpu') {
    const out = fusedOp({ p, g, state, qmap, partial: qmap }, attrs) as tf.Tensor[];
    return [out[0]!, out[1]!];
  }
  // WebGPU: pass 1 writes per-chunk maxima, pass 2 the parameter and the packed state.
  const partial = partialOp({ p, g, state, qmap }, attrs) as tf.Tensor;
  const out = fusedOp({ p, g, state, qmap, partial }, attrs) as tf.Tensor[];
  partial.dispose();
  return [out[0]!, out[1]!];
}
