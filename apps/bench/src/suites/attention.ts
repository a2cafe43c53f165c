import {
  blockSparseAttention,
  chooseImpl,
  createBlockMask,
  denseAttention,
  type BlockMask,
  type MaskMod,
} from '@blockwise/attention';
import {
  createRng,
  getWebGPUAdapterInfo,
  installWasmMatMul,
  uninstallWasmMatMul,
  wasmMatMulInstalled,
  type Rng,
} from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { timeBest } from '../measure.js';
import type { Check, Metric, Result, Suite, SuiteContext } from '../suite.js';

const DIM = 64;
const BLOCK = 64;

/**
 * A block mask keeping, in every query block, the diagonal block plus random other key blocks, so
 * that `keep` of the `nk` blocks of each row are computed (block sparsity 1 - keep / nk).
 */
function randomBlockMask(len: number, sparsity: number, rng: Rng, block = BLOCK): BlockMask {
  const nk = Math.ceil(len / block);
  const keep = Math.max(1, Math.round((1 - sparsity / 100) * nk));
  const table = new Uint8Array(nk * nk);
  for (let qb = 0; qb < nk; qb++) {
    table[qb * nk + qb] = 1;
    const others = Array.from(rng.permutation(nk)).filter((kb) => kb !== qb);
    for (let i = 0; i < keep - 1; i++) table[qb * nk + others[i]!] = 1;
  }
  return createBlockMask((_b, _h, q, kv) => table[Math.floor(q / block) * nk + Math.floor(kv / block)] === 1, {
    qLen: len,
    kvLen: len,
    blockSize: block,
  });
}

/** Times dense attention (forward, and forward+backward when asked) with an all-true mask bias. */
async function denseMetrics(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  full: BlockMask,
  len: number,
  heads: number,
  scale: number,
  dO: tf.Tensor,
  passes: 'both' | 'forward',
  fwdOpts: { repeats: number; budgetMs: number },
  bwdOpts: { repeats: number; budgetMs: number; warmup: number },
): Promise<Record<string, Metric>> {
  const bias = denseBias(full);
  try {
    tf.dispose(tf.tidy(() => denseForward(q, k, v, bias, scale))); // warm-up
    const fwd = (await timeBest(() => tf.tidy(() => denseForward(q, k, v, bias, scale).slice(0, 1)), fwdOpts)).bestMs;
    const metrics: Record<string, Metric> = {
      forwardMs: ms(fwd),
      forwardGflops: gflops(attentionFlops(len, heads, 0, 'forward') / fwd / 1e6),
    };
    if (passes === 'both') {
      const fb = (await timeBest(() => tf.tidy(() => denseForwardBackward(q, k, v, bias, scale, dO)), bwdOpts)).bestMs;
      metrics.forwardBackwardMs = ms(fb);
      metrics.forwardBackwardGflops = gflops(attentionFlops(len, heads, 0, 'forwardBackward') / fb / 1e6);
    }
    return metrics;
  } finally {
    bias.dispose();
  }
}

/** Additive bias for the dense baseline: 0 where the mask attends, -1e9 elsewhere. */
function denseBias(mask: BlockMask): tf.Tensor {
  const bits = mask.toTokenMask();
  const bias = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) bias[i] = bits[i] ? 0 : -1e9;
  return tf.tensor4d(bias, [1, 1, mask.qLen, mask.kvLen]);
}

/** tfjs dense attention: matMul, masked softmax, matMul. */
function denseForward(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, bias: tf.Tensor, scale: number): tf.Tensor[] {
  const p = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), scale), bias));
  return [tf.matMul(p, v), p];
}

/**
 * Dense forward plus the backward written out in the tfjs ops autodiff would run (dV = Pᵀ dO,
 * dP = dO Vᵀ, dS = P (dP - rowsum(dP P)), dQ = dS K s, dK = dSᵀ Q s), so it needs no gradient
 * registrations.
 */
function denseForwardBackward(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  bias: tf.Tensor,
  scale: number,
  dO: tf.Tensor,
): tf.Tensor[] {
  const [o, p] = denseForward(q, k, v, bias, scale) as [tf.Tensor, tf.Tensor];
  const dV = tf.matMul(p, dO, true, false);
  const dP = tf.matMul(dO, v, false, true);
  const dS = tf.mul(p, tf.sub(dP, tf.sum(tf.mul(dP, p), -1, true)));
  const dQ = tf.mul(tf.matMul(dS, k), scale);
  const dK = tf.mul(tf.matMul(dS, q, true, false), scale);
  return [o, dQ, dK, dV];
}

