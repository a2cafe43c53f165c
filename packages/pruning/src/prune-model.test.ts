import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectNoLeaks, useBackend } from '@blockwise/tensor/testing';
import { collectCalibration } from './collect.js';
import { maskDensity } from './matrix.js';
import { smallModel } from './modeltest.js';
import { applyMasks, type PruneModelOptions } from './prune-model.js';
import { pruneICBS, pruneMagnitude, pruneSparseGPT, pruneWanda } from './prune-methods.js';

useBackend('cpu');

const kernel = (m: tfl.LayersModel, name: string): Float32Array =>
  m.getLayer(name).getWeights()[0]!.dataSync() as Float32Array;

describe('collectCalibration', () => {
  it('first-layer Gram is X^T X; second layer sees relu(X W1 + b1)', async () => {
    const { model, x } = smallModel();
    const stats = await collectCalibration(model, x, { batchSize: 10 });
    const g1 = tf.tidy(() => tf.matMul(x, x, true, false).dataSync());
    const s1 = stats.get('hidden1')!;
    expect(s1.count).toBe(64);
    s1.gram!.forEach((v, i) => expect(v).toBeCloseTo(g1[i]!, 2));
    const h = model.getLayer('hidden1').apply(x) as tf.Tensor;
    const g2 = tf.matMul(h, h, true, false).dataSync();
    stats.get('hidden2')!.gram!.forEach((v, i) => expect(v).toBeCloseTo(g2[i]!, 2));
    tf.dispose([h, x]);
  });

  it('errors: wrong calibration shape, no matching layer, memory bound', async () => {
    const { model, x } = smallModel();
    const bad = tf.zeros([5, 15]);
    await expect(collectCalibration(model, bad)).rejects.toThrow(
      /calibration must have shape \[n, 16\] .* got \[5, 15\]/,
    );
    await expect(collectCalibration(model, x, { layers: /conv/ })).rejects.toThrow(
      /pattern \/conv\/ matches no Dense or Conv2D layer; Dense or Conv2D layers of this model: hidden1, hidden2, logits/,
    );
    await expect(collectCalibration(model, x, { layers: ['hidden9'] })).rejects.toThrow(/no layer named 'hidden9'/);
    await expect(collectCalibration(model, x, { maxGramBytes: 1000 })).rejects.toThrow(
      /need 3712 bytes, over the bound 1000/,
    ); // 8 * (16^2 + 12^2 + 8^2);
    tf.dispose([bad, x]);
  });
});

