import { readdirSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeBackends, useBackend } from '@blockwise/tensor/testing';
import { collectCalibration } from './collect.js';
import { createGradualPruner } from './gradual.js';
import { magnitudeMask } from './magnitude.js';
import { smallModel } from './modeltest.js';
import { pruneICBS, pruneMagnitude, pruneSparseGPT, pruneWanda } from './prune-methods.js';
import type { PruneReport } from './report.js';

// WebGPU in Node cannot read back synchronously, so the package reads with `await data()` only;
// the 16-12-8-4 model keeps the software adapter quick.

const loss = (a: tf.Tensor, b: tf.Tensor): tf.Tensor => tf.losses.softmaxCrossEntropy(a, b);

/** Every method on a fresh copy of the small model: masks and what the report measured. */
async function runAll(): Promise<
  Record<string, { masks: PruneReport['masks']; measured: number | null; weights: Float32Array }>
> {
  const out: Record<string, { masks: PruneReport['masks']; measured: number | null; weights: Float32Array }> = {};
  const runs: [string, (m: ReturnType<typeof smallModel>) => Promise<PruneReport>][] = [
    ['magnitude', ({ model, x }) => pruneMagnitude(model, { density: 0.4, calibration: x })],
    ['magnitude-global', ({ model }) => pruneMagnitude(model, { density: 0.4, scope: 'global' })],
    ['wanda', ({ model, x }) => pruneWanda(model, { density: 0.4, calibration: x, batchSize: 24 })],
    ['wanda-2:4', ({ model, x }) => pruneWanda(model, { nm: { n: 2, m: 4 }, calibration: x, biasCorrection: true })],
    ['sparsegpt', ({ model, x }) => pruneSparseGPT(model, { density: 0.4, calibration: x })],
    [
      'icbs',
      ({ model, x, y }) =>
        pruneICBS(model, {
          density: 0.4,
          calibration: { x, y },
          loss,
          gradient: true,
          steps: 30,
          blockSize: 8,
          seed: 3,
        }),
    ],
  ];
  for (const [name, run] of runs) {
    const m = smallModel(5);
    const r = await run(m);
    out[name] = {
      masks: r.masks,
      measured: r.measuredLossChange,
      weights: Float32Array.from(await m.model.getLayer('hidden2').getWeights()[0]!.data()),
    };
    m.model.dispose();
    tf.dispose([m.x, m.y]);
  }
  return out;
}

// The cpu run comes first in this file; the other backends compare with it.
let reference: Awaited<ReturnType<typeof runAll>> | undefined;

describeBackends(['cpu', 'wasm', 'webgpu'], (backend) => {
  describe(`pruning on ${backend}`, () => {
    it('every method gives the cpu masks; measured loss changes and compensated weights agree', async () => {
      const got = await runAll();
      if (backend === 'cpu') {
        reference = got;
        return;
      }
      expect(reference, 'run the cpu spec first (it is the reference)').toBeDefined();
      for (const [name, r] of Object.entries(got)) {
        const want = reference![name]!;
        for (const [layer, m] of Object.entries(r.masks))
          expect(Array.from(m.mask), `${name} ${layer}`).toEqual(Array.from(want.masks[layer]!.mask));
        if (want.measured !== null)
          expect(Math.abs(r.measured! - want.measured), `${name} measured loss change`).toBeLessThan(
            1e-3 * (1 + Math.abs(want.measured)),
          );
        // Float32 matmuls of the backends differ in the last bits; SparseGPT's compensation amplifies that a little.
        r.weights.forEach((v, i) =>
          expect(Math.abs(v - want.weights[i]!), `${name} hidden2 weight ${i}`).toBeLessThan(1e-4),
        );
      }
    });

    it('the gradual pruner ranks on the device like magnitudeMask on the host, layer and global', async () => {
      for (const scope of ['layer', 'global'] as const) {
        const { model, x, y } = smallModel(7);
        const pruner = createGradualPruner(model, { finalDensity: 0.3, endStep: 4, scope });
        for (let s = 0; s < 3; s++) pruner.step();
        const k1 = Float32Array.from(await model.getLayer('hidden1').getWeights()[0]!.data());
        const masks = await pruner.finalize();
        // Host reference on the weights before the final ranking (the earlier zeros are pruned again, as the lowest |w|).
        if (scope === 'layer')
          expect(Array.from(masks.hidden1!.mask)).toEqual(
            Array.from(magnitudeMask({ data: k1, shape: [16, 12] }, { density: 0.3 })),
          );
        const kept = Object.values(masks).reduce((s, m) => s + m.mask.reduce((a, b) => a + b, 0), 0);
        // 16*12 + 12*8 + 8*4 = 320 weights; layer scope keeps 192 - floor(192*0.7) + 96 - floor(96*0.7) + 32 - floor(32*0.7).
        expect(kept).toBe(scope === 'layer' ? 58 + 29 + 10 : 320 - Math.floor(320 * 0.7));
        const k = await model.getLayer('hidden2').getWeights()[0]!.data();
        masks.hidden2!.mask.forEach((v, i) => v === 0 && expect(Math.abs(k[i]!)).toBe(0));
        model.dispose();
        tf.dispose([x, y]);
      }
    });
  });
});

