import type { WebGPUProgramSpec, WebGPUUniform } from '@blockwise/tensor';
import type { Fused8bitAttrs } from './fused8bit.js';
import { ALGO, ALGO_STATES, type Algo8 } from './kernelDefs.js';

/** Elements per partial maximum (a block of B elements has B / 32 partials). */
export const CHUNK = 32;

/** Uniforms and shared WGSL (decode, nearest code, one element's update) of the programs below. */
function shared(a: Fused8bitAttrs): { uniforms: WebGPUUniform[]; common: string; S: number } {
  const S = ALGO_STATES[a.algo as Algo8];
  const W = Math.ceil((a.n * a.bits) / 32);
  const nb = Math.ceil(a.n / a.blockSize);
  const decoupled = a.decoupled !== 0;
  const i = (name: string, value: number): WebGPUUniform => ({ name, type: 'i32', value });
  const f = (name: string, value: number): WebGPUUniform => ({ name, type: 'f32', value });
  const uniforms: WebGPUUniform[] = [
    i('uN', a.n),
    i('uW', W),
    i('uNb', nb),
    i('uBlock', a.blockSize),
    i('uNesterov', a.nesterov),
    i('uFresh', a.fresh),
    f('uLr', a.lr),
    f('uB1', a.beta1),
    f('uB2', a.beta2),
    f('uEps', a.eps),
    f('uWd', a.weightDecay),
    f('uDecay', decoupled ? 1 - a.lr * a.weightDecay : 1),
    f('uL2', decoupled ? 0 : a.weightDecay),
    f('uStepSize', a.lr / a.bc1),
    f('uSqrtBc2', Math.sqrt(a.bc2)),
    f('uBc1', a.bc1),
    f('uBc2', a.bc2),
    f('uMu', a.momentum),
    f('uDamp', a.dampening),
    i('uChunks', a.blockSize / CHUNK),
  ];
  const common = `
const ALGO : i32 = ${a.algo};
const ALGO_ADAM : i32 = ${ALGO.adam};
const ALGO_MOMENTUM : i32 = ${ALGO.momentum};
const ALGO_LAMB : i32 = ${ALGO.lamb};

fn isFinite(x : f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
const NSTATES : i32 = ${S};
const BITS : i32 = ${a.bits};
const PER_WORD : i32 = ${32 / a.bits};
const NCODES : i32 = ${1 << a.bits};

fn mapOffset(s : i32) -> i32 {
  let base = select(512, 0, BITS == 8);
  if (s == 1 && NSTATES == 2) { return base + NCODES; }
  return base;
}

fn decodeState(s : i32, i : i32) -> f32 {
  let w = bitcast<u32>(state[s * uniforms.uW + i / PER_WORD]);
  let code = i32((w >> (u32(BITS) * u32(i % PER_WORD))) & u32(NCODES - 1));
  let amax = bitcast<f32>(state[NSTATES * uniforms.uW + s * uniforms.uNb + i / uniforms.uBlock]);
  return qmap[mapOffset(s) + code] * amax;
}

fn nearestCode(off : i32, x : f32) -> i32 {
  var lo = 0;
  var half = NCODES / 2;
  loop {
    if (half < 1) { break; }
    if (qmap[off + lo + half] <= x) { lo = lo + half; }
    half = half / 2;
  }
  if (lo < NCODES - 1) {
    if (qmap[off + lo + 1] - x < x - qmap[off + lo]) { lo = lo + 1; }
  }
  return lo;
}

// x: new state 0, y: new state 1, z: new parameter (LAMB: raw update).
fn stepAt(i : i32) -> vec3<f32> {
  let pi = p[i];
  var gi = g[i];
  let m = decodeState(0, i);
  var v = 0.0;
  if (NSTATES == 2) { v = decodeState(1, i); }
  var nm = m;
  var nv = v;
  var np = pi;
  if (isFinite(gi)) {
    if (NSTATES == 2) {
      gi = gi + uniforms.uL2 * pi;
      nm = uniforms.uB1 * m + (1.0 - uniforms.uB1) * gi;
      nv = uniforms.uB2 * v + (1.0 - uniforms.uB2) * gi * gi;
      if (ALGO == ALGO_ADAM) {
        np = pi * uniforms.uDecay - uniforms.uStepSize * nm / (sqrt(nv) / uniforms.uSqrtBc2 + uniforms.uEps);
      } else {
        np = nm / uniforms.uBc1 / (sqrt(nv / uniforms.uBc2) + uniforms.uEps) + uniforms.uWd * pi;
      }
    } else if (ALGO == ALGO_MOMENTUM) {
      gi = gi + uniforms.uWd * pi;
      if (uniforms.uFresh != 0) { nm = gi; } else { nm = uniforms.uMu * m + (1.0 - uniforms.uDamp) * gi; }
      var upd = nm;
      if (uniforms.uNesterov != 0) { upd = gi + uniforms.uMu * nm; }
      np = pi - uniforms.uLr * upd;
    } else {
      let c = uniforms.uB1 * m + (1.0 - uniforms.uB1) * gi;
      np = pi * uniforms.uDecay - uniforms.uLr * select(select(0.0, -1.0, c < 0.0), 1.0, c > 0.0);
      nm = uniforms.uB2 * m + (1.0 - uniforms.uB2) * gi;
    }
    // An overflowing element is treated like a non-finite gradient: nothing changes.
    if (!(isFinite(nm) && isFinite(nv) && isFinite(np))) {
      nm = m;
      nv = v;
      np = pi;
      if (ALGO == ALGO_LAMB) { np = 0.0; }
    }
  } else if (ALGO == ALGO_LAMB) {
    np = 0.0;
  }
  return vec3<f32>(nm, nv, np);
}
`;
  return { uniforms, common, S };
}

