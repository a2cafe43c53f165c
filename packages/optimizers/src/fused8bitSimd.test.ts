import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createRng, initBackend } from '@blockwise/tensor';
import { describeBackends, expectNoLeaks } from '@blockwise/tensor/testing';
import { AdamW8bit } from './adam8bit.js';
import { signedDynamicMap, unsignedDynamicMap } from './dynamicMap.js';
import { codeTable } from './fastQuantize.js';
import { ALGO, ALGO_STATES, fused8bitReference, fused8bitStep, type Fused8bitAttrs } from './fused8bit.js';
import { fourBitMaps, nearest16 } from './fourBit.js';
import { fourBitThresholds, instantiate, lastFused8bitPath, threshold, wasmSimdSupported } from './fused8bitSimd.js';
import type { Algo8 } from './kernelDefs.js';
import { LAMB } from './lamb.js';
import { Lion, Lion8bit } from './lion.js';
import { AdamW } from './adamw.js';
import { Momentum8bit } from './momentum8bit.js';
import { makeVar, randomPackedState, randomPackedState4 } from './testUtil.js';

const base = {
  impl: 'auto' as const,
  bits: 8,
  lr: 1e-2,
  beta1: 0.9,
  beta2: 0.99,
  eps: 1e-8,
  weightDecay: 0.01,
  bc1: 1 - 0.9 ** 3,
  bc2: 1 - 0.99 ** 3,
  momentum: 0.9,
};

/** Attribute sets covering every rule and its switches (decoupled vs L2, Nesterov, dampening, first step). */
const CASES: [string, Omit<Fused8bitAttrs, 'n' | 'blockSize'>][] = [
  ['AdamW', { ...base, algo: ALGO.adam, decoupled: 1, dampening: 0, nesterov: 0, fresh: 0 }],
  ['Adam (L2)', { ...base, algo: ALGO.adam, decoupled: 0, dampening: 0, nesterov: 0, fresh: 0 }],
  ['LAMB', { ...base, algo: ALGO.lamb, decoupled: 1, dampening: 0, nesterov: 0, fresh: 0 }],
  ['momentum', { ...base, algo: ALGO.momentum, decoupled: 0, dampening: 0, nesterov: 0, fresh: 0 }],
  [
    'momentum (Nesterov, first step)',
    { ...base, algo: ALGO.momentum, decoupled: 0, dampening: 0, nesterov: 1, fresh: 1 },
  ],
  ['momentum (dampening)', { ...base, algo: ALGO.momentum, decoupled: 0, dampening: 0.1, nesterov: 0, fresh: 0 }],
  ['Lion', { ...base, algo: ALGO.lion, decoupled: 1, dampening: 0, nesterov: 0, fresh: 0 }],
];

/**
 * Makes block 2 (where n has one) tiny: p = g = 0 and block maxima 1e-40 (subnormal), so the new
 * states' block maximum is subnormal, 1 / max overflows to Infinity and the quantizer sees
 * +-Infinity and NaN (0 * Infinity): the module's fallback for that case is compared too.
 */
function tinyBlock(p: Float32Array, g: Float32Array, st: Int32Array, n: number, S: number, B: number, bits: number) {
  if (n <= 2 * B) return;
  const end = Math.min(n, 3 * B);
  p.fill(0, 2 * B, end);
  g.fill(0, 2 * B, end);
  const W = Math.ceil((n * bits) / 32);
  const nb = Math.ceil(n / B);
  const absmax = new Float32Array(st.buffer, st.byteOffset + 4 * S * W, S * nb);
  for (let s = 0; s < S; s++) absmax[s * nb + 2] = 1e-40;
}

/** Element counts: multiples of 4 (the in-heap path on wasm) and not (the padded copy path), short last blocks. */
const SIZES: [number, number][] = [
  [4096, 256],
  [4096 + 100, 256],
  [4096 + 3, 256],
  [2050, 32],
  [999, 64],
  // A larger block than before: the table area on the tfjs heap is reallocated with more scratch.
  [5000, 1024],
];

describe('WebAssembly SIMD support', () => {
  it('the module exports the rule ids of ALGO', () => {
    const e = instantiate(new WebAssembly.Memory({ initial: 1 }));
    expect({
      adam: e.ALGO_ADAM.value,
      momentum: e.ALGO_MOMENTUM.value,
      lion: e.ALGO_LION.value,
      lamb: e.ALGO_LAMB.value,
    }).toEqual(ALGO);
  });
  it('is detected in this Node and chosen by default; the kernel option switches per optimizer', async () => {
    await initBackend('wasm');
    expect(wasmSimdSupported()).toBe(true);
    const w = makeVar(new Float32Array(4096).fill(1), [4096]);
    const g = tf.fill([4096], 0.1);
    const auto = new AdamW8bit();
    const js = new AdamW8bit({ kernel: 'js' });
    expect(auto.lastKernel()).toBe('');
    auto.applyGradients({ [w.name]: g });
    js.applyGradients({ [w.name]: g });
    expect(auto.lastKernel()).toBe('wasm-simd');
    expect(js.lastKernel()).toBe('js');
    expect(() => new AdamW8bit({ kernel: 'gpu' as 'js' })).toThrow(
      /kernel must be one of "auto", "simd", "js", got "gpu"/,
    );
    tf.dispose([w, g]);
    auto.dispose();
    js.dispose();
  });
});

