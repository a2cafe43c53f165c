import * as tf from '@tensorflow/tfjs-core';
import {
  checkBoolean,
  checkNumber,
  checkOneOf,
  checkOptions,
  defineKernel,
  describeValue,
  type KernelIO,
} from '@blockwise/tensor';
import { checkBlockMask, type BlockMask } from './blockMask.js';
import { blockSparseAttentionDense, preferDense } from './blockSparseDense.js';
import { blockSparseAttentionOps } from './blockSparseOps.js';
import type { AttentionWithLse } from './dense.js';
import { blockSparseBackwardSimd, blockSparseForwardSimd, lastAttentionPath, useSimdKernel } from './simdKernel.js';
import {
  blockSparseBackwardReference,
  blockSparseForwardReference,
  type MaskArrays,
  type SparseDims,
} from './sparseKernel.js';
import { checkFiniteInputs, checkFiniteOutput, checkQkv, resolveScale } from './validate.js';
import { blockSparseBackwardWebGPU, blockSparseForwardWebGPU } from './webgpuKernels.js';

/** Options of `blockSparseAttention`. */
export interface BlockSparseAttentionOptions {
  /** Which blocks (and, inside partial blocks, which pairs) attend; built for `[*, *, qLen, kvLen]`. */
  blockMask: BlockMask;
  /** Softmax scale (default 1/sqrt(dim)). */
  scale?: number;
  /**
   * 'kernel': the registered kernels (typed arrays on cpu/wasm, WGSL on webgpu); 'ops': gather +
   * batched matMul through tfjs ops (uses the backend's matMul; LSE carries no gradient; a mask that
   * differs by batch entry or head runs slice by slice); 'auto' (default): 'ops' on webgpu, webgl
   * and tensorflow when no LSE is requested (measured faster than the WGSL kernel on
   * WebGPU; the kernel would read data back to the CPU on the others), else 'kernel'. On wasm the
   * kernel is WebAssembly SIMD (4-5x faster than tfjs dense attention at 0% sparsity); on cpu it
   * is typed-array JavaScript, 2-3x faster than 'ops'. 'dense': a masked dense forward (backend
   * matMul) with the backward kernel as gradient, which `'auto'` picks on cpu (and on wasm without
   * WebAssembly SIMD) for nearly dense masks (block sparsity < 25%, at most 2^24 scores, no LSE
   * requested).
   */
  impl?: 'auto' | 'kernel' | 'ops' | 'dense';
}

/** Attributes of the kernels (plain numbers): scale, mask layout and offsets into the packed mask. */
export interface SparseAttrs {
  scale: number;
  maskBatch: number;
  maskHeads: number;
  qBlock: number;
  kvBlock: number;
  offKvNum: number;
  offKvIdx: number;
  offFullNum: number;
  offFullIdx: number;
  offPOff: number;
  offQNum: number;
  offQIdx: number;
  offFullQNum: number;
  offFullQIdx: number;
  /** Start (in int32 words) of the partial blocks' element masks, 4 bytes per word, little-endian. */
  offBits: number;
  [key: string]: number;
}

/** Sizes from the q and k shapes plus the attributes. */
export function dimsOf(qShape: number[], kShape: number[], a: SparseAttrs): SparseDims {
  const [batch, hq, lq, d] = qShape as [number, number, number, number];
  const [, hkv, lk] = kShape as [number, number, number];
  return {
    batch,
    hq,
    hkv,
    lq,
    lk,
    d,
    scale: a.scale,
    maskBatch: a.maskBatch,
    maskHeads: a.maskHeads,
    qBlock: a.qBlock,
    kvBlock: a.kvBlock,
    nq: Math.ceil(lq / a.qBlock),
    nk: Math.ceil(lk / a.kvBlock),
  };
}

/** Views of the packed mask (no copies). */
function maskArrays(pack: Int32Array, a: SparseAttrs): MaskArrays {
  const sub = (from: number, to: number): Int32Array => pack.subarray(from, to);
  return {
    kvNum: sub(a.offKvNum, a.offKvIdx),
    kvIdx: sub(a.offKvIdx, a.offFullNum),
    fullNum: sub(a.offFullNum, a.offFullIdx),
    fullIdx: sub(a.offFullIdx, a.offPOff),
    pOff: sub(a.offPOff, a.offQNum),
    pBits: new Uint8Array(pack.buffer, pack.byteOffset + a.offBits * 4, (pack.length - a.offBits) * 4),
  };
}

