import * as tf from '@tensorflow/tfjs-core';
import { assembleBlockMask, type BlockMask } from './blockMask.js';

/**
 * Block-sparse attention from tfjs ops (gather + batched matMul), for backends whose matMul beats a
 * hand-written kernel (WebGPU and WebGL shaders, tfjs-node). Query blocks with the same number of
 * listed key blocks form a group; a group's rows and its key rows are gathered once and go through
 * one batched matMul, with an additive bias carrying the partial blocks' mask and the padding.
 * The gradient is written out (FlashAttention recurrences per group, and per key-block group over
 * the transposed lists for dK and dV), so it needs no gather gradient.
 */

const NEG = -1e30;

interface Group {
  /** Padded query rows of the group's blocks, block after block. */
  qRows: Int32Array;
  /** Key rows each of those blocks reads, `n * kvBlock` per block. */
  kvRows: Int32Array;
  blocks: number;
  /** Key rows per query block (`n * kvBlock`). */
  width: number;
  /** `[blocks, qBlock, width]`: 0 where a pair attends, NEG elsewhere; null when all pairs attend. */
  bias: Float32Array | null;
  /** `[blocks * qBlock]`: 1 where the row has an allowed key. */
  valid: Float32Array;
}

interface Plan {
  groups: Group[];
  /** Padded row order of the concatenated group outputs -> inverse: position of each padded row. */
  inverse: Int32Array;
  /** Empty query blocks (no key block): their rows come after the groups' rows. */
  emptyRows: number;
  /** Transposed groups for dK, dV: key blocks with the same number of query blocks. */
  tGroups: Group[];
  tInverse: Int32Array;
  tEmptyRows: number;
}

const plans = new WeakMap<BlockMask, Plan>();

function allowed(m: BlockMask, qb: number, kb: number, i: number, j: number, partialOff: number): boolean {
  const q = qb * m.qBlock + i;
  const k = kb * m.kvBlock + j;
  if (q >= m.qLen || k >= m.kvLen) return false;
  if (partialOff < 0) return true;
  return m.partialBits[partialOff * m.qBlock * m.kvBlock + i * m.kvBlock + j] === 1;
}

/** Groups of `rowsPer` rows by listed-block count; `lists(r)` gives the sorted listed blocks of row block r. */
function buildGroups(
  nRows: number,
  rowBlock: number,
  colBlock: number,
  lists: (r: number) => number[],
  ok: (r: number, c: number, i: number, j: number) => boolean,
): { groups: Group[]; inverse: Int32Array; emptyRows: number } {
  const byCount = new Map<number, number[]>();
  const empty: number[] = [];
  for (let r = 0; r < nRows; r++) {
    const n = lists(r).length;
    if (n === 0) empty.push(r);
    else byCount.set(n, [...(byCount.get(n) ?? []), r]);
  }
  const groups: Group[] = [];
  const order: number[] = [];
  for (const [n, rows] of [...byCount.entries()].sort((a, b) => a[0] - b[0])) {
    const width = n * colBlock;
    const qRows = new Int32Array(rows.length * rowBlock);
    const kvRows = new Int32Array(rows.length * width);
    const bias = new Float32Array(rows.length * rowBlock * width);
    const valid = new Float32Array(rows.length * rowBlock);
    rows.forEach((r, g) => {
      order.push(r);
      const cols = lists(r);
      for (let i = 0; i < rowBlock; i++) qRows[g * rowBlock + i] = r * rowBlock + i;
      cols.forEach((c, ci) => {
        for (let j = 0; j < colBlock; j++) kvRows[g * width + ci * colBlock + j] = c * colBlock + j;
      });
      for (let i = 0; i < rowBlock; i++) {
        let any = false;
        cols.forEach((c, ci) => {
          for (let j = 0; j < colBlock; j++) {
            const a = ok(r, c, i, j);
            any ||= a;
            bias[(g * rowBlock + i) * width + ci * colBlock + j] = a ? 0 : NEG;
          }
        });
        valid[g * rowBlock + i] = any ? 1 : 0;
      }
    });
    groups.push({ qRows, kvRows, blocks: rows.length, width, bias: bias.some((x) => x !== 0) ? bias : null, valid });
  }
  order.push(...empty);
  const inverse = new Int32Array(nRows * rowBlock);
  order.forEach((r, pos) => {
    for (let i = 0; i < rowBlock; i++) inverse[r * rowBlock + i] = pos * rowBlock + i;
  });
  return { groups, inverse, emptyRows: empty.length * rowBlock };
}

