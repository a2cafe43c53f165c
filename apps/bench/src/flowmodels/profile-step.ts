/**
 * Profiles one training step of the flow models (ms per step, wasm by default):
 *
 *   npx tsx apps/bench/src/flowmodels/profile-step.ts [--backend wasm] [--reps 30] [--only ID[,ID...]]
 *
 * Splits a step into the batch draw (JavaScript), the loss forward pass, forward + gradients, and
 * the whole optimizer step, for the single networks and BFM of both data sets. Reads back
 * synchronously (wasm and cpu only): the timings must include the work, not just its queueing.
 */
import { initBackend, createRng, type BackendName } from '@blockwise/tensor';
import { AdamW } from '@blockwise/optimizers';
import * as tf from '@tensorflow/tfjs-core';
import { drawFlowBatch } from '@blockwise/flow';
import { benchData } from '../data.js';
import { buildFlow, flowPath, flowSpecs, trainFlowClassifier } from './models.js';
import { flowData } from './pipeline.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
await initBackend(arg('--backend', 'wasm') as BackendName);
const reps = Number(arg('--reps', '30'));
const only = arg('--only', '');

function timeIt(f: () => void): number {
  for (let i = 0; i < 3; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  return (performance.now() - t0) / reps;
}

for (const dataset of ['checkerboard', 'digits'] as const) {
  const data = flowData(dataset, 1, benchData.digits());
  const clf = trainFlowClassifier(data, 1);
  for (const spec of flowSpecs(dataset)) {
    if (only && !only.split(',').includes(spec.id)) continue;
    const model = buildFlow(spec, clf, 11);
    const vars = model.trainableVariables;
    const n = spec.train.batch;
    const rng = createRng(3);
    const draw = timeIt(() => void drawFlowBatch(data.train, data.dim, n, rng));
    const b = drawFlowBatch(data.train, data.dim, n, rng);
    for (let i = 0; i < n; i++) {
      const k = i % spec.K;
      b.t[i] = (k + b.t[i]!) / spec.K;
    }
    const x0 = tf.tensor2d(b.x0, [n, data.dim]);
    const x1 = tf.tensor2d(b.x1, [n, data.dim]);
    const loss = (): tf.Scalar => model.losses(flowPath, x0, x1, b.t).total;
    const fwd = timeIt(() => tf.tidy(() => void loss().dataSync()));
    const grads = timeIt(() =>
      tf.tidy(() => {
        const g = tf.variableGrads(loss, vars);
        g.value.dataSync();
        Object.values(g.grads)[0]!.dataSync();
      }),
    );
    const opt = new AdamW({ learningRate: 1e-4, weightDecay: 0 });
    const step = timeIt(() => {
      const c = opt.minimize(loss, true, vars);
      c?.dataSync();
      c?.dispose();
    });
    const params = vars.reduce((a, v) => a + v.size, 0);
    console.log(
      `${spec.id} (${params} params, ${n} rows): draw ${draw.toFixed(2)} ms, forward ${fwd.toFixed(2)}, ` +
        `forward+grads ${grads.toFixed(2)}, optimizer step ${step.toFixed(2)} ms`,
    );
    opt.dispose();
    tf.dispose([x0, x1]);
    model.dispose();
  }
  clf.dispose();
}
