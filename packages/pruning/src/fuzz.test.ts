import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { describeBackends } from '@blockwise/tensor/testing';
import {
  accumulateLayerStats,
  createLayerStats,
  inputNorms,
  layerHessian,
  layerStatsFromInputs,
  reconstructionError,
} from './calibration.js';
import { collectCalibration } from './collect.js';
import { createGradualPruner, polynomialDensitySchedule } from './gradual.js';
import { icbsObjective, icbsPrune } from './icbs.js';
import { globalMagnitudeMasks, magnitudeMask } from './magnitude.js';
import { decodeMasks, encodeMasks, masksFromJSON, masksToJSON } from './masks-io.js';
import { applyMask, maskDensity, weightMatrix, type WeightMatrix } from './matrix.js';
import { smallModel } from './modeltest.js';
import { applyMasks } from './prune-model.js';
import { pruneICBS, pruneMagnitude, pruneSparseGPT, pruneWanda } from './prune-methods.js';
import { sparseGPTPrune } from './sparsegpt.js';
import { wandaMask, wandaScores } from './wanda.js';

// Every public entry point, driven with one corrupted argument at a time: the call must throw an
// error naming the function and the argument, or return a finite result equal to a reference.

const IN = 8;
const OUT = 4;
const rng = createRng(42);
const W = Float32Array.from(rng.fillNormal(new Float32Array(IN * OUT)));
const X = Float32Array.from(rng.fillNormal(new Float32Array(20 * IN)));
const stats = layerStatsFromInputs(X, 20, IN);
const H = layerHessian(stats);
const norms = inputNorms(stats);
const mask = magnitudeMask({ data: W, shape: [IN, OUT] }, { density: 0.5 });

/** What a bad element or option is replaced with. */
const BAD = [NaN, Infinity, -Infinity, -1, 1.5, 0, 1e30, 2 ** 40, '3', null, true, {}, []] as const;
const NONFINITE = [NaN, Infinity, -Infinity] as const;

/** Host reference for magnitude pruning: prune the `pruned` smallest |w|, ties towards the lower index. */
function referenceMagnitude(data: Float32Array, pruned: number): Uint8Array {
  const order = Array.from(data.keys()).sort((a, b) => Math.abs(data[a]!) - Math.abs(data[b]!) || a - b);
  const m = new Uint8Array(data.length).fill(1);
  for (let r = 0; r < pruned; r++) m[order[r]!] = 0;
  return m;
}

interface Case {
  fn: string;
  /** The argument (or option) the corruption touches, as the error must name it. */
  arg: string;
  call: () => unknown;
  /** For a call that returns: throws unless the result is finite and right. */
  check?: (out: unknown) => void;
}

function withElement(a: Float32Array | Float64Array, i: number, v: number): Float32Array | Float64Array {
  const c = a.slice();
  c[i % c.length] = v;
  return c;
}

