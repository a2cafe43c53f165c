import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { createRng } from './random.js';
import { describeBackends, expectClose } from './testing.js';
import { installWasmMatMul, refreshWasmTensor, uninstallWasmMatMul, wasmMatMulInstalled } from './wasmMatMul.js';

/**
 * Float64 reference of tfjs's matMul semantics: the last two axes multiply (after the optional
 * transposes), the leading axes broadcast.
 */
function referenceMatMul(
  a: Float32Array,
  aShape: number[],
  b: Float32Array,
  bShape: number[],
  transposeA: boolean,
  transposeB: boolean,
): { data: Float64Array; shape: number[] } {
  const ra = aShape.length;
  const rb = bShape.length;
  const [ar, ac] = [aShape[ra - 2]!, aShape[ra - 1]!];
  const [br, bc] = [bShape[rb - 2]!, bShape[rb - 1]!];
  const m = transposeA ? ac : ar;
  const k = transposeA ? ar : ac;
  const n = transposeB ? br : bc;
  const outerA = aShape.slice(0, -2);
  const outerB = bShape.slice(0, -2);
  const rank = Math.max(outerA.length, outerB.length);
  const padA = [...Array<number>(rank - outerA.length).fill(1), ...outerA];
  const padB = [...Array<number>(rank - outerB.length).fill(1), ...outerB];
  const outer = padA.map((d, i) => Math.max(d, padB[i]!));
  const batches = outer.reduce((p, d) => p * d, 1);
  const out = new Float64Array(batches * m * n);
  const index = new Array<number>(rank).fill(0);
  for (let bi = 0; bi < batches; bi++) {
    let rem = bi;
    for (let d = rank - 1; d >= 0; d--) {
      index[d] = rem % outer[d]!;
      rem = Math.floor(rem / outer[d]!);
    }
    let offA = 0;
    let offB = 0;
    for (let d = 0; d < rank; d++) {
      offA = offA * padA[d]! + (padA[d] === 1 ? 0 : index[d]!);
      offB = offB * padB[d]! + (padB[d] === 1 ? 0 : index[d]!);
    }
    offA *= ar * ac;
    offB *= br * bc;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const x = a[offA + (transposeA ? p * ac + i : i * ac + p)]!;
          const y = b[offB + (transposeB ? j * bc + p : p * bc + j)]!;
          s += x * y;
        }
        out[(bi * m + i) * n + j] = s;
      }
    }
  }
  return { data: out, shape: [...outer.slice(rank - Math.max(outerA.length, outerB.length)), m, n] };
}

type Case = [aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean];

const CASES: Case[] = [
  // Rank 2, every flag combination, sizes that are not multiples of any SIMD width.
  [[37, 53], [53, 29], false, false],
  [[53, 37], [53, 29], true, false],
  [[37, 53], [29, 53], false, true],
  [[53, 37], [29, 53], true, true],
  [[128, 64], [128, 96], true, false],
  // Batched: equal batches, a shared right operand (one tall product), a shared left operand.
  [[6, 33, 17], [6, 17, 41], false, false],
  [[6, 17, 33], [6, 41, 17], true, true],
  [[5, 40, 24], [24, 31], false, false],
  [[5, 40, 24], [1, 31, 24], false, true],
  [[1, 40, 24], [7, 24, 31], false, false],
  [[40, 24], [7, 31, 24], false, true],
  // Rank 4 with broadcast leading axes.
  [[2, 3, 20, 16], [2, 3, 16, 25], false, false],
  [[2, 1, 20, 16], [1, 1, 25, 16], false, true],
  // Small products stay on tfjs's own loop (under the routing threshold).
  [[4, 3], [4, 2], true, false],
  [[64, 4, 4], [64, 4, 4], false, true],
];

