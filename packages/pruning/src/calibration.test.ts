import { describe, expect, it } from 'vitest';
import { expectClose } from '@blockwise/tensor/testing';
import {
  accumulateLayerStats,
  createLayerStats,
  inputNorms,
  layerHessian,
  layerStatsFromInputs,
  reconstructionError,
} from './calibration.js';

describe('layer statistics', () => {
  // X = [[1, 2], [3, -1], [0, 4]]: X^T X = [[1+9+0, 2-3+0], [2-3+0, 4+1+16]] = [[10, -1], [-1, 21]].
  const x = new Float32Array([1, 2, 3, -1, 0, 4]);

  it('Gram matrix and column norms by hand', () => {
    const s = layerStatsFromInputs(x, 3, 2);
    expect(Array.from(s.gram!)).toEqual([10, -1, -1, 21]);
    expect(Array.from(s.sqNorms)).toEqual([10, 21]);
    expect(inputNorms(s)[1]).toBeCloseTo(Math.sqrt(21), 12);
    expectClose(layerHessian(s), [10 / 3, -1 / 3, -1 / 3, 7], { atol: 1e-15, rtol: 1e-14 });
  });

  it('accumulating in batches equals one pass', () => {
    const s = createLayerStats(2);
    accumulateLayerStats(s, x.subarray(0, 2), 1);
    accumulateLayerStats(s, x.subarray(2), 2);
    expect(Array.from(s.gram!)).toEqual([10, -1, -1, 21]);
    expect(s.count).toBe(3);
  });

  it('reconstructionError is the mean squared change of the outputs', () => {
    const s = layerStatsFromInputs(x, 3, 2);
    // One output unit, W = [1, 1] -> W' = [0, 1]: outputs change by -x_0 = [-1, -3, 0], mean square 10/3.
    const e = reconstructionError(new Float32Array([1, 1]), new Float32Array([0, 1]), 2, 1, layerHessian(s));
    expect(e).toBeCloseTo(10 / 3, 12);
  });

  it('rejects wrong shapes, non-finite inputs and missing Gram', () => {
    expect(() => layerStatsFromInputs(x, 2, 2)).toThrow(/rows \* inputDim = 2 \* 2 = 4 values, got Float32Array\(6\)/);
    expect(() => layerStatsFromInputs(new Float32Array([1, NaN]), 1, 2)).toThrow(/must be finite, got NaN at index 1/);
    expect(() => layerHessian(layerStatsFromInputs(x, 3, 2, { gram: false }))).toThrow(/needs the Gram matrix/);
  });
});
