import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng, initBackend } from '@blockwise/tensor';
import { expectClose } from '@blockwise/tensor/testing';
import { Muon } from './muon.js';
import { applyGrad, gradSequence, makeVar, values64 } from './testUtil.js';

beforeAll(async () => {
  await initBackend('cpu');
});

type Mat = { r: number; c: number; d: Float64Array };
const mat = (r: number, c: number, d = new Float64Array(r * c)): Mat => ({ r, c, d });
function mm(a: Mat, b: Mat, bT = false): Mat {
  const cols = bT ? b.r : b.c;
  const out = mat(a.r, cols);
  for (let i = 0; i < a.r; i++)
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let k = 0; k < a.c; k++) s += a.d[i * a.c + k]! * (bT ? b.d[j * b.c + k]! : b.d[k * b.c + j]!);
      out.d[i * cols + j] = s;
    }
  return out;
}
const transpose = (a: Mat): Mat => {
  const o = mat(a.c, a.r);
  for (let i = 0; i < a.r; i++) for (let j = 0; j < a.c; j++) o.d[j * a.r + i] = a.d[i * a.c + j]!;
  return o;
};

/** torch.optim.Muon's `_zeropower_via_newtonschulz` in Float64 (torch uses bfloat16). */
function nsRef(g: Mat, steps = 5): Mat {
  const [a, b, c] = [3.4445, -4.775, 2.0315];
  const tall = g.r > g.c;
  let x = tall ? transpose(g) : mat(g.r, g.c, Float64Array.from(g.d));
  const nrm = Math.max(Math.sqrt(x.d.reduce((s, v) => s + v * v, 0)), 1e-7);
  x.d = x.d.map((v) => v / nrm);
  for (let k = 0; k < steps; k++) {
    const A = mm(x, x, true);
    const AA = mm(A, A);
    const B = mat(
      A.r,
      A.c,
      A.d.map((v, i) => b * v + c * AA.d[i]!),
    );
    const BX = mm(B, x);
    x = mat(
      x.r,
      x.c,
      x.d.map((v, i) => a * v + BX.d[i]!),
    );
  }
  return tall ? transpose(x) : x;
}

/**
 * torch.optim.Muon step on Float64: buf = mu buf + (1 - mu) g; nesterov update = g + mu (buf - g);
 * O = NS(update); p *= 1 - lr wd; p -= lr * sqrt(max(1, A/B)) * O with [A, B] = torch [out, in].
 */
function muonReference(
  p0: Float32Array,
  shape: [number, number],
  grads: Float32Array[],
  o: { lr: number; wd: number; mu: number; A: number; B: number },
): Float64Array {
  const p = Float64Array.from(p0);
  const buf = new Float64Array(p.length);
  for (const g of grads) {
    const upd = new Float64Array(p.length);
    for (let i = 0; i < p.length; i++) {
      buf[i] = o.mu * buf[i]! + (1 - o.mu) * g[i]!;
      upd[i] = g[i]! + o.mu * (buf[i]! - g[i]!);
    }
    const O = nsRef(mat(shape[0], shape[1], upd));
    const adj = o.lr * Math.sqrt(Math.max(1, o.A / o.B));
    for (let i = 0; i < p.length; i++) p[i] = p[i]! * (1 - o.lr * o.wd) - adj * O.d[i]!;
  }
  return p;
}

describe('Muon', () => {
  for (const shape of [
    [6, 10],
    [12, 5],
  ] as [number, number][]) {
    it(`matches torch.optim.Muon within 1e-4 after 20 steps on a [${shape}] matrix`, () => {
      const n = shape[0] * shape[1];
      const p0 = createRng(101).fillNormal(new Float32Array(n), 0, 0.1);
      const grads = gradSequence(102, 20, n);
      const w = makeVar(p0, shape);
      const opt = new Muon({ learningRate: 0.02, weightDecay: 0.1, matrixLayout: 'torch' });
      for (const g of grads) applyGrad(opt, w, g);
      const ref = muonReference(p0, shape, grads, { lr: 0.02, wd: 0.1, mu: 0.95, A: shape[0], B: shape[1] });
      expectClose(values64(w), ref, { atol: 1e-4, rtol: 0 });
      opt.dispose();
    });
  }

  it('reads tfjs [in, out] kernels for the shape scale by default', () => {
    const opt = new Muon();
    // A dense kernel [in 4, out 16]: torch sees [16, 4], scale sqrt(16/4) = 2.
    expect(opt.shapeScale([4, 16])).toBe(2);
    expect(new Muon({ matrixLayout: 'torch' }).shapeScale([4, 16])).toBe(1);
    expect(new Muon({ adjustLrFn: 'match_rms_adamw' }).shapeScale([4, 16])).toBeCloseTo(0.8, 12);
  });

  it('updates vectors with the AdamW fallback', () => {
    const p0 = Float32Array.of(1, -1, 2);
    const w = makeVar(p0, [3]);
    const opt = new Muon({ adamw: { learningRate: 0.1, weightDecay: 0 } });
    applyGrad(opt, w, Float32Array.of(0.5, -0.2, 0));
    // First AdamW step moves each element by lr * sign(g) (m_hat / sqrt(v_hat) = sign(g)).
    expectClose(w.dataSync(), [0.9, -0.9, 2], { atol: 1e-6 });
    expect(opt.stateVariables().map((s) => s.name.split('/').pop())).toEqual(['m', 'v']);
    opt.dispose();
  });

  it('noise-adaptive rates: the least noisy layer steps as plain Muon, a noisier one steps less', () => {
    const shape: [number, number] = [8, 8];
    const n = 64;
    const p0 = createRng(111).fillNormal(new Float32Array(n), 0, 0.1);
    const base = gradSequence(112, 1, n)[0]!;
    const noise = gradSequence(113, 6, n);
    const quiet = noise.map((e) => base.map((b, i) => b + 0.01 * e[i]!));
    const loud = noise.map((e) => base.map((b, i) => b + 1.0 * e[i]!));
    const wq = makeVar(p0, shape, 'quiet_kernel');
    const wl = makeVar(p0, shape, 'loud_kernel');
    const wPlain = makeVar(p0, shape, 'plain_kernel');
    const opt = new Muon({ learningRate: 0.02, noiseAdaptive: true });
    const plain = new Muon({ learningRate: 0.02 });
    const loudPlain = makeVar(p0, shape, 'loud_plain_kernel');
    for (let k = 0; k < 6; k++) {
      const gq = tf.tensor(quiet[k]!, shape);
      const gl = tf.tensor(loud[k]!, shape);
      opt.applyGradients({ [wq.name]: gq, [wl.name]: gl });
      plain.applyGradients({ [wPlain.name]: gq, [loudPlain.name]: gl });
      tf.dispose([gq, gl]);
    }
    expectClose(wq.dataSync(), wPlain.dataSync(), { atol: 1e-6, label: 'quiet layer = plain Muon' });
    const moved = (a: tf.Tensor): number =>
      Math.hypot(...Array.from(a.dataSync()).map((x, i) => x - p0[i]! * (1 - 0.02 * 0.1) ** 6));
    expect(moved(wl)).toBeLessThan(0.5 * moved(loudPlain));
    expect(Array.from(wl.dataSync()).every(Number.isFinite)).toBe(true);
    opt.dispose();
    plain.dispose();
    expect(values64(wq).length).toBe(n);
  });
});