interface Plan {
  len: number;
  heads: number;
  sparsities: number[];
  /** Dense baseline: forward and forward+backward, forward only, or none. */
  dense: 'both' | 'forward' | 'none';
}

function plan(ctx: SuiteContext, softwareGpu: boolean): Plan[] {
  if (softwareGpu && !ctx.full) {
    // WebGPU on a CPU (software) adapter: a smoke run at small sizes; its times say nothing about GPUs
    return [
      { len: 256, heads: 1, sparsities: [0, 75], dense: 'both' },
      { len: 512, heads: 1, sparsities: [0, 50, 75, 88], dense: 'both' },
    ];
  }
  const cpuLike = ctx.backend === 'wasm' || ctx.backend === 'cpu';
  if (ctx.full) {
    const sweep = [0, 25, 50, 75, 90, 95, 97];
    return [
      ...[1024, 2048, 4096, 8192, 16384].map((len) => ({
        len,
        heads: 2,
        sparsities: len <= 4096 ? sweep : [0, 50, 90, 97],
        dense: (len <= (cpuLike ? 4096 : 8192) ? 'both' : 'none') as Plan['dense'],
      })),
      { len: 4096, heads: 4, sparsities: [0, 90], dense: 'forward' },
    ];
  }
  return [
    { len: 1024, heads: 1, sparsities: [0, 90], dense: 'both' },
    { len: 2048, heads: 1, sparsities: [0, 50, 75, 90, 97], dense: 'both' },
    // 4 heads at 4096: the kernel at 90% only (0% would cost ~10 s with its backward; the dense
    // forward alone measured 30 s per run on wasm, its backward several minutes)
    ...(cpuLike ? [{ len: 4096, heads: 4, sparsities: [90], dense: 'none' as const }] : []),
  ];
}

const ms = (value: number): Metric => ({ value, unit: 'ms', better: 'lower' });
const gflops = (value: number): Metric => ({ value, unit: 'GFLOP/s', better: 'higher' });

/**
 * FLOPs of attention on the computed blocks (block area = (1 - sparsity) * qLen * kvLen, padded
 * blocks included, FlexAttention's accounting): forward 4 * area * dim per head (Q·Kᵀ and P·V),
 * forward+backward 14 (the backward's five products, as FlashAttention-2 counts them).
 */
function attentionFlops(len: number, heads: number, sparsity: number, pass: 'forward' | 'forwardBackward'): number {
  const area = (1 - sparsity / 100) * len * len;
  return (pass === 'forward' ? 4 : 14) * area * DIM * heads;
}

/** tfjs matMul GFLOP/s at 512 x 512 x 512 on the current backend, best of a few runs. */
async function matMulGflops(): Promise<number> {
  const a = tf.randomNormal([512, 512]);
  const b = tf.randomNormal([512, 512]);
  const t = await timeBest(() => tf.matMul(a, b), { repeats: 5, warmup: 1 });
  tf.dispose([a, b]);
  return (2 * 512 ** 3) / t.bestMs / 1e6;
}

/**
 * Agreement with dense attention on this backend (the suite's correctness targets): a random
 * block mask plus causal, and a mask with fully masked rows, at seq 256, 2 query heads on 1 kv
 * head; largest |difference| of output, LSE and dq, dk, dv, and whether the empty rows give 0,
 * -Infinity LSE and finite gradients.
 */
