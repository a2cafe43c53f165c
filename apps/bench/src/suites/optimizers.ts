import {
  Adam8bit, AdamW, AdamW8bit, decodePackedState, fused8bitImplementation, LAMB, LAMB8bit, LARS, Lion, Lion8bit, Momentum8bit, Muon,
  optimizerStateBytes, setFused8bitImplementation, type Fused8bitImplementation,
} from '@blockwise/optimizers';
import { createRng } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import type { Check, Result, Suite, SuiteContext } from '../suite.js';

/** Optimizers timed against tfjs's own Adam (same learning rate where it has one). */
const OPTIMIZERS: Record<string, () => tf.Optimizer> = {
  'tf.train.adam': () => tf.train.adam(1e-3),
  AdamW: () => new AdamW({ learningRate: 1e-3 }),
  Adam8bit: () => new Adam8bit({ learningRate: 1e-3 }),
  AdamW8bit: () => new AdamW8bit({ learningRate: 1e-3 }),
  // The same step with the fused kernel's JavaScript reference instead of WebAssembly SIMD.
  'AdamW8bit(js kernel)': () => new AdamW8bit({ learningRate: 1e-3 }),
  'AdamW8bit(optimBits 4)': () => new AdamW8bit({ learningRate: 1e-3, optimBits: 4 }),
  Lion: () => new Lion(),
  Lion8bit: () => new Lion8bit(),
  Momentum8bit: () => new Momentum8bit(),
  LAMB: () => new LAMB(),
  LAMB8bit: () => new LAMB8bit(),
  LARS: () => new LARS(),
  Muon: () => new Muon({ learningRate: 0.02 }),
};

/** Entries timed with a fixed implementation of the fused 8-bit kernel (the others use the default). */
const FORCED_KERNEL: Record<string, Fused8bitImplementation> = { 'AdamW8bit(js kernel)': 'js' };

/** Which implementation of the fused kernel ran an entry's quantized state on the cpu/wasm backends. */
function kernelOf(name: string, backend: string): string {
  if (!/8bit|optimBits/.test(name)) return 'tfjs ops';
  if (backend === 'webgpu') return 'wgsl';
  if (name.includes('optimBits 4')) return 'js';
  return FORCED_KERNEL[name] ?? fused8bitImplementation();
}

/** Parameter layouts: square matrices (Muon needs matrices) adding up to about N parameters. */
function layout(params: number): number[][] {
  return params >= 5_000_000 ? Array.from({ length: 10 }, () => [1000, 1000]) : Array.from({ length: 4 }, () => [512, 512]);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
};

interface Model {
  vars: tf.Variable[];
  grads: tf.NamedTensorMap;
  size: number;
}

function makeModel(shapes: number[][], seed: number, tag: string): Model {
  const rng = createRng(seed);
  const vars = shapes.map((s, k) => tf.variable(rng.normalTensor(s, 0, 0.05), true, `opt_bench_${tag}_${k}`));
  const grads: tf.NamedTensorMap = {};
  vars.forEach((v) => (grads[v.name] = rng.normalTensor(v.shape, 0, 0.01)));
  return { vars, grads, size: vars.reduce((a, v) => a + v.size, 0) };
}

/** One timed step: apply, then wait on a one-element slice of the last variable. */
async function timedStep(opt: tf.Optimizer, m: Model, kernel?: Fused8bitImplementation): Promise<number> {
  if (kernel) setFused8bitImplementation(kernel);
  const t0 = performance.now();
  try {
    opt.applyGradients(m.grads);
  } finally {
    if (kernel) setFused8bitImplementation('auto');
  }
  const last = m.vars[m.vars.length - 1]!;
  const s = tf.slice(tf.reshape(last, [-1]), [0], [1]);
  await s.data();
  s.dispose();
  return performance.now() - t0;
}

