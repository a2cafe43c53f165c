import {
  Adam8bit,
  AdamW,
  AdamW8bit,
  BlockwiseOptimizer,
  decodePackedState,
  LAMB,
  LAMB8bit,
  LARS,
  Lion,
  Lion8bit,
  Momentum8bit,
  Muon,
  newtonSchulz,
  optimizerStateBytes,
} from '@blockwise/optimizers';
import { createRng } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { digitsSplit } from '../data.js';
import { median, timeBest } from '../measure.js';
import type { Check, Result, Suite, SuiteContext } from '../suite.js';

/** One timed optimizer: how to build it, its step-time target against tf.train.adam, its chart. */
interface Entry {
  make: () => tf.Optimizer;
  /** Issue 12's target for the step time as a ratio to tf.train.adam (none for the baseline and diagnostics). */
  target?: number;
  /** Which chart shows it: float32 state or quantized state. */
  group: '32-bit' | '8-bit';
}

/** Optimizers timed against tfjs's own Adam (same learning rate where it has one). */
const OPTIMIZERS: Record<string, Entry> = {
  'tf.train.adam': { make: () => tf.train.adam(1e-3), group: '32-bit' },
  AdamW: { make: () => new AdamW({ learningRate: 1e-3 }), target: 0.8, group: '32-bit' },
  Lion: { make: () => new Lion(), target: 1.0, group: '32-bit' },
  LAMB: { make: () => new LAMB(), target: 1.5, group: '32-bit' },
  LARS: { make: () => new LARS(), target: 1.0, group: '32-bit' },
  'Momentum8bit(optimBits 32)': { make: () => new Momentum8bit({ optimBits: 32 }), target: 1.0, group: '32-bit' },
  Adam8bit: { make: () => new Adam8bit({ learningRate: 1e-3 }), target: 1.0, group: '8-bit' },
  AdamW8bit: { make: () => new AdamW8bit({ learningRate: 1e-3 }), target: 0.5, group: '8-bit' },
  // The same step with the fused kernel's JavaScript reference instead of WebAssembly SIMD (diagnostic).
  'AdamW8bit(js kernel)': { make: () => new AdamW8bit({ learningRate: 1e-3, kernel: 'js' }), group: '8-bit' },
  'AdamW8bit(optimBits 4)': {
    make: () => new AdamW8bit({ learningRate: 1e-3, optimBits: 4 }),
    target: 1.0,
    group: '8-bit',
  },
  Lion8bit: { make: () => new Lion8bit(), target: 1.0, group: '8-bit' },
  Momentum8bit: { make: () => new Momentum8bit(), target: 1.0, group: '8-bit' },
  LAMB8bit: { make: () => new LAMB8bit(), target: 1.5, group: '8-bit' },
};

/** Entries whose kernel option only means something on the cpu/wasm backends. */
const CPU_ONLY = new Set(['AdamW8bit(js kernel)']);

/** The implementation the optimizer says ran its last step ('tfjs' for tfjs's own optimizers). */
function kernelOf(opt: tf.Optimizer): string {
  // Not `instanceof`: tf.Optimizer's Symbol.hasInstance accepts any optimizer-shaped object.
  const ours = opt as Partial<Pick<BlockwiseOptimizer, 'lastKernel'>>;
  return typeof ours.lastKernel === 'function' ? ours.lastKernel() || 'none' : 'tfjs';
}

/** Parameter layouts: square matrices (Muon needs matrices) adding up to about N parameters. */
function layout(params: number): number[][] {
  return params >= 5_000_000
    ? Array.from({ length: 10 }, () => [1000, 1000])
    : Array.from({ length: 4 }, () => [512, 512]);
}

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

function disposeModel(m: Model): void {
  tf.dispose([...m.vars, ...Object.values(m.grads)]);
}

/** One timed step with the bench's timer: apply, then read a one-element slice of the last variable. */
async function timedStep(opt: tf.Optimizer, m: Model): Promise<number> {
  const last = m.vars[m.vars.length - 1]!;
  const t = await timeBest(
    () => {
      opt.applyGradients(m.grads);
      return tf.slice(tf.reshape(last, [-1]), [0], [1]);
    },
    { repeats: 1 },
  );
  return t.bestMs;
}

