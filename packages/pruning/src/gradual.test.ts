import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { useBackend } from '@blockwise/tensor/testing';
import { linearSchedule } from '@blockwise/schedules';
import { createGradualPruner, polynomialDensitySchedule } from './gradual.js';
import { smallModel } from './modeltest.js';

useBackend('cpu');

describe('polynomialDensitySchedule', () => {
  it('follows Zhu & Gupta: s_t = s_f + (s_i - s_f)(1 - (t - t0)/n)^3', () => {
    const d = polynomialDensitySchedule({ finalDensity: 0.2, startStep: 10, endStep: 20 });
    // s_i = 0, s_f = 0.8; at t = 15: 0.8 + (0 - 0.8) * 0.5^3 = 0.7 -> density 0.3.
    expect(d(15)).toBeCloseTo(0.3, 12);
    expect(d(0)).toBe(1);
    expect(d(10)).toBe(1);
    expect(d(20)).toBeCloseTo(0.2, 12);
    expect(d(99)).toBeCloseTo(0.2, 12);
    expect(() => polynomialDensitySchedule({ finalDensity: 1.5, endStep: 3 })).toThrow(
      /finalDensity must be a number in \[0, 1\]/,
    );
    expect(() => polynomialDensitySchedule({ finalDensity: 0.5, startStep: 5, endStep: 5 })).toThrow(
      /endStep must be an integer > startStep = 5/,
    );
  });
});

describe('createGradualPruner', () => {
  it('prunes along the ramp during fit, re-applies masks after every step, finalizes at the final density', async () => {
    const { model, x, y } = smallModel();
    model.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
    const pruner = createGradualPruner(model, { finalDensity: 0.25, endStep: 6, frequency: 2 });
    const seen: number[] = [];
    await model.fit(x, y, {
      epochs: 1,
      batchSize: 8,
      verbose: 0,
      callbacks: [pruner.callback(), { onBatchEnd: async () => void seen.push(pruner.density) }],
    });
    expect(seen.length).toBe(8);
    // Density never increases, reaches the final value at step 6, then holds.
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeLessThanOrEqual(seen[i - 1]! + 1e-12);
    expect(seen[7]).toBeCloseTo(0.25, 2);
    // Pruned weights are zero after each optimizer step.
    const k = model.getLayer('hidden1').getWeights()[0]!.dataSync();
    (await pruner.readMasks())!.hidden1!.mask.forEach((m, i) => m === 0 && expect(Math.abs(k[i]!)).toBe(0));
    const final = await pruner.finalize();
    expect(pruner.density).toBeCloseTo(
      (192 - Math.floor(192 * 0.75) + 96 - Math.floor(96 * 0.75) + 32 - Math.floor(32 * 0.75)) / 320,
      12,
    ); // still known after finalize
    expect(final.hidden2!.mask.reduce((s, v) => s + v, 0)).toBe(96 - Math.floor(96 * 0.75));
    expect(() => pruner.step()).toThrow(/already finalized/);
    // A sparsity schedule from @blockwise/schedules works as well: linear 0 -> 0.5 over 4 steps.
    const p2 = createGradualPruner(smallModel(3).model, {
      finalDensity: 0.5,
      endStep: 4,
      sparsitySchedule: linearSchedule({ initValue: 0, endValue: 0.5, transitionSteps: 4 }),
    });
    p2.step(2);
    expect(p2.density).toBeCloseTo(
      1 - (Math.floor(192 * 0.25) + Math.floor(96 * 0.25) + Math.floor(32 * 0.25)) / 320,
      12,
    );
    expect(() =>
      createGradualPruner(smallModel(3).model, {
        finalDensity: 0.5,
        endStep: 4,
        schedule: () => 1,
        sparsitySchedule: () => 0,
      }),
    ).toThrow(/not both/);
    tf.dispose([x, y]);
  });
});
