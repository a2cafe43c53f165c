import { describe, expect, it } from 'vitest';
import { layerHessian, reconstructionError } from './calibration.js';
import { icbsObjective, icbsPrune, type BlockSelection } from './icbs.js';
import { smallestK } from './icbs-search.js';
import { createRng } from '@blockwise/tensor';
import { magnitudeMask } from './magnitude.js';
import { applyMask, maskDensity } from './matrix.js';
import { wandaMask } from './wanda.js';
import { accumulateCross, inputNorms, layerStatsFromInputs, reconstructionGradient } from './calibration.js';
import { randomLayerProblem } from './testdata.js';

const { w, stats } = randomLayerProblem(24, 6, 120, 11);
const H = layerHessian(stats);
const start = wandaMask(w, inputNorms(stats), { density: 0.25 });

function keptPerColumn(mask: Uint8Array): number[] {
  return Array.from({ length: 6 }, (_, j) =>
    Array.from({ length: 24 }, (_, i) => mask[i * 6 + j]!).reduce((s, v) => s + v, 0),
  );
}

describe('icbsObjective', () => {
  it('equals the reconstruction error of the masked weights', () => {
    const e = reconstructionError(w.data, applyMask(w, start), 24, 6, H);
    expect(icbsObjective(w, start, H)).toBeCloseTo(e, 8);
  });
});

describe('icbsPrune', () => {
  for (const selection of ['random', 'score', 'greedy'] as BlockSelection[]) {
    for (const scope of ['row', 'layer'] as const) {
      it(`${selection}/${scope}: density exact, objective never increases, result consistent`, () => {
        const r = icbsPrune(w, { initialMask: start, hessian: H, steps: 60, blockSize: 8, selection, scope, seed: 1 });
        expect(maskDensity(r.mask)).toBe(maskDensity(start));
        if (scope === 'row') expect(keptPerColumn(r.mask)).toEqual(keptPerColumn(start));
        let prev = r.initialObjective;
        for (const v of r.trace) {
          expect(v).toBeLessThanOrEqual(prev);
          prev = v;
        }
        expect(r.objective).toBeCloseTo(icbsObjective(w, r.mask, H), 6);
        expect(r.objective).toBeLessThan(r.initialObjective); // Wanda's mask is not optimal here
      });
    }
  }

  it('improves with more steps, and both solvers work', () => {
    const few = icbsPrune(w, { initialMask: start, hessian: H, steps: 5, blockSize: 8, seed: 2 });
    const many = icbsPrune(w, { initialMask: start, hessian: H, steps: 200, blockSize: 8, seed: 2 });
    expect(many.objective).toBeLessThanOrEqual(few.objective);
    const ex = icbsPrune(w, { initialMask: start, hessian: H, steps: 30, blockSize: 12, solver: 'exhaustive' });
    expect(ex.objective).toBeLessThan(ex.initialObjective);
    expect(maskDensity(ex.mask)).toBe(maskDensity(start));
  });

  it('gradient term: objective includes -g^T p and still never increases', () => {
    const g = Float32Array.from(w.data, (v, i) => (i % 3 === 0 ? v : -0.5 * v));
    const m0 = magnitudeMask(w, { density: 0.5 });
    const r = icbsPrune(w, { initialMask: m0, hessian: H, gradient: g, steps: 40, seed: 3 });
    expect(r.initialObjective).toBeCloseTo(icbsObjective(w, m0, H, g), 8);
    expect(r.objective).toBeLessThanOrEqual(r.initialObjective);
    expect(r.objective).toBeCloseTo(icbsObjective(w, r.mask, H, g), 6);
  });

  it('time budget stops it; bad input rejected', () => {
    const r = icbsPrune(w, { initialMask: start, hessian: H, timeBudgetMs: 0 });
    expect(r.steps).toBe(0);
    expect(() => icbsPrune(w, { initialMask: start, hessian: new Float64Array(3) })).toThrow(
      /hessian must be a Float64Array of inDim\^2 = 576/,
    );
    expect(() => icbsPrune(w, { initialMask: new Uint8Array(3), hessian: H })).toThrow(
      /icbsPrune: initialMask.length must equal the number of weights 144, got 3/,
    );
    expect(() => icbsPrune(w, { initialMask: start, hessian: H, blockSize: 20, solver: 'exhaustive' })).toThrow(
      /at most 16 weights/,
    );
    expect(() => icbsPrune(w, { initialMask: start, hessian: H, selection: 'best' as BlockSelection })).toThrow(
      /selection must be/,
    );
  });

  it('issue 14: a misspelt option, a missing initialMask and a NaN Hessian throw naming them', () => {
    // `step: 5` used to be ignored and run the default 1,000 steps.
    expect(() => icbsPrune(w, { initialMask: start, hessian: H, step: 5 } as never)).toThrow(
      /icbsPrune: unknown option "step"; did you mean "steps"\?/,
    );
    expect(() => icbsPrune(w, { hessian: H } as never)).toThrow(/icbsPrune: initialMask is required/);
    expect(() => icbsPrune(w, { initialMask: start, hessian: H, steps: 2.5 })).toThrow(
      /icbsPrune: steps must be an integer >= 0 <= 10000000, got 2.5/,
    );
    expect(() => icbsPrune(w, { initialMask: start, hessian: H, steps: 1e9 })).toThrow(/icbsPrune: steps must be/);
    expect(() => icbsPrune(w, { initialMask: start, hessian: H, anneal: { sweep: 3 } as never })).toThrow(
      /icbsPrune: anneal: unknown option "sweep"; did you mean "sweeps"\?/,
    );
    expect(() => icbsPrune(w, { initialMask: Uint8Array.from(start, (v) => 2 * v), hessian: H })).toThrow(
      /initialMask must hold only 0 \(pruned\) and 1 \(kept\), got 2/,
    );
    const nan = Float64Array.from(H);
    nan[5] = NaN;
    // Before: the objective came back NaN with no error.
    expect(() => icbsPrune(w, { initialMask: start, hessian: nan })).toThrow(
      /icbsPrune: hessian must be finite, got NaN at index 5/,
    );
    expect(() => icbsPrune(w, null as never)).toThrow(/icbsPrune: options must be an object, got null/);
  });
});

