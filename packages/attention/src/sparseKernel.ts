/**
 * Typed-array block-sparse attention (the cpu and wasm kernels and the reference for the others):
 * FlashAttention-style online softmax over query-block x key-block tiles, visiting only the
 * blocks a `BlockMask` lists and reading the element mask only inside partial blocks.
 */

/** Sizes of one block-sparse attention call. */
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

/** The block lists a kernel reads (flat, FlexAttention layout) and the partial blocks' element masks. */
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

/**
 * Scores of one tile: `s[i * kvBlock + j] = scale * q_i . k_j`, or -Infinity where the partial
 * block's mask is 0 (padded rows/columns are never read).
 */
function scoreTile(
  q: Float32Array, qOff: number, qRows: number,
  k: Float32Array, kOff: number, kRows: number,
  d: number, scale: number, kvBlock: number,
  bits: Uint8Array, bitOff: number, s: Float32Array,
): void {
  const d4 = d - (d % 4);
  for (let i = 0; i < qRows; i++) {
    const qi = qOff + i * d;
    const si = i * kvBlock;
    const bi = bitOff + i * kvBlock;
    for (let j = 0; j < kRows; j++) {
      if (bitOff >= 0 && bits[bi + j] === 0) {
        s[si + j] = -Infinity;
        continue;
      }
      const kj = kOff + j * d;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      let t = 0;
      for (; t < d4; t += 4) {
        a0 += q[qi + t]! * k[kj + t]!;
        a1 += q[qi + t + 1]! * k[kj + t + 1]!;
        a2 += q[qi + t + 2]! * k[kj + t + 2]!;
        a3 += q[qi + t + 3]! * k[kj + t + 3]!;
      }
      for (; t < d; t++) a0 += q[qi + t]! * k[kj + t]!;
      s[si + j] = (a0 + a1 + (a2 + a3)) * scale;
    }
  }
}

/** Forward pass: writes `out` `[batch, hq, lq, d]` and `lse` `[batch, hq, lq]` (-Infinity for rows with no key). */
export function blockSparseForwardReference(
  q: Float32Array, k: Float32Array, v: Float32Array,
  dims: SparseDims, mask: MaskArrays,
  out: Float32Array, lse: Float32Array,
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
          scoreTile(q, (qHead + q0) * d, qRows, k, (kHead + k0) * d, kRows, d, scale, kvBlock, mask.pBits, off < 0 ? -1 : off * area, s);
          for (let i = 0; i < qRows; i++) {
            const si = i * kvBlock;
            let mx = m[i]!;
            for (let j = 0; j < kRows; j++) if (s[si + j]! > mx) mx = s[si + j]!;
            if (mx === -Infinity) continue;
            const alpha = Math.exp(m[i]! - mx);
            m[i] = mx;
            const ai = i * d;
            if (alpha !== 1) for (let t = 0; t < d; t++) acc[ai + t]! *= alpha;
            let sum = 0;
            for (let j = 0; j < kRows; j++) {
              const p = Math.exp(s[si + j]! - mx);
              if (p === 0) continue;
              sum += p;
              const vj = (kHead + k0 + j) * d;
              for (let t = 0; t < d; t++) acc[ai + t]! += p * v[vj + t]!;
            }
            l[i] = l[i]! * alpha + sum;
          }
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
 * accumulates dq, dk, dv (zeroed here). `delta[row] = dO_row . O_row - dLse_row`. dk and dv sum
 * over the query heads sharing a key/value head.
 */
export function blockSparseBackwardReference(
  q: Float32Array, k: Float32Array, v: Float32Array,
  lse: Float32Array, delta: Float32Array, dO: Float32Array,
  dims: SparseDims, mask: MaskArrays,
  dq: Float32Array, dk: Float32Array, dv: Float32Array,
): void {
  const { batch, hq, hkv, lq, lk, d, scale, qBlock, kvBlock, nq, nk } = dims;
  const group = hq / hkv;
  const area = qBlock * kvBlock;
  dq.fill(0);
  dk.fill(0);
  dv.fill(0);
  const s = new Float32Array(area);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < hq; h++) {
      const hk = Math.floor(h / group);
      const qHead = (b * hq + h) * lq;
      const kHead = (b * hkv + hk) * lk;
      for (let qb = 0; qb < nq; qb++) {
        const q0 = qb * qBlock;
        const qRows = Math.min(qBlock, lq - q0);
        const row = maskRow(dims, b, h, qb);
        forEachBlock(mask, row, nk, (kb, off) => {
          const k0 = kb * kvBlock;
          const kRows = Math.min(kvBlock, lk - k0);
          scoreTile(q, (qHead + q0) * d, qRows, k, (kHead + k0) * d, kRows, d, scale, kvBlock, mask.pBits, off < 0 ? -1 : off * area, s);
          for (let i = 0; i < qRows; i++) {
            const r = qHead + q0 + i;
            const li = lse[r]!;
            if (li === -Infinity) continue;
            const doi = r * d;
            const si = i * kvBlock;
            for (let j = 0; j < kRows; j++) {
              const p = Math.exp(s[si + j]! - li);
              if (p === 0) continue;
              const kj = (kHead + k0 + j) * d;
              // dv_j += p * dO_i ; dp = dO_i . v_j
              let dp = 0;
              for (let t = 0; t < d; t++) {
                dv[kj + t]! += p * dO[doi + t]!;
                dp += dO[doi + t]! * v[kj + t]!;
              }
              const ds = p * (dp - delta[r]!) * scale;
              for (let t = 0; t < d; t++) {
                dq[doi + t]! += ds * k[kj + t]!;
                dk[kj + t]! += ds * q[doi + t]!;
              }
            }
          }
        });
      }
    }
  }
}
