/**
 * Tiled WGSL for block-sparse attention: one workgroup per (batch, head, query block) for O, LSE
 * and dQ, one per (batch, kv head, key block) for dK and dV. The workgroup walks its block list
 * (read by one thread and shared through `workgroupUniformLoad`, so barriers stay in uniform
 * control flow), loads each chunk of the other side's rows into workgroup memory once, and every
 * thread updates its own row from there.
 */

/** Rows per chunk so two chunks of `d` floats plus two per-row scalars fit 16 KiB of workgroup memory. */
export function chunkRows(d: number): number {
  return Math.max(1, Math.floor((16384 - 64) / (8 * d + 8)));
}

/** Workgroup-unit loop shared by all tiled programs: `unit` is uniform; `body` runs once per unit. */
function unitLoop(units: string, body: string): string {
  return `
  if (localIndex == 0u) { info[0] = i32(workgroupId.x); }
  let firstUnit = workgroupUniformLoad(&info[0]);
  for (var unit = firstUnit; unit < ${units}; unit += uniforms.nWg) {
    ${body}
  }`;
}

/**
 * Query-row programs: O (`kind` 'o'), log-sum-exp ('lse') or dQ ('dq'). Thread `localIndex` owns
 * row `qb * qBlock + localIndex` of its unit's query block.
 */
export function tiledRowCode(d: number, wg: number, kind: 'o' | 'lse' | 'dq', helpers: string, touch: string): string {
  const T = chunkRows(d);
  const update =
    kind === 'dq'
      ? `let p = exp(s - li);
            var dp = 0.0;
            for (var t = 0; t < ${d}; t++) { dp += dOr[t] * vT[jj * ${d} + t]; }
            let ds = p * (dp - di) * uniforms.scale;
            for (var t = 0; t < ${d}; t++) { acc[t] += ds * kT[jj * ${d} + t]; }`
      : `let mNew = max(m, s);
            let alpha = exp(m - mNew);
            let p = exp(s - mNew);
            l = l * alpha + p;
            ${kind === 'o' ? `for (var t = 0; t < ${d}; t++) { acc[t] = acc[t] * alpha + p * vT[jj * ${d} + t]; }` : ''}
            m = mNew;`;
  const write =
    kind === 'lse'
      ? `var bits = 0xff800000u;
      var outV = bitcast<f32>(bits);
      if (l > 0.0) { outV = m + log(l); }
      setOutputAtIndex(qi, outV);`
      : kind === 'o'
        ? `for (var t = 0; t < ${d}; t++) {
        var o = 0.0;
        if (l > 0.0) { o = acc[t] / l; }
        setOutputAtIndex(qOff + t, o);
      }`
        : `for (var t = 0; t < ${d}; t++) { setOutputAtIndex(qOff + t, acc[t]); }`;
  return `${helpers}
var<workgroup> kT : array<f32, ${T * d}>;
var<workgroup> vT : array<f32, ${T * d}>;
var<workgroup> info : array<i32, 8>;
fn main(index : i32) {
  ${touch}
  let lid = i32(localIndex);
  let area = uniforms.qBlock * uniforms.kvBlock;
  ${unitLoop(
    'uniforms.batch * uniforms.hq * uniforms.nq',
    `
    let qb = unit % uniforms.nq;
    let bh = unit / uniforms.nq;
    let h = bh % uniforms.hq;
    let b = bh / uniforms.hq;
    let hk = h / (uniforms.hq / uniforms.hkv);
    let row = maskSlice(b, h) * uniforms.nq + qb;
    let r = qb * uniforms.qBlock + lid;
    let rowOk = lid < uniforms.qBlock && r < uniforms.lq;
    let qi = bh * uniforms.lq + r;
    let qOff = qi * ${d};
    let kHead = (b * uniforms.hkv + hk) * uniforms.lk;
    if (lid == 0) {
      info[1] = mask[uniforms.offKvNum + row];
      info[2] = mask[uniforms.offFullNum + row];
    }
    let np = workgroupUniformLoad(&info[1]);
    let nf = workgroupUniformLoad(&info[2]);
    var qr : array<f32, ${d}>;
    var acc : array<f32, ${d}>;
    ${kind === 'dq' ? `var dOr : array<f32, ${d}>;` : ''}
    var m = -3.0e38;
    var l = 0.0;
    var li = -3.0e38;
    var di = 0.0;
    if (rowOk) {
      for (var t = 0; t < ${d}; t++) { qr[t] = q[qOff + t]; acc[t] = 0.0; }
      ${kind === 'dq' ? `for (var t = 0; t < ${d}; t++) { dOr[t] = dO[qOff + t]; }\n      li = lse[qi];\n      di = delta[qi];` : ''}
    }
    let live = rowOk${kind === 'dq' ? ' && li > -3.0e38' : ''};
    for (var n = 0; n < np + nf; n++) {
      if (lid == 0) {
        if (n < np) {
          let kb0 = mask[uniforms.offKvIdx + row * uniforms.nk + n];
          info[3] = kb0;
          info[4] = mask[uniforms.offPOff + row * uniforms.nk + kb0];
        } else {
          info[3] = mask[uniforms.offFullIdx + row * uniforms.nk + n - np];
          info[4] = -1;
        }
      }
      let kb = workgroupUniformLoad(&info[3]);
      let off = workgroupUniformLoad(&info[4]);
      let k0 = kb * uniforms.kvBlock;
      let kEnd = min(k0 + uniforms.kvBlock, uniforms.lk);
      for (var c0 = k0; c0 < kEnd; c0 += ${T}) {
        let cn = min(${T}, kEnd - c0);
        for (var e = lid; e < cn * ${d}; e += ${wg}) {
          kT[e] = k[(kHead + c0) * ${d} + e];
          vT[e] = v[(kHead + c0) * ${d} + e];
        }
        workgroupBarrier();
        if (live) {
          for (var jj = 0; jj < cn; jj++) {
            let j = c0 + jj;
            if (off >= 0 && !maskBit(off * area + lid * uniforms.kvBlock + (j - k0))) { continue; }
            var s = 0.0;
            for (var t = 0; t < ${d}; t++) { s += qr[t] * kT[jj * ${d} + t]; }
            s *= uniforms.scale;
            ${update}
          }
        }
        workgroupBarrier();
      }
    }
    if (rowOk) {
      ${write}
    }`,
  )}
}
`;
}

