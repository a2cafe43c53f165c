import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng, initBackend } from '@blockwise/tensor';
import { expectClose, expectNoLeaks } from '@blockwise/tensor/testing';
import { AdamW } from './adamw.js';
import { Adam8bit, AdamW8bit } from './adam8bit.js';
import { createDynamicMap } from './dynamicMap.js';
import { decodePackedState, packedStateLength } from './fused8bit.js';
import { dequantizeBlockwise, quantizeBlockwise } from './quantize.js';
import { optimizerStateBytes } from './stateBytes.js';
import { applyGrad, gradSequence, makeVar } from './testUtil.js';

beforeAll(async () => {
  await initBackend('cpu');
});

function packedState(
  opt: tf.Optimizer & { stateVariables(): { name: string; variable: tf.Variable }[] },
  varName: string,
): Int32Array {
  const s = opt.stateVariables().find((x) => x.name === `${varName}/q8`);
  if (!s) throw new Error(`no packed state for ${varName}`);
  return s.variable.dataSync() as Int32Array;
}

describe('AdamW8bit', () => {
  it('one fused step equals dequantize -> AdamW -> requantize done on the host', () => {
    const n = 4096 + 300; // a short last block
    const rng = createRng(11);
    const p0 = rng.fillNormal(new Float32Array(n), 0, 0.1);
    const w = makeVar(p0, [n]);
    const opt = new AdamW8bit({ learningRate: 1e-3, weightDecay: 0.01 });
    const grads = gradSequence(12, 2, n, 0.01);
    applyGrad(opt, w, grads[0]!);
    const s1 = packedState(opt, w.name).slice();
    const pBefore = Float32Array.from(w.dataSync());
    applyGrad(opt, w, grads[1]!);
    // Host reference of step t = 2 from the quantized state after step 1.
    const signed = createDynamicMap(true);
    const unsigned = createDynamicMap(false);
    const m = decodePackedState(s1, n, 2, 256, 0);
    const v = decodePackedState(s1, n, 2, 256, 1);
    const g = grads[1]!;
    const lr = 1e-3;
    const expectP = new Float64Array(n);
    const nm = new Float32Array(n);
    const nv = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      nm[i] = 0.9 * m[i]! + 0.1 * g[i]!;
      nv[i] = 0.999 * v[i]! + 0.001 * g[i]! * g[i]!;
      const denom = Math.sqrt(nv[i]!) / Math.sqrt(1 - 0.999 ** 2) + 1e-8;
      expectP[i] = pBefore[i]! * (1 - lr * 0.01) - (lr / (1 - 0.9 ** 2)) * (nm[i]! / denom);
    }
    expectClose(w.dataSync(), expectP, { atol: 1e-7, rtol: 1e-6, label: 'params' });
    const s2 = packedState(opt, w.name);
    const qm = quantizeBlockwise(nm, { blockSize: 256, map: signed });
    const qv = quantizeBlockwise(nv, { blockSize: 256, map: unsigned });
    const gotM = decodePackedState(s2, n, 2, 256, 0);
    const gotV = decodePackedState(s2, n, 2, 256, 1);
    expectClose(gotM, dequantizeBlockwise(qm, { blockSize: 256, map: signed }), { atol: 1e-9, rtol: 1e-6, label: 'm' });
    expectClose(gotV, dequantizeBlockwise(qv, { blockSize: 256, map: unsigned }), {
      atol: 1e-12,
      rtol: 1e-6,
      label: 'v',
    });
    opt.dispose();
  });

  it('tracks 32-bit AdamW under the bitsandbytes parity protocol (50 steps)', async () => {
    // bitsandbytes test_optimizer8bit: p ~ N(0, 0.1), g ~ N(0, 0.01); after every step the 32-bit
    // optimizer's states are reset to the dequantized 8-bit states and its parameter to the
    // 8-bit one, so the error measures one step of quantization, not accumulated drift.
    const shape = [64, 256];
    const n = 64 * 256;
    const p0 = createRng(21).fillNormal(new Float32Array(n), 0, 0.1);
    const w8 = makeVar(p0, shape);
    const w32 = makeVar(p0, shape);
    const opt8 = new AdamW8bit({ learningRate: 1e-3, weightDecay: 0 });
    const opt32 = new AdamW({ learningRate: 1e-3, weightDecay: 0 });
    const grads = gradSequence(22, 50, n, 0.01);
    let absSum = 0;
    let relSum = 0;
    for (const g of grads) {
      applyGrad(opt8, w8, g);
      applyGrad(opt32, w32, g);
      const a = w8.dataSync();
      const b = w32.dataSync();
      let abs = 0;
      let rel = 0;
      for (let i = 0; i < n; i++) {
        const d = Math.abs(a[i]! - b[i]!);
        abs += d;
        rel += d / (Math.abs(b[i]!) + 1e-9);
      }
      absSum += abs / n;
      relSum += rel / n;
      const st = packedState(opt8, w8.name);
      const weights = await opt32.getWeights();
      await opt32.setWeights([
        weights[0]!,
        { name: `${w32.name}/m`, tensor: tf.tensor(decodePackedState(st, n, 2, 256, 0), shape) },
        { name: `${w32.name}/v`, tensor: tf.tensor(decodePackedState(st, n, 2, 256, 1), shape) },
      ]);
      w32.assign(w8);
    }
    expect(absSum / grads.length).toBeLessThan(6e-5);
    expect(relSum / grads.length).toBeLessThan(6e-4);
    opt8.dispose();
    opt32.dispose();
  });

  it('getWeights/setWeights round-trip every state bit for bit; a resumed run equals an uninterrupted one', async () => {
    const n = 5000;
    const p0 = createRng(31).fillNormal(new Float32Array(n), 0, 0.1);
    const small0 = createRng(32).fillNormal(new Float32Array(10));
    const grads = gradSequence(33, 12, n, 0.01);
    const smallGrads = gradSequence(34, 12, 10, 0.01);
    const run = (opt: tf.Optimizer, w: tf.Variable, s: tf.Variable, from: number, to: number): void => {
      for (let k = from; k < to; k++) {
        const g = tf.tensor(grads[k]!);
        const gs = tf.tensor(smallGrads[k]!);
        opt.applyGradients({ [w.name]: g, [s.name]: gs });
        tf.dispose([g, gs]);
      }
    };
    const wA = makeVar(p0, [n], 'resume_w');
    const sA = makeVar(small0, [10], 'resume_b');
    const optA = new AdamW8bit({ learningRate: 1e-2 });
    run(optA, wA, sA, 0, 6);
    const saved = (await optA.getWeights()).map((x) => ({ name: x.name, tensor: tf.clone(x.tensor) }));
    const savedW = tf.clone(wA);
    const savedS = tf.clone(sA);
    run(optA, wA, sA, 6, 12);
    const uninterrupted = Float32Array.from(wA.dataSync());
    const uninterruptedSmall = Float32Array.from(sA.dataSync());
    const statesA = (await optA.getWeights()).map((x) => Array.from(x.tensor.dataSync()));
    optA.dispose();
    wA.dispose();
    sA.dispose();

    const wB = tf.variable(savedW, true, 'resume_w');
    const sB = tf.variable(savedS, true, 'resume_b');
    const optB = new AdamW8bit({ learningRate: 1e-2 });
    await optB.setWeights(saved);
    expect(optB.iterations).toBe(6);
    const roundTrip = await optB.getWeights();
    expect(roundTrip.map((x) => x.name)).toEqual(saved.map((x) => x.name));
    roundTrip.forEach((x, k) =>
      expect(Array.from(x.tensor.dataSync())).toEqual(Array.from(saved[k]!.tensor.dataSync())),
    );
    run(optB, wB, sB, 6, 12);
    expect(Array.from(wB.dataSync())).toEqual(Array.from(uninterrupted));
    expect(Array.from(sB.dataSync())).toEqual(Array.from(uninterruptedSmall));
    const statesB = (await optB.getWeights()).map((x) => Array.from(x.tensor.dataSync()));
    expect(statesB).toEqual(statesA);
    optB.dispose();
    tf.dispose([wB, sB, savedW, savedS, ...saved.map((x) => x.tensor)]);
  });

  it('keeps float32 state for small tensors and name-marked variables; reports real state bytes', () => {
    const big = makeVar(new Float32Array(65536), [256, 256], 'dense/kernel');
    const small = makeVar(new Float32Array(100), [100], 'dense/bias');
    const emb = makeVar(new Float32Array(8192), [1024, 8], 'stable_embedding/embeddings');
    const opt = new AdamW8bit();
    opt.applyGradients({
      [big.name]: tf.onesLike(big),
      [small.name]: tf.onesLike(small),
      [emb.name]: tf.onesLike(emb),
    });
    const names = opt
      .stateVariables()
      .map((s) => s.name)
      .sort();
    expect(names).toEqual([
      'dense/bias/m',
      'dense/bias/v',
      'dense/kernel/q8',
      'stable_embedding/embeddings/m',
      'stable_embedding/embeddings/v',
    ]);
    // 8-bit: 2 states x (65536 codes + 256 absmax x 4 bytes); float32: 2 x 4 bytes per element.
    const expected = 2 * (65536 + 256 * 4) + 2 * 4 * 100 + 2 * 4 * 8192;
    expect(optimizerStateBytes(opt)).toBe(expected);
    expect(packedStateLength(65536, 2, 256) * 4).toBe(2 * (65536 + 1024));
    opt.dispose();
    tf.dispose([big, small, emb]);
  });

  it('leaves parameters of non-finite gradient elements untouched and writes no NaN', () => {
    const n = 4096;
    const w = makeVar(createRng(41).fillNormal(new Float32Array(n)), [n]);
    const opt = new AdamW8bit({ learningRate: 0.01 });
    applyGrad(opt, w, gradSequence(42, 1, n)[0]!);
    const before = Float32Array.from(w.dataSync());
    const g = gradSequence(43, 1, n)[0]!;
    g[5] = NaN;
    g[77] = -Infinity;
    applyGrad(opt, w, g);
    const after = w.dataSync();
    expect(after[5]).toBe(before[5]);
    expect(after[77]).toBe(before[77]);
    expect(after[6]).not.toBe(before[6]);
    expect(Array.from(after).every(Number.isFinite)).toBe(true);
    const st = packedState(opt, w.name);
    expect(Array.from(decodePackedState(st, n, 2, 256, 0)).every(Number.isFinite)).toBe(true);
    opt.dispose();
  });

  it('Adam8bit adds L2 weight decay to the gradient (PyTorch Adam) and validates options', () => {
    expect(() => new Adam8bit({ blockSize: 48 })).toThrow(
      /blockSize must be a positive multiple of 32 up to 65536, got 48/,
    );
    expect(() => new AdamW8bit({ optimBits: 16 as 8 })).toThrow(/optimBits must be one of 4, 8, 32, got 16/);
    expect(() => new AdamW8bit({ beta2: 1.5 })).toThrow(/beta2/);
    // With wd = 0.5 and a zero gradient, the first Adam step sees g = 0.5 p, so every element moves
    // by about lr * sign(p) (m/sqrt(v) = sign after bias correction); AdamW8bit would move by lr*wd*p.
    const n = 4096;
    const p0 = createRng(51).fillNormal(new Float32Array(n));
    const w = makeVar(p0, [n]);
    const opt = new Adam8bit({ learningRate: 1e-3, weightDecay: 0.5 });
    applyGrad(opt, w, new Float32Array(n));
    const after = w.dataSync();
    for (const i of [0, 100, 4000]) expect(after[i]!).toBeCloseTo(p0[i]! - 1e-3 * Math.sign(p0[i]!), 5);
    opt.dispose();
  });

  it('keeps tf.memory stable across steps', async () => {
    const w = makeVar(new Float32Array(8192), [8192]);
    const opt = new AdamW8bit();
    const g = tf.randomNormal([8192]);
    opt.applyGradients({ [w.name]: g });
    await expectNoLeaks(() => {
      for (let k = 0; k < 3; k++) opt.applyGradients({ [w.name]: g });
    });
    g.dispose();
    opt.dispose();
  });
});
