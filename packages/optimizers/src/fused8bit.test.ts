import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { describeBackends, expectClose } from '@blockwise/tensor/testing';
import {
  ALGO,
  ALGO_STATES,
  decodePackedState,
  fused8bitReference,
  fused8bitStep,
  type Fused8bitAttrs,
} from './fused8bit.js';
import { randomPackedState } from './testUtil.js';

/** A 4-bit packed state (two codes per byte) of random codes and block maxima. */
function random4bitState(n: number, S: number, blockSize: number, seed: number): Int32Array {
  const rng = createRng(seed);
  const W = Math.ceil(n / 8);
  const nb = Math.ceil(n / blockSize);
  const out = new Int32Array(S * (W + nb));
  const bytes = new Uint8Array(out.buffer);
  for (let k = 0; k < S * W * 4; k++) bytes[k] = rng.int(256);
  const absmax = new Float32Array(out.buffer, S * W * 4, S * nb);
  for (let k = 0; k < S * nb; k++) absmax[k] = rng.uniform(1e-4, 1e-2);
  return out;
}

const base: Omit<Fused8bitAttrs, 'algo' | 'n'> = {
  impl: 'auto',
  bits: 8,
  blockSize: 256,
  lr: 1e-2,
  beta1: 0.9,
  beta2: 0.99,
  eps: 1e-8,
  weightDecay: 0.01,
  decoupled: 1,
  bc1: 1 - 0.9 ** 3,
  bc2: 1 - 0.99 ** 3,
  momentum: 0.9,
  dampening: 0,
  nesterov: 1,
  fresh: 0,
};

describeBackends(['cpu', 'wasm', 'webgpu'], (backend) => {
  for (const [algoName, algo, bits] of [
    ...Object.entries(ALGO).map(([k, v]) => [k, v, 8] as const),
    ['adam', ALGO.adam, 4] as const,
    ['momentum', ALGO.momentum, 4] as const,
  ]) {
    it(`${algoName} (${bits}-bit): one kernel call agrees with the typed-array reference`, async () => {
      const n = 4096 + 100;
      const S = ALGO_STATES[algo]!;
      const rng = createRng(7 + algo);
      const p = rng.fillNormal(new Float32Array(n));
      const g = rng.fillNormal(new Float32Array(n), 0, 0.01);
      g[3] = NaN;
      const st = bits === 8 ? randomPackedState(n, S, 256, 100 + algo) : random4bitState(n, S, 256, 100 + algo);
      const attrs: Fused8bitAttrs = { ...base, algo, n, bits };
      const [refP, refS] = fused8bitReference(
        [
          { data: p, shape: [n], dtype: 'float32' },
          { data: g, shape: [n], dtype: 'float32' },
          { data: st, shape: [st.length], dtype: 'int32' },
        ],
        attrs,
      );
      const [outP, outS] = tf.tidy(() =>
        fused8bitStep(tf.tensor1d(p), tf.tensor1d(g), tf.tensor1d(st, 'int32'), attrs),
      );
      expect(outS!.dtype).toBe('int32');
      const gotP = await outP!.data();
      const gotS = (await outS!.data()) as Int32Array;
      expectClose(gotP, refP!.data, { atol: 1e-6, rtol: 1e-5, label: `${backend} ${algoName} parameter` });
      expect(gotP[3]).toBe(algo === ALGO.lamb ? 0 : p[3]);
      for (let s = 0; s < S; s++) {
        const a = decodePackedState(gotS, n, S, 256, s, bits);
        const b = decodePackedState(refS!.data as Int32Array, n, S, 256, s, bits);
        // Float rounding differs between backends, so a code may land on a neighbour; the
        // dequantized states must still agree to a map step (about 1.4% of the block max with
        // 8 bits, 22.5% with 4).
        const amax = Math.max(...Array.from(b, Math.abs));
        expectClose(a, b, {
          atol: (bits === 8 ? 0.015 : 0.23) * amax,
          rtol: 0,
          label: `${backend} ${algoName} state ${s}`,
        });
        // Block maxima agree to float rounding; a code flip moves a value by a whole map step.
        let flips = 0;
        for (let i = 0; i < n; i++) if (Math.abs(a[i]! - b[i]!) > 1e-4 * amax) flips++;
        expect(flips, `${backend} ${algoName} state ${s}: codes that differ`).toBeLessThan(n * 0.01);
      }
      tf.dispose([outP!, outS!]);
    });
  }
});

describe('fused8bitReference', () => {
  it('rejects a state of the wrong length', () => {
    const n = 64;
    expect(() =>
      fused8bitReference(
        [
          { data: new Float32Array(n), shape: [n], dtype: 'float32' },
          { data: new Float32Array(n), shape: [n], dtype: 'float32' },
          { data: new Int32Array(3), shape: [3], dtype: 'int32' },
        ],
        { ...base, algo: ALGO.adam, n },
      ),
    ).toThrow(/state holds 3 words, expected/);
  });
});

describeBackends(['webgpu'], () => {
  it('AdamW8bit steps on WebGPU without reading anything back and equals the cpu run', async () => {
    const { AdamW8bit } = await import('./adam8bit.js');
    const { initBackend } = await import('@blockwise/tensor');
    const n = 4096 + 64;
    const p0 = createRng(5).fillNormal(new Float32Array(n), 0, 0.1);
    const gs = [6, 7, 8, 9].map((s) => createRng(s).fillNormal(new Float32Array(n), 0, 0.01));
    const run = async (backend: 'cpu' | 'webgpu'): Promise<{ p: Float32Array; reads: number; leaked: number }> => {
      await initBackend(backend);
      const w = tf.variable(tf.tensor1d(p0), true, `gpu_w8_${backend}`);
      const opt = new AdamW8bit({ learningRate: 1e-3 });
      const grads = gs.map((g) => tf.tensor1d(g));
      opt.applyGradients({ [w.name]: grads[0]! }); // compiles the shaders
      const b = tf.backend() as unknown as Record<string, (...a: unknown[]) => unknown>;
      let reads = 0;
      const restore = ['readSync', 'read'].map((k) => {
        const orig = b[k]!;
        b[k] = (...a: unknown[]) => {
          reads++;
          return orig.apply(b, a);
        };
        return () => (b[k] = orig);
      });
      const before = tf.memory().numTensors;
      for (const g of grads.slice(1)) opt.applyGradients({ [w.name]: g });
      const leaked = tf.memory().numTensors - before;
      restore.forEach((r) => r());
      const p = Float32Array.from(await w.data());
      opt.dispose();
      tf.dispose([w, ...grads]);
      return { p, reads, leaked };
    };
    const cpu = await run('cpu');
    const gpu = await run('webgpu');
    expect(gpu.reads).toBe(0);
    expect(gpu.leaked).toBe(0);
    // Float rounding differs (f32 on the GPU, f64 in JS), so a state code may differ by one
    // step of the map; after 4 steps of lr 1e-3 the parameters agree closely.
    expectClose(gpu.p, cpu.p, { atol: 2e-5, rtol: 0, label: 'webgpu vs cpu AdamW8bit' });
  });
});
