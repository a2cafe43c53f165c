import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng, initBackend } from '@blockwise/tensor';
import { expectNoLeaks } from '@blockwise/tensor/testing';
import { Adam8bit, AdamW8bit } from './adam8bit.js';
import { AdamW } from './adamw.js';
import { LAMB, LAMB8bit } from './lamb.js';
import { LARS } from './lars.js';
import { Lion, Lion8bit } from './lion.js';
import { Momentum8bit } from './momentum8bit.js';
import { Muon } from './muon.js';

const cases: [string, () => tf.Optimizer][] = [
  ['AdamW', () => new AdamW({ learningRate: 2e-3, weightDecay: 0.2 })],
  ['Adam8bit', () => new Adam8bit({ blockSize: 128, minQuantizedSize: 100 })],
  ['AdamW8bit', () => new AdamW8bit({ optimBits: 32, float32StatePatterns: ['emb'] })],
  ['Lion', () => new Lion({ beta2: 0.98 })],
  ['Lion8bit', () => new Lion8bit({ weightDecay: 0.1 })],
  ['Momentum8bit', () => new Momentum8bit({ nesterov: true, momentum: 0.8 })],
  ['LAMB', () => new LAMB({ excludeFromWeightDecay: ['bias'], excludeFromLayerAdaptation: ['norm'] })],
  ['LAMB8bit', () => new LAMB8bit({ weightDecay: 0.01 })],
  ['LARS', () => new LARS({ eeta: 0.002, excludeFromWeightDecay: ['gamma'] })],
  [
    'Muon',
    () =>
      new Muon({
        nsSteps: 4,
        adjustLrFn: 'match_rms_adamw',
        adamw: { learningRate: 3e-4 },
        adamwPatterns: ['head'],
        noiseAdaptive: { beta: 0.8 },
      }),
  ],
];

describe('tfjs serialization of every optimizer', () => {
  for (const [name, make] of cases) {
    it(`${name}: registered, and fromConfig(getConfig()) gives the same config`, () => {
      const opt = make() as tf.Optimizer & { getConfig(): tf.serialization.ConfigDict };
      const cls = tf.serialization.SerializationMap.getMap().classNameMap[name];
      expect(cls, `${name} registered`).toBeDefined();
      const cfg = opt.getConfig();
      // classNameMap holds [constructor, fromConfig], what tfjs-layers calls when it loads.
      const [ctor, fromConfig] = cls as unknown as [
        unknown,
        (c: unknown, cfg: tf.serialization.ConfigDict) => { getConfig(): tf.serialization.ConfigDict },
      ];
      const back = fromConfig(ctor, cfg);
      expect(back.getConfig()).toEqual(cfg);
      // JSON survives too (what model.save writes).
      expect(JSON.parse(JSON.stringify(cfg))).toEqual(cfg);
      opt.dispose();
    });
  }
});

describe('no tensor leaks in any optimizer', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });
  for (const [name, make] of cases) {
    it(`${name}: tf.memory().numTensors is stable across steps`, async () => {
      const rng = createRng(3);
      const w = tf.variable(rng.normalTensor([64, 80]), true, `leak_${name}_kernel`);
      const b = tf.variable(rng.normalTensor([80]), true, `leak_${name}_bias`);
      const grads = { [w.name]: rng.normalTensor([64, 80], 0, 0.01), [b.name]: rng.normalTensor([80], 0, 0.01) };
      const opt = make();
      opt.applyGradients(grads);
      opt.applyGradients(grads);
      await expectNoLeaks(() => {
        for (let k = 0; k < 3; k++) opt.applyGradients(grads);
      }, name);
      expect(Array.from(w.dataSync()).every(Number.isFinite)).toBe(true);
      opt.dispose();
      tf.dispose([w, b, ...Object.values(grads)]);
    });
  }
});