describe('model-level pruning', () => {
  it('sparsity 0 leaves every weight unchanged, for every method', async () => {
    const icbs = (m: tfl.LayersModel, o: PruneModelOptions) => pruneICBS(m, { ...o, steps: 5 });
    for (const prune of [pruneMagnitude, pruneWanda, pruneSparseGPT, icbs]) {
      const { model, x } = smallModel();
      const before = model.getWeights().map((w) => Array.from(w.dataSync()));
      const r = await prune(model, { sparsity: 0, calibration: x });
      expect(r.density).toBe(1);
      model.getWeights().forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(before[i]));
      x.dispose();
    }
  });

  it('magnitude: exact densities per layer, zeros where masked, bias untouched, global scope', async () => {
    const { model, x } = smallModel();
    const bias = Array.from(model.getLayer('hidden1').getWeights()[1]!.dataSync());
    const r = await pruneMagnitude(model, { density: { hidden1: 0.5, hidden2: 0.25, logits: 1 } });
    expect(r.layers.map((l) => l.density)).toEqual([96 / 192, 24 / 96, 1]);
    const k = kernel(model, 'hidden1');
    r.masks.hidden1!.mask.forEach((m, i) => m === 0 && expect(k[i]).toBe(0));
    expect(Array.from(model.getLayer('hidden1').getWeights()[1]!.dataSync())).toEqual(bias);
    expect(r.measuredLossChange).toBeNull();
    const g = await pruneMagnitude(smallModel(2).model, { density: 0.2, scope: 'global' });
    expect(g.density).toBeCloseTo(1 - Math.floor(320 * 0.8) / 320, 12);
    x.dispose();
  });

  it('Wanda: every output unit keeps exactly the same count; N:M groups exact; no leaks', async () => {
    const { model, x } = smallModel();
    const r = await expectNoLeaks(() => pruneWanda(model, { density: 0.25, calibration: x, layers: /hidden/ }));
    expect(r.layers.map((l) => l.name)).toEqual(['hidden1', 'hidden2']);
    const m = r.masks.hidden1!.mask;
    for (let j = 0; j < 12; j++) {
      let zeros = 0;
      for (let i = 0; i < 16; i++) zeros += m[i * 12 + j] ? 0 : 1;
      expect(zeros).toBe(12); // floor(16 * 0.75)
    }
    expect(r.measure).toBe('outputMSE');
    expect(r.measuredLossChange).toBeGreaterThan(0);
    const icnm = await pruneICBS(smallModel().model, { nm: { n: 2, m: 4 }, calibration: x, steps: 30 });
    for (const l of icnm.layers) expect(l.density).toBe(0.5);
    for (const d of Object.values(icnm.details!)) expect(d.objective!).toBeLessThanOrEqual(d.initialObjective!);
    const nm = await pruneWanda(smallModel().model, { nm: { n: 2, m: 4 }, calibration: x });
    const k = nm.masks.hidden2!.mask; // [12, 8]
    for (let j = 0; j < 8; j++)
      for (let g = 0; g < 12; g += 4) {
        let zeros = 0;
        for (let i = g; i < g + 4; i++) zeros += k[i * 8 + j] ? 0 : 1;
        expect(zeros).toBe(2);
      }
    x.dispose();
  });

  it('iCBS never does worse than its Wanda start on the first layer; SparseGPT beats Wanda there', async () => {
    const { x, y } = smallModel();
    const loss = (a: tf.Tensor, b: tf.Tensor) => tfl.metrics.categoricalCrossentropy(a, tf.softmax(b));
    const w = await pruneWanda(smallModel().model, { density: 0.3, calibration: x });
    const ic = await pruneICBS(smallModel().model, {
      density: 0.3,
      calibration: { x, y },
      loss,
      steps: 80,
      blockSize: 8,
    });
    const sg = await pruneSparseGPT(smallModel().model, { density: 0.3, calibration: x });
    expect(ic.layers.map((l) => l.density)).toEqual(w.layers.map((l) => l.density));
    expect(ic.layers[0]!.estimatedLossChange!).toBeLessThan(w.layers[0]!.estimatedLossChange!);
    expect(ic.details!.hidden1!.objective).toBeCloseTo(ic.layers[0]!.estimatedLossChange!, 4);
    expect(sg.layers[0]!.estimatedLossChange!).toBeLessThan(w.layers[0]!.estimatedLossChange!);
    expect(ic.measure).toBe('loss');
    const gr = await pruneICBS(smallModel().model, {
      density: 0.3,
      calibration: { x, y },
      loss,
      steps: 20,
      gradient: true,
    });
    expect(gr.details!.logits!.objective!).toBeLessThanOrEqual(gr.details!.logits!.initialObjective!);
    tf.dispose([x, y]);
  });

  it('SparseGPT and iCBS leak no tensors; iCBS time budget is honoured', async () => {
    const { model, x, y } = smallModel();
    await expectNoLeaks(() => pruneSparseGPT(model, { density: 0.5, calibration: x }));
    const loss = (a: tf.Tensor, b: tf.Tensor) => tfl.metrics.categoricalCrossentropy(a, tf.softmax(b));
    const m2 = smallModel().model;
    const r = await expectNoLeaks(() =>
      pruneICBS(m2, { density: 0.5, calibration: { x, y }, loss, timeBudgetMs: 60, gradient: true }),
    );
    expect(r.measure).toBe('loss');
    expect(Object.values(r.details!).every((d) => d.steps! >= 0)).toBe(true);
    tf.dispose([x, y]);
  });

  it('bad input: clear errors', async () => {
    const { model, x } = smallModel();
    await expect(pruneWanda(model, { density: 0.5 })).rejects.toThrow(/pruneWanda: calibration is required/);
    await expect(pruneMagnitude(model, { density: 1.2 })).rejects.toThrow(
      /pruneMagnitude: density must be a number in \[0, 1\] .*got 1.2/,
    );
    await expect(pruneMagnitude(model, { density: 0.5, layers: 'conv1' })).rejects.toThrow(/no layer named 'conv1'/);
    await expect(pruneWanda(model, { nm: { n: 4, m: 4 }, calibration: x })).rejects.toThrow(
      /nm.n must be an integer with 1 <= n < m = 4, got 4/,
    );
    await expect(pruneWanda(model, { density: 0.5, calibration: tf.zeros([3, 4]) })).rejects.toThrow(
      /calibration must have shape \[n, 16\]/,
    );
    await expect(pruneMagnitude(model, { density: { hidden1: 0.5 } })).rejects.toThrow(
      /density has no entry for layer 'hidden2'/,
    );
    await expect(pruneICBS(model, { density: 0.5, calibration: x, gradient: true })).rejects.toThrow(
      /gradient: true needs calibration \{ x, y \} and a loss/,
    );
    x.dispose();
  });

  it('issue 14: null options, misspelt names, wrong types and bad batch sizes throw naming them', async () => {
    const { model, x } = smallModel();
    await expect(pruneMagnitude(model, null as never)).rejects.toThrow(
      /pruneMagnitude: options must be an object, got null/,
    );
    await expect(pruneMagnitude(model, undefined as never)).rejects.toThrow(/pruneMagnitude: options are required/);
    await expect(pruneICBS(model, { density: 0.5, calibration: x, step: 5 } as never)).rejects.toThrow(
      /pruneICBS: unknown option "step"; did you mean "steps"\?/,
    );
    await expect(pruneWanda(model, { density: 0.5, calibration: x, batchsize: 8 } as never)).rejects.toThrow(
      /unknown option "batchsize"; did you mean "batchSize"\?/,
    );
    await expect(pruneWanda(model, { density: 0.5, calibration: x, batchSize: 0 })).rejects.toThrow(
      /pruneWanda: batchSize must be an integer >= 1 <= 1048576, got 0/,
    );
    await expect(pruneWanda(model, { density: 0.5, calibration: x, batchSize: 1.5 })).rejects.toThrow(
      /pruneWanda: batchSize must be an integer .*got 1.5/,
    );
    await expect(pruneWanda(model, { density: 0.5, calibration: x, sequential: 'yes' as never })).rejects.toThrow(
      /pruneWanda: sequential must be true or false, got "yes"/,
    );
    await expect(pruneSparseGPT(model, { density: 0.5, calibration: x, damp: Infinity })).rejects.toThrow(
      /pruneSparseGPT: damp must be a finite number >= 0, got Infinity/,
    );
    await expect(pruneICBS(model, { density: 0.5, calibration: x, timeBudgetMs: 1e12 })).rejects.toThrow(
      /pruneICBS: timeBudgetMs must be .*<= 86400000/,
    );
    await expect(collectCalibration(model, x, { batchSize: 0 })).rejects.toThrow(
      /collectCalibration: batchSize must be/,
    );
    await expect(collectCalibration(model, x, { gramm: false } as never)).rejects.toThrow(
      /unknown option "gramm"; did you mean "gram"\?/,
    );
    x.dispose();
  });

  it('biasCorrection keeps the mean pre-activation of the first layer on the calibration set', async () => {
    const { model, x } = smallModel();
    const pre = (m: tfl.LayersModel) =>
      tf.tidy(() => {
        const [k, b] = m.getLayer('hidden1').getWeights();
        return tf.mean(tf.add(tf.matMul(x, k!), b!), 0).dataSync();
      });
    const dense = pre(model);
    await pruneWanda(model, { density: 0.25, calibration: x, biasCorrection: true, layers: ['hidden1'] });
    pre(model).forEach((v, j) => expect(v).toBeCloseTo(dense[j]!, 4));
    const plain = smallModel().model;
    await pruneWanda(plain, { density: 0.25, calibration: x, layers: ['hidden1'] });
    expect(Array.from(pre(plain)).some((v, j) => Math.abs(v - dense[j]!) > 1e-2)).toBe(true);
    x.dispose();
  });

  it('applyMasks re-applies masks after the weights change', async () => {
    const { model } = smallModel();
    const r = await pruneMagnitude(model, { density: 0.5 });
    const l = model.getLayer('hidden1');
    const ws = l.getWeights();
    const ones = tf.onesLike(ws[0]!);
    l.setWeights([ones, ws[1]!]);
    applyMasks(model, r.masks);
    expect(maskDensity(Uint8Array.from(kernel(model, 'hidden1'), (v) => (v !== 0 ? 1 : 0)))).toBe(0.5);
    ones.dispose();
  });
});
