import {
  BlockwiseFlow,
  affinePath,
  condOTScheduler,
  exactW2,
  frechetDistance,
  mmdRbf,
  sampleToy,
  slicedWasserstein,
  trainClassifier,
  type BlockwiseFlowConfig,
  type Classifier,
} from '@blockwise/flow';
import { createRng } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import type { Check, Result, Suite, SuiteContext } from '../suite.js';

/** One model of the comparison: K = 1 is the single-network baseline. */
interface Variant {
  label: string;
  K: number;
  guidance: boolean;
  config: (dim: number, clf: Classifier, clfInput: (x: tf.Tensor2D) => tf.Tensor2D) => BlockwiseFlowConfig;
}

interface Dataset {
  name: 'checkerboard' | 'digits';
  dim: number;
  train: Float32Array;
  /** Held-out reference samples (same space as train). */
  ref: Float32Array;
  /** Frozen pretrained model whose penultimate features guide BFM (and, for digits, score samples). */
  clf: Classifier;
  /** Maps flow samples to the classifier's input space. */
  clfInput: (x: tf.Tensor2D) => tf.Tensor2D;
  variants: Variant[];
}

const path = affinePath(condOTScheduler());

function variants(dataset: 'checkerboard' | 'digits'): Variant[] {
  const big = dataset === 'checkerboard' ? [128, 128, 128] : [256, 256];
  const k2 = dataset === 'checkerboard' ? [64, 64, 64] : [128, 128];
  const k4 = dataset === 'checkerboard' ? [48, 48, 48] : [96, 96];
  const base = (K: number, hidden: number[]): Variant => ({
    label: K === 1 ? 'single' : `BFM K=${K}`,
    K,
    guidance: false,
    config: (dim) => ({ dim, segments: K, hidden, seed: 11 }),
  });
  const toy = dataset === 'checkerboard';
  return [
    base(1, big),
    base(2, k2),
    base(4, k4),
    {
      label: 'BFM K=4 +features +residual',
      K: 4,
      guidance: true,
      config: (dim, clf, clfInput) => ({
        dim,
        segments: 4,
        hidden: k4,
        seed: 11,
        features: {
          featureDim: toy ? 8 : 16,
          hidden: [toy ? 32 : 64],
          target: (x1) => tf.tidy(() => clf.featureTensor(clfInput(x1))),
          targetDim: clf.featureDim,
          weight: 0.5,
          residual: { hidden: [toy ? 16 : 32] },
        },
      }),
    },
  ];
}

/** Digits: shuffled 75/25 split, pixels mapped from [0, 1] to [-1, 1]. */
async function digitsDataset(ctx: SuiteContext): Promise<Dataset> {
  const d = ctx.data.digits();
  const perm = createRng(ctx.seed).permutation(d.n);
  const nTrain = Math.round(d.n * 0.75);
  const take = (from: number, to: number, scale: boolean) => {
    const x = new Float32Array((to - from) * 64);
    const y = new Int32Array(to - from);
    for (let r = from; r < to; r++) {
      const k = perm[r]!;
      for (let j = 0; j < 64; j++) x[(r - from) * 64 + j] = scale ? d.x[k * 64 + j]! * 2 - 1 : d.x[k * 64 + j]!;
      y[r - from] = d.y[k]!;
    }
    return { x, y };
  };
  const raw = take(0, nTrain, false);
  ctx.log('flow: training the digit classifier (features for the Fréchet distance and guidance)');
  const clf = trainClassifier(raw.x, raw.y, 64, 10, { hidden: [64, 32], steps: ctx.full ? 800 : 300, seed: ctx.seed });
  const test = take(nTrain, d.n, false);
  ctx.log(`flow: digit classifier test accuracy ${(100 * (await clf.accuracy(test.x, test.y))).toFixed(1)}%`);
  return {
    name: 'digits',
    dim: 64,
    train: take(0, nTrain, true).x,
    ref: take(nTrain, d.n, true).x,
    clf,
    clfInput: (x) => tf.tidy(() => tf.clipByValue(tf.div(tf.add(x, 1), 2), 0, 1) as tf.Tensor2D),
    variants: variants('digits'),
  };
}

/** Checkerboard; its frozen "pretrained" model is a classifier of the 8 dark cells. */
async function toyDataset(ctx: SuiteContext): Promise<Dataset> {
  const train = sampleToy('checkerboard', 20000, ctx.seed);
  const cells = new Int32Array(train.length / 2);
  for (let i = 0; i < cells.length; i++) {
    const col = Math.min(3, Math.floor(train[2 * i]! + 2));
    const row = Math.min(3, Math.floor(train[2 * i + 1]! + 2));
    cells[i] = col * 2 + (row >> 1);
  }
  const clf = trainClassifier(train, cells, 2, 8, { hidden: [32, 16], steps: ctx.full ? 600 : 200, seed: ctx.seed });
  ctx.log(`flow: checkerboard cell classifier accuracy ${(100 * (await clf.accuracy(train.subarray(0, 4000), cells.subarray(0, 2000)))).toFixed(1)}%`);
  return {
    name: 'checkerboard',
    dim: 2,
    train,
    ref: sampleToy('checkerboard', ctx.full ? 2000 : 1000, ctx.seed + 1),
    clf,
    clfInput: (x) => x,
    variants: variants('checkerboard'),
  };
}

