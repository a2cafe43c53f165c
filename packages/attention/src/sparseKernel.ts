/**
 * Typed-array block-sparse attention (the cpu and wasm kernels and the reference for the others):
 * FlashAttention-style online softmax over query-block x key-block tiles, visiting only the
 * blocks a `BlockMask` lists and reading the element mask only inside partial blocks.
 */

/** Sizes of one block-sparse attention call. @internal */
export interface SparseDims {
  batch: number;
  /** Query heads. */
  hq: number;
  /** Key/value heads (divides `hq`). */
  hkv: number;
  lq: number;
  lk: number;
  d: number;
  scale: number;
  maskBatch: number;
  maskHeads: number;
  qBlock: number;
  kvBlock: number;
  nq: number;
  nk: number;
}

/** The block lists a kernel reads (flat, FlexAttention layout) and the partial blocks' element masks. @internal */
export interface MaskArrays {
  kvNum: Int32Array;
  kvIdx: Int32Array;
  fullNum: Int32Array;
  fullIdx: Int32Array;
  pOff: Int32Array;
  pBits: Uint8Array;
}

/**
 * Visits the active key blocks of one query block in ascending order, merging partial and full lists.
 * `fn(kb, partialOffset)` gets -1 as offset for a full block.
 */
function forEachBlock(m: MaskArrays, row: number, nk: number, fn: (kb: number, off: number) => void): void {
  const np = m.kvNum[row]!;
  const nf = m.fullNum[row]!;
  let i = 0;
  let j = 0;
  const base = row * nk;
  while (i < np || j < nf) {
    const a = i < np ? m.kvIdx[base + i]! : nk;
    const b = j < nf ? m.fullIdx[base + j]! : nk;
    if (a < b) {
      fn(a, m.pOff[base + a]!);
      i++;
    } else {
      fn(b, -1);
      j++;
    }
  }
}

function maskRow(dims: SparseDims, b: number, h: number, qb: number): number {
  const mb = dims.maskBatch === 1 ? 0 : b;
  const mh = dims.maskHeads === 1 ? 0 : h;
  return (mb * dims.maskHeads + mh) * dims.nq + qb;
}

/** One row of `abT` (the odd row left over by the two-row loop). */
function abTRow(
  a: Float32Array,
  ai: number,
  b: Float32Array,
  bOff: number,
  cols: number,
  d: number,
  scale: number,
  out: Float32Array,
  oi: number,
): void {
  for (let j = 0; j < cols; j++) {
    const bj = bOff + j * d;
    let s0 = 0;
    for (let t = 0; t < d; t++) s0 += a[ai + t]! * b[bj + t]!;
    out[oi + j] = s0 * scale;
  }
}

/**
 * `out[i * ld + j] = scale * a_i . b_j` for rows i < rows of `a` and j < cols of `b` (both row-major
 * with `d` columns). Register-blocked three (then two) a rows by four b rows: seven loads feed
 * twelve products (about 1.7x the GFLOP/s of a plain dot-product loop in V8).
 */
