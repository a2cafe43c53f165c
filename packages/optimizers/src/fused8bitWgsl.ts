import type { WebGPUProgramSpec, WebGPUUniform } from '@blockwise/tensor';
import type { Fused8bitAttrs } from './fused8bit.js';

const STATES: Record<number, number> = { 0: 2, 1: 1, 2: 1, 3: 2 };

/**
 * WGSL of the fused 8-bit step: program 0 writes the packed state (one thread per state and
 * block: pass 1 finds the new absmax, pass 2 writes four codes per word), program 1 writes the
 * parameter (one thread per element). Both read the same inputs, so nothing returns to the host.
 */
export function fused8bitWgsl(stateLength: number, a: Fused8bitAttrs): WebGPUProgramSpec[] {
  const S = STATES[a.algo]!;
  const W = Math.ceil(a.n / 4);
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
  ];
  const common = `
const ALGO : i32 = ${a.algo};
const NSTATES : i32 = ${S};

fn mapOffset(s : i32) -> i32 {
  if (s == 1 && NSTATES == 2) { return 256; }
  return 0;
}

fn decodeState(s : i32, i : i32) -> f32 {
  let w = bitcast<u32>(state[s * uniforms.uW + (i >> 2u)]);
  let code = i32((w >> (8u * u32(i & 3))) & 255u);
  let amax = bitcast<f32>(state[NSTATES * uniforms.uW + s * uniforms.uNb + i / uniforms.uBlock]);
  return qmap[mapOffset(s) + code] * amax;
}

fn nearestCode(off : i32, x : f32) -> i32 {
  var lo = 0;
  var half = 128;
  loop {
    if (half < 1) { break; }
    if (qmap[off + lo + half] <= x) { lo = lo + half; }
    half = half / 2;
  }
  if (lo < 255) {
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
  let finite = (bitcast<u32>(gi) & 0x7f800000u) != 0x7f800000u;
  if (finite) {
    if (ALGO == 0 || ALGO == 3) {
      gi = gi + uniforms.uL2 * pi;
      nm = uniforms.uB1 * m + (1.0 - uniforms.uB1) * gi;
      nv = uniforms.uB2 * v + (1.0 - uniforms.uB2) * gi * gi;
      if (ALGO == 0) {
        np = pi * uniforms.uDecay - uniforms.uStepSize * nm / (sqrt(nv) / uniforms.uSqrtBc2 + uniforms.uEps);
      } else {
        np = nm / uniforms.uBc1 / (sqrt(nv / uniforms.uBc2) + uniforms.uEps) + uniforms.uWd * pi;
      }
    } else if (ALGO == 1) {
      gi = gi + uniforms.uWd * pi;
      if (uniforms.uFresh != 0) { nm = gi; } else { nm = uniforms.uMu * m + (1.0 - uniforms.uDamp) * gi; }
      var upd = nm;
      if (uniforms.uNesterov != 0) { upd = gi + uniforms.uMu * nm; }
      np = pi - uniforms.uLr * upd;
    } else {
      let c = uniforms.uB1 * m + (1.0 - uniforms.uB1) * gi;
      np = pi * uniforms.uDecay - uniforms.uLr * sign(c);
      nm = uniforms.uB2 * m + (1.0 - uniforms.uB2) * gi;
    }
  } else if (ALGO == 3) {
    np = 0.0;
  }
  return vec3<f32>(nm, nv, np);
}
`;
  const stateProgram: WebGPUProgramSpec = {
    outputShape: [stateLength],
    outputDtype: 'int32',
    shaderKey: `state_a${a.algo}`,
    variableNames: ['p', 'g', 'state', 'qmap'],
    uniforms,
    userCode: `${common}
fn main(index : i32) {
  let nb = uniforms.uNb;
  if (index >= NSTATES * nb) { return; }
  let s = index / nb;
  let b = index - s * nb;
  let start = b * uniforms.uBlock;
  let end = min(uniforms.uN, start + uniforms.uBlock);
  var amax = 0.0;
  for (var i = start; i < end; i = i + 1) {
    let r = stepAt(i);
    amax = max(amax, abs(select(r.x, r.y, s == 1)));
  }
  let off = mapOffset(s);
  var inv = 0.0;
  if (amax > 0.0) { inv = 1.0 / amax; }
  let wEnd = (end + 3) / 4;
  for (var w = start / 4; w < wEnd; w = w + 1) {
    var packed = 0u;
    for (var k = 0; k < 4; k = k + 1) {
      let i = w * 4 + k;
      if (i < end) {
        let r = stepAt(i);
        let x = select(r.x, r.y, s == 1) * inv;
        packed = packed | (u32(nearestCode(off, x)) << (8u * u32(k)));
      }
    }
    setOutputAtIndexI32(s * uniforms.uW + w, bitcast<i32>(packed));
  }
  setOutputAtIndexI32(NSTATES * uniforms.uW + s * nb + b, bitcast<i32>(amax));
}
`,
  };
  const paramProgram: WebGPUProgramSpec = {
    outputShape: [a.n],
    outputDtype: 'float32',
    shaderKey: `param_a${a.algo}`,
    variableNames: ['p', 'g', 'state', 'qmap'],
    uniforms,
    userCode: `${common}
fn main(index : i32) {
  if (index < uniforms.uN) {
    setOutputAtIndex(index, stepAt(index).z);
  }
}
`,
  };
  // Output order matches the typed-array reference: parameter first, then state.
  return [paramProgram, stateProgram];
}
