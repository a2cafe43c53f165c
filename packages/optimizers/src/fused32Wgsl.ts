import type { WebGPUProgramSpec, WebGPUUniform } from '@blockwise/tensor';
import type { Fused32Attrs } from './fused32.js';
import { RULE32_CONSTANTS, RULE32_SLOTS, rule32Name, type Rule32Name } from './kernelDefs.js';

/**
 * The fused float32 step in WGSL: the same update rules as src/fused32Rules.ts (float32, the same
 * order of operations; GPUs may contract multiply-adds, so results agree within rounding, not bit
 * for bit). Everything stays on the device: LARS, LAMB and trust compute their two norms in two small
 * programs (scaled per-chunk sums, then the norms) that the update programs read.
 */

/** Elements per partial sum of squares (one thread each). */
export const NORM_CHUNK = 1024;

/** Uniforms: the element count, the rule's constants as `k_<name>`, the trust-ratio settings. */
function uniforms(a: Fused32Attrs): WebGPUUniform[] {
  const names = RULE32_CONSTANTS[rule32Name(a.rule)] as readonly string[];
  return [
    { name: 'uN', type: 'i32', value: a.n },
    { name: 'uAdapt', type: 'i32', value: a.adapt },
    { name: 'uLr', type: 'f32', value: a.lr },
    { name: 'uEta', type: 'f32', value: a.eta },
    { name: 'uTrustEps', type: 'f32', value: a.trustEps },
    ...names
      .filter((n) => n !== 'scale')
      .map((n): WebGPUUniform => ({ name: `k_${n}`, type: 'f32', value: a.k[names.indexOf(n)]! })),
  ];
}

/** `stepAt(i, scale)`: (new parameter, new state 0, new state 1) of element i, per rule. */
const STEP: Record<Rule32Name, string> = {
  adam: `
fn stepAt(i : i32, scale : f32) -> vec3<f32> {
  let pi = p[i]; let g0 = g[i]; let m = s0[i]; let v = s1[i];
  let gi = g0 + uniforms.k_l2 * pi;
  let nm = uniforms.k_b1 * m + uniforms.k_c1 * gi;
  let nv = uniforms.k_b2 * v + uniforms.k_c2 * gi * gi;
  let np = pi * uniforms.k_decay - uniforms.k_stepSize * nm / (sqrt(nv) * uniforms.k_invSqrtBc2 + uniforms.k_eps);
  if (fin(g0) && fin(nm) && fin(nv) && fin(np)) { return vec3<f32>(np, nm, nv); }
  return vec3<f32>(pi, m, v);
}`,
  momentum: `
fn stepAt(i : i32, scale : f32) -> vec3<f32> {
  let pi = p[i]; let g0 = g[i]; let m = s0[i];
  let gi = g0 + uniforms.k_wd * pi;
  let nm = select(uniforms.k_mu * m + uniforms.k_c * gi, gi, uniforms.k_fresh != 0.0);
  let np = pi - uniforms.k_lr * select(nm, gi + uniforms.k_mu * nm, uniforms.k_nesterov != 0.0);
  if (fin(g0) && fin(nm) && fin(np)) { return vec3<f32>(np, nm, 0.0); }
  return vec3<f32>(pi, m, 0.0);
}`,
  lion: `
fn stepAt(i : i32, scale : f32) -> vec3<f32> {
  let pi = p[i]; let gi = g[i]; let m = s0[i];
  let c = uniforms.k_b1 * m + uniforms.k_c1 * gi;
  // The sign by comparison (no sign(): tiny values must still move the weight).
  let np = pi * uniforms.k_decay - uniforms.k_lr * select(select(0.0, -1.0, c < 0.0), 1.0, c > 0.0);
  let nm = uniforms.k_b2 * m + uniforms.k_c2 * gi;
  if (fin(gi) && fin(nm) && fin(np)) { return vec3<f32>(np, nm, 0.0); }
  return vec3<f32>(pi, m, 0.0);
}`,
  lars: `
fn stepAt(i : i32, scale : f32) -> vec3<f32> {
  let pi = p[i]; let m = s0[i];
  let gi = g[i] + uniforms.k_wd * pi;
  let sg = scale * gi;
  let nm = uniforms.k_mu * m + sg;
  let np = pi - select(nm, uniforms.k_mu * nm + sg, uniforms.k_nesterov != 0.0);
  if (fin(gi) && fin(nm) && fin(np)) { return vec3<f32>(np, nm, 0.0); }
  return vec3<f32>(pi, m, 0.0);
}`,
  lamb: `
fn stepAt(i : i32, scale : f32) -> vec3<f32> {
  let r = moments(i);
  let pi = p[i];
  let np = pi - scale * r.x;
  return vec3<f32>(select(pi, np, fin(np)), r.y, r.z);
}`,
  trust: `
fn stepAt(i : i32, scale : f32) -> vec3<f32> {
  let pi = p[i];
  let np = pi - scale * g[i];
  return vec3<f32>(select(pi, np, fin(np)), 0.0, 0.0);
}`,
};