async function accuracy(rng: Rng): Promise<{ maxDiff: number; emptyRowsOk: boolean }> {
  const len = 256;
  const [q, k, v] = [
    rng.normalTensor([1, 2, len, DIM]),
    rng.normalTensor([1, 1, len, DIM]),
    rng.normalTensor([1, 1, len, DIM]),
  ];
  const w = rng.normalTensor([1, 2, len, DIM]);
  let maxDiff = 0;
  const run = (f: (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => { output: tf.Tensor; lse: tf.Tensor }): tf.Tensor[] =>
    tf.tidy(() => {
      const { output, lse } = f(q, k, v);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a, b, c).output, w)))([q, k, v]);
      return [output, tf.where(tf.isFinite(lse), lse, tf.fill(lse.shape, -1e30)), ...g];
    });
  const random = randomBlockMask(len, 50, rng, 32);
  const mod: MaskMod = (b, h, i, j) => random.maskMod(b, h, i, j) && i >= j;
  const blockMask = createBlockMask(mod, { qLen: len, kvLen: len, blockSize: 32 });
  const sparse = run((a, b, c) => blockSparseAttention(a, b, c, { blockMask, returnLse: true }));
  const dense = run((a, b, c) => denseAttention(a, b, c, { mask: mod, returnLse: true }));
  for (let i = 0; i < sparse.length; i++) {
    const [x, y] = await Promise.all([sparse[i]!.data(), dense[i]!.data()]);
    for (let j = 0; j < x.length; j++) maxDiff = Math.max(maxDiff, Math.abs(x[j]! - y[j]!));
  }
  tf.dispose([...sparse, ...dense]);
  // strictly upper triangular: the last query row sees no key
  const empty = createBlockMask((_b, _h, i, j) => j > i, { qLen: len, kvLen: len, blockSize: 32 });
  const r = run((a, b, c) => blockSparseAttention(a, b, c, { blockMask: empty, returnLse: true }));
  const [out, , ...grads] = await Promise.all(r.map((t) => t.data()));
  const lse = await blockSparseAttention(q, k, v, { blockMask: empty, returnLse: true });
  const lseData = await lse.lse.data();
  tf.dispose([lse.output, lse.lse, ...r, q, k, v, w]);
  const emptyRowsOk =
    Array.from(out!.slice((len - 1) * DIM, len * DIM)).every((x) => x === 0) &&
    lseData[len - 1] === -Infinity &&
    lseData[2 * len - 1] === -Infinity &&
    grads.every((g) => g!.every(Number.isFinite));
  return { maxDiff, emptyRowsOk };
}