async function stepTimes(ctx: SuiteContext, params: number, reps: number): Promise<Result[]> {
  const shapes = layout(params);
  const cpuLike = ctx.backend === 'cpu' || ctx.backend === 'wasm';
  const names = Object.keys(OPTIMIZERS).filter((n) => !CPU_ONLY.has(n) || cpuLike);
  const models = new Map<string, Model>();
  const opts = new Map<string, tf.Optimizer>();
  const times = new Map<string, number[]>();
  // CPU time of this process per step beside the wall time: on a loaded machine the wall time
  // includes the waits for a core, which stretch tfjs's many short ops more than one kernel, so
  // the CPU-time ratio is the fairer of the two there (tfjs-wasm runs on this one thread).
  const cpuTimes = new Map<string, number[]>();
  for (const name of names) {
    models.set(name, makeModel(shapes, ctx.seed, `${name.replace(/\W/g, '')}_${params}`));
    opts.set(name, OPTIMIZERS[name]!.make());
    times.set(name, []);
    cpuTimes.set(name, []);
  }
  // Warm-up (creates state, compiles shaders), then rounds that visit every optimizer in turn,
  // so the ratios to tfjs Adam are measured side by side under the same machine load.
  for (const name of names) await timedStep(opts.get(name)!, models.get(name)!);
  for (let r = 0; r < reps; r++) {
    for (const name of names) {
      const c0 = process.cpuUsage();
      times.get(name)!.push(await timedStep(opts.get(name)!, models.get(name)!));
      const c = process.cpuUsage(c0);
      cpuTimes.get(name)!.push((c.user + c.system) / 1000);
      ctx.progress(`step ${params}`, r * names.length + names.indexOf(name) + 1, reps * names.length);
    }
  }
  const base = times.get('tf.train.adam')!;
  const baseCpu = cpuTimes.get('tf.train.adam')!;
  const baseMs = median(base);
  const baseBytes = optimizerStateBytes(opts.get('tf.train.adam')!);
  const out: Result[] = [];
  for (const name of names) {
    const t = times.get(name)!;
    const opt = opts.get(name)!;
    // Paired by round (each round runs every optimizer back to back), so a change in machine
    // load between rounds cancels out of the ratio.
    const ratio = median(t.map((x, r) => x / base[r]!));
    const cpuRatio = median(cpuTimes.get(name)!.map((x, r) => x / baseCpu[r]!));
    const bytes = optimizerStateBytes(opt);
    const size = models.get(name)!.size;
    out.push({
      name: 'step',
      kind: 'step time',
      params: { optimizer: name, parameters: size, backend: ctx.backend, reps, kernel: kernelOf(opt) },
      metrics: {
        stepMs: { value: median(t), unit: 'ms', better: 'lower' },
        stepRatioVsTfjsAdam: { value: ratio, unit: '', better: 'lower' },
        stepCpuRatioVsTfjsAdam: { value: cpuRatio, unit: '', better: 'lower' },
        tfjsAdamMs: { value: baseMs, unit: 'ms', better: 'lower' },
        stateBytes: { value: bytes, unit: 'bytes', better: 'lower' },
        stateBytesPerParam: { value: bytes / size, unit: 'bytes', better: 'lower' },
        stateRatioVsTfjsAdam: { value: bytes / baseBytes, unit: '', better: 'lower' },
      },
      samples: t,
    });
  }
  for (const name of names) {
    opts.get(name)!.dispose();
    disposeModel(models.get(name)!);
  }
  return out;
}

/**
 * Muon's step beside the same Newton-Schulz matmuls run alone (`newtonSchulz` on matrices of the
 * step's shapes), paired by round, and the GFLOP/s those matmuls reach. Per matrix r x c (r <= c)
 * and iteration: X X^T (2 r^2 c), A A (2 r^3), B X (2 r^2 c) floating-point operations. Beside
 * them, the backend's plain matMul (no transpose flags) of [r, c] x [c, r] in the same rounds: the
 * rate Newton-Schulz could reach at best on these shapes (its Gram product needs a transpose).
 */
