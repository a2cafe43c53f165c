import { RULE32_CONSTANTS, type Rule32Name } from './kernelDefs.js';

/**
 * The typed-array reference of the fused float32-state step, over element ranges [start, end) so
 * that the wasm path can run the SIMD module on the first n - n % 4 elements and this code on the
 * rest. The arithmetic is float32 with one rounding per operation (`Math.fround`), in the order
 * the SIMD module (src/wasm/fused32.wat) and the WGSL code use, so the implementations agree bit
 * for bit (the tests compare them). Norm lanes are float64 sums of squares by element index mod
 * 4, which is what the module's two f64x2 accumulators hold.
 *
 * An element whose gradient is not finite, or whose new state or parameter overflows, keeps its
 * parameter and state (`x - x === 0` is false exactly for NaN and +-Infinity).
 */

const f = Math.fround;

/** Arrays of one call: inputs p, g, states s0/s1; outputs op, o0/o1 (s1/o1 unused with one state). */
export interface Fused32Arrays {
  p: Float32Array;
  g: Float32Array;
  s0: Float32Array;
  s1: Float32Array;
  op: Float32Array;
  o0: Float32Array;
  o1: Float32Array;
}

/** Indices of a rule's constants. */
const idx = <R extends Rule32Name>(rule: R): Record<(typeof RULE32_CONSTANTS)[R][number], number> =>
  Object.fromEntries(RULE32_CONSTANTS[rule].map((name, i) => [name, i])) as Record<
    (typeof RULE32_CONSTANTS)[R][number],
    number
  >;
const A = idx('adam');
const M = idx('momentum');
const L = idx('lion');
const R = idx('lars');
const B = idx('lamb');
const T = idx('trust');

/** Adam (decoupled or L2), one pass. */
function adam(k: ArrayLike<number>, x: Fused32Arrays, start: number, end: number): void {
  const b1 = k[A.b1]!,
    c1 = k[A.c1]!,
    b2 = k[A.b2]!,
    c2 = k[A.c2]!,
    l2 = k[A.l2]!;
  const decay = k[A.decay]!,
    ss = k[A.stepSize]!,
    isb = k[A.invSqrtBc2]!,
    eps = k[A.eps]!;
  const { p, g, s0, s1, op, o0, o1 } = x;
  for (let i = start; i < end; i++) {
    const pi = p[i]!;
    const g0 = g[i]!;
    const m = s0[i]!;
    const v = s1[i]!;
    const gi = f(g0 + f(l2 * pi));
    const nm = f(f(b1 * m) + f(c1 * gi));
    const nv = f(f(b2 * v) + f(f(c2 * gi) * gi));
    const np = f(f(pi * decay) - f(f(ss * nm) / f(f(f(Math.sqrt(nv)) * isb) + eps)));
    const ok = g0 - g0 === 0 && nm - nm === 0 && nv - nv === 0 && np - np === 0;
    op[i] = ok ? np : pi;
    o0[i] = ok ? nm : m;
    o1[i] = ok ? nv : v;
  }
}

/** SGD momentum (torch.optim.SGD: dampening, Nesterov, L2), one pass. */
function momentum(k: ArrayLike<number>, x: Fused32Arrays, start: number, end: number): void {
  const mu = k[M.mu]!,
    c = k[M.c]!,
    wd = k[M.wd]!,
    lr = k[M.lr]!;
  const nesterov = k[M.nesterov] !== 0;
  const fresh = k[M.fresh] !== 0;
  const { p, g, s0, op, o0 } = x;
  for (let i = start; i < end; i++) {
    const pi = p[i]!;
    const g0 = g[i]!;
    const m = s0[i]!;
    const gi = f(g0 + f(wd * pi));
    const nm = fresh ? gi : f(f(mu * m) + f(c * gi));
    const np = f(pi - f(lr * (nesterov ? f(gi + f(mu * nm)) : nm)));
    const ok = g0 - g0 === 0 && nm - nm === 0 && np - np === 0;
    op[i] = ok ? np : pi;
    o0[i] = ok ? nm : m;
  }
}

/** Lion: the sign is computed by comparison, so tiny interpolations still move by +-lr. */
function lion(k: ArrayLike<number>, x: Fused32Arrays, start: number, end: number): void {
  const b1 = k[L.b1]!,
    c1 = k[L.c1]!,
    b2 = k[L.b2]!,
    c2 = k[L.c2]!,
    decay = k[L.decay]!,
    lr = k[L.lr]!;
  const { p, g, s0, op, o0 } = x;
  for (let i = start; i < end; i++) {
    const pi = p[i]!;
    const gi = g[i]!;
    const m = s0[i]!;
    const c = f(f(b1 * m) + f(c1 * gi));
    const np = f(f(pi * decay) - f(lr * (c > 0 ? 1 : c < 0 ? -1 : 0)));
    const nm = f(f(b2 * m) + f(c2 * gi));
    const ok = gi - gi === 0 && nm - nm === 0 && np - np === 0;
    op[i] = ok ? np : pi;
    o0[i] = ok ? nm : m;
  }
}

/** LARS first pass: sums of squares of p and of g~ = g + wd p (elements with a finite g~); `trust`: wd = 0. */
function larsNorms(wd: number, x: Fused32Arrays, start: number, end: number, lanes: Float64Array): void {
  const { p, g } = x;
  for (let i = start; i < end; i++) {
    const pi = p[i]!;
    const gi = f(g[i]! + f(wd * pi));
    lanes[i & 3]! += pi * pi;
    if (gi - gi === 0) lanes[4 + (i & 3)]! += gi * gi;
  }
}