async function runSuite(ctx: SuiteContext): Promise<Result[]> {
  const rng = createRng(ctx.seed);
  const results: Result[] = [];
  const softwareGpu = ctx.backend === 'webgpu' && ((await getWebGPUAdapterInfo())?.isSoftware ?? false);
  if (softwareGpu) ctx.log('attention: software WebGPU adapter, small sizes only (times are not GPU times)');
  const plans = plan(ctx, softwareGpu);
  const total = plans.reduce((s, p) => s + p.sparsities.length + 1, 0) + 2;
  let done = 0;
  const scale = 1 / Math.sqrt(DIM);
  // the matMul rate of this run, before and after the attention runs (the best of both: a shared
  // machine slows either)
  const matmulBefore = await matMulGflops();
  let matmulBest = matmulBefore;
  ctx.progress('attention', ++done, total);
  const acc = await accuracy(rng);
  results.push({
    name: 'agreement with dense attention (seq 256, GQA 2/1, random blocks and causal; empty rows)',
    kind: 'accuracy',
    params: { backend: ctx.backend, seqLen: 256, dim: DIM },
    metrics: {
      maxAbsDiff: { value: acc.maxDiff, unit: '', better: 'lower' },
      emptyRowsOk: { value: acc.emptyRowsOk ? 1 : 0, unit: '', better: 'higher' },
    },
  });
  for (const { len, heads, sparsities, dense } of plans) {
    const q = rng.normalTensor([1, heads, len, DIM]);
    const k = rng.normalTensor([1, heads, len, DIM]);
    const v = rng.normalTensor([1, heads, len, DIM]);
    const dO = rng.normalTensor([1, heads, len, DIM]);
    // best of a few runs; fewer at 8K and beyond (a 16K forward at 0% is ~140 GFLOP)
    const big = len * len * heads >= 8192 * 8192;
    const fwdOpts = { repeats: ctx.full ? (big ? 1 : 3) : 2, budgetMs: ctx.full ? 5000 : 1000 };
    const bwdOpts = { repeats: ctx.full ? (big ? 1 : 2) : 1, budgetMs: ctx.full ? 5000 : 1000 };
    // GPU backends compile shaders on first use: warm the backward too (cpu/wasm only JIT, and the
    // quick run cannot afford an extra backward per configuration)
    const cpuLike = ctx.backend === 'wasm' || ctx.backend === 'cpu';
    const warm = ctx.full || !cpuLike ? 1 : 0;
    // Dense baseline with an all-true mask bias: dense cost does not depend on the mask.
    const full = randomBlockMask(len, 0, rng);
    if (dense !== 'none') {
      // Two dense baselines on wasm: tfjs-backend-wasm's own matmul kernels (what a tfjs user
      // had: the issue's baseline; transposed and batched products take a naive loop there) and
      // the same ops with @blockwise/tensor's XNNPACK routing, which initBackend installs.
      const routed = ctx.backend === 'wasm' && wasmMatMulInstalled();
      for (const variant of routed ? (['stock', 'routed'] as const) : (['stock'] as const)) {
        if (routed && variant === 'stock') uninstallWasmMatMul();
        try {
          const metrics = await denseMetrics(q, k, v, full, len, heads, scale, dO, dense, fwdOpts, {
            ...bwdOpts,
            warmup: warm,
          });
          results.push({
            name:
              variant === 'stock'
                ? 'dense attention (tfjs matMul, masked softmax, matMul)'
                : 'dense attention, matMul routed through XNNPACK (@blockwise/tensor)',
            kind: 'dense',
            params: { impl: variant === 'stock' ? 'dense' : 'denseRouted', seqLen: len, heads, sparsity: 0 },
            metrics,
          });
        } finally {
          if (routed && variant === 'stock') installWasmMatMul();
        }
      }
    }
    ctx.progress('attention', ++done, total);
    for (const target of sparsities) {
      const blockMask = target === 0 ? full : randomBlockMask(len, target, rng);
      const sparsity = blockMask.sparsity();
      // 'auto' is what users get; where it picks another path, the kernel is measured beside it
      const autoPath = chooseImpl(blockMask, { batch: 1, heads });
      for (const impl of autoPath === 'kernel' ? (['auto'] as const) : (['auto', 'kernel'] as const)) {
        // one forward and one backward (valueAndGrads), as the dense baseline does
        const step = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          blockSparseAttention(a, b, c, { blockMask, impl }),
        );
        tf.dispose(blockSparseAttention(q, k, v, { blockMask, impl })); // warm-up
        const fwd = (await timeBest(() => [blockSparseAttention(q, k, v, { blockMask, impl })], fwdOpts)).bestMs;
        const fb = (
          await timeBest(
            () =>
              tf.tidy(() => {
                const { value, grads } = step([q, k, v], dO as tf.Tensor4D);
                return [value, ...grads];
              }),
            { ...bwdOpts, warmup: warm },
          )
        ).bestMs;
        const path = impl === 'kernel' ? 'kernel' : autoPath;
        // the matMul rate right beside this run: on a shared machine the load drifts within a run
        const mm = await matMulGflops();
        matmulBest = Math.max(matmulBest, mm);
        results.push({
          name: impl === 'auto' ? `block-sparse attention (auto: ${autoPath})` : 'block-sparse attention (kernel)',
          kind: 'blockSparse',
          params: {
            impl: impl === 'auto' ? 'blockSparse' : 'blockSparseKernel',
            path,
            seqLen: len,
            heads,
            targetSparsity: target,
            sparsity: Number(sparsity.toFixed(2)),
          },
          metrics: {
            forwardMs: ms(fwd),
            forwardBackwardMs: ms(fb),
            forwardGflops: gflops(attentionFlops(len, heads, sparsity, 'forward') / fwd / 1e6),
            forwardBackwardGflops: gflops(attentionFlops(len, heads, sparsity, 'forwardBackward') / fb / 1e6),
            matmulGflops: gflops(mm),
          },
        });
      }
      ctx.progress('attention', ++done, total);
    }
    tf.dispose([q, k, v, dO]);
  }
  const matmulAfter = await matMulGflops();
  ctx.progress('attention', done + 1, total);
  results.push({
    name: 'tfjs matMul 512 x 512 x 512 (this run: best of before, beside each block-sparse run and after)',
    kind: 'matmul',
    params: {
      backend: ctx.backend,
      n: 512,
      before: Number(matmulBefore.toFixed(2)),
      after: Number(matmulAfter.toFixed(2)),
    },
    metrics: { gflops: gflops(Math.max(matmulBest, matmulAfter)) },
  });
  charts(ctx, results);
  return results;
}