async function stepTimes(ctx: SuiteContext, params: number, reps: number): Promise<Result[]> {
  const shapes = layout(params);
  // Muon's Newton-Schulz costs 15 matrix products per matrix per step (about 6 s a step at 1M
  // parameters on wasm here, 12 s on the software WebGPU adapter): timed in full mode only, and
  // at 10M only on WebGPU.
  const muonOk = ctx.full && (params <= 2_000_000 || ctx.backend === 'webgpu');
  const cpuLike = ctx.backend === 'cpu' || ctx.backend === 'wasm';
  const names = Object.keys(OPTIMIZERS).filter((n) => (n !== 'Muon' || muonOk) && (!(n in FORCED_KERNEL) || cpuLike));
  const models = new Map<string, Model>();
  const opts = new Map<string, tf.Optimizer>();
  const times = new Map<string, number[]>();
  for (const name of names) {
    models.set(name, makeModel(shapes, ctx.seed, `${name.replace(/\W/g, '')}_${params}`));
    opts.set(name, OPTIMIZERS[name]!());
    times.set(name, []);
  }
  // Warm-up (creates state, compiles shaders), then rounds that visit every optimizer in turn,
  // so the ratios to tfjs Adam are measured side by side under the same machine load.
  for (const name of names) await timedStep(opts.get(name)!, models.get(name)!, FORCED_KERNEL[name]);
  for (let r = 0; r < reps; r++) {
    for (const name of names) {
      times.get(name)!.push(await timedStep(opts.get(name)!, models.get(name)!, FORCED_KERNEL[name]));
      ctx.progress(`step ${params}`, r * names.length + names.indexOf(name) + 1, reps * names.length);
    }
  }
  const base = times.get('tf.train.adam')!;
  const baseMs = median(base);
  const baseBytes = optimizerStateBytes(opts.get('tf.train.adam')!);
  const out: Result[] = [];
  for (const name of names) {
    const t = times.get(name)!;
    const ms = median(t);
    // Paired by round (each round runs every optimizer back to back), so a change in machine
    // load between rounds cancels out of the ratio.
    const ratio = median(t.map((x, r) => x / base[r]!));
    const bytes = optimizerStateBytes(opts.get(name)!);
    const size = models.get(name)!.size;
    out.push({
      name: 'step',
      params: { optimizer: name, parameters: size, backend: ctx.backend, reps, kernel: kernelOf(name, ctx.backend) },
      metrics: {
        stepMs: { value: ms, unit: 'ms' },
        stepRatioVsTfjsAdam: { value: ratio, unit: '' },
        tfjsAdamMs: { value: baseMs, unit: 'ms' },
        stateBytes: { value: bytes, unit: 'bytes' },
        stateBytesPerParam: { value: bytes / size, unit: 'bytes' },
        stateRatioVsTfjsAdam: { value: bytes / baseBytes, unit: '' },
      },
      samples: times.get(name),
    });
  }
  for (const name of names) {
    opts.get(name)!.dispose();
    const m = models.get(name)!;
    tf.dispose([...m.vars, ...Object.values(m.grads)]);
  }
  return out;
}

/**
 * bitsandbytes' parity protocol: AdamW8bit against float32 AdamW whose parameter and states are
 * reset to the 8-bit ones after every step (p ~ N(0, 0.1), g ~ N(0, 0.01)).
 */
async function parity(ctx: SuiteContext, n: number, steps: number): Promise<Result> {
  const rng = createRng(ctx.seed + 1);
  const shape = [n / 256, 256];
  const p0 = rng.normalTensor(shape, 0, 0.1);
  const w8 = tf.variable(p0, true, `opt_parity8_${n}`);
  const w32 = tf.variable(p0, true, `opt_parity32_${n}`);
  const o8 = new AdamW8bit({ learningRate: 1e-3, weightDecay: 0 });
  const o32 = new AdamW({ learningRate: 1e-3, weightDecay: 0 });
  let mae = 0;
  let rel = 0;
  for (let k = 0; k < steps; k++) {
    const g = rng.normalTensor(shape, 0, 0.01);
    o8.applyGradients({ [w8.name]: g });
    o32.applyGradients({ [w32.name]: g });
    g.dispose();
    const [a, b] = [await w8.data(), await w32.data()];
    let sa = 0;
    let sr = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.abs(a[i]! - b[i]!);
      sa += d;
      sr += d / (Math.abs(b[i]!) + 1e-9);
    }
    mae += sa / n / steps;
    rel += sr / n / steps;
    // Reset the float32 states to the dequantized 8-bit ones.
    const st = o8.stateVariables().find((s) => s.name === `${w8.name}/q8`)!.variable;
    const words = (await st.data()) as Int32Array;
    const [m, v] = [0, 1].map((s) => tf.tensor(decodePackedState(words, n, 2, 256, s), shape));
    const ws = await o32.getWeights();
    await o32.setWeights([ws[0]!, { name: `${w32.name}/m`, tensor: m! }, { name: `${w32.name}/v`, tensor: v! }]);
    tf.dispose([m!, v!]);
    w32.assign(w8);
    ctx.progress('parity', k + 1, steps);
  }
  o8.dispose();
  o32.dispose();
  tf.dispose([w8, w32, p0]);
  return {
    name: 'parity',
    params: { optimizer: 'AdamW8bit vs AdamW', parameters: n, steps, backend: ctx.backend },
    metrics: { paramMAE: { value: mae, unit: '' }, paramMeanRelErr: { value: rel, unit: '' } },
  };
}

