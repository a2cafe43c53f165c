import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { expectClose, useBackend } from '@blockwise/tensor/testing';
import { convOutputSize, im2col } from './conv.js';
import { collectCalibration } from './collect.js';
import { applyMasks } from './prune-model.js';
import { pruneICBS, pruneMagnitude, pruneWanda } from './prune-methods.js';
import { resolveTargets } from './targets.js';

useBackend('cpu');

function convModel(
  seed: number,
  conv: { padding: 'same' | 'valid'; strides: number; dilationRate: number },
): tfl.LayersModel {
  const rng = createRng(seed);
  const m = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [7, 6, 3],
        filters: 5,
        kernelSize: [3, 2],
        activation: 'relu',
        name: 'conv',
        ...conv,
      }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 4, name: 'head' }),
    ],
  });
  for (const l of m.layers) {
    const ws = l.getWeights().map((w) => tf.tensor(rng.fillNormal(new Float32Array(w.size), 0, 0.5), w.shape));
    if (ws.length) l.setWeights(ws);
    tf.dispose(ws);
  }
  return m;
}

describe('Conv2D targets', () => {
  for (const conv of [
    { padding: 'same', strides: 1, dilationRate: 1 },
    { padding: 'valid', strides: 2, dilationRate: 1 },
    { padding: 'same', strides: 2, dilationRate: 1 },
    { padding: 'valid', strides: 1, dilationRate: 2 },
  ] as const) {
    it(`im2col patches times the flattened kernel equal the convolution (${JSON.stringify(conv)})`, async () => {
      const model = convModel(1, conv);
      const layer = model.getLayer('conv');
      const x = createRng(2).normalTensor([2, 7, 6, 3]);
      const [k, b] = layer.getWeights();
      const want = tf.tidy(() =>
        tf.add(
          tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, conv.strides, conv.padding, 'NHWC', conv.dilationRate),
          b!,
        ),
      );
      const t = resolveTargets(model, 'conv')[0]!;
      expect([t.inDim, t.outDim]).toEqual([18, 5]);
      const p = im2col(x.dataSync() as Float32Array, [2, 7, 6, 3], t.conv!);
      expect([p.outH, p.outW]).toEqual(want.shape.slice(1, 3));
      expect(p.rows).toBe(2 * p.outH * p.outW);
      expect(t.rowsPerSample).toBe(p.outH * p.outW);
      const got = tf.tidy(() => tf.add(tf.matMul(tf.tensor2d(p.data, [p.rows, 18]), tf.reshape(k!, [18, 5])), b!));
      expectClose(got, tf.reshape(want, [-1, 5]), { atol: 1e-4, rtol: 1e-4 });
      tf.dispose([x, want, got]);
    });
  }

  it('convOutputSize by hand: 7x6 input, 3x2 kernel, valid, stride 2 -> ceil(5/2) x ceil(5/2) = 3x3', async () => {
    expect(
      convOutputSize(7, 6, { kh: 3, kw: 2, strideH: 2, strideW: 2, dilationH: 1, dilationW: 1, padding: 'valid' }),
    ).toEqual([3, 3]);
  });

  it('calibration Gram of a conv layer is P^T P over its patches; pruning works on conv kernels', async () => {
    const model = convModel(3, { padding: 'same', strides: 1, dilationRate: 1 });
    const x = createRng(4).normalTensor([6, 7, 6, 3]);
    const stats = await collectCalibration(model, x, { layers: ['conv'], batchSize: 4 });
    const p = im2col(x.dataSync() as Float32Array, [6, 7, 6, 3], resolveTargets(model, 'conv')[0]!.conv!);
    const g = tf.tidy(() => {
      const pt = tf.tensor2d(p.data, [p.rows, 18]);
      return tf.matMul(pt, pt, true, false).dataSync();
    });
    expect(stats.get('conv')!.count).toBe(6 * 42);
    expectClose(stats.get('conv')!.gram!, g, { atol: 1e-3, rtol: 1e-4 });

    const w = await pruneWanda(model, { density: 0.25, calibration: x });
    const m = w.masks.conv!.mask;
    for (let j = 0; j < 5; j++) {
      let kept = 0;
      for (let i = 0; i < 18; i++) kept += m[i * 5 + j]!;
      expect(kept).toBe(18 - Math.floor(18 * 0.75));
    }
    const k = model.getLayer('conv').getWeights()[0]!;
    expect(k.shape).toEqual([3, 2, 3, 5]);
    const kd = k.dataSync();
    m.forEach((v, i) => v === 0 && expect(kd[i]).toBe(0));

    const ic = await pruneICBS(convModel(3, { padding: 'same', strides: 1, dilationRate: 1 }), {
      density: 0.25,
      calibration: x,
      steps: 40,
      blockSize: 8,
    });
    expect(ic.details!.conv!.objective!).toBeLessThanOrEqual(ic.details!.conv!.initialObjective!);
    expect(ic.layers.map((l) => l.density)).toEqual(w.layers.map((l) => l.density));
    const mm = convModel(5, { padding: 'valid', strides: 1, dilationRate: 1 });
    const r = await pruneMagnitude(mm, { density: 0.5, layers: 'conv' });
    applyMasks(mm, r.masks);
    expect(r.layers[0]!.shape).toEqual([18, 5]);
    x.dispose();
  });
});