/**
 * Key-row programs: dK (`wantDk`) or dV. Thread `localIndex` owns key row `kb * kvBlock +
 * localIndex`; the workgroup walks the transposed lists (query blocks that see the key block) for
 * every query head sharing the kv head, with chunks of q, dO, lse and delta in workgroup memory.
 */
export function tiledColCode(d: number, wg: number, wantDk: boolean, helpers: string, touch: string): string {
  const T = chunkRows(d);
  return `${helpers}
var<workgroup> qT : array<f32, ${T * d}>;
var<workgroup> oT : array<f32, ${T * d}>;
var<workgroup> lT : array<f32, ${T}>;
var<workgroup> dT : array<f32, ${T}>;
var<workgroup> info : array<i32, 8>;
fn main(index : i32) {
  ${touch}
  let lid = i32(localIndex);
  let area = uniforms.qBlock * uniforms.kvBlock;
  let group = uniforms.hq / uniforms.hkv;
  ${unitLoop(
    'uniforms.batch * uniforms.hkv * uniforms.nk',
    `
    let kb = unit % uniforms.nk;
    let bhk = unit / uniforms.nk;
    let hk = bhk % uniforms.hkv;
    let b = bhk / uniforms.hkv;
    let j = kb * uniforms.kvBlock + lid;
    let colOk = lid < uniforms.kvBlock && j < uniforms.lk;
    let kOff = (bhk * uniforms.lk + j) * ${d};
    var kr : array<f32, ${d}>;
    var vr : array<f32, ${d}>;
    var acc : array<f32, ${d}>;
    if (colOk) {
      for (var t = 0; t < ${d}; t++) { kr[t] = k[kOff + t]; vr[t] = v[kOff + t]; acc[t] = 0.0; }
    }
    for (var g = 0; g < group; g++) {
      let h = hk * group + g;
      let slice = maskSlice(b, h);
      let col = slice * uniforms.nk + kb;
      let qHead = (b * uniforms.hq + h) * uniforms.lq;
      if (lid == 0) {
        info[1] = mask[uniforms.offQNum + col];
        info[2] = mask[uniforms.offFullQNum + col];
      }
      let np = workgroupUniformLoad(&info[1]);
      let nf = workgroupUniformLoad(&info[2]);
      for (var n = 0; n < np + nf; n++) {
        if (lid == 0) {
          if (n < np) {
            let qb0 = mask[uniforms.offQIdx + col * uniforms.nq + n];
            info[3] = qb0;
            info[4] = mask[uniforms.offPOff + (slice * uniforms.nq + qb0) * uniforms.nk + kb];
          } else {
            info[3] = mask[uniforms.offFullQIdx + col * uniforms.nq + n - np];
            info[4] = -1;
          }
        }
        let qb = workgroupUniformLoad(&info[3]);
        let off = workgroupUniformLoad(&info[4]);
        let q0 = qb * uniforms.qBlock;
        let qEnd = min(q0 + uniforms.qBlock, uniforms.lq);
        for (var c0 = q0; c0 < qEnd; c0 += ${T}) {
          let cn = min(${T}, qEnd - c0);
          for (var e = lid; e < cn * ${d}; e += ${wg}) {
            qT[e] = q[(qHead + c0) * ${d} + e];
            oT[e] = dO[(qHead + c0) * ${d} + e];
          }
          for (var e = lid; e < cn; e += ${wg}) {
            lT[e] = lse[qHead + c0 + e];
            dT[e] = delta[qHead + c0 + e];
          }
          workgroupBarrier();
          if (colOk) {
            for (var ii = 0; ii < cn; ii++) {
              let i = c0 + ii;
              let li = lT[ii];
              if (li <= -3.0e38) { continue; }
              if (off >= 0 && !maskBit(off * area + (i - q0) * uniforms.kvBlock + lid)) { continue; }
              var s = 0.0;
              for (var t = 0; t < ${d}; t++) { s += qT[ii * ${d} + t] * kr[t]; }
              let p = exp(s * uniforms.scale - li);
              ${
                wantDk
                  ? `var dp = 0.0;
              for (var t = 0; t < ${d}; t++) { dp += oT[ii * ${d} + t] * vr[t]; }
              let ds = p * (dp - dT[ii]) * uniforms.scale;
              for (var t = 0; t < ${d}; t++) { acc[t] += ds * qT[ii * ${d} + t]; }`
                  : `for (var t = 0; t < ${d}; t++) { acc[t] += p * oT[ii * ${d} + t]; }`
              }
            }
          }
          workgroupBarrier();
        }
      }
    }
    if (colOk) {
      for (var t = 0; t < ${d}; t++) { setOutputAtIndex(kOff + t, acc[t]); }
    }`,
  )}
}
`;
}
