import type { WebGPUProgramSpec } from '@blockwise/tensor';
import type { SparseAttrs } from './blockSparseAttention.js';
import { tiledColCode, tiledRowCode } from './webgpuTiled.js';

type Shape = { shape: number[]; dtype: string };

/** Reads every input once in a branch never taken, so no binding is compiled away (tfjs binds them all). */
function touch(vars: string[]): string {
  const f = vars
    .filter((v) => v !== 'mask')
    .map((v) => `${v}[0]`)
    .join(' + ');
  return `if (index < -1) { setOutputAtIndex(0, ${f} + f32(mask[0])); }`;
}

/** Shared WGSL: mask bytes, the per-query-row prologue (row -> b, h, kv head, mask row). */
const HELPERS = `
fn maskBit(i : i32) -> bool {
  let w = mask[uniforms.offBits + (i >> 2u)];
  return ((w >> (8u * u32(i & 3))) & 255) != 0;
}
fn maskSlice(b : i32, h : i32) -> i32 {
  var mb = b;
  if (uniforms.maskBatch == 1) { mb = 0; }
  var mh = h;
  if (uniforms.maskHeads == 1) { mh = 0; }
  return mb * uniforms.maskHeads + mh;
}
`;

/** Loop over the listed key blocks of query row `r` (partial first, then full); `body` sees j, kOff, s. */
function rowLoop(d: number, body: string): string {
  return `
  let area = uniforms.qBlock * uniforms.kvBlock;
  // the query row stays in registers for the whole row
  var qr : array<f32, ${d}>;
  for (var t = 0; t < ${d}; t++) { qr[t] = q[qOff + t]; }
  for (var ph = 0; ph < 2; ph++) {
    var count = mask[uniforms.offKvNum + row];
    if (ph == 1) { count = mask[uniforms.offFullNum + row]; }
    for (var n = 0; n < count; n++) {
      var kb = 0;
      if (ph == 0) { kb = mask[uniforms.offKvIdx + row * uniforms.nk + n]; } else { kb = mask[uniforms.offFullIdx + row * uniforms.nk + n]; }
      var bitBase = -1;
      if (ph == 0) { bitBase = mask[uniforms.offPOff + row * uniforms.nk + kb] * area + (r - qb * uniforms.qBlock) * uniforms.kvBlock; }
      let k0 = kb * uniforms.kvBlock;
      let kEnd = min(k0 + uniforms.kvBlock, uniforms.lk);
      for (var j = k0; j < kEnd; j++) {
        if (bitBase >= 0 && !maskBit(bitBase + j - k0)) { continue; }
        let kOff = (kHead + j) * ${d};
        var s = 0.0;
        for (var t = 0; t < ${d}; t++) { s += qr[t] * k[kOff + t]; }
        s *= uniforms.scale;
        ${body}
      }
    }
  }`;
}

const ROW_PROLOGUE = (d: number): string => `
  let rows = uniforms.batch * uniforms.hq * uniforms.lq;
  if (index >= rows) { return; }
  let r = index % uniforms.lq;
  let bh = index / uniforms.lq;
  let h = bh % uniforms.hq;
  let b = bh / uniforms.hq;
  let hk = h / (uniforms.hq / uniforms.hkv);
  let qb = r / uniforms.qBlock;
  let row = maskSlice(b, h) * uniforms.nq + qb;
  let qOff = index * ${d};
  let kHead = (b * uniforms.hkv + hk) * uniforms.lk;`;

/**
 * Forward: one thread per query row streams over the row's listed keys with an online softmax and
 * writes the row's `dim` outputs (or its log-sum-exp). Threads beyond the row count exit at once.
 */
function forwardCode(d: number, writeLse: boolean): string {
  const update = `
        let mNew = max(m, s);
        let alpha = exp(m - mNew);
        let p = exp(s - mNew);
        l = l * alpha + p;
        ${writeLse ? '' : `for (var t = 0; t < ${d}; t++) { acc[t] = acc[t] * alpha + p * v[kOff + t]; }`}
        m = mNew;`;
  return `${HELPERS}
fn main(index : i32) {
  ${touch(FWD_VARS)}
  ${ROW_PROLOGUE(d)}
  var m = -3.0e38;
  var l = 0.0;
  ${writeLse ? '' : `var acc : array<f32, ${d}>;\n  for (var t = 0; t < ${d}; t++) { acc[t] = 0.0; }`}
  ${rowLoop(d, update)}
  ${
    writeLse
      ? `var bits = 0xff800000u;
  var outV = bitcast<f32>(bits);
  if (l > 0.0) { outV = m + log(l); }
  setOutputAtIndex(index, outV);`
      : `for (var t = 0; t < ${d}; t++) {
    var o = 0.0;
    if (l > 0.0) { o = acc[t] / l; }
    setOutputAtIndex(qOff + t, o);
  }`
  }
}
`;
}