function planFor(m: BlockMask): Plan {
  const cached = plans.get(m);
  if (cached) return cached;
  const { numQBlocks: nq, numKvBlocks: nk } = m;
  const kvList = (qb: number): number[] => {
    const out: number[] = [];
    for (let i = 0; i < m.kvNumBlocks[qb]!; i++) out.push(m.kvIndices[qb * nk + i]!);
    for (let i = 0; i < m.fullKvNumBlocks[qb]!; i++) out.push(m.fullKvIndices[qb * nk + i]!);
    return out.sort((a, b) => a - b);
  };
  const qList = (kb: number): number[] => {
    const out: number[] = [];
    for (let i = 0; i < m.qNumBlocks[kb]!; i++) out.push(m.qIndices[kb * nq + i]!);
    for (let i = 0; i < m.fullQNumBlocks[kb]!; i++) out.push(m.fullQIndices[kb * nq + i]!);
    return out.sort((a, b) => a - b);
  };
  const fwd = buildGroups(nq, m.qBlock, m.kvBlock, kvList, (qb, kb, i, j) =>
    allowed(m, qb, kb, i, j, m.partialOffset[qb * nk + kb]!),
  );
  const bwd = buildGroups(nk, m.kvBlock, m.qBlock, qList, (kb, qb, j, i) =>
    allowed(m, qb, kb, i, j, m.partialOffset[qb * nk + kb]!),
  );
  const plan: Plan = {
    groups: fwd.groups,
    inverse: fwd.inverse,
    emptyRows: fwd.emptyRows,
    tGroups: bwd.groups,
    tInverse: bwd.inverse,
    tEmptyRows: bwd.emptyRows,
  };
  plans.set(m, plan);
  return plan;
}

function padRows(x: tf.Tensor, rows: number): tf.Tensor {
  const extra = rows - x.shape[2]!;
  return extra > 0
    ? tf.pad(x, [
        [0, 0],
        [0, 0],
        [0, extra],
        [0, 0],
      ])
    : x;
}

/** `[B, H, rows, X]` rows in group order (groups, then zero rows for empty blocks) back to padded row order. */
function assemble(parts: tf.Tensor[], emptyRows: number, inverse: Int32Array, shape: number[], fill = 0): tf.Tensor {
  const [b, h, , x] = shape as [number, number, number, number];
  const all = emptyRows > 0 ? [...parts, tf.fill([b, h, emptyRows, x], fill)] : parts;
  const cat = all.length === 1 ? all[0]! : tf.concat(all, 2);
  return tf.gather(cat, tf.tensor1d(inverse, 'int32'), 2);
}

interface Ctx {
  b: number;
  h: number;
  d: number;
  scale: number;
  qBlock: number;
  kvBlock: number;
}

/** Scores of one forward group: `[b*h, blocks, qBlock, width]` with the bias added. */
function groupScores(c: Ctx, g: Group, qP: tf.Tensor, kP: tf.Tensor): { qg: tf.Tensor; kg: tf.Tensor; s: tf.Tensor } {
  const qg = tf.reshape(tf.gather(qP, tf.tensor1d(g.qRows, 'int32'), 2), [c.b * c.h * g.blocks, c.qBlock, c.d]);
  const kg = tf.reshape(tf.gather(kP, tf.tensor1d(g.kvRows, 'int32'), 2), [c.b * c.h * g.blocks, g.width, c.d]);
  const raw = tf.reshape(tf.mul(tf.matMul(qg, kg, false, true), c.scale), [c.b * c.h, g.blocks, c.qBlock, g.width]);
  const s = g.bias ? tf.add(raw, tf.tensor3d(g.bias, [g.blocks, c.qBlock, g.width])) : raw;
  return { qg, kg, s };
}

interface Core {
  c: Ctx;
  plan: Plan;
  group: number;
  hkv: number;
  lq: number;
  lk: number;
  lqP: number;
  lkP: number;
  expandKv: (x: tf.Tensor) => tf.Tensor;
}

