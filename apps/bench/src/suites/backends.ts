import {
  availableGpuKernelModes,
  createGpuKernel,
  createRng,
  getWebGPUAdapterInfo,
  initBackend,
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
    'matmul GFLOP/s and elementwise GB/s on every tfjs backend and gpu.js mode available (gpu.js times include upload and read-back)',
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
    return checks;
  },
};