async function muonTimes(ctx: SuiteContext, shapes: number[][], reps: number): Promise<Result> {
  const m = makeModel(shapes, ctx.seed + 5, `muon_${shapes.length}x${shapes[0]!.join('x')}`);
  const opt = new Muon({ learningRate: 0.02 });
  const nsSteps = 5;
  const flops = shapes.reduce((a, [r0, c0]) => {
    const r = Math.min(r0!, c0!);
    const c = Math.max(r0!, c0!);
    return a + nsSteps * (4 * r * r * c + 2 * r * r * r);
  }, 0);
  const ns = async (): Promise<number> =>
    (
      await timeBest(
        () => {
          const outs = m.vars.map((v) => newtonSchulz(m.grads[v.name] as tf.Tensor2D, nsSteps));
          const s = tf.tidy(() => tf.stack(outs.map((o) => tf.slice(tf.reshape(o, [-1]), [0], [1]))));
          tf.dispose(outs);
          return s;
        },
        { repeats: 1 },
      )
    ).bestMs;
  const rng = createRng(ctx.seed + 6);
  const plainIn = shapes.map(([r0, c0]) => {
    const r = Math.min(r0!, c0!);
    const c = Math.max(r0!, c0!);
    return [rng.normalTensor([r, c]), rng.normalTensor([c, r])] as const;
  });
  const plainFlops = shapes.reduce((a, [r0, c0]) => a + 2 * Math.min(r0!, c0!) ** 2 * Math.max(r0!, c0!), 0);
  const plain = async (): Promise<number> =>
    (
      await timeBest(
        () => {
          const outs = plainIn.map(([x, y]) => tf.matMul(x, y));
          const s = tf.tidy(() => tf.stack(outs.map((o) => tf.slice(tf.reshape(o, [-1]), [0], [1]))));
          tf.dispose(outs);
          return s;
        },
        { repeats: 1 },
      )
    ).bestMs;
  await timedStep(opt, m);
  await ns();
  await plain();
  const step: number[] = [];
  const alone: number[] = [];
  const plainMs: number[] = [];
  for (let r = 0; r < reps; r++) {
    step.push(await timedStep(opt, m));
    alone.push(await ns());
    plainMs.push(await plain());
    ctx.progress('muon', r + 1, reps);
  }
  tf.dispose(plainIn.flat());
  const kernel = kernelOf(opt);
  opt.dispose();
  disposeModel(m);
  const nsMs = median(alone);
  const nsGflops = flops / nsMs / 1e6;
  const plainGflops = plainFlops / median(plainMs) / 1e6;
  return {
    name: 'muon',
    kind: 'muon',
    params: {
      optimizer: 'Muon',
      parameters: m.size,
      shapes: `${shapes.length} x [${shapes[0]!.join(', ')}]`,
      backend: ctx.backend,
      reps,
      kernel,
    },
    metrics: {
      stepMs: { value: median(step), unit: 'ms', better: 'lower' },
      newtonSchulzMs: { value: nsMs, unit: 'ms', better: 'lower' },
      stepRatioVsNewtonSchulz: { value: median(step.map((x, r) => x / alone[r]!)), unit: '', better: 'lower' },
      newtonSchulzGflops: { value: nsGflops, unit: 'GFLOP/s', better: 'higher' },
      plainMatmulGflops: { value: plainGflops, unit: 'GFLOP/s', better: 'higher' },
      newtonSchulzVsPlainMatmul: { value: nsGflops / plainGflops, unit: '', better: 'higher' },
    },
    samples: step,
  };
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
    kind: 'parity',
    params: { optimizer: 'AdamW8bit vs AdamW', parameters: n, steps, backend: ctx.backend },
    metrics: {
      paramMAE: { value: mae, unit: '', better: 'lower' },
      paramMeanRelErr: { value: rel, unit: '', better: 'lower' },
    },
  };
}