function abT(
  a: Float32Array,
  aOff: number,
  rows: number,
  b: Float32Array,
  bOff: number,
  cols: number,
  d: number,
  scale: number,
  out: Float32Array,
  ld: number,
): void {
  const cols4 = cols - (cols % 4);
  let i = 0;
  // three rows at a time first (12 accumulators, about 13% faster than two in V8), then pairs
  for (; i + 2 < rows; i += 3) {
    const ai = aOff + i * d;
    const ai1 = ai + d;
    const ai2 = ai1 + d;
    const oi = i * ld;
    const oi1 = oi + ld;
    const oi2 = oi1 + ld;
    let j = 0;
    for (; j < cols4; j += 4) {
      const b0 = bOff + j * d;
      const b1 = b0 + d;
      const b2 = b1 + d;
      const b3 = b2 + d;
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0,
        r0 = 0,
        r1 = 0,
        r2 = 0,
        r3 = 0,
        u0 = 0,
        u1 = 0,
        u2 = 0,
        u3 = 0;
      for (let t = 0; t < d; t++) {
        const x = a[ai + t]!;
        const y = a[ai1 + t]!;
        const z = a[ai2 + t]!;
        const c0 = b[b0 + t]!,
          c1 = b[b1 + t]!,
          c2 = b[b2 + t]!,
          c3 = b[b3 + t]!;
        s0 += x * c0;
        s1 += x * c1;
        s2 += x * c2;
        s3 += x * c3;
        r0 += y * c0;
        r1 += y * c1;
        r2 += y * c2;
        r3 += y * c3;
        u0 += z * c0;
        u1 += z * c1;
        u2 += z * c2;
        u3 += z * c3;
      }
      out[oi + j] = s0 * scale;
      out[oi + j + 1] = s1 * scale;
      out[oi + j + 2] = s2 * scale;
      out[oi + j + 3] = s3 * scale;
      out[oi1 + j] = r0 * scale;
      out[oi1 + j + 1] = r1 * scale;
      out[oi1 + j + 2] = r2 * scale;
      out[oi1 + j + 3] = r3 * scale;
      out[oi2 + j] = u0 * scale;
      out[oi2 + j + 1] = u1 * scale;
      out[oi2 + j + 2] = u2 * scale;
      out[oi2 + j + 3] = u3 * scale;
    }
    if (j < cols) {
      abTRow(a, ai, b, bOff + j * d, cols - j, d, scale, out, oi + j);
      abTRow(a, ai1, b, bOff + j * d, cols - j, d, scale, out, oi1 + j);
      abTRow(a, ai2, b, bOff + j * d, cols - j, d, scale, out, oi2 + j);
    }
  }
  for (; i + 1 < rows; i += 2) {
    const ai = aOff + i * d;
    const ai1 = ai + d;
    const oi = i * ld;
    const oi1 = oi + ld;
    let j = 0;
    for (; j < cols4; j += 4) {
      const b0 = bOff + j * d;
      const b1 = b0 + d;
      const b2 = b1 + d;
      const b3 = b2 + d;
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0,
        r0 = 0,
        r1 = 0,
        r2 = 0,
        r3 = 0;
      for (let t = 0; t < d; t++) {
        const x = a[ai + t]!;
        const y = a[ai1 + t]!;
        const c0 = b[b0 + t]!,
          c1 = b[b1 + t]!,
          c2 = b[b2 + t]!,
          c3 = b[b3 + t]!;
        s0 += x * c0;
        s1 += x * c1;
        s2 += x * c2;
        s3 += x * c3;
        r0 += y * c0;
        r1 += y * c1;
        r2 += y * c2;
        r3 += y * c3;
      }
      out[oi + j] = s0 * scale;
      out[oi + j + 1] = s1 * scale;
      out[oi + j + 2] = s2 * scale;
      out[oi + j + 3] = s3 * scale;
      out[oi1 + j] = r0 * scale;
      out[oi1 + j + 1] = r1 * scale;
      out[oi1 + j + 2] = r2 * scale;
      out[oi1 + j + 3] = r3 * scale;
    }
    if (j < cols) {
      abTRow(a, ai, b, bOff + j * d, cols - j, d, scale, out, oi + j);
      abTRow(a, ai1, b, bOff + j * d, cols - j, d, scale, out, oi1 + j);
    }
  }
  if (i < rows) abTRow(a, aOff + i * d, b, bOff, cols, d, scale, out, i * ld);
}

/** `out[oi + :] += sum_j p[pi + j] * b[bOff + j*d + :]` for one row. */
function accumRow(
  p: Float32Array,
  pi: number,
  cols: number,
  b: Float32Array,
  bOff: number,
  d: number,
  out: Float32Array,
  oi: number,
): void {
  for (let j = 0; j < cols; j++) {
    const pj = p[pi + j]!;
    if (pj === 0) continue;
    const bj = bOff + j * d;
    for (let t = 0; t < d; t++) out[oi + t]! += pj * b[bj + t]!;
  }
}

/** `out[outOff + i*d + :] += sum_j p[i * ld + j] * b[bOff + j*d + :]`, two rows by four j at a time. */
function accumPB(
  p: Float32Array,
  ld: number,
  rows: number,
  cols: number,
  b: Float32Array,
  bOff: number,
  d: number,
  out: Float32Array,
  outOff: number,
): void {
  const cols4 = cols - (cols % 4);
  let i = 0;
  for (; i + 1 < rows; i += 2) {
    const pi = i * ld;
    const pi1 = pi + ld;
    const oi = outOff + i * d;
    const oi1 = oi + d;
    let j = 0;
    for (; j < cols4; j += 4) {
      const p0 = p[pi + j]!,
        p1 = p[pi + j + 1]!,
        p2 = p[pi + j + 2]!,
        p3 = p[pi + j + 3]!;
      const q0 = p[pi1 + j]!,
        q1 = p[pi1 + j + 1]!,
        q2 = p[pi1 + j + 2]!,
        q3 = p[pi1 + j + 3]!;
      if (p0 === 0 && p1 === 0 && p2 === 0 && p3 === 0 && q0 === 0 && q1 === 0 && q2 === 0 && q3 === 0) continue;
      const b0 = bOff + j * d;
      const b1 = b0 + d;
      const b2 = b1 + d;
      const b3 = b2 + d;
      for (let t = 0; t < d; t++) {
        const c0 = b[b0 + t]!,
          c1 = b[b1 + t]!,
          c2 = b[b2 + t]!,
          c3 = b[b3 + t]!;
        out[oi + t]! += p0 * c0 + p1 * c1 + p2 * c2 + p3 * c3;
        out[oi1 + t]! += q0 * c0 + q1 * c1 + q2 * c2 + q3 * c3;
      }
    }
    if (j < cols) {
      accumRow(p, pi + j, cols - j, b, bOff + j * d, d, out, oi);
      accumRow(p, pi1 + j, cols - j, b, bOff + j * d, d, out, oi1);
    }
  }
  if (i < rows) accumRow(p, i * ld, cols, b, bOff, d, out, outOff + i * d);
}