describeBackends(['cpu', 'wasm'], (backend) => {
  afterAll(async () => {
    if (backend === 'wasm') await initBackend('wasm');
  });

  it(`matMul agrees with the float64 reference for every flag, batch and broadcast case on ${backend}`, async () => {
    const rng = createRng(11);
    for (const [aShape, bShape, tA, tB] of CASES) {
      const aData = rng.fillNormal(new Float32Array(aShape.reduce((p, d) => p * d, 1)));
      const bData = rng.fillNormal(new Float32Array(bShape.reduce((p, d) => p * d, 1)));
      const ref = referenceMatMul(aData, aShape, bData, bShape, tA, tB);
      const a = tf.tensor(aData, aShape);
      const b = tf.tensor(bData, bShape);
      const before = tf.memory().numTensors;
      const out = tf.matMul(a, b, tA, tB);
      expect(out.shape, `${aShape} x ${bShape}`).toEqual(ref.shape);
      // float32 products of k <= 128 unit normals: |error| stays far below 1e-4 * sqrt(k).
      expectClose(await out.data(), ref.data, { atol: 1e-4, rtol: 1e-4, label: `${aShape} x ${bShape} ${tA} ${tB}` });
      expect(tf.memory().numTensors).toBe(before + 1);
      tf.dispose([a, b, out]);
    }
  });

  it(`fused matMul (bias, relu, transposes, a folded batch) agrees with the reference on ${backend}`, async () => {
    const rng = createRng(12);
    const cases: Case[] = [
      [[48, 20], [30, 20], false, true],
      [[20, 48], [20, 30], true, false],
      [[4, 48, 20], [20, 30], false, false],
    ];
    for (const [aShape, bShape, tA, tB] of cases) {
      const aData = rng.fillNormal(new Float32Array(aShape.reduce((p, d) => p * d, 1)));
      const bData = rng.fillNormal(new Float32Array(bShape.reduce((p, d) => p * d, 1)));
      const n = tB ? bShape[bShape.length - 2]! : bShape[bShape.length - 1]!;
      const biasData = rng.fillNormal(new Float32Array(n));
      const ref = referenceMatMul(aData, aShape, bData, bShape, tA, tB);
      const expected = ref.data.map((v, i) => Math.max(0, v + biasData[i % n]!));
      const a = tf.tensor(aData, aShape);
      const b = tf.tensor(bData, bShape);
      const bias = tf.tensor1d(biasData);
      const out = tf.fused.matMul({ a, b, transposeA: tA, transposeB: tB, bias, activation: 'relu' });
      expect(out.shape).toEqual(ref.shape);
      expectClose(await out.data(), expected, { atol: 1e-4, rtol: 1e-4, label: `fused ${aShape} x ${bShape}` });
      tf.dispose([a, b, bias, out]);
    }
  });

  it(`gradients of a two-layer network match the cpu backend's on ${backend}`, async () => {
    // The backward pass is where tfjs uses transposeA / transposeB: dW = xᵀ·dy, dx = dy·Wᵀ.
    const rng = createRng(13);
    const x = tf.tensor(rng.fillNormal(new Float32Array(96 * 40)), [96, 40]);
    const w1 = tf.tensor(rng.fillNormal(new Float32Array(40 * 64), 0, 0.2), [40, 64]);
    const w2 = tf.tensor(rng.fillNormal(new Float32Array(64 * 8), 0, 0.2), [64, 8]);
    const loss = (p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.matMul(tf.tanh(tf.matMul(x, p)), q))) as tf.Scalar;
    const grads = tf.grads(loss)([w1, w2]);
    const got = await Promise.all(grads.map((g) => g.data()));
    // The reference: the same gradients from hand-written float64 backprop.
    const xd = (await x.data()) as Float32Array;
    const w1d = (await w1.data()) as Float32Array;
    const w2d = (await w2.data()) as Float32Array;
    const h = referenceMatMul(xd, [96, 40], w1d, [40, 64], false, false).data.map(Math.tanh);
    const y = referenceMatMul(Float32Array.from(h), [96, 64], w2d, [64, 8], false, false).data;
    const dy = Float32Array.from(y, (v) => 2 * v);
    const dW2 = referenceMatMul(Float32Array.from(h), [96, 64], dy, [96, 8], true, false).data;
    const dh = referenceMatMul(dy, [96, 8], w2d, [64, 8], false, true).data;
    const dz = Float32Array.from(dh, (v, i) => v * (1 - h[i]! * h[i]!));
    const dW1 = referenceMatMul(xd, [96, 40], dz, [96, 64], true, false).data;
    expectClose(got[0]!, dW1, { atol: 2e-3, rtol: 1e-3, label: 'dW1' });
    expectClose(got[1]!, dW2, { atol: 2e-3, rtol: 1e-3, label: 'dW2' });
    tf.dispose([x, w1, w2, ...grads]);
  });

  if (backend === 'wasm') {
    it('initBackend routes wasm matmuls through XNNPACK by default and fastMatMul: false restores tfjs', async () => {
      await initBackend('wasm');
      expect(wasmMatMulInstalled()).toBe(true);
      const routed = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
      expect(installWasmMatMul()).toBe(true);
      expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).toBe(routed);
      await initBackend('wasm', { fastMatMul: false });
      expect(wasmMatMulInstalled()).toBe(false);
      expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).not.toBe(routed);
      uninstallWasmMatMul();
      await initBackend('wasm');
      expect(wasmMatMulInstalled()).toBe(true);
    });

    it('refreshWasmTensor makes a matMul see weights written in place (tfjs-wasm caches packed weights by id)', async () => {
      for (const fast of [false, true]) {
        await initBackend('wasm', { fastMatMul: fast });
        const backend = tf.backend() as unknown as { typedArrayFromHeap(t: tf.TensorInfo): Float32Array };
        const x = tf.ones([4, 64]);
        const w = tf.ones([64, 32]);
        // x·w = 64 everywhere; the first product caches XNNPACK's packed copy of w under w's id
        expect(Array.from(await tf.matMul(x, w).data()).every((v) => v === 64)).toBe(true);
        backend.typedArrayFromHeap(w).fill(2);
        const stale = await tf.matMul(x, w).data();
        // the hazard this function exists for: without it the product still uses the old w
        expect(stale[0], `fastMatMul ${fast}: stale product`).toBe(64);
        refreshWasmTensor(w);
        const fresh = await tf.matMul(x, w).data();
        expect(
          Array.from(fresh).every((v) => v === 128),
          `fastMatMul ${fast}: refreshed product`,
        ).toBe(true);
        expect(Array.from(await w.data()).every((v) => v === 2)).toBe(true);
        tf.dispose([x, w]);
      }
      await initBackend('wasm');
    });

    it('agrees with tfjs-wasm own kernels and leaves neither tensors nor wasm tensor records behind', async () => {
      const rng = createRng(14);
      const a = tf.tensor(rng.fillNormal(new Float32Array(8 * 32 * 48)), [8, 32, 48]);
      const b = tf.tensor(rng.fillNormal(new Float32Array(8 * 40 * 48)), [8, 40, 48]);
      const eng = tf.engine().backend as unknown as { numDataIds(): number };
      await initBackend('wasm', { fastMatMul: false });
      const plain = tf.matMul(a, b, false, true);
      const plainData = await plain.data();
      await initBackend('wasm');
      const ids = eng.numDataIds();
      const tensors = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) tf.matMul(a, b, false, true).dispose();
      expect(eng.numDataIds()).toBe(ids);
      expect(tf.memory().numTensors).toBe(tensors);
      const routed = tf.matMul(a, b, false, true);
      expectClose(await routed.data(), plainData, { atol: 1e-4, rtol: 1e-5, label: 'routed vs tfjs-wasm' });
      tf.dispose([a, b, plain, routed]);
    });
  }
});

describe('refreshWasmTensor on the cpu backend', () => {
  it('does nothing', async () => {
    await initBackend('cpu');
    const w = tf.ones([2, 2]);
    refreshWasmTensor(w);
    expect(Array.from(await w.data())).toEqual([1, 1, 1, 1]);
    w.dispose();
  });
});

describe('installWasmMatMul without the wasm backend registered', () => {
  it('is safe to call repeatedly', () => {
    // Either tfjs-backend-wasm is loaded (an earlier spec started it) and this is a no-op, or it
    // is not and nothing is registered; both return a boolean and never throw.
    expect(typeof installWasmMatMul()).toBe('boolean');
    expect(typeof installWasmMatMul()).toBe('boolean');
  });
});