interface Packed {
  data: Int32Array;
  offsets: Record<
    | 'offKvNum'
    | 'offKvIdx'
    | 'offFullNum'
    | 'offFullIdx'
    | 'offPOff'
    | 'offQNum'
    | 'offQIdx'
    | 'offFullQNum'
    | 'offFullQIdx'
    | 'offBits',
    number
  >;
}
const packCache = new WeakMap<BlockMask, Packed>();

/**
 * All of a block mask's int32 lists in one array (one storage buffer on WebGPU, where the number
 * of buffers per shader is limited): kv lists, partial offsets, transposed q lists, then the
 * partial blocks' bytes packed 4 per word.
 */
export function packBlockMask(mask: BlockMask): Packed {
  const cached = packCache.get(mask);
  if (cached) return cached;
  const parts = [
    mask.kvNumBlocks,
    mask.kvIndices,
    mask.fullKvNumBlocks,
    mask.fullKvIndices,
    mask.partialOffset,
    mask.qNumBlocks,
    mask.qIndices,
    mask.fullQNumBlocks,
    mask.fullQIndices,
  ];
  const starts: number[] = [];
  let n = 0;
  for (const p of parts) {
    starts.push(n);
    n += p.length;
  }
  const words = Math.max(1, Math.ceil(mask.partialBits.length / 4));
  const data = new Int32Array(n + words);
  parts.forEach((p, i) => data.set(p, starts[i]!));
  new Uint8Array(data.buffer, n * 4, mask.partialBits.length).set(mask.partialBits);
  const [offKvNum, offKvIdx, offFullNum, offFullIdx, offPOff, offQNum, offQIdx, offFullQNum, offFullQIdx] = starts as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const packed: Packed = {
    data,
    offsets: {
      offKvNum,
      offKvIdx,
      offFullNum,
      offFullIdx,
      offPOff,
      offQNum,
      offQIdx,
      offFullQNum,
      offFullQIdx,
      offBits: n,
    },
  };
  packCache.set(mask, packed);
  return packed;
}

const f32 = (x: KernelIO): Float32Array => (x.data instanceof Float32Array ? x.data : Float32Array.from(x.data));

/**
 * The SIMD module runs on the wasm backend (where the engine has WebAssembly SIMD); cpu keeps the
 * typed-array kernel, the reference of the module's tests.
 */
function simdHere(): boolean {
  const on = tf.getBackend() === 'wasm' && useSimdKernel();
  if (!on) lastAttentionPath.path = 'js';
  return on;
}

const gradOp = defineKernel<SparseAttrs>({
  name: 'BlockwiseBlockSparseAttentionGrad',
  inputNames: ['q', 'k', 'v', 'lse', 'delta', 'dO', 'mask'],
  compute: (ins, attrs) => {
    const [q, k, v, lse, delta, dO, mask] = ins as [
      KernelIO,
      KernelIO,
      KernelIO,
      KernelIO,
      KernelIO,
      KernelIO,
      KernelIO,
    ];
    const dims = dimsOf(q.shape, k.shape, attrs);
    const dq = new Float32Array(q.data.length);
    const dk = new Float32Array(k.data.length);
    const dv = new Float32Array(v.data.length);
    const run = simdHere() ? blockSparseBackwardSimd : blockSparseBackwardReference;
    run(
      f32(q),
      f32(k),
      f32(v),
      f32(lse),
      f32(delta),
      f32(dO),
      dims,
      maskArrays(mask.data as Int32Array, attrs),
      dq,
      dk,
      dv,
    );
    return [
      { data: dq, shape: q.shape, dtype: 'float32' },
      { data: dk, shape: k.shape, dtype: 'float32' },
      { data: dv, shape: v.shape, dtype: 'float32' },
    ];
  },
  webgpu: (ins, attrs) => blockSparseBackwardWebGPU(ins, attrs),
});