/** `out[outOff + j*d + :] += sum_i p[i * ld + j] * a[aOff + i*d + :]`, two j by four i at a time. */
function accumPtA(
  p: Float32Array,
  ld: number,
  rows: number,
  cols: number,
  a: Float32Array,
  aOff: number,
  d: number,
  out: Float32Array,
  outOff: number,
): void {
  const rows4 = rows - (rows % 4);
  let j = 0;
  for (; j + 1 < cols; j += 2) {
    const oj = outOff + j * d;
    const oj1 = oj + d;
    let i = 0;
    for (; i < rows4; i += 4) {
      const p0 = p[i * ld + j]!,
        p1 = p[(i + 1) * ld + j]!,
        p2 = p[(i + 2) * ld + j]!,
        p3 = p[(i + 3) * ld + j]!;
      const q0 = p[i * ld + j + 1]!,
        q1 = p[(i + 1) * ld + j + 1]!,
        q2 = p[(i + 2) * ld + j + 1]!,
        q3 = p[(i + 3) * ld + j + 1]!;
      if (p0 === 0 && p1 === 0 && p2 === 0 && p3 === 0 && q0 === 0 && q1 === 0 && q2 === 0 && q3 === 0) continue;
      const a0 = aOff + i * d;
      const a1 = a0 + d;
      const a2 = a1 + d;
      const a3 = a2 + d;
      for (let t = 0; t < d; t++) {
        const c0 = a[a0 + t]!,
          c1 = a[a1 + t]!,
          c2 = a[a2 + t]!,
          c3 = a[a3 + t]!;
        out[oj + t]! += p0 * c0 + p1 * c1 + p2 * c2 + p3 * c3;
        out[oj1 + t]! += q0 * c0 + q1 * c1 + q2 * c2 + q3 * c3;
      }
    }
    for (; i < rows; i++) {
      const pi = p[i * ld + j]!;
      const qi = p[i * ld + j + 1]!;
      const ai = aOff + i * d;
      for (let t = 0; t < d; t++) {
        out[oj + t]! += pi * a[ai + t]!;
        out[oj1 + t]! += qi * a[ai + t]!;
      }
    }
  }
  if (j < cols) {
    const oj = outOff + j * d;
    for (let i = 0; i < rows; i++) {
      const pi = p[i * ld + j]!;
      if (pi === 0) continue;
      const ai = aOff + i * d;
      for (let t = 0; t < d; t++) out[oj + t]! += pi * a[ai + t]!;
    }
  }
}

/** Sets masked entries of a partial tile to -Infinity (`bitOff` < 0: a full block, nothing to do). */
function applyMask(s: Float32Array, rows: number, cols: number, ld: number, bits: Uint8Array, bitOff: number): void {
  if (bitOff < 0) return;
  for (let i = 0; i < rows; i++) {
    const bi = bitOff + i * ld;
    for (let j = 0; j < cols; j++) if (bits[bi + j] === 0) s[i * ld + j] = -Infinity;
  }
}

