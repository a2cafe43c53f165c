import { createMlp } from '@blockwise/flow';
import { createRng, initBackend } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../checkpoints.js';
import { buildFlow, classifierFromMlp, flowSpecs, flowTensors, loadFlowWeights } from '../flowmodels/models.js';
import { checkerboardInCells, confidentShare, densityImage } from '../flowmodels/quality.js';
import type { Result, SuiteContext } from '../suite.js';
import { flowSuite } from './flow.js';

const ctx = {} as SuiteContext;

function row(
  dataset: string,
  model: string,
  K: number,
  steps: number,
  flops: number,
  m: Record<string, number>,
): Result {
  const metrics: Result['metrics'] = { flopsPerSample: { value: flops, unit: 'FLOP' } };
  for (const [k, v] of Object.entries(m)) metrics[k] = { value: v, unit: '' };
  return {
    name: `${dataset} ${model} ${steps} steps`,
    kind: dataset,
    params: { model, K, steps, source: 'shipped', residual: false },
    metrics,
  };
}

describe('flow suite validate', () => {
  it('states every target with the measured value, and the BFM cost check picks the best point within half the FLOPs', () => {
    const results: Result[] = [
      {
        name: 'digits real (train vs held-out)',
        kind: 'digits data',
        params: {},
        metrics: { fd: { value: 2, unit: '' }, confident: { value: 95, unit: '%' } },
      },
      row('checkerboard', 'single', 1, 16, 1000, { inCells: 91 }),
      row('checkerboard', 'single', 1, 32, 2000, { inCells: 93 }),
      row('checkerboard', 'BFM K=4', 4, 32, 900, { inCells: 92.5 }), // within 1 point of 93 at < 1000 FLOP
      row('checkerboard', 'BFM K=2', 2, 32, 1100, { inCells: 99 }), // better, but over the 1000 FLOP budget
      row('digits', 'single', 1, 32, 4000, { fd: 5, confident: 85 }),
      row('digits', 'BFM K=4', 4, 32, 2100, { fd: 4, confident: 90 }), // over the 2000 FLOP budget
      row('digits', 'BFM K=4', 4, 16, 1000, { fd: 7, confident: 70 }),
    ];
    const checks = flowSuite.validate!(results, ctx);
    const by = (s: string) => checks.filter((c) => c.name.includes(s));
    expect(by('checkerboard single:')[0]!.pass).toBe(true);
    expect(by('checkerboard BFM K=2:')[0]!.pass).toBe(true);
    // Digits: 3x the floor of 2 is 6; BFM K=4's best point is fd 4 (at 32 steps).
    expect(by('digits single: Fréchet')[0]!.pass).toBe(true);
    expect(by('digits BFM K=4: Fréchet')[0]!.detail).toMatch(/best 4\.00/);
    expect(by('digits BFM K=4: >= 80%')[0]!.pass).toBe(true);
    const cost = by('BFM reaches');
    expect(cost.map((c) => c.pass)).toEqual([true, false]);
    expect(cost[0]!.detail).toMatch(/BFM K=4 32 steps, inCells 92\.500 at 9\.00e\+2 FLOP/);
    expect(cost[1]!.detail).toMatch(/digits BFM K=4 16 steps, fd 7\.000/);
  });

  it('--full: compares retrained models with the shipped ones at 32 steps (3 points in cells, FD within 30%)', () => {
    const re = (r: Result): Result => ({
      ...r,
      name: `${r.name} (retrained)`,
      params: { ...r.params, source: 'retrained' },
    });
    const shipped = [
      row('checkerboard', 'single', 1, 32, 2000, { inCells: 80 }),
      row('digits', 'single', 1, 32, 4000, { fd: 20 }),
    ];
    const ok = flowSuite.validate!(
      [
        ...shipped,
        re(row('checkerboard', 'single', 1, 32, 2000, { inCells: 77.5 })),
        re(row('digits', 'single', 1, 32, 4000, { fd: 25.9 })),
      ],
      ctx,
    );
    const retrain = ok.filter((c) => c.name.includes('retrained'));
    expect(retrain.map((c) => c.pass)).toEqual([true, true]);
    expect(retrain[0]!.detail).toBe('single: 77.50 vs shipped 80.00');
    const bad = flowSuite.validate!(
      [
        ...shipped,
        re(row('checkerboard', 'single', 1, 32, 2000, { inCells: 76.9 })),
        re(row('digits', 'single', 1, 32, 4000, { fd: 26.1 })),
      ],
      ctx,
    );
    expect(bad.filter((c) => c.name.includes('retrained')).map((c) => c.pass)).toEqual([false, false]);
    // Quick mode (no retrained rows) states no such target.
    expect(flowSuite.validate!(shipped, ctx).some((c) => c.name.includes('retrained'))).toBe(false);
  });

  it('fails the cost check without single-network results or without BFM within the budget', () => {
    const checks = flowSuite.validate!(
      [
        row('checkerboard', 'BFM K=2', 2, 16, 900, { inCells: 95 }),
        row('digits', 'single', 1, 16, 100, { fd: 1 }),
        row('digits', 'BFM K=2', 2, 16, 90, { fd: 1 }),
      ],
      ctx,
    );
    const cost = checks.filter((c) => c.name.includes('BFM reaches'));
    expect(cost[0]!.pass).toBe(false);
    expect(cost[0]!.detail).toMatch(/no single-network results/);
    expect(cost[1]!.detail).toMatch(/no BFM configuration within that budget/);
  });
});

