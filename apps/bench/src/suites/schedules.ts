import {
  fitLossCurve,
  forecastError,
  linearSchedule,
  predictLossCurve,
  refinedSchedule,
  rexSchedule,
  warmupCosineDecay,
  warmupStableDecay,
  withWarmup,
  type Schedule,
} from '@blockwise/schedules';
import { createRng } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { digitsSplit } from '../data.js';
import { shrinkSize, type Check, type Result, type Suite, type SuiteContext } from '../suite.js';

/** Budgets (optimizer steps) and model size per mode. */
const QUICK = { budgets: [150, 450], hidden: 64, batch: 64 };
const FULL = { budgets: [300, 1500], hidden: 128, batch: 64 };
/** Losses before this fraction of a run (the warm-up) are left out of fitting and scoring. */
const FROM = 0.05;
const PEAK = 0.1; // SGD with momentum 0.9
const SCHEDULES = ['cosine', 'linear', 'wsd', 'rex', 'refined'] as const;
type Name = (typeof SCHEDULES)[number];

interface Data {
  xTrain: Float32Array;
  yTrain: Int32Array;
  xTest: tf.Tensor2D;
  yTest: Int32Array;
  nTrain: number;
}

/** The bench's digits split (70/30, seeded) into train and held-out test. */
function split(ctx: SuiteContext): Data {
  const { train, test } = digitsSplit(ctx.data.digits(), { seed: ctx.seed });
  return { xTrain: train.x, yTrain: train.y, xTest: tf.tensor2d(test.x, [test.n, 64]), yTest: test.y, nTrain: train.n };
}

interface RunLog {
  losses: number[];
  gradNorms: number[];
  lrs: number[];
  testLoss: number;
  testAccuracy: number;
  trainLoss: number;
}

/** Steps between host reads of the per-step loss and gradient norm (one read per block, not per step). */
const READ_EVERY = 50;

/**
 * Trains a 64-h-10 MLP with SGD + momentum under `schedule` for `steps` updates; records loss
 * and gradient norm per step. Values stay on the device and are read every READ_EVERY steps:
 * WebGPU in Node cannot read synchronously, and a read per step stalls any GPU.
 */
async function train(
  data: Data,
  schedule: Schedule,
  steps: number,
  hidden: number,
  batch: number,
  seed: number,
): Promise<RunLog> {
  const rng = createRng(seed);
  const init = [
    rng.normalTensor([64, hidden], 0, Math.sqrt(2 / 64)),
    tf.zeros([hidden]),
    rng.normalTensor([hidden, 10], 0, Math.sqrt(1 / hidden)),
    tf.zeros([10]),
  ];
  const vars = init.map((t) => tf.variable(t));
  init.forEach((t) => t.dispose());
  const [w1, b1, w2, b2] = vars as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
  const logits = (x: tf.Tensor) => tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2), b2);
  // SGD with heavy-ball momentum as PyTorch's SGD: v <- 0.9 v + g, w <- w - lr v (written out: tfjs's
  // MomentumOptimizer.dispose() leaves its learning-rate scalar behind).
  const velocity = vars.map((v) => {
    const z = tf.zerosLike(v);
    const m = tf.variable(z);
    z.dispose();
    return m;
  });
  const order = createRng(seed + 1);
  let perm = order.permutation(data.nTrain);
  let at = 0;
  const log: RunLog = { losses: [], gradNorms: [], lrs: [], testLoss: 0, testAccuracy: 0, trainLoss: 0 };
  const xb = new Float32Array(batch * 64);
  const yb = new Int32Array(batch);
  let pending: tf.Tensor[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const all = tf.stack(pending);
    tf.dispose(pending);
    pending = [];
    const v = await all.data();
    all.dispose();
    for (let i = 0; i < v.length; i += 2) {
      log.losses.push(v[i]!);
      log.gradNorms.push(v[i + 1]!);
    }
  };
  for (let s = 0; s < steps; s++) {
    for (let i = 0; i < batch; i++) {
      if (at >= perm.length) {
        perm = order.permutation(data.nTrain);
        at = 0;
      }
      const k = perm[at++]!;
      xb.set(data.xTrain.subarray(k * 64, k * 64 + 64), i * 64);
      yb[i] = data.yTrain[k]!;
    }
    const lr = schedule(s);
    const out = tf.tidy(() => {
      const x = tf.tensor2d(xb, [batch, 64]);
      const y = tf.oneHot(tf.tensor1d(yb, 'int32'), 10);
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, logits(x)) as tf.Scalar, vars);
      const gs = vars.map((v) => grads[v.name]!);
      const norm = tf.sqrt(tf.addN(gs.map((g) => tf.sum(tf.square(g)))));
      vars.forEach((v, i) => {
        const m = velocity[i]!;
        m.assign(tf.add(tf.mul(m, 0.9), gs[i]!));
        v.assign(tf.sub(v, tf.mul(m, lr)));
      });
      return tf.stack([value, norm]);
    });
    pending.push(out);
    log.lrs.push(lr);
    if (pending.length === READ_EVERY) await flush();
  }
  await flush();
  const evalOn = async (x: tf.Tensor2D, y: Int32Array) => {
    const [lossT, predT] = tf.tidy(() => {
      const z = logits(x);
      return [tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(y, 'int32'), 10), z), tf.argMax(z, -1)];
    });
    const [lossV, pred] = await Promise.all([lossT.data(), predT.data()]);
    tf.dispose([lossT, predT]);
    let hit = 0;
    for (let i = 0; i < y.length; i++) hit += pred[i] === y[i] ? 1 : 0;
    return { loss: lossV[0]!, acc: (100 * hit) / y.length };
  };
  const te = await evalOn(data.xTest, data.yTest);
  const xTr = tf.tensor2d(data.xTrain, [data.nTrain, 64]);
  const tr = await evalOn(xTr, data.yTrain);
  xTr.dispose();
  log.testLoss = te.loss;
  log.testAccuracy = te.acc;
  log.trainLoss = tr.loss;
  [...vars, ...velocity].forEach((v) => v.dispose());
  return log;
}

