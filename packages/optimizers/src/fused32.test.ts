import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { describeBackends, expectNoLeaks } from '@blockwise/tensor/testing';
import { fused32Step, instantiateFused32, lastFused32Kernel } from './fused32.js';
import { applyRange, laneNorms, normsRange, trust, type Fused32Arrays } from './fused32Rules.js';
import { hasNorms, packConstants, RULE32, RULE32_CONSTANTS, RULE32_SLOTS, type Rule32Name } from './kernelDefs.js';

describe('kernel definitions', () => {
  it('the SIMD module exports the rule ids of RULE32', () => {
    const e = instantiateFused32(new WebAssembly.Memory({ initial: 1 }));
    expect({
      adam: e.RULE_ADAM.value,
      momentum: e.RULE_MOMENTUM.value,
      lion: e.RULE_LION.value,
      lars: e.RULE_LARS.value,
      lamb: e.RULE_LAMB.value,
      trust: e.RULE_TRUST.value,
    }).toEqual(RULE32);
  });
});

/** Constants of every rule and its switches. */
const CASES: {
  name: string;
  rule: Rule32Name;
  k: Record<string, number>;
  adapt?: boolean;
  eta?: number;
  trustEps?: number;
}[] = [
  {
    name: 'AdamW',
    rule: 'adam',
    k: {
      b1: 0.9,
      c1: 0.1,
      b2: 0.999,
      c2: 0.001,
      l2: 0,
      decay: 1 - 1e-4,
      stepSize: 1e-3 / (1 - 0.9 ** 3),
      invSqrtBc2: 1 / Math.sqrt(1 - 0.999 ** 3),
      eps: 1e-8,
    },
  },
  {
    name: 'Adam (L2)',
    rule: 'adam',
    k: { b1: 0.9, c1: 0.1, b2: 0.99, c2: 0.01, l2: 0.1, decay: 1, stepSize: 1e-2, invSqrtBc2: 3, eps: 1e-6 },
  },
  { name: 'momentum', rule: 'momentum', k: { mu: 0.9, c: 1, wd: 0.01, lr: 0.1, nesterov: 0, fresh: 0 } },
  {
    name: 'momentum (Nesterov, first step)',
    rule: 'momentum',
    k: { mu: 0.9, c: 1, wd: 0, lr: 0.1, nesterov: 1, fresh: 1 },
  },
  { name: 'momentum (dampening)', rule: 'momentum', k: { mu: 0.8, c: 0.7, wd: 0, lr: 0.1, nesterov: 0, fresh: 0 } },
  { name: 'Lion', rule: 'lion', k: { b1: 0.9, c1: 0.1, b2: 0.99, c2: 0.01, decay: 1 - 1e-5, lr: 1e-4 } },
  { name: 'LARS', rule: 'lars', k: { mu: 0.9, wd: 1e-4, nesterov: 0 }, adapt: true, eta: 1e-3, trustEps: 0 },
  {
    name: 'LARS (Nesterov, no adaptation)',
    rule: 'lars',
    k: { mu: 0.9, wd: 0, nesterov: 1 },
    adapt: false,
    eta: 1e-3,
    trustEps: 1e-9,
  },
  {
    name: 'LAMB',
    rule: 'lamb',
    k: { b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, bc1: 0.271, bc2: 0.002997, eps: 1e-6, wd: 0.01 },
    adapt: true,
  },
  { name: 'trust (LAMB8bit update)', rule: 'trust', k: {}, adapt: true },
  {
    name: 'LAMB (no adaptation)',
    rule: 'lamb',
    k: { b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, bc1: 0.271, bc2: 0.002997, eps: 1e-6, wd: 0 },
    adapt: false,
  },
];

/** The typed-array reference over every element (what the kernels must equal bit for bit). */
function reference(c: (typeof CASES)[number], ins: Float32Array[], lr: number): Float32Array[] {
  const n = ins[0]!.length;
  const k = Float32Array.from(packConstants(c.rule, { scale: 0, ...c.k } as never));
  const x: Fused32Arrays = {
    p: ins[0]!,
    g: ins[1]!,
    s0: ins[2]!,
    s1: ins[3]!,
    op: new Float32Array(n),
    o0: new Float32Array(n),
    o1: new Float32Array(n),
  };
  if (hasNorms(c.rule)) {
    const lanes = new Float64Array(8);
    normsRange(c.rule as 'lars' | 'lamb' | 'trust', k, x, 0, n, lanes);
    const [w, u] = laneNorms(lanes);
    k[(RULE32_CONSTANTS[c.rule] as readonly string[]).indexOf('scale')] = c.adapt
      ? lr * trust(w, u, c.eta ?? 1, c.trustEps ?? 0)
      : lr;
  }
  applyRange(c.rule, k, x, 0, n);
  return [x.op, x.o0, x.o1].slice(0, 1 + RULE32_SLOTS[c.rule].length);
}

