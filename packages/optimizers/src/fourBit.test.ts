import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng, initBackend } from '@blockwise/tensor';
import { AdamW } from './adamw.js';
import { AdamW8bit } from './adam8bit.js';
import { fourBitMaps, nearest16 } from './fourBit.js';
import { decodePackedState } from './fused8bit.js';
import { nearestCode } from './quantize.js';
import { optimizerStateBytes } from './stateBytes.js';
import { applyGrad, gradSequence, makeVar } from './testUtil.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('4-bit maps', () => {
  it('signed: bitsandbytes create_dynamic_map(True, 3, 4); unsigned: the same without zero', () => {
    const { signed, unsigned } = fourBitMaps();
    // Hand-derived: decades 1e-2, 1e-1, 1 hold the midpoints of linspace(0.1, 1, 2^i + 1):
    // 0.55e-2; 0.325e-1, 0.775e-1; 0.2125, 0.4375, 0.6625, 0.8875; plus 0 and 1.
    const pos = [0.0055, 0.0325, 0.0775, 0.2125, 0.4375, 0.6625, 0.8875];
    const expected = [...pos.map((v) => -v).reverse(), 0, ...pos, 1];
    expect(Array.from(signed).map((v) => Number(v.toFixed(6)))).toEqual(expected);
    expect(unsigned[0]!).toBeGreaterThan(0);
    expect(unsigned[14]).toBe(1);
    expect(unsigned[15]).toBe(1);
  });

  it('nearest16 agrees with a 256-entry search over the same values', () => {
    const { signed } = fourBitMaps();
    const padded = new Float32Array(256).fill(1);
    padded.set(signed);
    const rng = createRng(4);
    for (let k = 0; k < 2000; k++) {
      const x = Math.fround(rng.uniform(-1.1, 1.1));
      expect(signed[nearest16(signed, x)]).toBe(padded[nearestCode(padded, x)]);
    }
  });
});

describe('AdamW8bit with optimBits 4', () => {
  it('stores 0.5 byte per state element plus one float32 per block of 128', () => {
    const w = makeVar(new Float32Array(65536), [256, 256], 'four/kernel');
    const opt = new AdamW8bit({ optimBits: 4 });
    expect(opt.blockSize).toBe(128);
    opt.applyGradients({ [w.name]: tf.onesLike(w) });
    expect(opt.stateVariables().map((s) => s.name)).toEqual(['four/kernel/q4']);
    expect(optimizerStateBytes(opt)).toBe(2 * (65536 / 2 + (65536 / 128) * 4));
    opt.dispose();
  });

  it('tracks float32 AdamW under the parity protocol and trains a regression as well', async () => {
    const shape = [32, 256];
    const n = 32 * 256;
    const p0 = createRng(7).fillNormal(new Float32Array(n), 0, 0.1);
    const w4 = makeVar(p0, shape);
    const w32 = makeVar(p0, shape);
    const o4 = new AdamW8bit({ optimBits: 4, learningRate: 1e-3, weightDecay: 0 });
    const o32 = new AdamW({ learningRate: 1e-3, weightDecay: 0 });
    let abs = 0;
    const steps = 10;
    for (const g of gradSequence(8, steps, n, 0.01)) {
      applyGrad(o4, w4, g);
      applyGrad(o32, w32, g);
      const a = w4.dataSync();
      const b = w32.dataSync();
      for (let i = 0; i < n; i++) abs += Math.abs(a[i]! - b[i]!) / n / steps;
      const st = o4.stateVariables()[0]!.variable.dataSync() as Int32Array;
      const ws = await o32.getWeights();
      await o32.setWeights([
        ws[0]!,
        { name: `${w32.name}/m`, tensor: tf.tensor(decodePackedState(st, n, 2, 128, 0, 4), shape) },
        { name: `${w32.name}/v`, tensor: tf.tensor(decodePackedState(st, n, 2, 128, 1, 4), shape) },
      ]);
      w32.assign(w4);
    }
    expect(abs).toBeLessThan(6e-5);
    o4.dispose();
    o32.dispose();

    // Least squares y = X w* from w = 0 (initial loss about 64): 4-bit AdamW must take the loss
    // below 1% of where it started. (Near the optimum its coarse first moment plateaus well above
    // float32 AdamW, which reaches about 2e-3 here: 4 bits are for big models' long runs.)
    const rng = createRng(9);
    const x = rng.normalTensor([256, 64]);
    const y = tf.matMul(x, rng.normalTensor([64, 64]));
    const train = (opt: tf.Optimizer): number => {
      const w = tf.variable(tf.zeros([64, 64]));
      let loss = 0;
      for (let k = 0; k < 150; k++) {
        const l = opt.minimize(() => tf.mean(tf.square(tf.sub(tf.matMul(x, w), y))) as tf.Scalar, true)!;
        loss = l.dataSync()[0]!;
        l.dispose();
      }
      w.dispose();
      return loss;
    };
    const l0 = tf.tidy(() => tf.mean(tf.square(y)).dataSync()[0]!);
    const l4 = train(new AdamW8bit({ optimBits: 4, learningRate: 0.05, weightDecay: 0 }));
    expect(l4).toBeLessThan(0.01 * l0);
    tf.dispose([x, y]);
  });
});