/** MLP 64-256-10 on the digits, 70/30 seeded split, same init and batches for every optimizer. */
async function digits(ctx: SuiteContext, epochs: number): Promise<Result[]> {
  const d = ctx.data.digits();
  const perm = createRng(ctx.seed + 2).permutation(d.n);
  const nTest = Math.round(d.n * 0.3);
  const take = (idx: Int32Array) => {
    const x = new Float32Array(idx.length * 64);
    const y = new Int32Array(idx.length);
    idx.forEach((k, r) => {
      x.set(d.x.subarray(k * 64, k * 64 + 64), r * 64);
      y[r] = d.y[k]!;
    });
    return { x: tf.tensor2d(x, [idx.length, 64]), y: tf.oneHot(tf.tensor1d(y, 'int32'), 10), labels: y, n: idx.length };
  };
  const test = take(perm.subarray(0, nTest));
  const train = take(perm.subarray(nTest));
  const hidden = 256;
  const batch = 64;
  const out: Result[] = [];
  const curves: { name: string; points: [number, number][] }[] = [];
  for (const name of ['AdamW', 'AdamW8bit', 'AdamW8bit(optimBits 4)'] as const) {
    const rng = createRng(ctx.seed + 3);
    const lim1 = Math.sqrt(6 / (64 + hidden));
    const lim2 = Math.sqrt(6 / (hidden + 10));
    const w1 = tf.variable(rng.uniformTensor([64, hidden], -lim1, lim1), true, `opt_digits_${name}_w1`);
    const b1 = tf.variable(tf.zeros([hidden]), true, `opt_digits_${name}_b1`);
    const w2 = tf.variable(rng.uniformTensor([hidden, 10], -lim2, lim2), true, `opt_digits_${name}_w2`);
    const b2 = tf.variable(tf.zeros([10]), true, `opt_digits_${name}_b2`);
    const forward = (x: tf.Tensor) => tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2), b2);
    const opt =
      name === 'AdamW'
        ? new AdamW({ learningRate: 1e-3 })
        : new AdamW8bit({ learningRate: 1e-3, optimBits: name === 'AdamW8bit' ? 8 : 4 });
    const order = createRng(ctx.seed + 4);
    const points: [number, number][] = [];
    for (let e = 0; e < epochs; e++) {
      const p = order.permutation(train.n);
      for (let s = 0; s + batch <= train.n; s += batch) {
        const idx = tf.tensor1d(p.subarray(s, s + batch), 'int32');
        opt.minimize(() => {
          const logits = forward(tf.gather(train.x, idx));
          return tf.losses.softmaxCrossEntropy(tf.gather(train.y, idx), logits) as tf.Scalar;
        });
        idx.dispose();
      }
      const l = tf.tidy(() => tf.losses.softmaxCrossEntropy(train.y, forward(train.x)));
      points.push([e + 1, (await l.data())[0]!]);
      l.dispose();
      ctx.progress(`digits ${name}`, e + 1, epochs);
    }
    const [trainLoss, testLoss, pred] = tf.tidy(() => [
      tf.losses.softmaxCrossEntropy(train.y, forward(train.x)),
      tf.losses.softmaxCrossEntropy(test.y, forward(test.x)),
      tf.argMax(forward(test.x), 1),
    ]);
    const predv = await pred!.data();
    let correct = 0;
    for (let i = 0; i < test.n; i++) if (predv[i] === test.labels[i]) correct++;
    out.push({
      name: 'digits',
      params: { optimizer: name, epochs, hidden, batch, backend: ctx.backend, quantizedVariables: name === 'AdamW' ? 'none' : 'w1' },
      metrics: {
        trainLoss: { value: (await trainLoss!.data())[0]!, unit: 'nats' },
        heldOutLoss: { value: (await testLoss!.data())[0]!, unit: 'nats' },
        heldOutAccuracy: { value: (100 * correct) / test.n, unit: '%' },
        stateBytes: { value: optimizerStateBytes(opt), unit: 'bytes' },
      },
    });
    curves.push({ name, points });
    tf.dispose([trainLoss!, testLoss!, pred!, w1, b1, w2, b2]);
    opt.dispose();
  }
  tf.dispose([test.x, test.y, train.x, train.y]);
  ctx.chart({ id: 'optimizers-digits', title: 'Digits MLP: training loss per epoch', kind: 'line', x: 'epoch', y: 'loss (nats)', series: curves });
  return out;
}