/** Forward pass: writes `out` `[batch, hq, lq, d]` and `lse` `[batch, hq, lq]` (-Infinity for rows with no key). @internal */
export function blockSparseForwardReference(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dims: SparseDims,
  mask: MaskArrays,
  out: Float32Array,
  lse: Float32Array,
): void {
  const { batch, hq, hkv, lq, lk, d, scale, qBlock, kvBlock, nq, nk } = dims;
  const group = hq / hkv;
  const area = qBlock * kvBlock;
  const s = new Float32Array(area);
  const m = new Float64Array(qBlock);
  const l = new Float64Array(qBlock);
  const acc = new Float32Array(qBlock * d);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < hq; h++) {
      const hk = Math.floor(h / group);
      const qHead = (b * hq + h) * lq;
      const kHead = (b * hkv + hk) * lk;
      for (let qb = 0; qb < nq; qb++) {
        const q0 = qb * qBlock;
        const qRows = Math.min(qBlock, lq - q0);
        m.fill(-Infinity);
        l.fill(0);
        acc.fill(0);
        const row = maskRow(dims, b, h, qb);
        forEachBlock(mask, row, nk, (kb, off) => {
          const k0 = kb * kvBlock;
          const kRows = Math.min(kvBlock, lk - k0);
          abT(q, (qHead + q0) * d, qRows, k, (kHead + k0) * d, kRows, d, scale, s, kvBlock);
          applyMask(s, qRows, kRows, kvBlock, mask.pBits, off < 0 ? -1 : off * area);
          // online softmax: s becomes p = exp(s - new max); acc and l are rescaled
          for (let i = 0; i < qRows; i++) {
            const si = i * kvBlock;
            let mx = m[i]!;
            for (let j = 0; j < kRows; j++) if (s[si + j]! > mx) mx = s[si + j]!;
            if (mx === -Infinity) {
              for (let j = 0; j < kRows; j++) s[si + j] = 0;
              continue;
            }
            const alpha = Math.exp(m[i]! - mx);
            m[i] = mx;
            if (alpha !== 1) {
              const ai = i * d;
              for (let t = 0; t < d; t++) acc[ai + t]! *= alpha;
            }
            let sum = 0;
            for (let j = 0; j < kRows; j++) {
              const p = Math.exp(s[si + j]! - mx);
              s[si + j] = p;
              sum += p;
            }
            l[i] = l[i]! * alpha + sum;
          }
          accumPB(s, kvBlock, qRows, kRows, v, (kHead + k0) * d, d, acc, 0);
        });
        for (let i = 0; i < qRows; i++) {
          const oi = (qHead + q0 + i) * d;
          const li = l[i]!;
          if (li > 0) {
            const inv = 1 / li;
            for (let t = 0; t < d; t++) out[oi + t] = acc[i * d + t]! * inv;
            lse[qHead + q0 + i] = m[i]! + Math.log(li);
          } else {
            for (let t = 0; t < d; t++) out[oi + t] = 0;
            lse[qHead + q0 + i] = -Infinity;
          }
        }
      }
    }
  }
}

/**
 * Backward pass (FlashAttention-2 recurrences, P recomputed from the saved log-sum-exp):
 * writes dq, dk, dv (zeroed here). `delta[row] = dO_row . O_row - dLse_row`. dk and dv sum
 * over the query heads sharing a key/value head.
 * @internal
 */
export function blockSparseBackwardReference(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  lse: Float32Array,
  delta: Float32Array,
  dO: Float32Array,
  dims: SparseDims,
  mask: MaskArrays,
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
): void {
  const { batch, hq, hkv, lq, lk, d, scale, qBlock, kvBlock, nq, nk } = dims;
  const group = hq / hkv;
  const area = qBlock * kvBlock;
  dq.fill(0);
  dk.fill(0);
  dv.fill(0);
  const p = new Float32Array(area);
  const dp = new Float32Array(area);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < hq; h++) {
      const hk = Math.floor(h / group);
      const qHead = (b * hq + h) * lq;
      const kHead = (b * hkv + hk) * lk;
      for (let qb = 0; qb < nq; qb++) {
        const q0 = qb * qBlock;
        const qRows = Math.min(qBlock, lq - q0);
        const qOff = (qHead + q0) * d;
        const row = maskRow(dims, b, h, qb);
        forEachBlock(mask, row, nk, (kb, off) => {
          const k0 = kb * kvBlock;
          const kRows = Math.min(kvBlock, lk - k0);
          const kOff = (kHead + k0) * d;
          abT(q, qOff, qRows, k, kOff, kRows, d, scale, p, kvBlock);
          applyMask(p, qRows, kRows, kvBlock, mask.pBits, off < 0 ? -1 : off * area);
          abT(dO, qOff, qRows, v, kOff, kRows, d, 1, dp, kvBlock);
          for (let i = 0; i < qRows; i++) {
            const r = qHead + q0 + i;
            const li = lse[r]!;
            const di = delta[r]!;
            const si = i * kvBlock;
            for (let j = 0; j < kRows; j++) {
              // p = exp(s - lse) (0 where masked or the row is empty); dp becomes dS = p (dP - delta) scale.
              // s <= lse when lse comes from this kernel's forward; the min keeps p <= 1 for an lse
              // computed elsewhere (impl 'dense'), where huge logits round differently.
              const pij = li === -Infinity ? 0 : Math.exp(Math.min(p[si + j]! - li, 0));
              p[si + j] = pij;
              dp[si + j] = pij === 0 ? 0 : pij * (dp[si + j]! - di) * scale;
            }
          }
          accumPtA(p, kvBlock, qRows, kRows, dO, qOff, d, dv, kOff);
          accumPtA(dp, kvBlock, qRows, kRows, q, qOff, d, dk, kOff);
          accumPB(dp, kvBlock, qRows, kRows, k, kOff, d, dq, qOff);
        });
      }
    }
  }
}