describe('flow quality measures', () => {
  it('counts checkerboard points in the dark cells: cell (col, row) is dark when col + row is even', () => {
    // (-1.5, -1.5) is col 0 row 0 (dark); (-0.5, -1.5) col 1 row 0 (light); (0.5, 0.5) col 2 row 2 (dark);
    // (2.5, 0) is off the board; (1.9, -0.1) col 3 row 1 (dark).
    expect(checkerboardInCells([-1.5, -1.5, -0.5, -1.5, 0.5, 0.5, 2.5, 0, 1.9, -0.1])).toBeCloseTo(3 / 5, 12);
    // Uniform points on the board land in the 8 dark cells half the time (binomial sd 0.005 at n = 10^4).
    const u = createRng(3).fillUniform(new Float32Array(20000), -2, 2);
    expect(Math.abs(checkerboardInCells(u) - 0.5)).toBeLessThan(0.02);
    expect(() => checkerboardInCells([1, 2, 3])).toThrow(/positive even number/);
  });

  it('density image: one bin per point, max-normalized', () => {
    const img = densityImage([0.01, 0.01, 0.01, 0.01, -2.4, 2.4], 10);
    // (0.01, 0.01) falls in column floor(2.51 / 5 * 10) = 5, row floor(2.49 / 5 * 10) = 4; count 2 -> 1.
    expect(img[4 * 10 + 5]).toBe(1);
    // (-2.4, 2.4): column 0, row 0, count 1 -> sqrt(1 / 2).
    expect(img[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(img.reduce((a, b) => a + b, 0)).toBeCloseTo(1 + Math.SQRT1_2, 6);
  });
});

describe('flow checkpoints (cpu)', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('confidentShare reads softmax probabilities: logits (ln 9, 0) give p = 0.9 exactly', async () => {
    // A one-layer "classifier" whose logits are x itself (identity kernel, zero bias).
    const mlp = createMlp({ inputDim: 2, hidden: [2], outputDim: 2, activation: 'relu' });
    mlp.variables[0]!.assign(tf.eye(2));
    mlp.variables[2]!.assign(tf.eye(2));
    const clf = classifierFromMlp(mlp);
    // softmax([ln 9.5, 0]) = 9.5 / 10.5 = 0.905 (confident); softmax([ln 8, 0]) = 8 / 9 = 0.889 (not); [0, ln 20] -> 0.952.
    const r = await confidentShare(clf, Float32Array.from([Math.log(9.5), 0, Math.log(8), 0, 0, Math.log(20)]));
    expect(r.share).toBeCloseTo(2 / 3, 12);
    expect(r.perClass).toEqual([1, 1]);
    clf.dispose();
  });

  it('a BFM model with feature guidance saved and loaded samples exactly as the original, and leaks no tensors', async () => {
    const spec = flowSpecs('checkerboard').find((s) => s.features)!;
    const dir = mkdtempSync(join(tmpdir(), 'flow-ck-'));
    const before = tf.memory().numTensors;
    const a = buildFlow(spec, undefined, 3);
    const b = buildFlow(spec, undefined, 4);
    await saveCheckpoint('flow/test', flowTensors(a), { command: 'test', seed: 3 }, dir);
    const ck = loadCheckpoint('flow/test', dir);
    loadFlowWeights(b, ck.tensors);
    tf.dispose(Object.values(ck.tensors));
    const x0 = createRng(1).normalTensor([64, 2]) as tf.Tensor2D;
    const ra = await a.sample(x0, { steps: 8 });
    const rb = await b.sample(x0, { steps: 8 });
    expect(Array.from(await rb.x.data())).toEqual(Array.from(await ra.x.data()));
    tf.dispose([x0, ra.x, rb.x]);
    a.dispose();
    b.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // A checkpoint of another architecture is refused, naming the tensor (2 + 16 state features + 13 time
    // features + 8 guidance features in).
    const small = buildFlow(flowSpecs('checkerboard')[0]!, undefined, 1);
    const ck2 = loadCheckpoint('flow/test', dir);
    expect(() => loadFlowWeights(small, ck2.tensors)).toThrow(
      /net0\/0 is \[39, 48\], the model's variable \[31, 128\]/,
    );
    tf.dispose(Object.values(ck2.tensors));
    small.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
});