/** MLP 64-256-10 on the digits, 70/30 seeded split, same init and batches for every optimizer. */
async function digits(ctx: SuiteContext, epochs: number): Promise<Result[]> {
  const split = digitsSplit(ctx.data.digits(), { seed: ctx.seed + 2 });
  const take = (part: { x: Float32Array; y: Int32Array; n: number }) => ({
    x: tf.tensor2d(part.x, [part.n, 64]),
    y: tf.oneHot(tf.tensor1d(part.y, 'int32'), 10),
    labels: part.y,
    n: part.n,
  });
  const test = take(split.test);
  const train = take(split.train);
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
      kind: 'digits',
      params: {
        optimizer: name,
        epochs,
        hidden,
        batch,
        backend: ctx.backend,
        quantizedVariables: name === 'AdamW' ? 'none' : 'w1',
      },
      metrics: {
        trainLoss: { value: (await trainLoss!.data())[0]!, unit: 'nats', better: 'lower' },
        heldOutLoss: { value: (await testLoss!.data())[0]!, unit: 'nats', better: 'lower' },
        heldOutAccuracy: { value: (100 * correct) / test.n, unit: '%', better: 'higher' },
        stateBytes: { value: optimizerStateBytes(opt), unit: 'bytes', better: 'lower' },
      },
    });
    curves.push({ name, points });
    tf.dispose([trainLoss!, testLoss!, pred!, w1, b1, w2, b2]);
    opt.dispose();
  }
  tf.dispose([test.x, test.y, train.x, train.y]);
  ctx.chart({
    id: 'optimizers-digits',
    title: 'Digits MLP: training loss per epoch',
    kind: 'line',
    x: 'epoch',
    y: 'loss (nats)',
    series: curves,
  });
  return out;
}

/** "; CPU-time ratio x" where the result has it (not a Target: the ratio is wall time). */
function cpuRatio(r: Result): string {
  const c = r.metrics.stepCpuRatioVsTfjsAdam?.value;
  return c === undefined ? '' : `; CPU-time ratio ${c.toFixed(2)}x`;
}

/** ", x% of plain matMul's y GFLOP/s" where the result has the plain rate. */
function plainRate(mu: Result): string {
  const plain = mu.metrics.plainMatmulGflops?.value;
  if (plain === undefined) return '';
  return ` = ${(100 * mu.metrics.newtonSchulzVsPlainMatmul!.value).toFixed(0)}% of plain matMul's ${plain.toFixed(1)} GFLOP/s`;
}