/** Raw-matrix entry points with one argument corrupted. */
function rawCases(bad: unknown, i: number): Case[] {
  const w: WeightMatrix = { data: W, shape: [IN, OUT] };
  const num = typeof bad === 'number' ? bad : NaN;
  const wBad = { data: withElement(W, i, num) as Float32Array, shape: [IN, OUT] as [number, number] };
  const finiteBig = Number.isFinite(num);
  const magnitudeCheck = (out: unknown): void => {
    // Only a finite element (1e30, 2^40, ...) may pass; the mask must equal the reference on those weights.
    expect(finiteBig).toBe(true);
    expect(Array.from(out as Uint8Array)).toEqual(
      Array.from(referenceMagnitude(wBad.data, Math.floor(IN * OUT * 0.5))),
    );
  };
  return [
    { fn: 'magnitudeMask', arg: 'weights', call: () => magnitudeMask(wBad, { density: 0.5 }), check: magnitudeCheck },
    {
      fn: 'magnitudeMask',
      arg: 'density',
      call: () => magnitudeMask(w, { density: bad as number }),
      check: () => expect([0, 1]).toContain(bad),
    },
    { fn: 'magnitudeMask', arg: 'unknown option "densty"', call: () => magnitudeMask(w, { densty: 0.5 } as never) },
    { fn: 'magnitudeMask', arg: 'options must be an object', call: () => magnitudeMask(w, null as never) },
    {
      fn: 'globalMagnitudeMasks',
      arg: 'weights',
      call: () => globalMagnitudeMasks([w, wBad], { density: 0.5 }),
      check: () => expect(finiteBig).toBe(true),
    },
    {
      fn: 'globalMagnitudeMasks',
      arg: 'sparsity',
      call: () => globalMagnitudeMasks([w], { sparsity: bad as number }),
      check: () => expect([0, 1]).toContain(bad),
    },
    {
      fn: 'wandaScores',
      arg: 'inputNorms',
      call: () => wandaScores(w, withElement(norms, i, num)),
      check: (o) =>
        expect(num >= 0 && Number.isFinite(num) && [...(o as Float64Array)].every(Number.isFinite)).toBe(true),
    },
    {
      fn: 'wandaMask',
      arg: 'weights',
      call: () => wandaMask(wBad, norms, { density: 0.5 }),
      check: () => expect(finiteBig).toBe(true),
    },
    { fn: 'wandaMask', arg: 'group', call: () => wandaMask(w, norms, { density: 0.5, group: bad as never }) },
    {
      fn: 'wandaMask',
      arg: 'nm',
      call: () => wandaMask(w, norms, { nm: { n: bad as number, m: 4 } }),
      check: () => expect([1, true]).toContain(bad),
    },
    {
      fn: 'sparseGPTPrune',
      arg: 'hessian',
      call: () => sparseGPTPrune(w, withElement(H, i, num) as Float64Array, { density: 0.5 }),
      check: (o) => expectFiniteWeights(o, finiteBig),
    },
    {
      fn: 'sparseGPTPrune',
      arg: 'blockSize',
      call: () => sparseGPTPrune(w, H, { density: 0.5, blockSize: bad as number }),
      check: (o) => expectFiniteWeights(o, true),
    },
    {
      fn: 'sparseGPTPrune',
      arg: 'damp',
      call: () => sparseGPTPrune(w, H, { density: 0.5, damp: bad as number }),
      check: (o) => expectFiniteWeights(o, true),
    },
    {
      fn: 'sparseGPTPrune',
      arg: 'weights',
      call: () => sparseGPTPrune(wBad, H, { density: 0.5 }),
      check: (o) => expectFiniteWeights(o, finiteBig),
    },
    {
      fn: 'icbsPrune',
      arg: 'hessian',
      call: () => icbsPrune(w, { initialMask: mask, hessian: withElement(H, i, num) as Float64Array, steps: 3 }),
      check: (o) => expectICBS(o, finiteBig),
    },
    {
      fn: 'icbsPrune',
      arg: 'steps',
      call: () => icbsPrune(w, { initialMask: mask, hessian: H, steps: bad as number }),
      check: (o) => expectICBS(o, true),
    },
    {
      fn: 'icbsPrune',
      arg: 'blockSize',
      call: () => icbsPrune(w, { initialMask: mask, hessian: H, steps: 3, blockSize: bad as number }),
      check: (o) => expectICBS(o, true),
    },
    {
      fn: 'icbsPrune',
      arg: 'gradient',
      call: () =>
        icbsPrune(w, { initialMask: mask, hessian: H, steps: 3, gradient: withElement(W, i, num) as Float32Array }),
      check: (o) => expectICBS(o, finiteBig),
    },
    {
      fn: 'icbsPrune',
      arg: 'unknown option "step"',
      call: () => icbsPrune(w, { initialMask: mask, hessian: H, step: 3 } as never),
    },
    {
      fn: 'icbsPrune',
      arg: 'initialMask',
      call: () =>
        icbsPrune(w, { initialMask: Uint8Array.from(mask, (v, k) => (k === i % mask.length ? 7 : v)), hessian: H }),
    },
    {
      fn: 'icbsObjective',
      arg: 'hessian',
      call: () => icbsObjective(w, mask, withElement(H, i, num) as Float64Array),
      check: (o) => expect(Number.isFinite(o) && finiteBig).toBe(true),
    },
    {
      fn: 'createLayerStats',
      arg: 'inputDim',
      call: () => createLayerStats(bad as number),
      check: () => expect(finiteBig && Number.isInteger(bad) && (bad as number) >= 1).toBe(true),
    },
    {
      fn: 'accumulateLayerStats',
      arg: 'calibration inputs',
      call: () => accumulateLayerStats(createLayerStats(IN), withElement(X, i, num) as Float32Array, 20),
      check: () => expect(finiteBig).toBe(true),
    },
    {
      fn: 'accumulateLayerStats',
      arg: 'rows',
      call: () => accumulateLayerStats(createLayerStats(IN), X, bad as number),
    },
    {
      fn: 'layerStatsFromInputs',
      arg: 'inputDim',
      call: () => layerStatsFromInputs(X, 20, bad as number),
      check: () => expect(bad === 8 || bad === 1.5).toBe(false),
    },
    {
      fn: 'reconstructionError',
      arg: 'after',
      call: () => reconstructionError(W, withElement(W, i, num) as Float32Array, IN, OUT, H),
      check: (o) => expect(Number.isFinite(o) && finiteBig).toBe(true),
    },
    {
      fn: 'reconstructionError',
      arg: 'hessian',
      call: () => reconstructionError(W, W, IN, OUT, withElement(H, i, num) as Float64Array),
      check: (o) => expect(o === 0 && finiteBig).toBe(true),
    },
    { fn: 'weightMatrix', arg: 'inDim', call: () => weightMatrix(W, bad as number, OUT) },
    { fn: 'maskDensity', arg: 'mask', call: () => maskDensity(bad as never) },
    {
      fn: 'applyMask',
      arg: 'weights',
      call: () => applyMask(wBad, mask),
      check: (o) => expect([...(o as Float32Array)].every(Number.isFinite) && finiteBig).toBe(true),
    },
    {
      fn: 'encodeMasks',
      arg: "masks['a']",
      call: () => encodeMasks({ a: { shape: [2, bad as number], mask: new Uint8Array(4) } }),
      check: () => expect(bad).toBe(2),
    },
    {
      fn: 'decodeMasks',
      arg: 'bitOffset',
      call: () => decodeMasks([{ name: 'a', shape: [2, 2], bitOffset: bad as number }], new ArrayBuffer(1)),
      check: () => expect(bad).toBe(0),
    },
    { fn: 'masksFromJSON', arg: 'json', call: () => masksFromJSON(bad as never) },
    {
      fn: 'polynomialDensitySchedule',
      arg: 'finalDensity',
      call: () => polynomialDensitySchedule({ finalDensity: bad as number, endStep: 5 }),
      check: () => expect([0, 1]).toContain(bad),
    },
    {
      fn: 'polynomialDensitySchedule',
      arg: 'power',
      call: () => polynomialDensitySchedule({ finalDensity: 0.5, endStep: 5, power: bad as number }),
      check: () => expect(bad).toBe(1.5),
    },
  ];
}

