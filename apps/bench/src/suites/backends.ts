import {
  availableGpuKernelModes,
  createGpuKernel,
  createRng,
  getWebGPUAdapterInfo,
  initBackend,
  installWasmMatMul,
  uninstallWasmMatMul,
  type ConcreteBackend,
} from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { timeBest } from '../measure.js';
import { shrinkSize, type Check, type Result, type Suite, type SuiteContext } from '../suite.js';

/** Float64 dot product of row i of a and column j of b (n x n, row-major). */
function refEntry(a: Float32Array, b: Float32Array, n: number, i: number, j: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) s += a[i * n + k]! * b[k * n + j]!;
  return s;
}

/** Worst relative error of some entries of c against the float64 reference. */
function matmulError(a: Float32Array, b: Float32Array, c: ArrayLike<number>, n: number): number {
  let worst = 0;
  for (const [i, j] of [
    [0, 0],
    [n - 1, n - 1],
    [n >> 1, 3 % n],
    [7 % n, n >> 2],
  ] as const) {
    const r = refEntry(a, b, n, i, j);
    worst = Math.max(worst, Math.abs(c[i * n + j]! - r) / Math.max(1, Math.abs(r)));
  }
  return worst;
}

/** Best of `reps` timed runs after one warm-up run (which compiles shaders and allocates). */
async function timeIt(reps: number, step: () => Promise<void>): Promise<number> {
  return (await timeBest(step, { repeats: reps, warmup: 1 })).bestMs;
}

async function tfjsBackends(): Promise<ConcreteBackend[]> {
  const list: ConcreteBackend[] = ['cpu', 'wasm'];
  if (await getWebGPUAdapterInfo()) list.push('webgpu');
  if (tf.findBackendFactory('tensorflow')) list.push('tensorflow');
  return list;
}

async function runTfjs(ctx: SuiteContext, backend: ConcreteBackend, sizes: number[], elems: number): Promise<Result[]> {
  await initBackend(backend);
  const rng = createRng(ctx.seed);
  const out: Result[] = [];
  for (const n of sizes) {
    if (backend === 'cpu' && n > 512) continue; // about 1 GFLOP/s: larger sizes take minutes
    const ad = rng.fillNormal(new Float32Array(n * n));
    const bd = rng.fillNormal(new Float32Array(n * n));
    const a = tf.tensor2d(ad, [n, n]);
    const b = tf.tensor2d(bd, [n, n]);
    const reps = n <= 256 ? 5 : 3;
    // Wait on a one-element slice: it runs after the matmul, so the time covers the compute
    // without reading the whole product back.
    const ms = await timeIt(reps, async () => {
      const c = tf.matMul(a, b);
      const s = tf.slice(c, [0, 0], [1, 1]);
      await s.data();
      tf.dispose([c, s]);
    });
    const c = tf.matMul(a, b);
    const err = matmulError(ad, bd, await c.data(), n);
    tf.dispose([a, b, c]);
    out.push({
      name: 'matmul',
      params: { library: 'tfjs', backend, n },
      metrics: {
        gflops: { value: (2 * n ** 3) / (ms * 1e6), unit: 'GFLOP/s' },
        ms: { value: ms, unit: 'ms' },
        relError: { value: err, unit: '' },
      },
    });
    ctx.progress(`tfjs ${backend}`, out.length, sizes.length + 1);
  }
  const x = rng.uniformTensor([elems]);
  const y = rng.uniformTensor([elems]);
  const ms = await timeIt(5, async () => {
    const z = tf.add(x, y);
    const s = tf.slice(z, [0], [1]);
    await s.data();
    tf.dispose([z, s]);
  });
  const z = tf.add(x, y);
  const [xd, yd, zd] = await Promise.all([x.data(), y.data(), z.data()]);
  let err = 0;
  for (let i = 0; i < elems; i += 9973) err = Math.max(err, Math.abs(zd[i]! - (xd[i]! + yd[i]!)));
  tf.dispose([x, y, z]);
  out.push({
    name: 'elementwise add',
    params: { library: 'tfjs', backend, n: elems },
    metrics: {
      gbps: { value: (3 * 4 * elems) / (ms * 1e6), unit: 'GB/s' },
      ms: { value: ms, unit: 'ms' },
      relError: { value: err, unit: '' },
    },
  });
  ctx.progress(`tfjs ${backend}`, sizes.length + 1, sizes.length + 1);
  return out;
}

/**
 * tfjs-backend-wasm sends only untransposed, unbatched matmuls to XNNPACK; @blockwise/tensor's
 * initBackend routes the rest there too (`installWasmMatMul`). Times the cases it changes, with
 * tfjs-wasm's own kernels and with the routing, side by side in one run: a transposed product, a
 * batched one, and one Adam step of a 3 x 128 ReLU MLP on 1,024 rows (its backward pass is where
 * the transposes come from).
 */