describe('reconstruct against reference inputs', () => {
  it('objective with the reconstruction gradient = exact change of ||X W_masked - R W||^2 / n', () => {
    const { w: w2, x } = randomLayerProblem(10, 3, 40, 21);
    // Reference inputs R: X plus a perturbation (as if earlier layers were pruned).
    const r = Float32Array.from(x, (v, i) => v + 0.3 * Math.sin(i));
    const stats = layerStatsFromInputs(x, 40, 10);
    accumulateCross(stats, x, r, 40);
    const g = reconstructionGradient(stats, w2.data, 3);
    const mask = magnitudeMask(w2, { density: 0.4 });
    const loss = (wv: Float32Array) => {
      let s = 0;
      for (let n = 0; n < 40; n++)
        for (let j = 0; j < 3; j++) {
          let a = 0;
          for (let i = 0; i < 10; i++) a += x[n * 10 + i]! * wv[i * 3 + j]! - r[n * 10 + i]! * w2.data[i * 3 + j]!;
          s += a * a;
        }
      return s / 40;
    };
    const exact = loss(applyMask(w2, mask)) - loss(w2.data);
    expect(icbsObjective(w2, mask, layerHessian(stats), g)).toBeCloseTo(exact, 3);
    const res = icbsPrune(w2, {
      initialMask: mask,
      hessian: layerHessian(stats),
      gradient: g,
      steps: 30,
      blockSize: 6,
    });
    expect(res.objective).toBeCloseTo(loss(applyMask(w2, res.mask)) - loss(w2.data), 3);
    expect(res.objective).toBeLessThanOrEqual(res.initialObjective);
  });
});

describe('smallestK', () => {
  it('equals sorting by (key, index) and taking the first k', () => {
    const rng = createRng(9);
    for (let t = 0; t < 50; t++) {
      const n = 1 + rng.int(60);
      const pool = Array.from(rng.permutation(n));
      const keys = Array.from({ length: n }, () => rng.int(8)); // many ties
      const k = 1 + rng.int(12);
      const want = [...pool].sort((a, b) => keys[a]! - keys[b]! || a - b).slice(0, k);
      expect(smallestK(pool, k, (i) => keys[i]!)).toEqual(want);
    }
  });
});

describe('icbsPrune with N:M', () => {
  it('keeps exactly n pruned in every group, never increases the objective, improves on Wanda N:M', () => {
    for (const [n, m] of [
      [2, 4],
      [4, 8],
    ] as const) {
      const s0 = wandaMask(w, inputNorms(stats), { nm: { n, m } });
      for (const selection of ['greedy', 'random', 'score'] as BlockSelection[]) {
        const r = icbsPrune(w, { initialMask: s0, hessian: H, nm: { n, m }, steps: 40, selection, seed: 4 });
        for (let j = 0; j < 6; j++)
          for (let g = 0; g < 24; g += m) {
            let pr = 0;
            for (let i = g; i < g + m; i++) pr += r.mask[i * 6 + j] ? 0 : 1;
            expect(pr).toBe(n);
          }
        expect(r.objective).toBeLessThanOrEqual(r.initialObjective);
        expect(r.objective).toBeCloseTo(icbsObjective(w, r.mask, H), 6);
      }
      const ex = icbsPrune(w, {
        initialMask: s0,
        hessian: H,
        nm: { n, m },
        steps: 20,
        blockSize: 2 * m,
        solver: 'exhaustive',
      });
      expect(ex.objective).toBeLessThan(ex.initialObjective);
    }
    expect(() => icbsPrune(w, { initialMask: start, hessian: H, nm: { n: 2, m: 4 } })).toThrow(
      /initialMask must have exactly nm.n = 2 pruned in every group of 4/,
    );
    expect(() =>
      icbsPrune(w, {
        initialMask: wandaMask(w, inputNorms(stats), { nm: { n: 2, m: 4 } }),
        hessian: H,
        nm: { n: 2, m: 4 },
        scope: 'layer',
      }),
    ).toThrow(/nm needs scope 'row'/);
  });
});