describe('host reads', () => {
  useBackend('cpu');
  afterEach(() => vi.restoreAllMocks());

  it('no synchronous read anywhere; reads per layer do not grow with iCBS steps; the gradual pruner reads only at finalize', async () => {
    const sync = vi.spyOn(tf.Tensor.prototype, 'dataSync');
    const arraySync = vi.spyOn(tf.Tensor.prototype, 'arraySync');
    // The engine's readSync (what dataSync calls); the cpu backend's own read() uses its readSync internally.
    const readSync = vi.spyOn(tf.engine(), 'readSync');
    const reads = vi.spyOn(tf.Tensor.prototype, 'data');
    const icbsReads = async (steps: number): Promise<number> => {
      const { model, x, y } = smallModel(2);
      reads.mockClear();
      await pruneICBS(model, { density: 0.5, calibration: { x, y }, loss, gradient: true, steps, batchSize: 32 });
      const n = reads.mock.calls.length;
      model.dispose();
      tf.dispose([x, y]);
      return n;
    };
    const few = await icbsReads(2);
    const many = await icbsReads(200);
    expect(many).toBe(few);
    // Per layer: kernel, task-loss gradient, and 2 calibration batches (64 rows / 32) for the
    // statistics; up front a finite-input flag, a finite-output flag, the loss before and 2 batches
    // x 3 layers for the dense reference inputs; at the end the loss after.
    expect(few).toBe(3 * (1 + 1 + 2) + 3 + 2 * 3 + 1);
    const { model, x, y } = smallModel(4);
    await collectCalibration(model, x, { batchSize: 16 });
    await pruneSparseGPT(model, { density: 0.5, calibration: x, biasCorrection: true });
    await pruneMagnitude(model, { density: 0.3, scope: 'global' });
    const pruner = createGradualPruner(model, { finalDensity: 0.2, endStep: 10 });
    reads.mockClear();
    for (let s = 0; s < 12; s++) pruner.step();
    expect(reads).not.toHaveBeenCalled();
    await pruner.finalize();
    expect(reads).toHaveBeenCalledTimes(3); // one mask per layer
    expect(sync).not.toHaveBeenCalled();
    expect(arraySync).not.toHaveBeenCalled();
    expect(readSync).not.toHaveBeenCalled();
    model.dispose();
    tf.dispose([x, y]);
  });

  it('the package source calls no dataSync, arraySync or readSync', () => {
    const dir = new URL('.', import.meta.url);
    const offenders = readdirSync(dir)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .filter((f) => /\b(dataSync|arraySync|readSync)\b/.test(readFileSync(new URL(f, dir), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