/**
 * Pass 1 on WebGPU: one thread per 32 elements computes the new states there and writes their
 * max |value| (state s at `s * nb * (B/32) + chunk`). Short serial loops, no barriers.
 */
export function partialMaxWgsl(a: Fused8bitAttrs): WebGPUProgramSpec {
  const { uniforms, common, S } = shared(a);
  const chunks = Math.ceil(a.n / a.blockSize) * (a.blockSize / CHUNK);
  return {
    outputShape: [S * chunks],
    outputDtype: 'float32',
    shaderKey: `partial_a${a.algo}_b${a.bits}`,
    variableNames: ['p', 'g', 'state', 'qmap'],
    uniforms,
    userCode: `${common}
fn main(index : i32) {
  let chunks = uniforms.uNb * uniforms.uChunks;
  if (index >= chunks) { return; }
  let b = index / uniforms.uChunks;
  let start = b * uniforms.uBlock + (index - b * uniforms.uChunks) * ${CHUNK};
  let end = min(uniforms.uN, start + ${CHUNK});
  var m0 = 0.0;
  var m1 = 0.0;
  for (var i = start; i < end; i = i + 1) {
    let r = stepAt(i);
    m0 = max(m0, abs(r.x));
    m1 = max(m1, abs(r.y));
  }
  setOutputAtIndex(index, m0);
  if (NSTATES == 2) { setOutputAtIndex(chunks + index, m1); }
}
`,
  };
}

/**
 * Pass 2 on WebGPU, two programs reading the same inputs plus the partial maxima: the parameter
 * (one thread per element) and the packed state (one thread per word writes the word of every
 * state; the threads after the codes write the block maxima as bit patterns).
 */
export function fused8bitWgsl(stateLength: number, a: Fused8bitAttrs): WebGPUProgramSpec[] {
  const { uniforms, common } = shared(a);
  const names = ['p', 'g', 'state', 'qmap', 'partial'];
  const blockMax = `
fn blockMax(s : i32, b : i32) -> f32 {
  let base = s * uniforms.uNb * uniforms.uChunks + b * uniforms.uChunks;
  var m = 0.0;
  for (var k = 0; k < uniforms.uChunks; k = k + 1) { m = max(m, partial[base + k]); }
  return m;
}
`;
  const stateProgram: WebGPUProgramSpec = {
    outputShape: [stateLength],
    outputDtype: 'int32',
    shaderKey: `state2_a${a.algo}_b${a.bits}`,
    variableNames: names,
    uniforms,
    userCode: `${common}${blockMax}
fn main(index : i32) {
  let W = uniforms.uW;
  let nb = uniforms.uNb;
  if (index < W) {
    let b = (index * PER_WORD) / uniforms.uBlock;
    let a0 = blockMax(0, b);
    var inv0 = 0.0;
    if (a0 > 0.0) { inv0 = 1.0 / a0; }
    var inv1 = 0.0;
    if (NSTATES == 2) {
      let a1 = blockMax(1, b);
      if (a1 > 0.0) { inv1 = 1.0 / a1; }
    }
    var w0 = 0u;
    var w1 = 0u;
    for (var k = 0; k < PER_WORD; k = k + 1) {
      let i = index * PER_WORD + k;
      if (i < uniforms.uN) {
        let r = stepAt(i);
        w0 = w0 | (u32(nearestCode(mapOffset(0), r.x * inv0)) << (u32(BITS) * u32(k)));
        if (NSTATES == 2) { w1 = w1 | (u32(nearestCode(mapOffset(1), r.y * inv1)) << (u32(BITS) * u32(k))); }
      }
    }
    setOutputAtIndexI32(index, bitcast<i32>(w0));
    if (NSTATES == 2) { setOutputAtIndexI32(W + index, bitcast<i32>(w1)); }
  } else if (index >= NSTATES * W && index < NSTATES * (W + nb)) {
    let j = index - NSTATES * W;
    let s = j / nb;
    setOutputAtIndexI32(index, bitcast<i32>(blockMax(s, j - s * nb)));
  }
}
`,
  };
  const paramProgram: WebGPUProgramSpec = {
    outputShape: [a.n],
    outputDtype: 'float32',
    shaderKey: `param_a${a.algo}_b${a.bits}`,
    variableNames: names,
    uniforms,
    userCode: `${common}
fn main(index : i32) {
  if (index < uniforms.uN) {
    setOutputAtIndex(index, stepAt(index).z);
  } else if (index < 0) {
    // Never runs: keeps the 'partial' binding in the layout tfjs binds for every input.
    setOutputAtIndex(0, partial[0]);
  }
}
`,
  };
  // Output order matches the typed-array reference: parameter first, then state.
  return [paramProgram, stateProgram];
}