/** Moving average over `w` steps, sampled every `every` steps (denoises minibatch losses for fitting and scoring). */
function smooth(losses: number[], w: number, every: number): { steps: number[]; values: number[] } {
  const steps: number[] = [];
  const values: number[] = [];
  for (let s = w - 1; s < losses.length; s += every) {
    let m = 0;
    for (let j = s - w + 1; j <= s; j++) m += losses[j]!;
    steps.push(s);
    values.push(m / w);
  }
  return { steps, values };
}

function schedulesFor(T: number, refinedNorms: number[] | null): Partial<Record<Name, Schedule>> {
  const warm = Math.round(0.05 * T);
  const cut = Math.round(0.8 * T);
  const out: Partial<Record<Name, Schedule>> = {
    cosine: warmupCosineDecay({ peakValue: PEAK, warmupSteps: warm, decaySteps: T }),
    linear: withWarmup(linearSchedule({ initValue: PEAK, endValue: 0, transitionSteps: T - warm }), {
      warmupSteps: warm,
    }),
    wsd: warmupStableDecay({
      peakValue: PEAK,
      warmupSteps: warm,
      stableSteps: cut - warm,
      decaySteps: T - cut,
      decayShape: '1-sqrt',
    }),
    rex: rexSchedule({ peakValue: PEAK, totalSteps: T, warmupSteps: warm }),
  };
  if (refinedNorms) {
    out.refined = refinedSchedule({
      gradNorms: refinedNorms.slice(warm),
      optimizer: 'sgd',
      smoothingWindow: Math.max(1, Math.round(T / 20)) | 1,
      peakValue: PEAK,
      warmupSteps: warm,
    });
  }
  return out;
}