/** Density image of 2-D samples over [-2.5, 2.5]^2 (size x size bins, max-normalized). */
function histogram(x: Float32Array, size = 40): Float32Array {
  const img = new Float32Array(size * size);
  for (let i = 0; i < x.length / 2; i++) {
    const c = Math.floor(((x[2 * i]! + 2.5) / 5) * size);
    const r = Math.floor(((2.5 - x[2 * i + 1]!) / 5) * size);
    if (c >= 0 && c < size && r >= 0 && r < size) img[r * size + c]! += 1;
  }
  let m = 0;
  for (const v of img) m = Math.max(m, v);
  return img.map((v) => Math.sqrt(v / (m || 1)));
}

/** Maps generated digits back to [0, 1] pixels (clipped), the classifier's input space. */
function toPixels(x: Float32Array): Float32Array {
  return x.map((v) => Math.min(1, Math.max(0, (v + 1) / 2)));
}

async function runDataset(ctx: SuiteContext, ds: Dataset, results: Result[]): Promise<void> {
  const trainSteps = ds.name === 'checkerboard' ? (ctx.full ? 4000 : 400) : ctx.full ? 3000 : 300;
  const stepCounts = ctx.full ? [4, 8, 16, 32] : [4, 8, 16];
  const nEval = ds.name === 'checkerboard' ? ds.ref.length / 2 : ds.ref.length / 64;
  const x0 = createRng(ctx.seed + 7).normalTensor([nEval, ds.dim]) as tf.Tensor2D;
  const refFeat = ds.name === 'digits' ? await ds.clf.features(toPixels(ds.ref)) : null;
  const curves = new Map<string, { flops: number; ms: number; sw2: number; fd?: number }[]>();
  for (const [vi, v] of ds.variants.entries()) {
    const model = new BlockwiseFlow(v.config(ds.dim, ds.clf, ds.clfInput));
    const t0 = performance.now();
    const losses = await model.train({
      data: ds.train,
      path,
      steps: trainSteps,
      // Every network gets the same rows per step: BFM draws K x batch rows, stratified over its segments.
      batchSize: (ctx.full ? 256 : 128) * v.K,
      stratified: v.K > 1,
      // Mini-batch OT pairing on the 2-D toy (within each segment's rows for BFM): straighter paths
      // for few-step sampling. On 64-D digits a 128-row pairing barely changes the paths and costs time.
      ot: ds.name === 'checkerboard',
      learningRate: 2e-3,
      seed: ctx.seed + vi,
      logEvery: Math.max(1, Math.floor(trainSteps / 4)),
    });
    const trainMs = performance.now() - t0;
    ctx.log(`flow: ${ds.name} ${v.label}: ${trainSteps} steps in ${(trainMs / 1000).toFixed(1)} s, loss ${losses[0]!.toFixed(3)} -> ${losses[losses.length - 1]!.toFixed(3)}`);
    for (const steps of stepCounts) {
      const s0 = performance.now();
      const r = await model.sample(x0, { steps, method: 'euler' });
      const x = (await r.x.data()) as Float32Array;
      const wallMs = performance.now() - s0;
      r.x.dispose();
      const d = ds.dim;
      const metrics: Result['metrics'] = {
        flopsPerSample: { value: r.flopsPerSample, unit: 'FLOP' },
        sw2: { value: slicedWasserstein(x, ds.ref, d, { projections: 128, seed: ctx.seed }), unit: '' },
        mmd: { value: mmdRbf(x.subarray(0, 500 * d), ds.ref.subarray(0, 500 * d), d), unit: '' },
        sampleMsPer1k: { value: (wallMs / nEval) * 1000, unit: 'ms' },
        nfe: { value: r.nfe, unit: '' },
        trainMs: { value: trainMs, unit: 'ms' },
        finalLoss: { value: losses[losses.length - 1]!, unit: '' },
      };
      if (ds.name === 'checkerboard') metrics.w2 = { value: exactW2(x.subarray(0, 300 * d), ds.ref.subarray(0, 300 * d), d), unit: '' };
      if (refFeat) metrics.fd = { value: frechetDistance(await ds.clf.features(toPixels(x)), refFeat, ds.clf.featureDim), unit: '' };
      results.push({
        name: `${ds.name} ${v.label} ${steps} steps`,
        params: { dataset: ds.name, K: v.K, guidance: v.guidance, residual: v.guidance, steps, method: 'euler', trainSteps },
        metrics,
      });
      const point = { flops: r.flopsPerSample, ms: metrics.sampleMsPer1k!.value, sw2: metrics.sw2!.value, fd: metrics.fd?.value };
      curves.set(v.label, [...(curves.get(v.label) ?? []), point]);
      if (steps === stepCounts[stepCounts.length - 1]) {
        const name = `${ds.name}-${v.label.replace(/[^A-Za-z0-9]+/g, '-')}`;
        if (ds.name === 'checkerboard') ctx.image(name, histogram(x), 40, 40, { scale: 5, title: `${ds.name}, ${v.label}, ${steps} Euler steps` });
        else ctx.image(name, toPixels(x.subarray(0, 40 * 64)), 8, 8, { cols: 10, scale: 4, title: `digits, ${v.label}, ${steps} Euler steps` });
      }
    }
    model.dispose();
    ctx.progress(`flow ${ds.name}`, vi + 1, ds.variants.length);
  }
  x0.dispose();
  const chart = (id: string, x: string, y: string, px: (p: { flops: number; ms: number; sw2: number; fd?: number }) => [number, number]): void =>
    ctx.chart({
      id: `${ds.name}-${id}`,
      title: `${ds.name}: ${y} vs ${x} (Euler, ${stepCounts.join('/')} steps)`,
      kind: 'line',
      x,
      y: `${y} (lower is better)`,
      logX: true,
      series: [...curves].map(([name, pts]) => ({ name, points: pts.map(px) })),
    });
  chart('sw2-flops', 'FLOPs per sample', 'SW2', (p) => [p.flops, p.sw2]);
  chart('sw2-time', 'sampling ms per 1000 samples', 'SW2', (p) => [p.ms, p.sw2]);
  if (ds.name === 'digits') chart('fd-flops', 'FLOPs per sample', 'digit Fréchet distance', (p) => [p.flops, p.fd ?? NaN]);
}