function expectFiniteWeights(o: unknown, allowed: boolean): void {
  expect(allowed).toBe(true);
  const r = o as { weights: Float32Array; mask: Uint8Array; estimatedError: number };
  expect([...r.weights].every(Number.isFinite)).toBe(true);
  expect(Number.isFinite(r.estimatedError)).toBe(true);
  expect(maskDensity(r.mask)).toBe(0.5);
}

function expectICBS(o: unknown, allowed: boolean): void {
  expect(allowed).toBe(true);
  const r = o as { objective: number; initialObjective: number; mask: Uint8Array };
  expect(Number.isFinite(r.objective) && r.objective <= r.initialObjective).toBe(true);
  expect(maskDensity(r.mask)).toBe(maskDensity(mask));
}

function expectNamedError(fn: () => unknown, c: Case): unknown {
  let out: unknown;
  try {
    out = fn();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    const msg = (e as Error).message;
    expect(msg, `${c.fn} error names the function`).toContain(
      c.fn === 'masksFromJSON' || c.fn === 'decodeMasks' ? c.fn.slice(0, 5) : c.fn,
    );
    expect(msg.toLowerCase(), `${c.fn} error names ${c.arg}: ${msg}`).toContain(c.arg.toLowerCase());
    return undefined;
  }
  if (!c.check) throw new Error(`${c.fn} with a bad ${c.arg} returned instead of throwing`);
  c.check(out);
  return out;
}