/** dq: one thread per query row, P recomputed from the saved log-sum-exp. */
function dqCode(d: number): string {
  const body = `
        let p = exp(s - li);
        var dp = 0.0;
        for (var t = 0; t < ${d}; t++) { dp += dO[qOff + t] * v[kOff + t]; }
        let ds = p * (dp - delta[index]) * uniforms.scale;
        for (var t = 0; t < ${d}; t++) { acc[t] += ds * k[kOff + t]; }`;
  return `${HELPERS}
fn main(index : i32) {
  ${touch(BWD_VARS)}
  ${ROW_PROLOGUE(d)}
  var acc : array<f32, ${d}>;
  for (var t = 0; t < ${d}; t++) { acc[t] = 0.0; }
  let li = lse[index];
  if (li > -3.0e38) {
    ${rowLoop(d, body)}
  }
  for (var t = 0; t < ${d}; t++) { setOutputAtIndex(qOff + t, acc[t]); }
}
`;
}

/**
 * dk or dv: one thread per key row walks the transposed lists (query blocks that see its key
 * block, partial then full) for every query head sharing its key/value head; no atomics needed.
 */
function dkvCode(d: number, wantDk: boolean): string {
  return `${HELPERS}
fn main(index : i32) {
  ${touch(BWD_VARS)}
  let rows = uniforms.batch * uniforms.hkv * uniforms.lk;
  if (index >= rows) { return; }
  let j = index % uniforms.lk;
  let bh = index / uniforms.lk;
  let hk = bh % uniforms.hkv;
  let b = bh / uniforms.hkv;
  let group = uniforms.hq / uniforms.hkv;
  let kb = j / uniforms.kvBlock;
  let k0 = kb * uniforms.kvBlock;
  let kOff = index * ${d};
  let area = uniforms.qBlock * uniforms.kvBlock;
  var acc : array<f32, ${d}>;
  for (var t = 0; t < ${d}; t++) { acc[t] = 0.0; }
  for (var g = 0; g < group; g++) {
    let h = hk * group + g;
    let slice = maskSlice(b, h);
    let col = slice * uniforms.nk + kb;
    let qHead = (b * uniforms.hq + h) * uniforms.lq;
    for (var ph = 0; ph < 2; ph++) {
      var count = mask[uniforms.offQNum + col];
      if (ph == 1) { count = mask[uniforms.offFullQNum + col]; }
      for (var n = 0; n < count; n++) {
        var qb = 0;
        if (ph == 0) { qb = mask[uniforms.offQIdx + col * uniforms.nq + n]; } else { qb = mask[uniforms.offFullQIdx + col * uniforms.nq + n]; }
        var bitBase = -1;
        if (ph == 0) { bitBase = mask[uniforms.offPOff + (slice * uniforms.nq + qb) * uniforms.nk + kb] * area + (j - k0); }
        let q0 = qb * uniforms.qBlock;
        let qEnd = min(q0 + uniforms.qBlock, uniforms.lq);
        for (var i = q0; i < qEnd; i++) {
          if (bitBase >= 0 && !maskBit(bitBase + (i - q0) * uniforms.kvBlock)) { continue; }
          let qi = qHead + i;
          let li = lse[qi];
          if (li <= -3.0e38) { continue; }
          let qOff = qi * ${d};
          var s = 0.0;
          for (var t = 0; t < ${d}; t++) { s += q[qOff + t] * k[kOff + t]; }
          let p = exp(s * uniforms.scale - li);
          ${
            wantDk
              ? `var dp = 0.0;
          for (var t = 0; t < ${d}; t++) { dp += dO[qOff + t] * v[kOff + t]; }
          let ds = p * (dp - delta[qi]) * uniforms.scale;
          for (var t = 0; t < ${d}; t++) { acc[t] += ds * q[qOff + t]; }`
              : `for (var t = 0; t < ${d}; t++) { acc[t] += p * dO[qOff + t]; }`
          }
        }
      }
    }
  }
  for (var t = 0; t < ${d}; t++) { setOutputAtIndex(kOff + t, acc[t]); }
}
`;
}

const FWD_VARS = ['q', 'k', 'v', 'mask'];
const BWD_VARS = ['q', 'k', 'v', 'lse', 'delta', 'dO', 'mask'];
const OFFSETS = [
  'offKvNum',
  'offKvIdx',
  'offFullNum',
  'offFullIdx',
  'offPOff',
  'offQNum',
  'offQIdx',
  'offFullQNum',
  'offFullQIdx',
  'offBits',
] as const;

function uniforms(qShape: number[], kShape: number[], a: SparseAttrs): NonNullable<WebGPUProgramSpec['uniforms']> {
  const [batch, hq, lq] = qShape as [number, number, number];
  const [, hkv, lk] = kShape as [number, number, number];
  return [
    { name: 'batch', type: 'i32', value: batch },
    { name: 'hq', type: 'i32', value: hq },
    { name: 'hkv', type: 'i32', value: hkv },
    { name: 'lq', type: 'i32', value: lq },
    { name: 'lk', type: 'i32', value: lk },
    { name: 'qBlock', type: 'i32', value: a.qBlock },
    { name: 'kvBlock', type: 'i32', value: a.kvBlock },
    { name: 'nq', type: 'i32', value: Math.ceil(lq / a.qBlock) },
    { name: 'nk', type: 'i32', value: Math.ceil(lk / a.kvBlock) },
    { name: 'maskBatch', type: 'i32', value: a.maskBatch },
    { name: 'maskHeads', type: 'i32', value: a.maskHeads },
    ...OFFSETS.map((name) => ({ name, type: 'i32' as const, value: a[name] })),
    { name: 'scale', type: 'f32', value: a.scale },
  ];
}