async function runWasmRouting(ctx: SuiteContext): Promise<Result[]> {
  await initBackend('wasm');
  const rng = createRng(ctx.seed + 2);
  const n = shrinkSize(ctx, 512, { factor: 0.5, min: 128, what: 'routed matmul size n' });
  const a = rng.normalTensor([n, n]);
  const b = rng.normalTensor([n, n]);
  const batched = rng.normalTensor([8, n / 2, n / 2]);
  const dims = [3, 128, 128, 128, 2];
  const w = dims.slice(1).map((cols, i) => tf.variable(rng.normalTensor([dims[i]!, cols], 0, Math.sqrt(2 / dims[i]!))));
  const x = rng.normalTensor([1024, 3]);
  const y = rng.normalTensor([1024, 2]);
  const opt = tf.train.adam(1e-3);
  const loss = (): tf.Scalar =>
    tf.tidy(() => {
      let h: tf.Tensor = x;
      w.forEach((m, i) => {
        h = tf.matMul(h, m);
        if (i < w.length - 1) h = tf.relu(h);
      });
      return tf.losses.meanSquaredError(y, h) as tf.Scalar;
    });
  const cases: [string, Record<string, number | string>, () => tf.Tensor][] = [
    ['matmul, transposeB', { n }, () => tf.matMul(a, b, false, true)],
    ['matmul, batched', { batch: 8, n: n / 2 }, () => tf.matMul(batched, batched)],
    [
      'MLP Adam step (3 x 128, 1,024 rows)',
      { params: w.reduce((p, m) => p + m.size, 0) },
      () => opt.minimize(loss, true)!,
    ],
  ];
  const out: Result[] = [];
  try {
    for (const [name, params, fn] of cases) {
      const time = async (): Promise<number> =>
        timeIt(3, async () => {
          const t = fn();
          // a one-element read waits for the compute without reading the product back
          const one =
            t.rank === 0 ? t : tf.slice(t, new Array<number>(t.rank).fill(0), new Array<number>(t.rank).fill(1));
          await one.data();
          tf.dispose([t, one]);
        });
      uninstallWasmMatMul();
      const stock = await time();
      installWasmMatMul();
      const routed = await time();
      out.push({
        name: `wasm ${name}`,
        kind: 'wasmRouting',
        params: { library: 'tfjs', backend: 'wasm', ...params },
        metrics: {
          stockMs: { value: stock, unit: 'ms', better: 'lower' },
          routedMs: { value: routed, unit: 'ms', better: 'lower' },
          speedup: { value: stock / routed, unit: 'x', better: 'higher' },
        },
      });
      ctx.progress('wasm matmul routing', out.length, cases.length);
    }
  } finally {
    installWasmMatMul();
    tf.dispose([a, b, batched, x, y, ...w]);
    opt.dispose();
  }
  return out;
}

function matmulKernel(
  this: { thread: { x: number; y: number }; constants: { n: number } },
  a: number[],
  b: number[],
): number {
  let s = 0;
  for (let k = 0; k < this.constants.n; k++)
    s += a[this.thread.y * this.constants.n + k]! * b[k * this.constants.n + this.thread.x]!;
  return s;
}

function addKernel(this: { thread: { x: number } }, a: number[], b: number[]): number {
  return a[this.thread.x]! + b[this.thread.x]!;
}

async function runGpuJs(ctx: SuiteContext, sizes: number[], elems: number): Promise<Result[]> {
  const rng = createRng(ctx.seed + 1);
  const out: Result[] = [];
  for (const mode of await availableGpuKernelModes()) {
    for (const n of sizes) {
      if (mode === 'cpu' && n > 256) continue; // plain JavaScript loops: slow
      if (mode === 'webasm' && n > 512) continue;
      const a = rng.fillNormal(new Float32Array(n * n));
      const b = rng.fillNormal(new Float32Array(n * n));
      const settings = { constants: { n }, loopMaxIterations: n + 1 };
      const k = await createGpuKernel<Float32Array[]>(matmulKernel as never, { output: [n, n], mode, settings });
      const ms = await timeIt(n <= 256 ? 3 : 2, async () => {
        await k.run(a, b);
      });
      const rows = await k.run(a, b);
      const flat = new Float32Array(n * n);
      rows.forEach((row, i) => flat.set(row, i * n));
      k.destroy();
      out.push({
        name: 'matmul',
        params: { library: 'gpu.js', backend: mode, n },
        metrics: {
          gflops: { value: (2 * n ** 3) / (ms * 1e6), unit: 'GFLOP/s' },
          ms: { value: ms, unit: 'ms' },
          relError: { value: matmulError(a, b, flat, n), unit: '' },
        },
      });
    }
    const x = rng.fillUniform(new Float32Array(elems));
    const y = rng.fillUniform(new Float32Array(elems));
    const k = await createGpuKernel(addKernel as never, { output: [elems], mode });
    const ms = await timeIt(3, async () => {
      await k.run(x, y);
    });
    const z = (await k.run(x, y)) as Float32Array;
    k.destroy();
    let err = 0;
    for (let i = 0; i < elems; i += 9973) err = Math.max(err, Math.abs(z[i]! - (x[i]! + y[i]!)));
    out.push({
      name: 'elementwise add',
      params: { library: 'gpu.js', backend: mode, n: elems },
      metrics: {
        gbps: { value: (3 * 4 * elems) / (ms * 1e6), unit: 'GB/s' },
        ms: { value: ms, unit: 'ms' },
        relError: { value: err, unit: '' },
      },
    });
    ctx.progress('gpu.js', out.length, out.length);
  }
  return out;
}