describe('in-place update on the wasm heap', () => {
  for (const bits of [8, 4] as const) {
    it(`${bits}-bit: writes over the variable and its state only when nothing else holds their memory`, async () => {
      await initBackend('wasm');
      const w = makeVar(createRng(2).fillNormal(new Float32Array(4096)), [64, 64]);
      const g = tf.fill([64, 64], 0.1);
      const opt = new AdamW8bit({ learningRate: 1e-2, optimBits: bits });
      opt.applyGradients({ [w.name]: g });
      const state = opt.stateVariables()[0]!.variable;
      // A reshape shares its source's memory: the step must leave the values of both views alone.
      const heldW = tf.reshape(w, [-1]);
      const heldS = tf.reshape(state, [-1]);
      const w0 = Float32Array.from(heldW.dataSync());
      const s0 = Int32Array.from(heldS.dataSync());
      opt.applyGradients({ [w.name]: g });
      expect(heldW.dataSync()).toEqual(w0);
      expect(heldS.dataSync()).toEqual(s0);
      expect(w.dataSync()).not.toEqual(w0);
      expect(state.dataSync()).not.toEqual(s0);
      tf.dispose([heldW, heldS]);
      // Held by nothing else now: the next step reuses the same memory (same data ids) and gives
      // what the JavaScript reference gives.
      const ids = [w.dataId, state.dataId];
      // The reference: two steps to reach the same iteration count, then w's values and state.
      const ref = makeVar(new Float32Array(4096), [64, 64]);
      const refOpt = new AdamW8bit({ learningRate: 1e-2, optimBits: bits, kernel: 'js' });
      refOpt.applyGradients({ [ref.name]: g });
      refOpt.applyGradients({ [ref.name]: g });
      ref.assign(tf.clone(w));
      refOpt.stateVariables()[0]!.variable.assign(tf.clone(state));
      refOpt.applyGradients({ [ref.name]: g });
      opt.applyGradients({ [w.name]: g });
      expect([w.dataId, state.dataId]).toEqual(ids);
      expect(w.dataSync()).toEqual(ref.dataSync());
      expect(state.dataSync()).toEqual(refOpt.stateVariables()[0]!.variable.dataSync());
      tf.dispose([w, g, ref]);
      opt.dispose();
      refOpt.dispose();
    });
  }
});

describe('in-place update on the wasm heap (float32 state)', () => {
  for (const [name, make] of [
    ['AdamW', () => new AdamW({ learningRate: 1e-2 })],
    ['Lion', () => new Lion({ learningRate: 1e-3 })],
    ['LAMB (never in place)', () => new LAMB({ learningRate: 1e-2 })],
  ] as const) {
    it(`${name}: views sharing the variable's or a state's memory keep their values`, async () => {
      await initBackend('wasm');
      const w = makeVar(createRng(3).fillNormal(new Float32Array(4096)), [64, 64]);
      const g = tf.fill([64, 64], 0.1);
      const opt = make();
      opt.applyGradients({ [w.name]: g });
      const states = opt.stateVariables().map((s) => s.variable);
      const held = [w, ...states].map((t) => tf.reshape(t, [-1]));
      const before = held.map((t) => Float32Array.from(t.dataSync()));
      opt.applyGradients({ [w.name]: g });
      held.forEach((t, i) => expect(t.dataSync(), `view ${i}`).toEqual(before[i]));
      expect(w.dataSync()).not.toEqual(before[0]);
      tf.dispose(held);
      const ids = [w, ...states].map((t) => t.dataId);
      opt.applyGradients({ [w.name]: g });
      const same = [w, ...states].map((t, i) => t.dataId === ids[i]);
      expect(same).toEqual(same.map(() => !name.startsWith('LAMB')));
      tf.dispose([w, g]);
      opt.dispose();
    });
  }
});

