import { BlockwiseFlow, affinePath, condOTScheduler, frechetDistance, slicedWasserstein, trainClassifier } from '@blockwise/flow';
import { AdamW, AdamW8bit, optimizerStateBytes } from '@blockwise/optimizers';
import { cosineDecay, warmupStableDecay, type Schedule } from '@blockwise/schedules';
import { createRng } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import type { Check, Result, Suite, SuiteContext } from '../suite.js';

const path = affinePath(condOTScheduler());

/** [0, 1] pixels to the flow's [-1, 1] space and back (clipped). */
const toFlow = (x: Float32Array) => x.map((v) => v * 2 - 1);
const toPixels = (x: Float32Array) => x.map((v) => Math.min(1, Math.max(0, (v + 1) / 2)));

interface Run {
  name: string;
  optimizer: 'AdamW8bit' | 'AdamW';
  schedule: 'wsd' | 'cosine';
}

/** End to end: BFM on the digits trained with AdamW8bit + WSD (vs AdamW + cosine), sampled and scored. */
export const digitsGenSuite: Suite = {
  name: 'digits-gen',
  description: 'Blockwise Flow Matching (K = 2) on the 8x8 digits, trained with AdamW8bit + WSD versus AdamW + cosine; generated digits next to real ones, digit Fréchet distance',
  async run(ctx: SuiteContext): Promise<Result[]> {
    const d = ctx.data.digits();
    const perm = createRng(ctx.seed).permutation(d.n);
    const nTrain = Math.round(d.n * 0.75);
    const pick = (from: number, to: number) => {
      const x = new Float32Array((to - from) * 64);
      const y = new Int32Array(to - from);
      for (let r = from; r < to; r++) {
        x.set(d.x.subarray(perm[r]! * 64, perm[r]! * 64 + 64), (r - from) * 64);
        y[r - from] = d.y[perm[r]!]!;
      }
      return { x, y };
    };
    const train = pick(0, nTrain);
    const test = pick(nTrain, d.n);
    ctx.log('digits-gen: training the digit classifier that scores samples');
    const clf = trainClassifier(train.x, train.y, 64, 10, { hidden: [64, 32], steps: ctx.full ? 800 : 300, seed: ctx.seed });
    const refFeat = await clf.features(test.x);
    const steps = ctx.full ? 3000 : 600;
    const batch = ctx.full ? 256 : 128;
    const sampleSteps = 16;
    const nEval = test.y.length;
    const trainFlow = toFlow(train.x);
    const results: Result[] = [];
    // The floor: real training digits against real held-out digits.
    results.push({
      name: 'real digits (train vs held-out)',
      params: { model: 'data' },
      metrics: {
        fd: { value: frechetDistance(await clf.features(train.x.subarray(0, nEval * 64)), refFeat, clf.featureDim), unit: '' },
        sw2: { value: slicedWasserstein(toFlow(train.x.subarray(0, nEval * 64)), toFlow(test.x), 64, { projections: 128, seed: ctx.seed }), unit: '' },
      },
    });
    // Quick mode trains the project's recipe only; full mode adds the float32 AdamW + cosine reference.
    const runs: Run[] = [
      { name: 'BFM K=2, AdamW8bit + WSD', optimizer: 'AdamW8bit', schedule: 'wsd' },
      ...(ctx.full ? [{ name: 'BFM K=2, AdamW + cosine', optimizer: 'AdamW', schedule: 'cosine' } as Run] : []),
    ];
    const curves: { name: string; points: [number, number][] }[] = [];
    for (const run of runs) {
      const peak = 2e-3;
      const lr: Schedule =
        run.schedule === 'wsd'
          ? warmupStableDecay({ peakValue: peak, warmupSteps: Math.round(steps * 0.05), stableSteps: Math.round(steps * 0.75), decaySteps: steps - Math.round(steps * 0.05) - Math.round(steps * 0.75), minRatio: 0.05 })
          : cosineDecay({ initValue: peak, decaySteps: steps, alpha: 0.05 });
      const optimizer = run.optimizer === 'AdamW8bit' ? new AdamW8bit({ learningRate: lr, weightDecay: 0 }) : new AdamW({ learningRate: lr, weightDecay: 0 });
      const model = new BlockwiseFlow({ dim: 64, segments: 2, hidden: [128, 128], seed: 11 });
      const t0 = performance.now();
      // BFM's own loop with the project's optimizer: stratified t gives every network `batch` rows per step.
      const logged: [number, number][] = [];
      await model.train({
        data: trainFlow, path, steps, batchSize: batch * 2, stratified: true, optimizer, seed: ctx.seed + 3, logEvery: 4,
        onLog: (s, v) => {
          logged.push([s, v]);
          ctx.progress(run.name, s + 1, steps);
        },
      });
      const losses = logged.map(([, v]) => v);
      const trainMs = performance.now() - t0;
      curves.push({ name: run.name, points: logged });
      const x0 = createRng(ctx.seed + 9).normalTensor([nEval, 64]) as tf.Tensor2D;
      const s0 = performance.now();
      const out = await model.sample(x0, { steps: sampleSteps, method: 'euler' });
      const x = (await out.x.data()) as Float32Array;
      const sampleMs = performance.now() - s0;
      const pixels = toPixels(x);
      results.push({
        name: run.name,
        params: { model: 'BFM', K: 2, optimizer: run.optimizer, schedule: run.schedule, trainSteps: steps, sampleSteps },
        metrics: {
          fd: { value: frechetDistance(await clf.features(pixels), refFeat, clf.featureDim), unit: '' },
          sw2: { value: slicedWasserstein(x, toFlow(test.x), 64, { projections: 128, seed: ctx.seed }), unit: '' },
          finalLoss: { value: losses.slice(-5).reduce((a, b) => a + b, 0) / Math.min(5, losses.length), unit: '' },
          optimizerStateBytes: { value: optimizerStateBytes(optimizer), unit: 'bytes' },
          trainMs: { value: trainMs, unit: 'ms' },
          sampleMsPer1k: { value: (sampleMs / nEval) * 1000, unit: 'ms' },
          flopsPerSample: { value: out.flopsPerSample, unit: 'FLOP' },
        },
      });
      // One grid: 4 rows of real held-out digits above 4 rows of generated ones.
      const grid = new Float32Array(80 * 64);
      grid.set(test.x.subarray(0, 40 * 64), 0);
      grid.set(pixels.subarray(0, 40 * 64), 40 * 64);
      ctx.image(run.name.replace(/[^A-Za-z0-9]+/g, '-'), grid, 8, 8, { cols: 10, scale: 4, title: `top 4 rows real, bottom 4 rows generated: ${run.name}, ${sampleSteps} Euler steps` });
      tf.dispose([x0, out.x]);
      model.dispose();
      optimizer.dispose();
    }
    clf.dispose();
    ctx.chart({ id: 'loss', title: 'BFM training loss on the digits', kind: 'line', x: 'step', y: 'flow-matching loss', series: curves });
    return results;
  },
  validate(results): Check[] {
    const fd = (n: string) => results.find((r) => r.name === n)?.metrics.fd?.value ?? NaN;
    const real = fd('real digits (train vs held-out)');
    const a8 = fd('BFM K=2, AdamW8bit + WSD');
    const a32 = fd('BFM K=2, AdamW + cosine');
    const checks: Check[] = [
      { name: 'generated digits are digit-like (Fréchet distance < 10x the real-vs-real floor)', pass: a8 < 10 * real, detail: `AdamW8bit + WSD ${a8.toFixed(3)}, real vs real ${real.toFixed(3)}` },
    ];
    if (Number.isFinite(a32)) {
      checks.push({ name: 'AdamW8bit + WSD matches AdamW + cosine (Fréchet distance within 25%)', pass: a8 <= a32 * 1.25, detail: `${a8.toFixed(3)} vs ${a32.toFixed(3)}` });
    }
    return checks;
  },
};