/** Matmul GFLOP/s and elementwise GB/s on every tfjs backend and gpu.js mode available here. */
export const backendsSuite: Suite = {
  name: 'backends',
  description:
    'matmul GFLOP/s and elementwise GB/s on every tfjs backend and gpu.js mode available (gpu.js times include upload and read-back); on wasm, the transposed and batched matmuls and an MLP training step with tfjs-wasm own kernels and with the XNNPACK routing of @blockwise/tensor',
  async run(ctx) {
    // On a software WebGPU adapter every matmul here (gpu.js and tfjs alike) runs on the CPU:
    // quick runs keep to n = 256 there.
    const sizes = [
      ...new Set(
        (ctx.full ? [256, 512, 1024, 2048] : [256, 512]).map((n) =>
          shrinkSize(ctx, n, { factor: 0.5, min: 256, what: 'matmul size n' }),
        ),
      ),
    ];
    const elems = ctx.full ? 1 << 24 : 1 << 20;
    const results: Result[] = [];
    try {
      for (const b of await tfjsBackends()) results.push(...(await runTfjs(ctx, b, sizes, elems)));
      results.push(...(await runWasmRouting(ctx)));
      results.push(...(await runGpuJs(ctx, sizes, elems)));
    } finally {
      await initBackend(ctx.backend as ConcreteBackend);
    }
    const series = new Map<string, [number, number][]>();
    for (const r of results.filter((r) => r.name === 'matmul')) {
      const k = `${r.params.library} ${r.params.backend}`;
      series.set(k, [...(series.get(k) ?? []), [r.params.n as number, r.metrics.gflops!.value]]);
    }
    ctx.chart({
      id: 'matmul',
      title: 'matmul throughput',
      kind: 'line',
      x: 'n (n x n times n x n)',
      y: 'GFLOP/s',
      logY: true,
      series: [...series].map(([name, points]) => ({ name, points })),
    });
    return results;
  },
  validate(results): Check[] {
    const checks: Check[] = [];
    const worst = Math.max(...results.map((r) => r.metrics.relError?.value ?? 0));
    checks.push({
      name: 'every backend computes the right numbers',
      pass: worst < 1e-3,
      detail: `worst relative error against a float64 reference ${worst.toExponential(2)} (limit 1e-3)`,
    });
    // The largest size both CPU backends ran (512 in quick mode; 256 where sizes were shrunk).
    const cpuSizes = results
      .filter((r) => r.name === 'matmul' && r.params.library === 'tfjs' && r.params.backend === 'cpu')
      .map((r) => Number(r.params.n));
    const n = cpuSizes.length ? Math.max(...cpuSizes) : 512;
    const g = (lib: string, be: string) =>
      results.find(
        (r) => r.name === 'matmul' && r.params.library === lib && r.params.backend === be && r.params.n === n,
      )?.metrics.gflops?.value;
    const wasm = g('tfjs', 'wasm');
    const cpu = g('tfjs', 'cpu');
    if (wasm !== undefined && cpu !== undefined) {
      checks.push({
        name: 'wasm is the fastest CPU backend (the default)',
        pass: wasm > cpu,
        detail: `tfjs matmul ${n}: wasm ${wasm.toFixed(1)} GFLOP/s, cpu ${cpu.toFixed(1)} GFLOP/s`,
      });
    }
    const routing = results.filter((r) => r.kind === 'wasmRouting');
    if (routing.length) {
      const least = routing.reduce((p, r) => (r.metrics.speedup!.value < p.metrics.speedup!.value ? r : p));
      checks.push({
        name: 'wasm: routed transposed/batched matmuls and an MLP training step >= 3x faster than tfjs-wasm own kernels',
        pass: least.metrics.speedup!.value >= 3,
        detail: routing
          .map(
            (r) =>
              `${r.name.replace(/^wasm /, '')}: ${r.metrics.stockMs!.value.toFixed(1)} -> ${r.metrics.routedMs!.value.toFixed(1)} ms (${r.metrics.speedup!.value.toFixed(1)}x)`,
          )
          .join('; '),
      });
    }
    return checks;
  },
};