describe('threshold', () => {
  for (const [name, map] of [
    ['signed', signedDynamicMap()],
    ['unsigned', unsignedDynamicMap()],
  ] as const) {
    it(`turns "x > midpoint" into "x >= threshold" for every float32 x (${name} map)`, () => {
      const { mid } = codeTable(map);
      const f = new Float32Array(1);
      const u = new Uint32Array(f.buffer);
      for (let k = 0; k < 255; k++) {
        const t = threshold(mid[k]!);
        expect(Math.fround(t)).toBe(t);
        expect(t > mid[k]!, `code ${k}`).toBe(true);
        // The float32 just below t (one unit in the last place toward -Infinity) is not above mid.
        f[0] = t;
        u[0] = t > 0 ? u[0]! - 1 : t < 0 ? u[0]! + 1 : 0x80000001;
        expect(f[0]! <= mid[k]!, `code ${k}: ${f[0]} vs ${mid[k]}`).toBe(true);
      }
      expect(threshold(mid[255]!)).toBe(Infinity);
    });
  }
});

describe('fourBitThresholds', () => {
  for (const [name, map] of [
    ['signed', fourBitMaps().signed],
    ['unsigned (DE-0, last entry repeated)', fourBitMaps().unsigned],
  ] as const) {
    it(`the number of thresholds x reaches is nearest16(x) for float32 x at and around every entry and midpoint (${name})`, () => {
      const t = fourBitThresholds(map);
      const count = (x: number): number => t.reduce((c, th) => c + (x >= th ? 1 : 0), 0);
      const f = new Float32Array(1);
      const u = new Int32Array(f.buffer);
      const xs: number[] = [NaN, Infinity, -Infinity, 0, -0, 1e-45, -1e-45, 1e30, -1e30];
      // Every float32 within 300 units in the last place of each entry and each midpoint: the
      // only places where the code changes.
      const centers = [...map, ...Array.from({ length: 15 }, (_, c) => (map[c]! + map[c + 1]!) / 2)];
      for (const c of centers) {
        f[0] = c;
        const at = u[0]!;
        for (let d = -300; d <= 300; d++) {
          u[0] = at + d;
          xs.push(f[0]!);
        }
      }
      const rng = createRng(12);
      for (let k = 0; k < 20000; k++) xs.push(Math.fround(rng.uniform(-1.2, 1.2)));
      const wrong = xs.filter((x) => count(x) !== nearest16(map, x));
      expect(wrong).toEqual([]);
    });
  }
});

/** Element counts for 4-bit states: n % 8 = 0..7 (n % 4 = 0 runs on the tfjs heap on wasm), short last blocks. */
const SIZES4: [number, number][] = [
  [4096, 128],
  [4096 + 4, 128],
  [4096 + 1, 128],
  [4096 + 2, 128],
  [4096 + 3, 128],
  [4096 + 5, 128],
  [4096 + 6, 128],
  [4096 + 7, 128],
  [2050, 32],
  [999, 64],
  [5000, 1024],
];