describe('fuzz: raw-matrix entry points', () => {
  it('every corrupted argument gives an error naming it, or a finite result equal to the reference', () => {
    const count = rawCases(0, 0).length;
    fc.assert(
      fc.property(fc.nat(count - 1), fc.constantFrom(...BAD), fc.nat(1000), (k, bad, i) => {
        const c = rawCases(bad, i)[k]!;
        expectNamedError(c.call, c);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('non-finite weights, Hessians and inputs always throw', () => {
    fc.assert(
      fc.property(fc.constantFrom(...NONFINITE), fc.nat(1000), fc.nat(6), (bad, i, k) => {
        const c = rawCases(bad, i).filter(
          (x) => x.check && ['weights', 'hessian', 'gradient', 'calibration inputs', 'after'].includes(x.arg),
        )[k]!;
        expect(() => c.call()).toThrow();
      }),
      { seed: 42, numRuns: 60 },
    );
  });

  it('JSON masks: a random single-character corruption never decodes to a different mask', () => {
    const masks = { fc: { shape: [IN, OUT] as [number, number], mask } };
    const json = masksToJSON(masks);
    fc.assert(
      // Structure only: a flipped payload bit is a different mask by design (the format has no checksum).
      fc.property(fc.nat(json.indexOf('"bits"') - 1), fc.constantFrom(...'0123456789-.,":{}[]abcAZ+/='), (at, ch) => {
        const bad = json.slice(0, at) + ch + json.slice(at + 1);
        let out: unknown;
        try {
          out = masksFromJSON(bad);
        } catch (e) {
          expect((e as Error).message).toMatch(/^(masksFromJSON|decodeMasks|masks)/);
          return;
        }
        // A change that still decodes must leave the masks as they were (a layer's name may change: it is free text).
        expect(Object.values(out as object)).toEqual(Object.values(masks));
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});

/** Model-level entry points with one corrupted argument; `x` is the small model's calibration set. */
function modelCases(bad: unknown, m: ReturnType<typeof smallModel>, badX: tf.Tensor): Case[] {
  const { model, x } = m;
  return [
    { fn: 'pruneMagnitude', arg: 'density', call: () => pruneMagnitude(model, { density: bad as number }) },
    { fn: 'pruneMagnitude', arg: 'options must be an object', call: () => pruneMagnitude(model, null as never) },
    { fn: 'pruneMagnitude', arg: 'scope', call: () => pruneMagnitude(model, { density: 0.5, scope: bad as never }) },
    { fn: 'pruneWanda', arg: 'calibration', call: () => pruneWanda(model, { density: 0.5, calibration: badX }) },
    {
      fn: 'pruneWanda',
      arg: 'batchSize',
      call: () => pruneWanda(model, { density: 0.5, calibration: x, batchSize: bad as number }),
    },
    {
      fn: 'pruneWanda',
      arg: 'unknown option "batchsize"',
      call: () => pruneWanda(model, { density: 0.5, calibration: x, batchsize: 4 } as never),
    },
    {
      fn: 'pruneSparseGPT',
      arg: 'damp',
      call: () => pruneSparseGPT(model, { density: 0.5, calibration: x, damp: bad as number }),
    },
    {
      fn: 'pruneSparseGPT',
      arg: 'calibration',
      call: () => pruneSparseGPT(model, { density: 0.5, calibration: badX }),
    },
    {
      fn: 'pruneICBS',
      arg: 'steps',
      call: () => pruneICBS(model, { density: 0.5, calibration: x, steps: bad as number }),
    },
    {
      fn: 'pruneICBS',
      arg: 'sequential',
      call: () => pruneICBS(model, { density: 0.5, calibration: x, steps: 2, sequential: bad as never }),
    },
    {
      fn: 'pruneICBS',
      arg: 'calibration',
      call: () => pruneICBS(model, { density: 0.5, calibration: badX, steps: 2 }),
    },
    { fn: 'collectCalibration', arg: 'calibration', call: () => collectCalibration(model, badX) },
    {
      fn: 'collectCalibration',
      arg: 'maxGramBytes',
      call: () => collectCalibration(model, x, { maxGramBytes: bad as number }),
    },
    {
      fn: 'createGradualPruner',
      arg: 'frequency',
      call: () => createGradualPruner(model, { finalDensity: 0.5, endStep: 4, frequency: bad as number }),
    },
    {
      fn: 'createGradualPruner',
      arg: 'unknown option "endstep"',
      call: () => createGradualPruner(model, { finalDensity: 0.5, endstep: 4 } as never),
    },
    {
      fn: 'applyMasks',
      arg: "masks['hidden1']",
      call: () =>
        applyMasks(model, { hidden1: { shape: [16, 12], mask: new Uint8Array(bad === 1e30 ? 5 : 192).fill(2) } }),
    },
  ];
}

/** Calibration sets that must be refused: NaN, Inf, zero rows, wrong rank, int32. */
function badCalibration(kind: number): tf.Tensor {
  const good = createRng(kind).normalTensor([8, 16]);
  const out = [
    () => tf.where(tf.equal(tf.reshape(tf.range(0, 128), [8, 16]), 5), tf.fill([8, 16], NaN), good),
    () => tf.where(tf.equal(tf.reshape(tf.range(0, 128), [8, 16]), 77), tf.fill([8, 16], Infinity), good),
    () => tf.zeros([0, 16]),
    () => tf.zeros([16]),
    () => tf.zeros([8, 16], 'int32'),
    () => tf.zeros([8, 15]),
  ][kind % 6]!();
  if (out !== good) good.dispose();
  return out;
}

describeBackends(['cpu', 'wasm'], (backend) => {
  describe(`fuzz: model-level entry points on ${backend}`, () => {
    it('bad options and bad calibration tensors give an error naming them (nothing pruned)', async () => {
      const m = smallModel(9);
      const before = await Promise.all(m.model.getWeights().map((w) => w.data()));
      const count = modelCases(0, m, m.x).length;
      await fc.assert(
        fc.asyncProperty(
          fc.nat(count - 1),
          fc.constantFrom(...BAD.filter((b) => ![0, 1e30, 2 ** 40].includes(b as number))),
          fc.nat(5),
          async (k, bad, kind) => {
            const badX = badCalibration(kind);
            const c = modelCases(bad, m, badX)[k]!;
            try {
              await c.call();
              throw new Error(`${c.fn} with a bad ${c.arg} (${String(bad)}) did not throw`);
            } catch (e) {
              const msg = (e as Error).message;
              expect(msg).toContain(
                c.fn === 'collectCalibration' || c.fn === 'applyMasks' || c.fn === 'createGradualPruner'
                  ? c.fn.slice(0, 5)
                  : c.fn,
              );
              expect(msg.toLowerCase(), msg).toContain(c.arg.toLowerCase());
            } finally {
              badX.dispose();
            }
          },
        ),
        { seed: 42, numRuns: 40 },
      );
      // Every refusal happened before a weight changed.
      const after = await Promise.all(m.model.getWeights().map((w) => w.data()));
      after.forEach((a, i) => expect(Array.from(a)).toEqual(Array.from(before[i]!)));
      m.model.dispose();
      tf.dispose([m.x, m.y]);
    });

    it('calibration inputs of 1e30 give a finite report and scale-invariant masks; 1e38 is refused before pruning', async () => {
      // ReLU layers are positively homogeneous and the biases vanish at these scales, so Wanda's
      // norms scale uniformly and its masks at 1e30 equal those at 1e20 (an invariant as reference).
      const masksAt = async (scale: number) => {
        const m = smallModel(9);
        const x = tf.mul(m.x, scale);
        const r = await pruneWanda(m.model, { density: 0.5, calibration: x, sequential: false });
        expect(Number.isFinite(r.measuredLossChange), `output MSE at scale ${scale}`).toBe(true);
        expect(r.layers.every((l) => Number.isFinite(l.estimatedLossChange))).toBe(true);
        tf.dispose([x, m.x, m.y]);
        m.model.dispose();
        return r.masks;
      };
      expect(await masksAt(1e30)).toEqual(await masksAt(1e20));
      const m = smallModel(9);
      const huge = tf.mul(m.x, 1e38);
      await expect(pruneWanda(m.model, { density: 0.5, calibration: huge })).rejects.toThrow(/pruneWanda: .*finite/);
      tf.dispose([huge, m.x, m.y]);
      m.model.dispose();
    });
  });
});
