import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng, initBackend } from '@blockwise/tensor';
import { AdamW8bit } from './adam8bit.js';
import { Lion } from './lion.js';

beforeAll(async () => {
  await initBackend('cpu');
});

function data(): { x: tf.Tensor2D; y: tf.Tensor2D } {
  // y = x W* for a fixed W*: a regression the model can fit.
  const rng = createRng(5);
  const x = rng.normalTensor([128, 16]) as tf.Tensor2D;
  const w = rng.normalTensor([16, 4]);
  const y = tf.matMul(x, w) as tf.Tensor2D;
  w.dispose();
  return { x, y };
}

function model(): tfl.Sequential {
  const m = tfl.sequential();
  // 16 x 512 = 8192 weights: above 4096, so the kernel gets 8-bit state.
  m.add(
    tfl.layers.dense({
      units: 512,
      inputShape: [16],
      activation: 'relu',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
    }),
  );
  m.add(tfl.layers.dense({ units: 4, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
  return m;
}

describe('tfjs-layers integration', () => {
  it('model.compile({ optimizer: new AdamW8bit() }) trains, and save/load keeps the optimizer and its state', async () => {
    const { x, y } = data();
    const m = model();
    m.compile({ optimizer: new AdamW8bit({ learningRate: 1e-2 }), loss: 'meanSquaredError' });
    const h = await m.fit(x, y, { epochs: 8, batchSize: 32, verbose: 0, shuffle: false });
    const losses = h.history.loss as number[];
    expect(losses[losses.length - 1]!).toBeLessThan(0.5 * losses[0]!);
    const opt = m.optimizer as AdamW8bit;
    expect(opt.stateVariables().some((s) => s.name.endsWith('/q8'))).toBe(true);

    let saved: tf.io.ModelArtifacts | undefined;
    await m.save(
      tf.io.withSaveHandler(async (a) => {
        saved = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
      { includeOptimizer: true },
    );
    expect(saved).toBeDefined();
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
    const lo = loaded.optimizer as AdamW8bit;
    expect(lo).toBeInstanceOf(AdamW8bit);
    expect(lo.getConfig()).toEqual(opt.getConfig());
    const before = await opt.getWeights();
    const after = await lo.getWeights();
    expect(after.map((w) => w.name)).toEqual(before.map((w) => w.name));
    after.forEach((w, k) => expect(Array.from(w.tensor.dataSync())).toEqual(Array.from(before[k]!.tensor.dataSync())));
    tf.dispose([x, y]);
    m.dispose();
    loaded.dispose();
  });

  it('takes a schedule for the learning rate inside model.fit', async () => {
    const { x, y } = data();
    const m = model();
    const seen: number[] = [];
    m.compile({
      optimizer: new Lion({ learningRate: (s) => (seen.push(s), 1e-3 / (1 + s)) }),
      loss: 'meanSquaredError',
    });
    await m.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0 });
    expect(seen.slice(0, 4)).toEqual([0, 1, 2, 3]);
    tf.dispose([x, y]);
    m.dispose();
  });
});

describe('StableEmbedding', () => {
  it('normalizes each looked-up vector and gets float32 state from AdamW8bit', async () => {
    const { StableEmbedding } = await import('./stableEmbedding.js');
    const m = tfl.sequential();
    m.add(new StableEmbedding({ inputDim: 1000, outputDim: 8, inputShape: [3] }));
    m.add(tfl.layers.flatten());
    m.add(tfl.layers.dense({ units: 1 }));
    const ids = tf.tensor2d([
      [1, 2, 3],
      [999, 0, 5],
    ]);
    const emb = m.layers[0]!.apply(ids) as tf.Tensor;
    expect(emb.shape).toEqual([2, 3, 8]);
    // Layer norm with gamma = 1, beta = 0: each vector has mean 0 and variance v / (v + eps),
    // v the variance of the raw embedding row.
    const w = m.layers[0]!.getWeights()[0]!;
    const raw = tf
      .moments(
        tf.gather(
          w,
          tf.tensor2d(
            [
              [1, 2, 3],
              [999, 0, 5],
            ],
            undefined,
            'int32',
          ),
        ),
        -1,
      )
      .variance.dataSync();
    const { mean, variance } = tf.moments(emb, -1);
    mean.dataSync().forEach((v) => expect(Math.abs(v)).toBeLessThan(1e-5));
    variance.dataSync().forEach((v, k) => expect(v).toBeCloseTo(raw[k]! / (raw[k]! + 1e-5), 4));
    // Xavier uniform: |w| <= sqrt(6 / (1000 + 8)).
    expect(w.shape).toEqual([1000, 8]);
    expect(tf.max(tf.abs(w)).dataSync()[0]!).toBeLessThanOrEqual(Math.sqrt(6 / 1008) + 1e-7);
    const opt = new AdamW8bit();
    m.compile({ optimizer: opt, loss: 'meanSquaredError' });
    await m.fit(ids, tf.tensor2d([[1], [0]]), { epochs: 1, verbose: 0 });
    const names = opt.stateVariables().map((s) => s.name);
    // 8000 embedding weights would be quantized by size, but the name keeps them float32.
    expect(names.some((n) => /stable_embedding.*embeddings\/m$/.test(n))).toBe(true);
    expect(names.some((n) => n.endsWith('/q8'))).toBe(false);
    expect(() => new StableEmbedding({ inputDim: 0, outputDim: 4 })).toThrow(
      /inputDim must be a positive integer, got 0/,
    );
    m.dispose();
  });
});