export const schedulesSuite: Suite = {
  name: 'schedules',
  description:
    'an MLP on the digits under cosine, linear, WSD, REX and refined LR schedules at two budgets (held-out loss and accuracy), and the LR-annealing loss forecast (arXiv 2408.11029) fitted on one schedule and scored on the others',
  async run(ctx: SuiteContext): Promise<Result[]> {
    const base = ctx.full ? FULL : QUICK;
    // A software WebGPU adapter runs each of the ~30 kernels of a step on the CPU with a dispatch
    // overhead: quick runs halve the budgets there (still two budgets for the forecast).
    const S = {
      ...base,
      budgets: base.budgets.map((T) =>
        shrinkSize(ctx, T, { factor: 0.5, min: 50, multipleOf: 25, what: `${T}-step budget` }),
      ),
    };
    const data = split(ctx);
    const results: Result[] = [];
    const logs = new Map<string, RunLog>();
    const total = S.budgets.length * SCHEDULES.length;
    let done = 0;
    for (const T of S.budgets) {
      // The refined schedule needs a previous run's gradient norms: the linear run at the same budget provides them.
      let scheds = schedulesFor(T, null);
      for (const name of SCHEDULES) {
        if (name === 'refined') scheds = schedulesFor(T, logs.get(`linear@${T}`)!.gradNorms);
        const s = scheds[name]!;
        const log = await train(data, s, T, S.hidden, S.batch, ctx.seed + 11);
        logs.set(`${name}@${T}`, log);
        results.push({
          name: `${name} ${T} steps`,
          kind: 'training runs',
          params: { schedule: name, steps: T, hidden: S.hidden, batch: S.batch, peakLr: PEAK },
          metrics: {
            testLoss: { value: log.testLoss, unit: 'nats' },
            testAccuracy: { value: log.testAccuracy, unit: '%' },
            trainLoss: { value: log.trainLoss, unit: 'nats' },
            lastStepsLoss: { value: log.losses.slice(-10).reduce((a, b) => a + b, 0) / 10, unit: 'nats' },
          },
        });
        ctx.progress('schedules', ++done, total);
      }
    }
    // Loss forecast: fit on each schedule's curve at the larger budget, score on every other curve (both budgets).
    const T = S.budgets[S.budgets.length - 1]!;
    const w = 10;
    const every = 5;
    const skip = Math.round(FROM * T) + w;
    for (const fitOn of SCHEDULES) {
      const src = logs.get(`${fitOn}@${T}`)!;
      const sm = smooth(src.losses, w, every);
      const keep = sm.steps.map((s, i) => [s, sm.values[i]!] as const).filter(([s]) => s >= skip);
      const fit = fitLossCurve({ lrs: src.lrs, losses: keep.map((k) => k[1]), steps: keep.map((k) => k[0]) });
      let sumMape = 0;
      let sumFinal = 0;
      let n = 0;
      let worst = 0;
      for (const [key, log] of logs) {
        if (key === `${fitOn}@${T}`) continue;
        const o = smooth(log.losses, w, every);
        const sel = o.steps
          .map((s, i) => [s, o.values[i]!] as const)
          .filter(([s]) => s >= Math.round(FROM * log.lrs.length) + w);
        const e = forecastError(
          fit,
          log.lrs,
          sel.map((k) => k[1]),
          sel.map((k) => k[0]),
        );
        sumMape += e.mape;
        sumFinal += e.finalRelError;
        worst = Math.max(worst, e.mape);
        n++;
        if (fitOn === 'cosine') {
          results.push({
            name: key,
            kind: 'loss forecast, per held-out curve',
            params: { fittedOn: `cosine@${T}`, predicted: key },
            metrics: {
              mape: { value: 100 * e.mape, unit: '%' },
              rmse: { value: e.rmse, unit: 'nats' },
              finalAbsError: { value: e.finalAbsError, unit: 'nats' },
              finalRelError: { value: 100 * e.finalRelError, unit: '%' },
            },
          });
        }
      }
      results.push({
        name: `${fitOn}@${T}`,
        kind: 'loss forecast fits',
        params: {
          fittedOn: `${fitOn}@${T}`,
          heldOutCurves: n,
          L0: +fit.L0.toFixed(4),
          A: +fit.A.toFixed(4),
          alpha: +fit.alpha.toFixed(4),
          C: +fit.C.toFixed(4),
          lambda: fit.lambda,
        },
        metrics: {
          fitRmse: { value: fit.rmse, unit: 'nats' },
          meanHeldOutMape: { value: (100 * sumMape) / n, unit: '%' },
          worstHeldOutMape: { value: 100 * worst, unit: '%' },
          meanFinalRelError: { value: (100 * sumFinal) / n, unit: '%' },
        },
      });
      if (fitOn === 'cosine') {
        // Does the forecast order the schedules' final (10-step mean) training losses correctly?
        const finals = SCHEDULES.map((name) => {
          const log = logs.get(`${name}@${T}`)!;
          return {
            name,
            observed: log.losses.slice(-w).reduce((a, b) => a + b, 0) / w,
            predicted: predictLossCurve(fit, log.lrs)[T - 1]!,
          };
        });
        const rank = (xs: number[]) => xs.map((x) => xs.filter((y) => y < x).length);
        const ro = rank(finals.map((f) => f.observed));
        const rp = rank(finals.map((f) => f.predicted));
        const m = finals.length;
        const rho = 1 - (6 * ro.reduce((acc, r, i) => acc + (r - rp[i]!) ** 2, 0)) / (m * (m * m - 1));
        results.push({
          name: `forecast ranking at ${T} steps`,
          kind: 'forecast ranking',
          params: {
            fittedOn: `cosine@${T}`,
            observedOrder: [...finals]
              .sort((a, b) => a.observed - b.observed)
              .map((f) => f.name)
              .join(' < '),
            predictedOrder: [...finals]
              .sort((a, b) => a.predicted - b.predicted)
              .map((f) => f.name)
              .join(' < '),
          },
          metrics: { spearman: { value: rho, unit: '' } },
        });
        ctx.chart({
          id: 'schedules-forecast',
          title: `training loss (10-step mean) and forecast fitted on cosine@${T}`,
          kind: 'line',
          x: 'step',
          y: 'loss (nats)',
          series: SCHEDULES.flatMap((name) => {
            const log = logs.get(`${name}@${T}`)!;
            const o = smooth(log.losses, w, every);
            const pred = predictLossCurve(fit, log.lrs);
            return [
              { name: `${name} observed`, points: o.steps.map((s, i) => [s, o.values[i]!] as [number, number]) },
              {
                name: `${name} forecast`,
                points: o.steps.filter((s) => s >= skip).map((s) => [s, pred[s]!] as [number, number]),
              },
            ];
          }),
        });
      }
    }
    ctx.chart({
      id: 'schedules-lr',
      title: `learning rate per step (${T}-step budget)`,
      kind: 'line',
      x: 'step',
      y: 'learning rate',
      series: SCHEDULES.map((name) => ({
        name,
        points: logs
          .get(`${name}@${T}`)!
          .lrs.map((v, s) => [s, v] as [number, number])
          .filter((_, s) => s % 3 === 0),
      })),
    });
    data.xTest.dispose();
    return results;
  },
  validate(results: Result[]): Check[] {
    const runs = results.filter((r) => r.params.schedule !== undefined);
    const big = Math.max(...runs.map((r) => r.params.steps as number));
    const finite = runs.every((r) => Object.values(r.metrics).every((m) => Number.isFinite(m.value)));
    const bigRuns = runs.filter((r) => r.params.steps === big);
    const minAcc = Math.min(...bigRuns.map((r) => r.metrics.testAccuracy!.value));
    const fc = results.find((r) => r.kind === 'loss forecast fits' && String(r.params.fittedOn).startsWith('cosine@'));
    const mape = fc?.metrics.meanHeldOutMape?.value ?? Infinity;
    const finalErr = fc?.metrics.meanFinalRelError?.value ?? Infinity;
    const rank = results.find((r) => r.name.startsWith('forecast ranking'))?.metrics.spearman?.value ?? Number.NaN;
    return [
      { name: 'every run finite', pass: finite, detail: `${runs.length} runs, all metrics finite: ${finite}` },
      {
        name: `every schedule >= 90% held-out accuracy at ${big} steps`,
        pass: minAcc >= 90,
        detail: `lowest ${minAcc.toFixed(1)}%`,
      },
      {
        name: 'loss forecast error reported on held-out curves',
        pass: Number.isFinite(mape),
        detail: `fitted on cosine: mean absolute percentage error ${mape.toFixed(1)}% over ${fc?.params.heldOutCurves ?? 0} other curves, final-loss error ${finalErr.toFixed(1)}%, rank correlation of predicted vs observed final losses ${rank.toFixed(2)} (the paper reports < 1% on LLM pre-training; a small MLP whose loss falls towards 0 is a harder case)`,
      },
    ];
  },
};