/** Bit patterns, so NaN, -0 and 0 compare exactly. */
const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

describeBackends(['cpu', 'wasm'], (backend) => {
  for (const c of CASES) {
    it(`${c.name}: the SIMD module and the reference give the same bits (n % 4 = 0..3, non-finite and overflowing gradients)`, async () => {
      for (const n of [1024, 1025, 1026, 1027, 3]) {
        const rng = createRng(n + c.name.length);
        const p = rng.fillNormal(new Float32Array(n), 0, 0.5);
        const g = rng.fillNormal(new Float32Array(n), 0, 0.01);
        const s0 = rng.fillNormal(new Float32Array(n), 0, 0.01);
        const s1 = Float32Array.from(rng.fillNormal(new Float32Array(n), 0, 1e-4), Math.abs);
        g[1] = NaN;
        g[n - 1] = -Infinity;
        if (n > 8) g[5] = 1e30; // overflows v (Adam, LAMB) or the update
        const lr = 0.01;
        const ref = reference(
          c,
          [p, g, s0, s1].map((a) => a.slice()),
          lr,
        );
        for (const impl of ['simd', 'js'] as const) {
          const pv = tf.variable(tf.tensor1d(p), false);
          const states = RULE32_SLOTS[c.rule].map((_, i) => tf.variable(tf.tensor1d(i === 0 ? s0 : s1), false));
          const gt = tf.tensor1d(g);
          const ran = fused32Step(pv, gt, states, {
            rule: c.rule,
            constants: c.k as never,
            impl,
            adapt: c.adapt,
            lr,
            eta: c.eta,
            trustEps: c.trustEps,
          });
          expect(ran).toBe(impl === 'js' ? 'js' : 'wasm-simd');
          const got = [pv, ...states].map((t) => t.dataSync() as Float32Array);
          got.forEach((a, i) => expect(bits(a), `${backend} ${impl} n ${n} output ${i}`).toEqual(bits(ref[i]!)));
          // Untouched: the element with a NaN gradient keeps its parameter and state.
          expect(got[0]![1]).toBe(p[1]);
          if (states.length > 0) expect(got[1]![1]).toBe(s0[1]);
          tf.dispose([pv, gt, ...states]);
        }
      }
    });
  }

  it('a fused step leaves no tensor behind', async () => {
    const p = tf.variable(tf.ones([64, 65]), false);
    const m = tf.variable(tf.zeros([64, 65]), false);
    const g = tf.fill([64, 65], 0.5);
    await expectNoLeaks(() => {
      fused32Step(p, g, [m], {
        rule: 'lion',
        constants: { b1: 0.9, c1: 0.1, b2: 0.99, c2: 0.01, decay: 1, lr: 0.1 },
        impl: 'auto',
      });
    });
    expect(lastFused32Kernel.kernel).toBe(backend === 'wasm' ? 'wasm-simd' : 'js');
    tf.dispose([p, m, g]);
  });
});

describeBackends(['webgpu'], () => {
  for (const c of CASES) {
    it(`${c.name}: the WGSL programs agree with the reference within float32 rounding, nothing read back`, async () => {
      for (const n of [1027, 3000]) {
        const rng = createRng(n + c.name.length);
        const p = rng.fillNormal(new Float32Array(n), 0, 0.5);
        const g = rng.fillNormal(new Float32Array(n), 0, 0.01);
        const s0 = rng.fillNormal(new Float32Array(n), 0, 0.01);
        const s1 = Float32Array.from(rng.fillNormal(new Float32Array(n), 0, 1e-4), Math.abs);
        g[1] = NaN;
        g[n - 1] = -Infinity;
        g[5] = 1e30;
        const lr = 0.01;
        const ref = reference(
          c,
          [p, g, s0, s1].map((a) => a.slice()),
          lr,
        );
        const pv = tf.variable(tf.tensor1d(p), false);
        const states = RULE32_SLOTS[c.rule].map((_, i) => tf.variable(tf.tensor1d(i === 0 ? s0 : s1), false));
        const gt = tf.tensor1d(g);
        const ran = fused32Step(pv, gt, states, {
          rule: c.rule,
          constants: c.k as never,
          impl: 'auto',
          adapt: c.adapt,
          lr,
          eta: c.eta,
          trustEps: c.trustEps,
        });
        expect(ran).toBe('wgsl');
        const got = await Promise.all([pv, ...states].map(async (t) => (await t.data()) as Float32Array));
        got.forEach((a, i) => {
          for (let j = 0; j < n; j++) {
            const want = ref[i]![j]!;
            expect(
              Math.abs(a[j]! - want),
              `${c.name} output ${i} element ${j}: ${a[j]} vs ${want}`,
            ).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(want));
          }
        });
        expect(got[0]![1]).toBe(p[1]);
        tf.dispose([pv, gt, ...states]);
      }
    });
  }
});