function charts(ctx: SuiteContext, results: Result[]): void {
  const sparse = results.filter((r) => r.params.impl === 'blockSparse' && r.params.heads === 1 + Number(ctx.full));
  const dense = results.filter((r) => r.params.impl === 'dense' && r.params.heads === 1 + Number(ctx.full));
  const lens = [...new Set(sparse.map((r) => Number(r.params.seqLen)))];
  const longest = Math.max(...lens.filter((l) => sparse.filter((r) => r.params.seqLen === l).length > 2));
  const atLen = sparse.filter((r) => r.params.seqLen === longest);
  const d = dense.find((r) => r.params.seqLen === longest);
  const series = (metric: string): [number, number][] =>
    atLen.map((r) => [Number(r.params.sparsity), r.metrics[metric]!.value]);
  const routedAt = results.find(
    (r) => r.params.impl === 'denseRouted' && r.params.heads === 1 + Number(ctx.full) && r.params.seqLen === longest,
  );
  const flat = (metric: string, base: Result | undefined = d): [number, number][] =>
    base?.metrics[metric]
      ? [
          [0, base.metrics[metric].value],
          [100, base.metrics[metric].value],
        ]
      : [];
  ctx.chart({
    id: 'attention-time-vs-sparsity',
    title: `Attention time vs block sparsity (seq ${longest}, ${atLen[0]?.params.heads} heads, dim ${DIM}, ${ctx.backend})`,
    kind: 'line',
    x: 'block sparsity (%)',
    y: 'ms',
    logY: true,
    series: [
      { name: 'block-sparse forward', points: series('forwardMs') },
      { name: 'block-sparse forward+backward', points: series('forwardBackwardMs') },
      ...(results.some((r) => r.params.impl === 'blockSparseKernel')
        ? [
            {
              name: 'kernel forward (where auto picked another path)',
              points: results
                .filter((r) => r.params.impl === 'blockSparseKernel' && r.params.seqLen === longest)
                .map((r) => [Number(r.params.sparsity), r.metrics.forwardMs!.value] as [number, number]),
            },
          ]
        : []),
      { name: 'tfjs dense forward', points: flat('forwardMs') },
      { name: 'tfjs dense forward+backward', points: flat('forwardBackwardMs') },
      ...(routedAt
        ? [
            { name: 'dense forward, routed matMul', points: flat('forwardMs', routedAt) },
            { name: 'dense forward+backward, routed matMul', points: flat('forwardBackwardMs', routedAt) },
          ]
        : []),
    ],
  });
  const bySparsity = [...new Set(sparse.map((r) => Number(r.params.targetSparsity)))];
  // x is log2 of the length: a log scale would round its axis out to the next power of ten
  // (9,000 for data that stops at 2,048); log2 lengths are whole numbers the axis ends at.
  ctx.chart({
    id: 'attention-time-vs-length',
    title: `Attention forward time vs sequence length (${atLen[0]?.params.heads} heads, ${ctx.backend})`,
    kind: 'line',
    x: `log2 sequence length (${lens.map((l) => `${Math.log2(l)} = ${l}`).join(', ')})`,
    y: 'ms',
    logY: true,
    series: [
      {
        name: 'tfjs dense',
        points: dense.map((r) => [Math.log2(Number(r.params.seqLen)), r.metrics.forwardMs!.value]),
      },
      ...bySparsity.map((s) => ({
        name: `block-sparse ${s}%`,
        points: sparse
          .filter((r) => r.params.targetSparsity === s)
          .map((r) => [Math.log2(Number(r.params.seqLen)), r.metrics.forwardMs!.value] as [number, number]),
      })),
    ],
  });
}

const PASSES = [
  ['forwardMs', 'forward'],
  ['forwardBackwardMs', 'forward+backward'],
] as const;