/** The single network's best point, and the best BFM point with at most half its FLOPs. */
function compare(results: Result[], dataset: string, metric: string): Check {
  const rows = results.filter((r) => r.params.dataset === dataset && r.metrics[metric]);
  const single = rows.filter((r) => r.params.K === 1);
  if (single.length === 0) return { name: `flow ${dataset}: BFM matches single-network ${metric} at <= 1/2 FLOPs`, pass: false, detail: 'no single-network results' };
  const best = single.reduce((a, b) => (b.metrics[metric]!.value < a.metrics[metric]!.value ? b : a));
  const budget = best.metrics.flopsPerSample!.value / 2;
  const cands = rows.filter((r) => r.params.K !== 1 && r.metrics.flopsPerSample!.value <= budget);
  const bfm = cands.length ? cands.reduce((a, b) => (b.metrics[metric]!.value < a.metrics[metric]!.value ? b : a)) : null;
  // 5% slack for the sampling noise of the metric estimate.
  const pass = !!bfm && bfm.metrics[metric]!.value <= best.metrics[metric]!.value * 1.05;
  return {
    name: `flow ${dataset}: BFM reaches the single network's ${metric} with <= 1/2 its FLOPs per sample`,
    pass,
    detail: `single (${best.params.steps} steps): ${metric} ${best.metrics[metric]!.value.toFixed(4)} at ${best.metrics.flopsPerSample!.value.toExponential(2)} FLOP; ` +
      (bfm
        ? `best BFM within ${budget.toExponential(2)} FLOP: ${bfm.name}, ${metric} ${bfm.metrics[metric]!.value.toFixed(4)} at ${bfm.metrics.flopsPerSample!.value.toExponential(2)} FLOP (${(best.metrics.flopsPerSample!.value / bfm.metrics.flopsPerSample!.value).toFixed(1)}x fewer)`
        : 'no BFM configuration within that budget'),
  };
}

/** Blockwise Flow Matching versus a single velocity network: quality against FLOPs and time. */
export const flowSuite: Suite = {
  name: 'flow',
  description: 'Flow matching on checkerboard and 8x8 digits: single network vs Blockwise FM (K = 2, 4; feature guidance + residual approximation); SW2, MMD, W2, digit Fréchet distance against FLOPs per sample and wall time.',
  async run(ctx) {
    const results: Result[] = [];
    for (const make of [toyDataset, digitsDataset]) {
      const ds = await make(ctx);
      await runDataset(ctx, ds, results);
      ds.clf.dispose();
    }
    return results;
  },
  validate(results) {
    return [compare(results, 'checkerboard', 'sw2'), compare(results, 'digits', 'sw2'), compare(results, 'digits', 'fd')];
  },
};
