import { describe, expect, it } from 'vitest';
import { layerHessian, reconstructionError } from './calibration.js';
import { magnitudeMask } from './magnitude.js';
import { applyMask, maskDensity, weightMatrix } from './matrix.js';
import { sparseGPTPrune } from './sparsegpt.js';
import { randomLayerProblem } from './testdata.js';

describe('sparseGPTPrune', () => {
  it('OBS update by hand on two inputs', () => {
    // H = [[2, 1], [1, 2]], H^-1 = [[2, -1], [-1, 2]] / 3, w = [1, 3] (one output unit).
    // Saliencies w_q^2 / U_qq^2: U_00^2 = [H^-1]_00 = 2/3 -> 1.5; U_11^2 = 2/3 - (1/3)^2 / (2/3) = 1/2 -> 18.
    // So input 0 is pruned and input 1 compensates: w1 - w0 [H^-1]_01 / [H^-1]_00 = 3 + 1/2 = 3.5.
    const r = sparseGPTPrune(weightMatrix(new Float32Array([1, 3]), 2, 1), new Float64Array([2, 1, 1, 2]), {
      density: 0.5,
      damp: 0,
    });
    expect(Array.from(r.mask)).toEqual([0, 1]);
    expect(r.weights[0]).toBe(0);
    expect(r.weights[1]).toBeCloseTo(3.5, 6);
  });

  it('with H = I it is magnitude pruning without compensation', () => {
    const { w } = randomLayerProblem(16, 6, 4, 3);
    const eye = new Float64Array(256);
    for (let i = 0; i < 16; i++) eye[i * 17] = 1;
    const r = sparseGPTPrune(w, eye, { density: 0.25, damp: 0, blockSize: 16 });
    const m = magnitudeMask(w, { density: 0.25 });
    expect(Array.from(r.mask)).toEqual(Array.from(m));
    expect(Array.from(r.weights)).toEqual(Array.from(applyMask(w, m)));
  });

  it('exact density, N:M groups, and compensation lowers the reconstruction error of its own mask', () => {
    const { w, stats } = randomLayerProblem(32, 8, 200, 5);
    const H = layerHessian(stats);
    for (const density of [0.5, 0.2, 0.1]) {
      const r = sparseGPTPrune(w, stats.gram!, { density, blockSize: 8, damp: 1e-4 });
      expect(maskDensity(r.mask)).toBeCloseTo(1 - Math.floor(256 * (1 - density) + 1e-9) / 256, 12);
      r.mask.forEach((k, i) => k === 0 && expect(r.weights[i]).toBe(0));
      const compensated = reconstructionError(w.data, r.weights, 32, 8, H);
      const plain = reconstructionError(w.data, applyMask(w, r.mask), 32, 8, H);
      expect(compensated).toBeLessThan(plain);
      // ... and beats magnitude pruning at the same density.
      expect(compensated).toBeLessThan(
        reconstructionError(w.data, applyMask(w, magnitudeMask(w, { density })), 32, 8, H),
      );
    }
    const nm = sparseGPTPrune(w, stats.gram!, { nm: { n: 2, m: 4 }, blockSize: 8 });
    for (let j = 0; j < 8; j++)
      for (let g = 0; g < 32; g += 4) {
        let zeros = 0;
        for (let i = g; i < g + 4; i++) zeros += nm.mask[i * 8 + j] ? 0 : 1;
        expect(zeros).toBe(2);
      }
  });

  it('lazy batches only defer updates: with N:M masks the result does not depend on blockSize', () => {
    // Every column sees all earlier columns' updates before its mask is chosen, whether they were
    // applied at once (blockSize = m) or at the end of a lazy batch.
    const { w, stats } = randomLayerProblem(32, 5, 100, 9);
    const a = sparseGPTPrune(w, stats.gram!, { nm: { n: 2, m: 4 }, blockSize: 4 });
    for (const blockSize of [8, 32]) {
      const b = sparseGPTPrune(w, stats.gram!, { nm: { n: 2, m: 4 }, blockSize });
      expect(Array.from(b.mask)).toEqual(Array.from(a.mask));
      b.weights.forEach((v, i) => expect(v).toBeCloseTo(a.weights[i]!, 4));
    }
  });

  it('density 1 changes nothing; bad input rejected', () => {
    const { w, stats } = randomLayerProblem(8, 3, 20, 7);
    const r = sparseGPTPrune(w, stats.gram!, { density: 1 });
    expect(Array.from(r.weights)).toEqual(Array.from(w.data));
    expect(() => sparseGPTPrune(w, new Float64Array(10), { density: 0.5 })).toThrow(
      /hessian must be a Float64Array of inDim\^2 = 64 values/,
    );
    expect(() => sparseGPTPrune(w, stats.gram!, { density: 2 })).toThrow(/density must be a number in \[0, 1\]/);
    expect(() => sparseGPTPrune(w, stats.gram!, { nm: { n: 2, m: 4 }, blockSize: 6 })).toThrow(
      /blockSize must be a multiple of nm.m = 4/,
    );
  });
});