function makeCore(mask: BlockMask, qShape: number[], kShape: number[], scale: number): Core {
  const [b, h, lq, d] = qShape as [number, number, number, number];
  const [, hkv, lk] = kShape as [number, number, number];
  const group = h / hkv;
  const lqP = mask.numQBlocks * mask.qBlock;
  const lkP = mask.numKvBlocks * mask.kvBlock;
  const expandKv = (x: tf.Tensor): tf.Tensor =>
    group === 1 ? x : tf.reshape(tf.tile(tf.reshape(x, [b * hkv, 1, lkP * d]), [1, group, 1]), [b, h, lkP, d]);
  return {
    c: { b, h, d, scale, qBlock: mask.qBlock, kvBlock: mask.kvBlock },
    plan: planFor(mask),
    group,
    hkv,
    lq,
    lk,
    lqP,
    lkP,
    expandKv,
  };
}

/** Output `[b, h, lq, d]` and padded log-sum-exp `[b, h, lqP]` of one mask slice. */
function forwardCore(core: Core, qx: tf.Tensor, kx: tf.Tensor, vx: tf.Tensor): { out: tf.Tensor; lseP: tf.Tensor } {
  const { c, plan } = core;
  const { b, h, d } = c;
  const qP = padRows(qx, core.lqP);
  const kP = core.expandKv(padRows(kx, core.lkP));
  const vP = core.expandKv(padRows(vx, core.lkP));
  const outs: tf.Tensor[] = [];
  const lses: tf.Tensor[] = [];
  for (const g of plan.groups) {
    const { s } = groupScores(c, g, qP, kP);
    const m = tf.max(s, -1, true);
    const e = tf.exp(tf.sub(s, m));
    const l = tf.sum(e, -1, true);
    const p = tf.reshape(tf.div(e, l), [b * h * g.blocks, c.qBlock, g.width]);
    const vg = tf.reshape(tf.gather(vP, tf.tensor1d(g.kvRows, 'int32'), 2), [b * h * g.blocks, g.width, d]);
    const valid = tf.tensor1d(g.valid);
    outs.push(tf.mul(tf.reshape(tf.matMul(p, vg), [b, h, g.blocks * c.qBlock, d]), tf.reshape(valid, [1, 1, -1, 1])));
    const lse = tf.reshape(tf.add(m, tf.log(l)), [b, h, g.blocks * c.qBlock]);
    lses.push(tf.where(tf.cast(tf.reshape(valid, [1, 1, -1]), 'bool'), lse, tf.fill(lse.shape, -Infinity)));
  }
  const out = tf.slice(assemble(outs, plan.emptyRows, plan.inverse, [b, h, 0, d]), [0, 0, 0, 0], [b, h, core.lq, d]);
  const lseP = tf.squeeze(
    assemble(
      lses.map((t) => tf.expandDims(t, 3)),
      plan.emptyRows,
      plan.inverse,
      [b, h, 0, 1],
      -Infinity,
    ),
    [3],
  );
  return { out, lseP };
}

const sliceCache = new WeakMap<BlockMask, Map<number, BlockMask>>();

/** The `[1, 1]` mask of one (batch, head) slice of a `[batch, heads]` mask (shares its partial bits). */
function maskSlice(m: BlockMask, s: number): BlockMask {
  let per = sliceCache.get(m);
  if (!per) sliceCache.set(m, (per = new Map()));
  const hit = per.get(s);
  if (hit) return hit;
  const { numQBlocks: nq, numKvBlocks: nk } = m;
  const partialDense = new Uint8Array(nq * nk);
  const fullDense = new Uint8Array(nq * nk);
  for (let qb = 0; qb < nq; qb++) {
    const row = s * nq + qb;
    for (let i = 0; i < m.kvNumBlocks[row]!; i++) partialDense[qb * nk + m.kvIndices[row * nk + i]!] = 1;
    for (let i = 0; i < m.fullKvNumBlocks[row]!; i++) fullDense[qb * nk + m.fullKvIndices[row * nk + i]!] = 1;
  }
  const mb = Math.floor(s / m.heads);
  const mh = s % m.heads;
  const out = assembleBlockMask({
    batch: 1,
    heads: 1,
    qLen: m.qLen,
    kvLen: m.kvLen,
    qBlock: m.qBlock,
    kvBlock: m.kvBlock,
    partialDense,
    fullDense,
    partialOffset: m.partialOffset.slice(s * nq * nk, (s + 1) * nq * nk),
    partialBits: m.partialBits,
    maskMod: (_b, _h, q, kv) => m.maskMod(mb, mh, q, kv),
  });
  per.set(s, out);
  return out;
}