const prod = (a: number[]): number => a.reduce((x, y) => x * y, 1);

/** Tiled programs need one thread per block row in a workgroup (at most 256) and a modest dim. */
function canTile(a: SparseAttrs, d: number): boolean {
  return a.qBlock <= 256 && a.kvBlock <= 256 && d <= 512;
}

/** The program's workgroup count as defineKernel dispatches it, as a uniform (units loop over it). */
function withWg(
  u: NonNullable<WebGPUProgramSpec['uniforms']>,
  outputShape: number[],
  wg: number,
): NonNullable<WebGPUProgramSpec['uniforms']> {
  return [
    ...u.slice(0, -1),
    { name: 'nWg', type: 'i32', value: Math.max(1, Math.ceil(prod(outputShape) / wg)) },
    u[u.length - 1]!,
  ];
}

/** WebGPU programs of the forward kernel: the output, then the log-sum-exp. */
export function blockSparseForwardWebGPU(ins: Shape[], a: SparseAttrs): WebGPUProgramSpec[] {
  const qShape = ins[0]!.shape;
  const d = qShape[3]!;
  const u = uniforms(qShape, ins[1]!.shape, a);
  const vars = FWD_VARS;
  const lseShape = qShape.slice(0, 3);
  if (canTile(a, d)) {
    const wg = a.qBlock;
    const t = touch(vars);
    return [
      {
        outputShape: qShape,
        shaderKey: `tfwd_o_${d}_${wg}`,
        userCode: tiledRowCode(d, wg, 'o', HELPERS, t),
        variableNames: vars,
        uniforms: withWg(u, qShape, wg),
        workgroupSize: wg,
      },
      {
        outputShape: lseShape,
        shaderKey: `tfwd_lse_${d}_${wg}`,
        userCode: tiledRowCode(d, wg, 'lse', HELPERS, t),
        variableNames: vars,
        uniforms: withWg(u, lseShape, wg),
        workgroupSize: wg,
      },
    ];
  }
  return [
    {
      outputShape: qShape,
      shaderKey: `fwd_o_${d}`,
      userCode: forwardCode(d, false),
      variableNames: vars,
      uniforms: withWg(u, qShape, 64),
    },
    {
      outputShape: lseShape,
      shaderKey: `fwd_lse_${d}`,
      userCode: forwardCode(d, true),
      variableNames: vars,
      uniforms: withWg(u, lseShape, 64),
    },
  ];
}

/** WebGPU programs of the backward kernel: dq, dk, dv. */
export function blockSparseBackwardWebGPU(ins: Shape[], a: SparseAttrs): WebGPUProgramSpec[] {
  const qShape = ins[0]!.shape;
  const kShape = ins[1]!.shape;
  const d = qShape[3]!;
  const u = uniforms(qShape, kShape, a);
  const vars = BWD_VARS;
  if (canTile(a, d)) {
    const t = touch(vars);
    const wq = a.qBlock;
    const wk = a.kvBlock;
    return [
      {
        outputShape: qShape,
        shaderKey: `tbwd_dq_${d}_${wq}`,
        userCode: tiledRowCode(d, wq, 'dq', HELPERS, t),
        variableNames: vars,
        uniforms: withWg(u, qShape, wq),
        workgroupSize: wq,
      },
      {
        outputShape: kShape,
        shaderKey: `tbwd_dk_${d}_${wk}`,
        userCode: tiledColCode(d, wk, true, HELPERS, t),
        variableNames: vars,
        uniforms: withWg(u, kShape, wk),
        workgroupSize: wk,
      },
      {
        outputShape: kShape,
        shaderKey: `tbwd_dv_${d}_${wk}`,
        userCode: tiledColCode(d, wk, false, HELPERS, t),
        variableNames: vars,
        uniforms: withWg(u, kShape, wk),
        workgroupSize: wk,
      },
    ];
  }
  return [
    {
      outputShape: qShape,
      shaderKey: `bwd_dq_${d}`,
      userCode: dqCode(d),
      variableNames: vars,
      uniforms: withWg(u, qShape, 64),
    },
    {
      outputShape: kShape,
      shaderKey: `bwd_dk_${d}`,
      userCode: dkvCode(d, true),
      variableNames: vars,
      uniforms: withWg(u, kShape, 64),
    },
    {
      outputShape: kShape,
      shaderKey: `bwd_dv_${d}`,
      userCode: dkvCode(d, false),
      variableNames: vars,
      uniforms: withWg(u, kShape, 64),
    },
  ];
}