describeBackends(['cpu', 'wasm'], (backend) => {
  for (const [name, attrs] of CASES) {
    it(`${name}, 4-bit states: the SIMD kernel equals the JavaScript reference bit for bit`, async () => {
      for (const [n, B] of SIZES4) {
        const S = ALGO_STATES[attrs.algo as Algo8];
        const rng = createRng(3 * n + B + attrs.algo);
        const p = rng.fillNormal(new Float32Array(n));
        const g = rng.fillNormal(new Float32Array(n), 0, 0.01);
        // Non-finite and overflowing gradients leave their element alone; a zero block keeps a zero state.
        g[B + 1] = NaN;
        g[B + 2] = Infinity;
        g[B + 5] = 1e30;
        g[n - 1] = -Infinity;
        g.fill(0, 0, Math.min(n, B));
        const st = randomPackedState4(n, S, B, n + 7, true);
        tinyBlock(p, g, st, n, S, B, 4);
        const a: Fused8bitAttrs = { ...attrs, n, blockSize: B, bits: 4, impl: 'simd' };
        const [refP, refS] = fused8bitReference(
          [
            { data: p, shape: [n], dtype: 'float32' },
            { data: g, shape: [n], dtype: 'float32' },
            { data: Int32Array.from(st), shape: [st.length], dtype: 'int32' },
          ],
          a,
        );
        const out = tf.tidy(() => fused8bitStep(tf.tensor1d(p), tf.tensor1d(g), tf.tensor1d(st, 'int32'), a));
        const expectedPath = backend === 'wasm' && n % 4 === 0 ? 'heap' : 'copy';
        expect(lastFused8bitPath.path, `${backend} n ${n}`).toBe(expectedPath);
        const gotP = (await out[0].data()) as Float32Array;
        const gotS = (await out[1].data()) as Int32Array;
        tf.dispose(out);
        expect(new Uint32Array(gotP.buffer, gotP.byteOffset, n), `${backend} ${name} n ${n} B ${B}: parameter`).toEqual(
          new Uint32Array(refP!.data.buffer, refP!.data.byteOffset, n),
        );
        expect(gotS, `${backend} ${name} n ${n} B ${B}: packed state`).toEqual(refS!.data);
        if (attrs.algo !== ALGO.lamb) expect(gotP[B + 1]).toBe(p[B + 1]);
        // Adam: (1 - beta2) * 1e30^2 overflows float32, so the element keeps its parameter.
        if (attrs.algo === ALGO.adam) expect(gotP[B + 5]).toBe(p[B + 5]);
      }
    });
  }

  for (const [name, attrs] of CASES) {
    it(`${name}: the SIMD kernel equals the JavaScript reference bit for bit`, async () => {
      for (const [n, B] of SIZES) {
        const S = ALGO_STATES[attrs.algo as Algo8];
        const rng = createRng(n + B + attrs.algo);
        const p = rng.fillNormal(new Float32Array(n));
        const g = rng.fillNormal(new Float32Array(n), 0, 0.01);
        // Non-finite gradients leave their element alone; a zero block keeps a zero state.
        g[B + 1] = NaN;
        g[B + 2] = Infinity;
        g[n - 1] = -Infinity;
        g.fill(0, 0, Math.min(n, B));
        const st = randomPackedState(n, S, B, n + 1, true);
        tinyBlock(p, g, st, n, S, B, 8);
        const a: Fused8bitAttrs = { ...attrs, n, blockSize: B, impl: 'simd' };
        const [refP, refS] = fused8bitReference(
          [
            { data: p, shape: [n], dtype: 'float32' },
            { data: g, shape: [n], dtype: 'float32' },
            { data: Int32Array.from(st), shape: [st.length], dtype: 'int32' },
          ],
          a,
        );
        const out = tf.tidy(() => fused8bitStep(tf.tensor1d(p), tf.tensor1d(g), tf.tensor1d(st, 'int32'), a));
        const expectedPath = backend === 'wasm' && n % 4 === 0 ? 'heap' : 'copy';
        expect(lastFused8bitPath.path, `${backend} n ${n}`).toBe(expectedPath);
        const gotP = (await out[0].data()) as Float32Array;
        const gotS = (await out[1].data()) as Int32Array;
        tf.dispose(out);
        // Bit for bit: compare the float32 patterns (NaN-safe, -0 distinct from 0).
        expect(new Uint32Array(gotP.buffer, gotP.byteOffset, n), `${backend} ${name} n ${n} B ${B}: parameter`).toEqual(
          new Uint32Array(refP!.data.buffer, refP!.data.byteOffset, n),
        );
        expect(gotS, `${backend} ${name} n ${n} B ${B}: packed state`).toEqual(refS!.data);
        if (attrs.algo !== ALGO.lamb) expect(gotP[B + 1]).toBe(p[B + 1]);
      }
    });
  }

  for (const [name, make] of [
    ['AdamW8bit', (kernel: 'simd' | 'js') => new AdamW8bit({ learningRate: 1e-2, kernel })],
    ['AdamW8bit (4-bit)', (kernel: 'simd' | 'js') => new AdamW8bit({ learningRate: 1e-2, optimBits: 4, kernel })],
    ['Lion8bit (4-bit)', (kernel: 'simd' | 'js') => new Lion8bit({ learningRate: 1e-3, optimBits: 4, kernel })],
    ['Lion8bit', (kernel: 'simd' | 'js') => new Lion8bit({ learningRate: 1e-3, kernel })],
    [
      'Momentum8bit',
      (kernel: 'simd' | 'js') => new Momentum8bit({ learningRate: 1e-2, momentum: 0.9, nesterov: true, kernel }),
    ],
  ] as const) {
    it(`${name}: five steps with the SIMD kernel equal five with the JavaScript one, state included, without leaks`, async () => {
      const n = 8192;
      const rng = createRng(21);
      const p0 = rng.fillNormal(new Float32Array(n), 0, 0.1);
      const grads = Array.from({ length: 5 }, () => rng.fillNormal(new Float32Array(n), 0, 0.01));
      const run = async (impl: 'simd' | 'js'): Promise<{ p: Float32Array; state: Int32Array }> => {
        const w = makeVar(p0, [64, 128]);
        const opt = make(impl);
        const gs = grads.map((g) => tf.tensor(g, [64, 128]));
        opt.applyGradients({ [w.name]: gs[0]! });
        await expectNoLeaks(() => {
          for (const g of gs.slice(1)) opt.applyGradients({ [w.name]: g });
        });
        expect(opt.lastKernel()).toBe(impl === 'js' ? 'js' : 'wasm-simd');
        const p = Float32Array.from(await w.data());
        const state = Int32Array.from((await opt.getWeights())[1]!.tensor.dataSync());
        opt.dispose();
        tf.dispose([w, ...gs]);
        return { p, state };
      };
      const fast = await run('simd');
      const js = await run('js');
      expect(fast.p).toEqual(js.p);
      expect(fast.state).toEqual(js.state);
    });
  }
});