/** The `optimizers` suite: step time and state bytes versus tf.train.adam, Muon versus its matmuls, parity, a real task. */
export const optimizersSuite: Suite = {
  name: 'optimizers',
  description:
    'Optimizer step time and state bytes versus tf.train.adam side by side (1M parameters; --full also 10M), Muon versus its Newton-Schulz matmuls alone and the plain matMul rate on the same shapes (4 x 128x128; --full 4 x 512x512), AdamW8bit parity with AdamW (bitsandbytes protocol), and an MLP on the digits (AdamW, AdamW8bit, 4-bit AdamW); 4-bit state runs the SIMD kernel like 8-bit.',
  async run(ctx) {
    const sizes = ctx.quick ? [1_000_000] : [1_000_000, 10_000_000];
    const results: Result[] = [];
    for (const size of sizes) results.push(...(await stepTimes(ctx, size, ctx.quick ? 5 : 7)));
    // Newton-Schulz costs about 15 matrix products per matrix and step: quick mode times smaller matrices.
    results.push(
      await muonTimes(
        ctx,
        ctx.quick ? Array.from({ length: 4 }, () => [128, 128]) : layout(1_000_000),
        ctx.quick ? 3 : 5,
      ),
    );
    results.push(await parity(ctx, ctx.quick ? 1 << 16 : 1 << 20, 50));
    results.push(...(await digits(ctx, ctx.quick ? 8 : 30)));
    const steps = results.filter((r) => r.name === 'step');
    // Ratios to tf.train.adam on a log scale: a 12 ms bar stays visible beside a 360 ms one, and
    // each chart holds few enough series for distinct colours.
    for (const group of ['32-bit', '8-bit'] as const) {
      ctx.chart({
        id: `optimizers-step-${group}`,
        title: `Step time / tf.train.adam on ${ctx.backend} (${group === '32-bit' ? 'float32 state' : 'quantized state'})`,
        kind: 'bar',
        x: 'parameters',
        y: 'step time / tf.train.adam (log)',
        logY: true,
        series: Object.keys(OPTIMIZERS)
          .filter((name) => OPTIMIZERS[name]!.group === group && name !== 'tf.train.adam')
          .map((name) => ({
            name,
            points: steps
              .filter((r) => r.params.optimizer === name)
              .map((r) => [Number(r.params.parameters), r.metrics.stepRatioVsTfjsAdam!.value] as [number, number]),
          })),
      });
    }
    return results;
  },
  validate(results) {
    const checks: Check[] = [];
    for (const r of results.filter((x) => x.name === 'step')) {
      const name = String(r.params.optimizer);
      const target = OPTIMIZERS[name]?.target;
      const n = r.params.parameters;
      const time = r.metrics.stepRatioVsTfjsAdam!.value;
      if (target !== undefined) {
        checks.push({
          name: `${name} step <= ${target.toFixed(1)}x tf.train.adam on ${r.params.backend} (${n} params)`,
          pass: time <= target,
          detail: `${time.toFixed(2)}x (${r.metrics.stepMs!.value.toFixed(1)} ms vs ${r.metrics.tfjsAdamMs!.value.toFixed(1)} ms${cpuRatio(r)}, kernel ${String(r.params.kernel)})`,
        });
      }
      if (name === 'AdamW8bit') {
        const state = r.metrics.stateRatioVsTfjsAdam!.value;
        checks.push({
          name: `AdamW8bit state <= 0.26x tf.train.adam (${n} params)`,
          pass: state <= 0.26,
          detail: `${state.toFixed(4)}x (${r.metrics.stateBytesPerParam!.value.toFixed(3)} bytes/param)`,
        });
      }
    }
    const mu = results.find((x) => x.name === 'muon');
    if (mu) {
      const ratio = mu.metrics.stepRatioVsNewtonSchulz!.value;
      checks.push({
        name: `Muon step <= 1.5x its Newton-Schulz matmuls alone (${String(mu.params.shapes)})`,
        pass: ratio <= 1.5,
        detail: `${ratio.toFixed(2)}x (${mu.metrics.stepMs!.value.toFixed(1)} ms vs ${mu.metrics.newtonSchulzMs!.value.toFixed(1)} ms, ${mu.metrics.newtonSchulzGflops!.value.toFixed(1)} GFLOP/s${plainRate(mu)}, kernel ${String(mu.params.kernel)})`,
      });
    }
    const p = results.find((x) => x.name === 'parity');
    if (p) {
      const mae = p.metrics.paramMAE!.value;
      const rel = p.metrics.paramMeanRelErr!.value;
      checks.push({
        name: 'parity: param MAE < 6e-5, mean rel err < 6e-4 (50 steps)',
        pass: mae < 6e-5 && rel < 6e-4,
        detail: `MAE ${mae.toExponential(2)}, rel ${rel.toExponential(2)}`,
      });
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
      checks.push({
        name: 'digits: AdamW8bit reaches AdamW final loss within 1%',
        pass: dl <= 0.01,
        detail: `${lb.toFixed(4)} vs ${la.toFixed(4)} (${dl >= 0 ? '+' : ''}${(100 * dl).toFixed(2)}%)`,
      });
      // The comparisons above pass when both fail to learn (a broken update path gave 15% for
      // both once): AdamW itself must learn the task (94.6% after 8 epochs, 98% after 30).
      checks.push({
        name: 'digits: AdamW learns the task (held-out accuracy >= 90%)',
        pass: a.metrics.heldOutAccuracy!.value >= 90,
        detail: `${a.metrics.heldOutAccuracy!.value.toFixed(2)}%`,
      });
      checks.push({
        name: 'digits: AdamW8bit held-out accuracy at most 0.5 points below AdamW',
        pass: acc <= 0.5,
        detail: `${b.metrics.heldOutAccuracy!.value.toFixed(2)}% vs ${a.metrics.heldOutAccuracy!.value.toFixed(2)}%`,
      });
    }
    return checks;
  },
};