const forwardOp = defineKernel<SparseAttrs>({
  name: 'BlockwiseBlockSparseAttention',
  inputNames: ['q', 'k', 'v', 'mask'],
  compute: (ins, attrs) => {
    const [q, k, v, mask] = ins as [KernelIO, KernelIO, KernelIO, KernelIO];
    const dims = dimsOf(q.shape, k.shape, attrs);
    const out = new Float32Array(q.data.length);
    const lse = new Float32Array(dims.batch * dims.hq * dims.lq);
    const run = simdHere() ? blockSparseForwardSimd : blockSparseForwardReference;
    run(f32(q), f32(k), f32(v), dims, maskArrays(mask.data as Int32Array, attrs), out, lse);
    return [
      { data: out, shape: q.shape, dtype: 'float32' },
      { data: lse, shape: q.shape.slice(0, 3), dtype: 'float32' },
    ];
  },
  webgpu: (ins, attrs) => blockSparseForwardWebGPU(ins, attrs),
  saveInputs: true,
  saveOutputs: true,
  gradient: (dy, saved, attrs) => {
    const [dO0, dLse] = Array.isArray(dy) ? dy : [dy, null];
    const [q, k, v, mask, o, lse] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const dO = dO0 ?? tf.zerosLike(o);
    // delta = rowsum(dO * O) - dLse: the softmax-backward correction, cheap in tfjs ops.
    let delta = tf.sum(tf.mul(dO, o), -1);
    if (dLse) delta = tf.sub(delta, dLse);
    // One backward kernel call yields all three gradients; the thunks hand them out.
    const grads = gradOp({ q, k, v, lse, delta, dO, mask }, attrs) as tf.Tensor[];
    return { q: () => grads[0]!, k: () => grads[1]!, v: () => grads[2]! };
  },
});

/**
 * The path `impl: 'auto'` takes for this mask on the current backend: 'kernel' on wasm (the SIMD
 * kernel), 'dense' on cpu for nearly dense masks, 'ops' on webgpu, webgl and tensorflow, else
 * 'kernel' (always 'kernel' when the log-sum-exp is requested, since only the kernel
 * differentiates it).
 */
export function chooseImpl(
  mask: BlockMask,
  opts: { batch: number; heads: number; returnLse?: boolean; backend?: string },
): 'kernel' | 'ops' | 'dense' {
  if (!mask || !(mask.kvIndices instanceof Int32Array))
    throw new Error(`chooseImpl: mask must be a BlockMask from createBlockMask, got ${describeValue(mask)}`);
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts))
    throw new Error(`chooseImpl: options { batch, heads } are required, got ${describeValue(opts)}`);
  checkOptions('chooseImpl', opts, ['batch', 'heads', 'returnLse', 'backend']);
  checkNumber('chooseImpl: batch', opts.batch, { integer: true, min: 1 });
  checkNumber('chooseImpl: heads', opts.heads, { integer: true, min: 1 });
  if (opts.returnLse !== undefined) checkBoolean('chooseImpl: returnLse', opts.returnLse);
  if (opts.backend !== undefined && typeof opts.backend !== 'string')
    throw new Error(`chooseImpl: backend must be a backend name, got ${describeValue(opts.backend)}`);
  if (opts.returnLse) return 'kernel';
  const backend = opts.backend ?? tf.getBackend();
  if (backend === 'webgpu' || backend === 'webgl' || backend === 'tensorflow') return 'ops';
  // On wasm the SIMD kernel measured 4-5x faster than tfjs dense attention even at 0% sparsity
  // (seq 1024 and 2048, dim 64): the dense path only pays off for the typed-array kernel.
  if (backend === 'wasm' && useSimdKernel()) return 'kernel';
  if ((backend === 'cpu' || backend === 'wasm') && preferDense(mask, opts.batch, opts.heads)) return 'dense';
  return 'kernel';
}

/**
 * Block-sparse attention on `[batch, heads, seq, dim]` tensors (grouped-query when query heads are a
 * multiple of key/value heads): FlashAttention-style online softmax over the blocks `blockMask`
 * lists, skipping empty blocks and reading the element mask only in partial blocks. Registered
 * kernels on cpu, wasm (typed arrays) and webgpu (WGSL) with a registered gradient for q, k and v.
 * Rows with no allowed key give 0 (and -Infinity log-sum-exp).
 */