/** The `optimizers` suite: step time and state bytes versus tf.train.adam, parity, a real task. */
export const optimizersSuite: Suite = {
  name: 'optimizers',
  description: 'Optimizer step time and state bytes versus tf.train.adam (1M and 10M parameters), AdamW8bit parity with AdamW (bitsandbytes protocol), and an MLP on the digits (AdamW, AdamW8bit, 4-bit AdamW).',
  async run(ctx) {
    const sizes = ctx.quick ? [1_000_000] : [1_000_000, 10_000_000];
    const results: Result[] = [];
    for (const size of sizes) results.push(...(await stepTimes(ctx, size, ctx.quick ? 5 : 7)));
    results.push(await parity(ctx, ctx.quick ? 1 << 16 : 1 << 20, 50));
    results.push(...(await digits(ctx, ctx.quick ? 8 : 30)));
    const steps = results.filter((r) => r.name === 'step');
    ctx.chart({
      id: 'optimizers-step',
      title: `Optimizer step time on ${ctx.backend}`,
      kind: 'bar',
      x: 'parameters',
      y: 'ms per step',
      series: Object.keys(OPTIMIZERS).map((name) => ({
        name,
        points: steps.filter((r) => r.params.optimizer === name).map((r) => [Number(r.params.parameters), r.metrics.stepMs!.value] as [number, number]),
      })),
    });
    return results;
  },
  validate(results) {
    const checks: Check[] = [];
    for (const r of results.filter((x) => x.name === 'step' && x.params.optimizer === 'AdamW8bit')) {
      const n = r.params.parameters;
      const state = r.metrics.stateRatioVsTfjsAdam!.value;
      const time = r.metrics.stepRatioVsTfjsAdam!.value;
      checks.push({ name: `AdamW8bit state <= 0.26x tf.train.adam (${n} params)`, pass: state <= 0.26, detail: `${state.toFixed(4)}x (${r.metrics.stateBytesPerParam!.value.toFixed(3)} bytes/param)` });
      checks.push({ name: `AdamW8bit step time <= 1.0x tf.train.adam on ${r.params.backend} (${n} params)`, pass: time <= 1.0, detail: `${time.toFixed(2)}x (${r.metrics.stepMs!.value.toFixed(1)} ms, kernel ${String(r.params.kernel)})` });
    }
    const p = results.find((x) => x.name === 'parity');
    if (p) {
      const mae = p.metrics.paramMAE!.value;
      const rel = p.metrics.paramMeanRelErr!.value;
      checks.push({ name: 'parity: param MAE < 6e-5, mean rel err < 6e-4 (50 steps)', pass: mae < 6e-5 && rel < 6e-4, detail: `MAE ${mae.toExponential(2)}, rel ${rel.toExponential(2)}` });
    }
    const a = results.find((x) => x.name === 'digits' && x.params.optimizer === 'AdamW');
    const b = results.find((x) => x.name === 'digits' && x.params.optimizer === 'AdamW8bit');
    if (a && b) {
      const la = a.metrics.trainLoss!.value;
      const lb = b.metrics.trainLoss!.value;
      // "Reaches AdamW's final loss within 1%" and "the same accuracy within 0.5 points": being
      // better does not fail the check; being worse by more than the margin does.
      const dl = (lb - la) / la;
      const acc = a.metrics.heldOutAccuracy!.value - b.metrics.heldOutAccuracy!.value;
      checks.push({ name: 'digits: AdamW8bit reaches AdamW final loss within 1%', pass: dl <= 0.01, detail: `${lb.toFixed(4)} vs ${la.toFixed(4)} (${dl >= 0 ? '+' : ''}${(100 * dl).toFixed(2)}%)` });
      checks.push({ name: 'digits: AdamW8bit held-out accuracy at most 0.5 points below AdamW', pass: acc <= 0.5, detail: `${b.metrics.heldOutAccuracy!.value.toFixed(2)}% vs ${a.metrics.heldOutAccuracy!.value.toFixed(2)}%` });
    }
    return checks;
  },
};