interface Unit {
  b0: number;
  bn: number;
  h0: number;
  hn: number;
  /** kv heads of the unit's slice of k and v. */
  k0: number;
  kn: number;
  core: Core;
}

/**
 * Block-sparse attention through tfjs ops with a hand-written gradient for q, k and v (the
 * log-sum-exp output carries no gradient on this path). A mask that differs by batch entry or head
 * runs slice by slice.
 */
export function blockSparseAttentionOps(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  mask: BlockMask,
  scale: number,
): { output: tf.Tensor4D; lse: tf.Tensor3D } {
  const [B, H, lq, d] = q.shape;
  const HKV = k.shape[1];
  const lk = k.shape[2];
  const group = H / HKV;
  const units: Unit[] = [];
  const bRanges = mask.batch === 1 ? [[0, B]] : Array.from({ length: B }, (_, b) => [b, 1]);
  const hRanges = mask.heads === 1 ? [[0, H]] : Array.from({ length: H }, (_, h) => [h, 1]);
  for (const [b0, bn] of bRanges as [number, number][]) {
    for (const [h0, hn] of hRanges as [number, number][]) {
      const s = (mask.batch === 1 ? 0 : b0) * mask.heads + (mask.heads === 1 ? 0 : h0);
      const sub = mask.batch === 1 && mask.heads === 1 ? mask : maskSlice(mask, s);
      const [k0, kn] = hn === H ? [0, HKV] : [Math.floor(h0 / group), 1];
      units.push({ b0, bn, h0, hn, k0, kn, core: makeCore(sub, [bn, hn, lq, d], [bn, kn, lk, d], scale) });
    }
  }
  const nb = bRanges.length;
  const nh = hRanges.length;
  const part = (x: tf.Tensor, u: Unit, kv: boolean): tf.Tensor =>
    units.length === 1 ? x : tf.slice(x, [u.b0, kv ? u.k0 : u.h0, 0, 0], [u.bn, kv ? u.kn : u.hn, -1, -1]);
  /** Unit results laid out [nb][nh] back into one tensor. */
  const join = (parts: tf.Tensor[]): tf.Tensor => {
    if (parts.length === 1) return parts[0]!;
    const rows = Array.from({ length: nb }, (_, i) => tf.concat(parts.slice(i * nh, (i + 1) * nh), 1));
    return rows.length === 1 ? rows[0]! : tf.concat(rows, 0);
  };
  let lseOut: tf.Tensor3D | undefined;
  const f = tf.customGrad(((qx: tf.Tensor, kx: tf.Tensor, vx: tf.Tensor, save: tf.GradSaveFunc) => {
    const res = units.map((u) => forwardCore(u.core, part(qx, u, false), part(kx, u, true), part(vx, u, true)));
    const out = join(res.map((r) => r.out));
    const lseP = join(res.map((r) => tf.expandDims(r.lseP, 3)));
    lseOut = tf.keep(tf.squeeze(tf.slice(lseP, [0, 0, 0, 0], [B, H, lq, 1]), [3]) as tf.Tensor3D);
    save([qx, kx, vx, out, lseP]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, so, sl] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const grads = units.map((u) =>
          backward(
            u.core,
            [
              part(sq, u, false),
              part(sk, u, true),
              part(sv, u, true),
              part(so, u, false),
              tf.squeeze(part(sl, u, false), [3]),
            ],
            part(dy, u, false),
          ),
        );
        const dq = join(grads.map((g) => g[0]!));
        if (units.length === 1) return [dq, grads[0]![1]!, grads[0]![2]!];
        // per-head units: sum the query heads of each kv head, then lay out [B, HKV]
        const fold = (which: 1 | 2): tf.Tensor => {
          const cells: tf.Tensor[] = [];
          for (let bi = 0; bi < nb; bi++) {
            const us = units.map((u, i) => ({ u, g: grads[i]![which]! })).filter(({ u }) => u.b0 === bRanges[bi]![0]);
            if (us[0]!.u.kn === HKV) cells.push(us[0]!.g);
            else {
              const perKv = Array.from({ length: HKV }, (_, hk) =>
                tf.addN(us.filter(({ u }) => u.k0 === hk).map(({ g }) => g)),
              );
              cells.push(tf.concat(perKv, 1));
            }
          }
          return cells.length === 1 ? cells[0]! : tf.concat(cells, 0);
        };
        return [dq, fold(1), fold(2)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const output = f(q, k, v) as tf.Tensor4D;
  return { output, lse: lseOut! };
}

function backward(core: Core, saved: tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  const { c, plan, group, hkv, lq, lk, lqP, lkP, expandKv } = core;
  const [qx, kx, vx, out, lseP] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  const { b, h, d, scale } = c;
  const qP = padRows(qx, lqP);
  const kP = expandKv(padRows(kx, lkP));
  const vP = expandKv(padRows(vx, lkP));
  const dOP = padRows(dy, lqP);
  // delta = rowsum(dO * O); rows with no key have lse -inf: use 0 there and zero their P.
  const delta = padRows(tf.sum(tf.mul(dy, out), -1, true), lqP);
  const lseSafe = tf.expandDims(tf.where(tf.isFinite(lseP), lseP, tf.zerosLike(lseP)), 3);
  const rowsOf = (t: tf.Tensor, rows: Int32Array, n: number, w: number): tf.Tensor =>
    tf.reshape(tf.gather(t, tf.tensor1d(rows, 'int32'), 2), [b * h * n, -1, w]);
  const dqs: tf.Tensor[] = [];
  for (const g of plan.groups) {
    const { kg, s } = groupScores(c, g, qP, kP);
    const lg = tf.reshape(rowsOf(lseSafe, g.qRows, g.blocks, 1), [b * h, g.blocks, c.qBlock, 1]);
    const valid = tf.reshape(tf.tensor1d(g.valid), [1, g.blocks, c.qBlock, 1]);
    const p = tf.reshape(tf.mul(tf.exp(tf.sub(s, lg)), valid), [b * h * g.blocks, c.qBlock, g.width]);
    const vg = rowsOf(vP, g.kvRows, g.blocks, d);
    const dog = rowsOf(dOP, g.qRows, g.blocks, d);
    const dg = rowsOf(delta, g.qRows, g.blocks, 1);
    const ds = tf.mul(tf.mul(p, tf.sub(tf.matMul(dog, vg, false, true), dg)), scale);
    dqs.push(tf.reshape(tf.matMul(ds, kg), [b, h, g.blocks * c.qBlock, d]));
  }
  const dq = tf.slice(assemble(dqs, plan.emptyRows, plan.inverse, [b, h, 0, d]), [0, 0, 0, 0], [b, h, lq, d]);
  const dks: tf.Tensor[] = [];
  const dvs: tf.Tensor[] = [];
  for (const g of plan.tGroups) {
    // g.qRows are key rows here, g.kvRows the query rows that see them; bias is [blocks, kvBlock, width].
    const kt = rowsOf(kP, g.qRows, g.blocks, d);
    const vt = rowsOf(vP, g.qRows, g.blocks, d);
    const qt = rowsOf(qP, g.kvRows, g.blocks, d);
    const dot = rowsOf(dOP, g.kvRows, g.blocks, d);
    const lt = tf.reshape(rowsOf(lseSafe, g.kvRows, g.blocks, 1), [b * h * g.blocks, 1, g.width]);
    const dlt = tf.reshape(rowsOf(delta, g.kvRows, g.blocks, 1), [b * h * g.blocks, 1, g.width]);
    const rawT = tf.reshape(tf.mul(tf.matMul(kt, qt, false, true), scale), [b * h, g.blocks, c.kvBlock, g.width]);
    const st = g.bias ? tf.add(rawT, tf.tensor3d(g.bias, [g.blocks, c.kvBlock, g.width])) : rawT;
    // rows with lse = -inf have only NEG-biased scores here, so exp underflows to 0
    const pt = tf.exp(tf.sub(tf.reshape(st, [b * h * g.blocks, c.kvBlock, g.width]), lt));
    dvs.push(tf.reshape(tf.matMul(pt, dot), [b, h, g.blocks * c.kvBlock, d]));
    const dst = tf.mul(tf.mul(pt, tf.sub(tf.matMul(vt, dot, false, true), dlt)), scale);
    dks.push(tf.reshape(tf.matMul(dst, qt), [b, h, g.blocks * c.kvBlock, d]));
  }
  const fold = (parts: tf.Tensor[]): tf.Tensor => {
    const full = tf.slice(assemble(parts, plan.tEmptyRows, plan.tInverse, [b, h, 0, d]), [0, 0, 0, 0], [b, h, lk, d]);
    return group === 1 ? full : tf.sum(tf.reshape(full, [b, hkv, group, lk, d]), 2);
  };
  return [dq, fold(dks), fold(dvs)];
}