function validateSuite(results: Result[]): Check[] {
  const checks: Check[] = [];
  const sparse = results.filter((r) => r.params.impl === 'blockSparse');
  const dense = results.filter((r) => r.params.impl === 'dense');
  const matmul = results.find((r) => r.kind === 'matmul')?.metrics.gflops?.value;
  // Kernel rate on computed blocks vs the backend's matMul rate of the same run: at the issue's
  // configuration (seq 2048, 1 head, 0% sparsity, where the kernel computes every block); every
  // kernel run's share is listed in the detail
  if (matmul) {
    for (const [metric, label] of PASSES) {
      const rate = metric === 'forwardMs' ? 'forwardGflops' : 'forwardBackwardGflops';
      const kernelRuns = results.filter(
        (r) =>
          (r.params.impl === 'blockSparse' || r.params.impl === 'blockSparseKernel') &&
          r.params.path === 'kernel' &&
          r.metrics[rate],
      );
      if (kernelRuns.length === 0) continue;
      const work = (r: Result): number =>
        Number(r.params.seqLen) ** 2 * Number(r.params.heads) * (1 - Number(r.params.sparsity) / 100);
      const top =
        kernelRuns.find((r) => r.params.seqLen === 2048 && r.params.targetSparsity === 0) ??
        kernelRuns.reduce((a, b) => (work(b) > work(a) ? b : a));
      // each run against the matMul rate measured beside it (else the run's best)
      const mmOf = (r: Result): number => r.metrics.matmulGflops?.value ?? matmul;
      const share = top.metrics[rate]!.value / mmOf(top);
      checks.push({
        name: `${label}: kernel GFLOP/s on computed blocks >= 50% of tfjs matMul 512 GFLOP/s (same run)`,
        pass: share >= 0.5,
        detail:
          `${(100 * share).toFixed(0)}%: ${top.metrics[rate]!.value.toFixed(1)} GFLOP/s at seq ${top.params.seqLen}, ${top.params.heads} head(s), ${top.params.sparsity}% sparsity vs matMul ${mmOf(top).toFixed(1)} GFLOP/s beside it; every kernel run (seq/heads/sparsity): ` +
          kernelRuns
            .map(
              (r) =>
                `${r.params.seqLen}/${r.params.heads}h/${r.params.targetSparsity}%: ${((100 * r.metrics[rate]!.value) / mmOf(r)).toFixed(0)}%`,
            )
            .join(', '),
      });
    }
  }
  for (const [metric, label] of PASSES) {
    for (const d of dense) {
      const len = d.params.seqLen;
      const heads = d.params.heads;
      const base = d.metrics[metric]?.value;
      if (base === undefined) continue;
      const at = (s: number): Result | undefined =>
        sparse.find((r) => r.params.seqLen === len && r.params.heads === heads && r.params.targetSparsity === s);
      // Against the XNNPACK-routed dense of the same run too (wasm): not the issue's baseline, but
      // what dense attention costs a user of @blockwise/tensor, so the reader sees both.
      const routedBase = results.find(
        (r) => r.params.impl === 'denseRouted' && r.params.seqLen === len && r.params.heads === heads,
      )?.metrics[metric]?.value;
      const stock = routedBase === undefined ? '' : ' with tfjs-wasm own matmul kernels';
      const s90 = at(90);
      if (s90 && len === 2048) {
        const t = s90.metrics[metric]!.value;
        const speedup = base / t;
        const vsRouted =
          routedBase === undefined
            ? ''
            : `; ${(routedBase / t).toFixed(1)}x against routed dense (${routedBase.toFixed(1)} ms)`;
        checks.push({
          name: `${label}: 90% block sparsity >= 20x faster than tfjs dense (seq ${len})`,
          pass: speedup >= 20,
          detail: `${speedup.toFixed(1)}x (dense${stock} ${base.toFixed(1)} ms, block-sparse ${t.toFixed(1)} ms at ${s90.params.sparsity}% sparsity, ${heads} head(s); goal beyond the issue 30x)${vsRouted}`,
        });
      }
      const s0 = at(0);
      if (s0 && (len === 1024 || len === 2048)) {
        const t = s0.metrics[metric]!.value;
        const ratio = t / base;
        const path = String(s0.params.path ?? 'kernel');
        const vsRouted =
          routedBase === undefined
            ? ''
            : `; ${(t / routedBase).toFixed(2)}x routed dense (${routedBase.toFixed(1)} ms)`;
        checks.push({
          name: `${label}: 0% sparsity <= 1.0x tfjs dense without the dense fallback (seq ${len})`,
          pass: ratio <= 1 && path !== 'dense',
          detail: `${ratio.toFixed(2)}x dense time via the ${path} path (dense${stock} ${base.toFixed(1)} ms, block-sparse ${t.toFixed(1)} ms)${vsRouted}`,
        });
      }
    }
    // Proportionality, per path and length: least-squares line of time against the computed
    // fraction 1 - sparsity; it should explain the times (R^2 >= 0.98)
    const byPath = (path: string): Result[] =>
      results.filter(
        (r) =>
          (r.params.impl === 'blockSparse' || r.params.impl === 'blockSparseKernel') &&
          (r.params.path ?? 'kernel') === path,
      );
    for (const [path, len] of ['kernel', 'ops'].flatMap((p) =>
      [...new Set(byPath(p).map((r) => r.params.seqLen))].map((l) => [p, l] as const),
    )) {
      const rows = byPath(path).filter(
        (r) =>
          r.params.seqLen === len && r.params.heads === byPath(path).find((x) => x.params.seqLen === len)!.params.heads,
      );
      const t0 = rows.find((r) => r.params.targetSparsity === 0);
      if (!t0 || rows.length < 4) continue;
      const base = t0.metrics[metric]!.value;
      const pts = rows.map((r) => ({ x: 1 - Number(r.params.sparsity) / 100, y: r.metrics[metric]!.value / base }));
      const n = pts.length;
      const mx = pts.reduce((a, p) => a + p.x, 0) / n;
      const my = pts.reduce((a, p) => a + p.y, 0) / n;
      const sxy = pts.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
      const sxx = pts.reduce((a, p) => a + (p.x - mx) ** 2, 0);
      const syy = pts.reduce((a, p) => a + (p.y - my) ** 2, 0);
      const slope = sxy / sxx;
      const intercept = my - slope * mx;
      const r2 = syy > 0 ? (sxy * sxy) / (sxx * syy) : 1;
      checks.push({
        name: `${label}: ${path === 'kernel' ? '' : `${path} path `}time proportional to (1 - sparsity), R^2 >= 0.98 (seq ${len})`,
        pass: r2 >= 0.98,
        detail:
          `t/t(0) = ${intercept.toFixed(3)} + ${slope.toFixed(3)} (1 - s), R^2 ${r2.toFixed(3)}; ` +
          pts.map((p) => `${(100 * (1 - p.x)).toFixed(1)}%: ${p.y.toFixed(3)}`).join(', '),
      });
    }
  }
  const acc = results.find((r) => r.kind === 'accuracy');
  if (acc) {
    const diff = acc.metrics.maxAbsDiff!.value;
    checks.push({
      name: 'outputs, LSE and gradients equal dense attention within 1e-5 (this backend)',
      pass: diff <= 1e-5,
      detail: `largest |block-sparse - dense| over output, LSE, dq, dk, dv: ${diff.toExponential(2)} (seq 256, GQA, random blocks and causal)`,
    });
    checks.push({
      name: 'fully masked rows: output 0, LSE -Infinity, finite gradients',
      pass: acc.metrics.emptyRowsOk!.value === 1,
      detail:
        acc.metrics.emptyRowsOk!.value === 1
          ? 'as required'
          : 'an empty row gave a non-zero output, a finite LSE or a non-finite gradient',
    });
  }
  return checks;
}

/** Block-sparse attention versus tfjs dense attention, by sequence length and block sparsity. */
export const attentionSuite: Suite = {
  name: 'attention',
  description:
    'Block-sparse attention (@blockwise/attention, impl auto; where auto picks the tfjs-ops or dense path, the kernel is measured beside it) forward and forward+backward time against tfjs dense attention (matMul, masked softmax, matMul) on the same backend, by sequence length and block sparsity (random key blocks per query block plus the diagonal, 64-blocks, dim 64; 1 head in --quick, 2 in --full, plus 4 heads at seq 4096), GFLOP/s on computed blocks beside the tfjs matMul 512 GFLOP/s of the same run, and agreement with dense attention. On wasm the dense baseline runs twice: with tfjs-backend-wasm own matmul kernels (the issue baseline: transposed and batched products take a naive loop) and with the XNNPACK routing that initBackend of @blockwise/tensor installs.',
  run: runSuite,
  validate: validateSuite,
};