/** LARS second pass: `m' = mu m + scale g~`, `p' = p - (Nesterov ? mu m' + scale g~ : m')`. */
function larsApply(k: ArrayLike<number>, x: Fused32Arrays, start: number, end: number): void {
  const mu = k[R.mu]!,
    wd = k[R.wd]!,
    s = k[R.scale]!;
  const nesterov = k[R.nesterov] !== 0;
  const { p, g, s0, op, o0 } = x;
  for (let i = start; i < end; i++) {
    const pi = p[i]!;
    const m = s0[i]!;
    const gi = f(g[i]! + f(wd * pi));
    const sg = f(s * gi);
    const nm = f(f(mu * m) + sg);
    const np = f(pi - (nesterov ? f(f(mu * nm) + sg) : nm));
    const ok = gi - gi === 0 && nm - nm === 0 && np - np === 0;
    op[i] = ok ? np : pi;
    o0[i] = ok ? nm : m;
  }
}

/** LAMB first pass: new moments, the update u (into `op`), sums of squares of p and u. */
function lambMoments(k: ArrayLike<number>, x: Fused32Arrays, start: number, end: number, lanes: Float64Array): void {
  const b1 = k[B.b1]!,
    c1 = k[B.c1]!,
    b2 = k[B.b2]!,
    c2 = k[B.c2]!;
  const bc1 = k[B.bc1]!,
    bc2 = k[B.bc2]!,
    eps = k[B.eps]!,
    wd = k[B.wd]!;
  const { p, g, s0, s1, op, o0, o1 } = x;
  for (let i = start; i < end; i++) {
    const pi = p[i]!;
    const gi = g[i]!;
    const m = s0[i]!;
    const v = s1[i]!;
    const nm = f(f(b1 * m) + f(c1 * gi));
    const nv = f(f(b2 * v) + f(f(c2 * gi) * gi));
    const u = f(f(f(nm / bc1) / f(f(Math.sqrt(f(nv / bc2))) + eps)) + f(wd * pi));
    const ok = gi - gi === 0 && nm - nm === 0 && nv - nv === 0 && u - u === 0;
    const uo = ok ? u : 0;
    op[i] = uo;
    o0[i] = ok ? nm : m;
    o1[i] = ok ? nv : v;
    lanes[i & 3]! += pi * pi;
    lanes[4 + (i & 3)]! += uo * uo;
  }
}

/** LAMB second pass: `p' = p - scale u` (u in `op`). */
function lambApply(k: ArrayLike<number>, x: Fused32Arrays, start: number, end: number): void {
  const s = k[B.scale]!;
  const { p, op } = x;
  for (let i = start; i < end; i++) {
    const pi = p[i]!;
    const np = f(pi - f(s * op[i]!));
    op[i] = np - np === 0 ? np : pi;
  }
}

/** `trust` second pass: `p' = p - scale u` with the update u in `g`. */
function trustApply(k: ArrayLike<number>, x: Fused32Arrays, start: number, end: number): void {
  const s = k[T.scale]!;
  const { p, g, op } = x;
  for (let i = start; i < end; i++) {
    const pi = p[i]!;
    const np = f(pi - f(s * g[i]!));
    op[i] = np - np === 0 ? np : pi;
  }
}

/** The single pass of a rule without norms, or the second pass of LARS / LAMB / trust. */
export function applyRange(rule: Rule32Name, k: ArrayLike<number>, x: Fused32Arrays, start: number, end: number): void {
  if (rule === 'adam') adam(k, x, start, end);
  else if (rule === 'momentum') momentum(k, x, start, end);
  else if (rule === 'lion') lion(k, x, start, end);
  else if (rule === 'lars') larsApply(k, x, start, end);
  else if (rule === 'lamb') lambApply(k, x, start, end);
  else trustApply(k, x, start, end);
}

/** The first pass of LARS / LAMB: adds element i's squares to `lanes[i % 4]` and `lanes[4 + i % 4]`. */
export function normsRange(
  rule: 'lars' | 'lamb' | 'trust',
  k: ArrayLike<number>,
  x: Fused32Arrays,
  start: number,
  end: number,
  lanes: Float64Array,
): void {
  if (rule === 'lars') larsNorms(k[R.wd]!, x, start, end, lanes);
  else if (rule === 'trust') larsNorms(0, x, start, end, lanes);
  else lambMoments(k, x, start, end, lanes);
}

/** The two norms from the lanes, summed in the module's order. */
export function laneNorms(lanes: Float64Array): [number, number] {
  return [
    Math.sqrt(lanes[0]! + lanes[1]! + (lanes[2]! + lanes[3]!)),
    Math.sqrt(lanes[4]! + lanes[5]! + (lanes[6]! + lanes[7]!)),
  ];
}

/**
 * The trust ratio of tensorflow-addons LAMB and the model-garden LARS: `eta ||w|| / (||u|| + eps)`
 * when both norms are positive, else 1.
 */
export function trust(wNorm: number, uNorm: number, eta: number, eps: number): number {
  return wNorm > 0 && uNorm > 0 ? (eta * wNorm) / (uNorm + eps) : 1;
}