/** `second(i)`: the element of the second norm's vector (LARS g~, LAMB u, trust u); 0 where not finite. */
const SECOND: Partial<Record<Rule32Name, string>> = {
  lars: `
fn second(i : i32) -> f32 {
  let gi = g[i] + uniforms.k_wd * p[i];
  return select(0.0, gi, fin(gi));
}`,
  lamb: `
// (u, new m, new v): u = 0 and the moments kept where anything is not finite.
fn moments(i : i32) -> vec3<f32> {
  let pi = p[i]; let gi = g[i]; let m = s0[i]; let v = s1[i];
  let nm = uniforms.k_b1 * m + uniforms.k_c1 * gi;
  let nv = uniforms.k_b2 * v + uniforms.k_c2 * gi * gi;
  let u = nm / uniforms.k_bc1 / (sqrt(nv / uniforms.k_bc2) + uniforms.k_eps) + uniforms.k_wd * pi;
  if (fin(gi) && fin(nm) && fin(nv) && fin(u)) { return vec3<f32>(u, nm, nv); }
  return vec3<f32>(0.0, m, v);
}
fn second(i : i32) -> f32 { return moments(i).x; }`,
  trust: `
fn second(i : i32) -> f32 { let u = g[i]; return select(0.0, u, fin(u)); }`,
};

/** Inputs the partial-sums program reads. */
const PART_READS: Partial<Record<Rule32Name, string[]>> = {
  lars: ['p', 'g'],
  lamb: ['p', 'g', 's0', 's1'],
  trust: ['p', 'g'],
};

const COMMON = `
fn fin(x : f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
`;

/** The step's scale from the two norms: lr, times the trust ratio when adapting. */
const SCALE = `
fn stepScale() -> f32 {
  let wn = norms[0];
  let un = norms[1];
  var ratio = 1.0;
  if (wn > 0.0 && un > 0.0) { ratio = uniforms.uEta * wn / (un + uniforms.uTrustEps); }
  return select(uniforms.uLr, uniforms.uLr * ratio, uniforms.uAdapt != 0);
}
`;

/** Inputs each rule's programs read (a program must read every input it binds). */
const READS: Record<Rule32Name, string[]> = {
  adam: ['p', 'g', 's0', 's1'],
  momentum: ['p', 'g', 's0'],
  lion: ['p', 'g', 's0'],
  lars: ['p', 'g', 's0'],
  lamb: ['p', 'g', 's0', 's1'],
  trust: ['p', 'g'],
};