export function blockSparseAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  opts: BlockSparseAttentionOptions & { returnLse: true },
): AttentionWithLse;
export function blockSparseAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  opts: BlockSparseAttentionOptions & { returnLse?: false },
): tf.Tensor4D;
export function blockSparseAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  opts: BlockSparseAttentionOptions & { returnLse?: boolean },
): tf.Tensor4D | AttentionWithLse {
  const where = 'blockSparseAttention';
  const s = checkQkv(q, k, v, where);
  if (!opts || typeof opts !== 'object' || Array.isArray(opts))
    throw new Error(`${where}: options { blockMask } are required, got ${describeValue(opts)}`);
  checkOptions(where, opts, ['blockMask', 'scale', 'impl', 'returnLse']);
  const scale = resolveScale(opts.scale, s.d, where);
  const mask = opts.blockMask;
  checkBlockMask(mask, s.batch, s.hq, s.lq, s.lk, where);
  const impl = checkOneOf(`${where}: impl`, opts.impl ?? 'auto', ['auto', 'kernel', 'ops', 'dense'] as const);
  if (opts.returnLse !== undefined) checkBoolean(`${where}: returnLse`, opts.returnLse);
  const host = checkFiniteInputs(where, [
    ['q', q],
    ['k', k],
    ['v', v],
  ]);
  const result = run(q, k, v, mask, scale, impl, !!opts.returnLse, s);
  const output = opts.returnLse ? (result as AttentionWithLse).output : (result as tf.Tensor4D);
  if (host) {
    try {
      checkFiniteOutput(where, output, q, k, scale);
    } catch (e) {
      if (opts.returnLse) (result as AttentionWithLse).lse.dispose();
      throw e;
    }
  }
  return result;
}

function run(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  mask: BlockMask,
  scale: number,
  impl: 'auto' | 'kernel' | 'ops' | 'dense',
  returnLse: boolean,
  s: { batch: number; hq: number },
): tf.Tensor4D | AttentionWithLse {
  const opts = { returnLse };
  const path = impl === 'auto' ? chooseImpl(mask, { batch: s.batch, heads: s.hq, returnLse: !!opts.returnLse }) : impl;
  if (path === 'dense') {
    const r = blockSparseAttentionDense(
      q as tf.Tensor4D,
      k as tf.Tensor4D,
      v as tf.Tensor4D,
      mask,
      scale,
      (qx, kx, vx, o, lse, dO) => {
        const packed = packBlockMask(mask);
        const attrs: SparseAttrs = {
          scale,
          maskBatch: mask.batch,
          maskHeads: mask.heads,
          qBlock: mask.qBlock,
          kvBlock: mask.kvBlock,
          ...packed.offsets,
        };
        const maskT = tf.tensor1d(packed.data, 'int32');
        // The backward kernel recomputes the scores, so it takes O and LSE from the kernel's own
        // forward: the backend's matMul rounds differently, and at huge logits (q, k ~ 1e5) its LSE
        // against the recomputed scores overflowed exp (non-finite gradients).
        void o;
        void lse;
        const [o2, lse2] = forwardOp({ q: qx, k: kx, v: vx, mask: maskT }, attrs) as [tf.Tensor, tf.Tensor];
        const delta = tf.sum(tf.mul(dO, o2), -1);
        return gradOp({ q: qx, k: kx, v: vx, lse: lse2, delta, dO, mask: maskT }, attrs) as tf.Tensor[];
      },
    );
    if (opts.returnLse) return r;
    r.lse.dispose();
    return r.output;
  }
  if (path === 'ops') {
    const r = blockSparseAttentionOps(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, mask, scale);
    if (opts.returnLse) return r;
    r.lse.dispose();
    return r.output;
  }
  const packed = packBlockMask(mask);
  const attrs: SparseAttrs = {
    scale,
    maskBatch: mask.batch,
    maskHeads: mask.heads,
    qBlock: mask.qBlock,
    kvBlock: mask.kvBlock,
    ...packed.offsets,
  };
  const [output, lse] = tf.tidy(
    () => forwardOp({ q, k, v, mask: tf.tensor1d(packed.data, 'int32') }, attrs) as tf.Tensor[],
  ) as [tf.Tensor4D, tf.Tensor3D];
  if (opts.returnLse) return { output, lse };
  lse.dispose();
  return output;
}