/** One program per output: the new parameter, then each new state. */
export function fused32Wgsl(a: Fused32Attrs): WebGPUProgramSpec[] {
  const rule = rule32Name(a.rule);
  const S = RULE32_SLOTS[rule].length;
  const withNorms = rule === 'lars' || rule === 'lamb' || rule === 'trust';
  return Array.from({ length: 1 + S }, (_, out): WebGPUProgramSpec => {
    // LAMB's moments do not depend on the trust ratio: those programs skip the norms.
    const needsScale = withNorms && (out === 0 || rule === 'lars');
    return {
      outputShape: [a.n],
      outputDtype: 'float32',
      shaderKey: `f32_${rule}_${out}_${needsScale ? 's' : 'n'}`,
      variableNames: needsScale ? [...READS[rule], 'norms'] : READS[rule],
      uniforms: uniforms(a),
      userCode: `${COMMON}${needsScale ? SCALE : ''}${SECOND[rule] ?? ''}${STEP[rule]}
fn main(index : i32) {
  if (index >= uniforms.uN) { return; }
  let r = stepAt(index, ${needsScale ? 'stepScale()' : '0.0'});
  setOutputAtIndex(index, r[${out}]);
}
`,
    };
  });
}

/**
 * Per chunk of NORM_CHUNK elements, scaled as LAPACK's nrm2 so that float32 neither overflows (a
 * gradient of 1e30 squares to 1e60) nor underflows: the chunk's max |x| and the sum of (x / max)^2,
 * for p and for the second vector. Layout: [max p | sum p | max u | sum u], `chunks` each.
 */
export function normPartsWgsl(a: Fused32Attrs): WebGPUProgramSpec {
  const rule = rule32Name(a.rule);
  const chunks = Math.ceil(a.n / NORM_CHUNK);
  return {
    outputShape: [4 * chunks],
    outputDtype: 'float32',
    shaderKey: `f32parts_${rule}`,
    variableNames: PART_READS[rule]!,
    uniforms: uniforms(a),
    userCode: `${COMMON}${SECOND[rule]!}
fn main(index : i32) {
  let chunks = (uniforms.uN + ${NORM_CHUNK - 1}) / ${NORM_CHUNK};
  if (index >= chunks) { return; }
  let start = index * ${NORM_CHUNK};
  let end = min(uniforms.uN, start + ${NORM_CHUNK});
  var ma = 0.0;
  var mb = 0.0;
  for (var i = start; i < end; i = i + 1) {
    ma = max(ma, abs(p[i]));
    mb = max(mb, abs(second(i)));
  }
  let ia = select(0.0, 1.0 / ma, ma > 0.0);
  let ib = select(0.0, 1.0 / mb, mb > 0.0);
  var a = 0.0;
  var b = 0.0;
  for (var i = start; i < end; i = i + 1) {
    let x = p[i] * ia;
    let y = second(i) * ib;
    a = a + x * x;
    b = b + y * y;
  }
  setOutputAtIndex(index, ma);
  setOutputAtIndex(chunks + index, a);
  setOutputAtIndex(2 * chunks + index, mb);
  setOutputAtIndex(3 * chunks + index, b);
}
`,
  };
}

/** The two norms from the scaled partial sums (two threads, serial over the chunks). */
export function normSumsWgsl(chunks: number): WebGPUProgramSpec {
  return {
    outputShape: [2],
    outputDtype: 'float32',
    shaderKey: 'f32sums',
    variableNames: ['parts'],
    uniforms: [{ name: 'uChunks', type: 'i32', value: chunks }],
    userCode: `
fn main(index : i32) {
  if (index >= 2) { return; }
  let base = 2 * index * uniforms.uChunks;
  var m = 0.0;
  for (var k = 0; k < uniforms.uChunks; k = k + 1) { m = max(m, parts[base + k]); }
  if (m == 0.0) { setOutputAtIndex(index, 0.0); return; }
  var s = 0.0;
  for (var k = 0; k < uniforms.uChunks; k = k + 1) {
    let r = parts[base + k] / m;
    s = s + r * r * parts[base + uniforms.uChunks + k];
  }
  setOutputAtIndex(index, m * sqrt(s));
}
`,
  };
}
