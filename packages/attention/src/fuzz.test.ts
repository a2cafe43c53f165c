import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { describeBackends } from '@blockwise/tensor/testing';
import { blockSparseAttention, chooseImpl } from './blockSparseAttention.js';
import { createBlockMask, type BlockMask, type MaskMod } from './blockMask.js';
import { decodeBlockDiffusion, type BlockDiffusionModel } from './decoding.js';
import { denseAttention } from './dense.js';
import {
  and,
  blockCausal,
  blockDiffusion,
  blockRank,
  causal,
  contextCausal,
  documents,
  not,
  or,
  prefixLM,
  slidingWindow,
} from './masks.js';
import { permutedBlockSparseAttention } from './permuted.js';
import { selectBlocks } from './selectBlocks.js';

// Every public entry point, driven with one corrupted argument or option at a time: the call must
// throw an error naming the argument, or return a finite result equal to a reference.

/** What a bad element or option is replaced with. */
const BAD = [NaN, Infinity, -Infinity, -1, 0, 1.5, 1e30, 2 ** 40, '3', null, true, {}, [], undefined] as const;
const FC = { seed: 42, numRuns: 40 };

const B = 1;
const H = 2;
const L = 6;
const D = 4;
const MOD: MaskMod = slidingWindow(3);
const rng = createRng(42);
const Q = rng.fillNormal(new Float32Array(B * H * L * D));
const K = rng.fillNormal(new Float32Array(B * L * D));
const V = rng.fillNormal(new Float32Array(B * L * D));
const MASK = createBlockMask(MOD, { qLen: L, kvLen: L, blockSize: 4 });

/** Float64 masked attention on the host (GQA: one kv head), the reference for every path. */
function hostAttention(q: Float32Array, k: Float32Array, v: Float32Array, scale: number): Float64Array {
  const out = new Float64Array(q.length);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < L; i++) {
      const s: number[] = [];
      for (let j = 0; j < L; j++) {
        let dot = 0;
        for (let t = 0; t < D; t++) dot += q[(h * L + i) * D + t]! * k[j * D + t]!;
        s.push(MOD(0, h, i, j) ? dot * scale : -Infinity);
      }
      const m = Math.max(...s);
      if (m === -Infinity) continue;
      const e = s.map((x) => Math.exp(x - m));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let t = 0; t < D; t++) out[(h * L + i) * D + t] = e.reduce((a, p, j) => a + p * v[j * D + t]!, 0) / sum;
    }
  }
  return out;
}

function errorNaming(e: unknown, arg: string | RegExp): void {
  const msg = e instanceof Error ? e.message : String(e);
  if (typeof arg === 'string') expect(msg, `error should name ${arg}`).toContain(arg);
  else expect(msg, `error should name ${String(arg)}`).toMatch(arg);
}

interface Case {
  /** The argument the error must name (a pattern where a missing field is named instead). */
  arg: string | RegExp;
  call: () => unknown;
  /** For a call that returns: fails unless the result is finite and equal to its reference. */
  check: (out: unknown) => void | Promise<void>;
}

async function expectOutcome(c: Case): Promise<void> {
  let out: unknown;
  try {
    out = await c.call();
  } catch (e) {
    errorNaming(e, c.arg);
    return;
  }
  await c.check(out);
}

function attentionCases(bad: unknown, idx: number): Case[] {
  const impl = (['auto', 'kernel', 'ops', 'dense'] as const)[idx % 4]!;
  const withEl = (a: Float32Array): Float32Array => {
    const c = a.slice();
    if (typeof bad === 'number') c[idx % c.length] = bad;
    return c;
  };
  const t = (a: Float32Array, shape: number[]): tf.Tensor => tf.tensor(a, shape);
  const qs = [B, H, L, D];
  const ks = [B, 1, L, D];
  /** Runs one attention entry point on (q, k, v) arrays and compares with the host reference. */
  const attn =
    (
      which: 'sparse' | 'dense',
      q: Float32Array,
      k: Float32Array,
      v: Float32Array,
      opts: Record<string, unknown>,
      scale = 1 / Math.sqrt(D),
    ): Case['call'] =>
    () => {
      const [tq, tk, tv] = [t(q, qs), t(k, ks), t(v, ks)];
      try {
        const r =
          which === 'sparse'
            ? blockSparseAttention(tq, tk, tv, opts as never)
            : denseAttention(tq, tk, tv, opts as never);
        const out = (r instanceof tf.Tensor ? r : (r as { output: tf.Tensor }).output).dataSync().slice();
        tf.dispose(r as never);
        return { out, ref: hostAttention(q, k, v, scale) };
      } finally {
        tf.dispose([tq, tk, tv]);
      }
    };
  const same = (o: unknown): void => {
    const { out, ref } = o as { out: Float32Array; ref: Float64Array };
    expect(out.every(Number.isFinite), 'finite output').toBe(true);
    for (let i = 0; i < out.length; i++)
      expect(Math.abs(out[i]! - ref[i]!), `output[${i}]`).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(ref[i]!)));
  };
  const base = { blockMask: MASK, impl };
  const shapeCall =
    (name: 'q' | 'k', make: () => tf.Tensor): Case['call'] =>
    () => {
      const x = make();
      const [tq, tk, tv] = [t(Q, qs), t(K, ks), t(V, ks)];
      try {
        return blockSparseAttention(name === 'q' ? x : tq, name === 'k' ? x : tk, tv, { blockMask: MASK });
      } finally {
        tf.dispose([tq, tk, tv, x]);
      }
    };
  const scale = typeof bad === 'number' ? bad : 0.5;
  return [
    { arg: 'q', call: attn('sparse', withEl(Q), K, V, base), check: same },
    { arg: 'k', call: attn('sparse', Q, withEl(K), V, base), check: same },
    { arg: 'v', call: attn('sparse', Q, K, withEl(V), base), check: same },
    { arg: 'q', call: attn('dense', withEl(Q), K, V, { mask: MOD }), check: same },
    { arg: 'scale', call: attn('sparse', Q, K, V, { ...base, scale: bad }, scale), check: same },
    { arg: 'scale', call: attn('dense', Q, K, V, { mask: MOD, scale: bad }, scale), check: same },
    { arg: 'impl', call: attn('sparse', Q, K, V, { blockMask: MASK, impl: bad }), check: same },
    { arg: 'returnLse', call: attn('sparse', Q, K, V, { ...base, returnLse: bad }), check: same },
    { arg: 'scal', call: attn('sparse', Q, K, V, { ...base, scal: bad }), check: same },
    { arg: 'blockMask', call: attn('sparse', Q, K, V, { blockMask: bad }), check: same },
    { arg: 'options', call: attn('sparse', Q, K, V, bad as never), check: same },
    { arg: 'q', call: shapeCall('q', () => tf.zeros([H, L, D])), check: () => expect.fail('rank-3 q accepted') },
    { arg: 'q', call: shapeCall('q', () => tf.zeros(qs, 'int32')), check: () => expect.fail('int32 q accepted') },
    { arg: 'q', call: shapeCall('q', () => tf.zeros([B, H, 0, D])), check: () => expect.fail('empty q accepted') },
    {
      arg: 'k',
      call: shapeCall('k', () => tf.zeros([B, 1, L, D + 1])),
      check: () => expect.fail('k of another dim accepted'),
    },
    {
      arg: 'batch',
      call: () => chooseImpl(MASK, { batch: bad as number, heads: 1 }),
      check: (o) => expect(['kernel', 'ops', 'dense']).toContain(o),
    },
  ];
}

describeBackends(['cpu', 'wasm'], (backend) => {
  it(`attention entry points: one corrupted tensor or option gives a named error or the reference result (${backend})`, async () => {
    const n = attentionCases(0, 0).length;
    await fc.assert(
      fc.asyncProperty(fc.nat(n - 1), fc.constantFrom(...BAD), fc.nat(1000), async (which, bad, idx) => {
        const before = tf.memory().numTensors;
        await expectOutcome(attentionCases(bad, idx)[which]!);
        expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
      }),
      FC,
    );
  });

  it(`selectBlocks and permutedBlockSparseAttention: named error or every block kept when topK covers them (${backend})`, async () => {
    const cases = (bad: unknown, idx: number): Case[] => {
      const badQ = Q.slice();
      if (typeof bad === 'number') badQ[idx % badQ.length] = bad;
      const run =
        (opts: Record<string, unknown>, permuted = false, q = Q): Case['call'] =>
        async () => {
          const [tq, tk] = [tf.tensor(q, [B, H, L, D]), tf.tensor(K, [B, 1, L, D])];
          try {
            if (permuted)
              return (await permutedBlockSparseAttention(tq, tk, tk, opts as never)).output.dispose() ?? 'ran';
            return await selectBlocks(tq, tk, opts as never);
          } finally {
            tf.dispose([tq, tk]);
          }
        };
      // topK 99 keeps every candidate block, so the selected mask must be the all-true mask
      const allKept = (o: unknown): void => {
        if (o === 'ran') return;
        expect((o as BlockMask).toTokenMask().every((x) => x === 1)).toBe(true);
      };
      return [
        { arg: 'q', call: run({ blockSize: 2, topK: 99 }, false, badQ), check: allKept },
        { arg: 'blockSize', call: run({ blockSize: bad, topK: 99 }), check: allKept },
        { arg: 'topK', call: run({ blockSize: 2, topK: bad }), check: allKept },
        { arg: 'threshold', call: run({ blockSize: 2, threshold: bad }), check: allKept },
        { arg: 'pooling', call: run({ blockSize: 2, topK: 99, pooling: bad }), check: allKept },
        { arg: 'topk', call: run({ blockSize: 2, topk: bad }), check: allKept },
        { arg: 'segmentSize', call: run({ blockSize: 2, segmentSize: bad, topK: 99 }, true), check: allKept },
        { arg: 'q', call: run({ blockSize: 2, segmentSize: 2, topK: 99 }, true, badQ), check: allKept },
      ];
    };
    const n = cases(0, 0).length;
    await fc.assert(
      fc.asyncProperty(fc.nat(n - 1), fc.constantFrom(...BAD), fc.nat(1000), async (which, bad, idx) =>
        expectOutcome(cases(bad, idx)[which]!),
      ),
      { seed: 42, numRuns: 25 },
    );
  });
});

describe('mask builders and createBlockMask', () => {
  /** Evaluates a mask over L x L and compares with `want`. */
  const agrees =
    (want: MaskMod) =>
    (o: unknown): void => {
      for (let i = 0; i < L; i++)
        for (let j = 0; j < L; j++) expect((o as MaskMod)(0, 0, i, j), `(${i}, ${j})`).toBe(want(0, 0, i, j));
    };
  const cases = (bad: unknown): Case[] => {
    const n = bad as number;
    return [
      { arg: 'window', call: () => slidingWindow(n), check: agrees((_b, _h, q, kv) => q >= kv && q - kv < n) },
      { arg: 'prefixLen', call: () => prefixLM(n), check: agrees((_b, _h, q, kv) => kv < n || q >= kv) },
      {
        arg: 'blockSize',
        call: () => blockCausal(n),
        check: agrees((_b, _h, q, kv) => Math.floor(q / n) >= Math.floor(kv / n)),
      },
      { arg: 'ctxLen', call: () => contextCausal(n, 2), check: (o) => expect(typeof o).toBe('function') },
      { arg: 'ids', call: () => documents(bad as never), check: (o) => expect(typeof o).toBe('function') },
      { arg: 'segments', call: () => blockRank(bad as never), check: (o) => expect(typeof o).toBe('function') },
      { arg: /segments/, call: () => blockRank([2, n]), check: (o) => expect(typeof o).toBe('function') },
      { arg: 'argument 2', call: () => and(causal, bad as never), check: agrees(causal) },
      { arg: 'argument 2', call: () => or(causal, bad as never), check: agrees(causal) },
      { arg: 'argument 1', call: () => not(bad as never), check: agrees(causal) },
      {
        arg: 'seqLen',
        call: () => blockDiffusion({ seqLen: n, blockSize: 2 }),
        check: (o) => expect(typeof o).toBe('function'),
      },
      {
        arg: 'causal',
        call: () => slidingWindow(2, { causal: bad as never }),
        check: agrees((_b, _h, q, kv) => q >= kv && q - kv < 2),
      },
      ...(['qLen', 'kvLen', 'blockSize', 'batch', 'heads', 'blocksize'] as const).map((key) => ({
        arg: key,
        call: () => createBlockMask(causal, { qLen: L, kvLen: L, blockSize: 4, [key]: bad } as never),
        // a valid value: the stored mask must be the mask function itself
        check: (o: unknown) => {
          const m = o as BlockMask;
          const tok = m.toTokenMask();
          for (let i = 0; i < tok.length; i++) {
            const j = i % m.kvLen;
            const q = Math.floor(i / m.kvLen) % m.qLen;
            expect(tok[i]).toBe(q >= j ? 1 : 0);
          }
        },
      })),
      {
        arg: /options|qLen/,
        call: () => createBlockMask(causal, bad as never),
        check: () => expect.fail('bad options accepted'),
      },
      {
        arg: 'maskMod',
        call: () => createBlockMask(bad as never, { qLen: L, kvLen: L }),
        check: () => expect.fail('bad maskMod accepted'),
      },
    ];
  };
  it('one corrupted argument: a named error or the mask the definition gives', async () => {
    const n = cases(0).length;
    await fc.assert(
      fc.asyncProperty(fc.nat(n - 1), fc.constantFrom(...BAD), async (which, bad) => expectOutcome(cases(bad)[which]!)),
      { seed: 42, numRuns: 150 },
    );
  });
});

describe('decodeBlockDiffusion', () => {
  const VOCAB = 4;
  // token 1 has the highest logit at every position, so decoding must give all 1s
  const model: BlockDiffusionModel<null> = {
    vocabSize: VOCAB,
    maskId: 3,
    initCache: () => null,
    extendCache: () => null,
    predict: (block) => Float32Array.from({ length: block.length * VOCAB }, (_, i) => (i % VOCAB === 1 ? 4 : 0)),
  };
  const cases = (bad: unknown): Case[] => {
    const run =
      (opts: Record<string, unknown>, m: BlockDiffusionModel<null> = model): Case['call'] =>
      () =>
        decodeBlockDiffusion(m, new Int32Array([0]), { maxTokens: 4, blockSize: 2, ...opts } as never);
    const allOnes = (o: unknown): void => {
      const r = o as { tokens: Int32Array };
      expect(r.tokens.length).toBeGreaterThan(0);
      expect(Array.from(r.tokens).every((t) => t === 1)).toBe(true);
    };
    return [
      ...(
        ['maxTokens', 'blockSize', 'threshold', 'subBlockSize', 'eosId', 'onStep', 'adaptive', 'blocksize'] as const
      ).map((key) => ({ arg: key, call: run({ [key]: bad }), check: allOnes })),
      { arg: 'maskId', call: run({}, { ...model, maskId: bad as number }), check: allOnes },
      { arg: 'vocabSize', call: run({}, { ...model, vocabSize: bad as number }), check: allOnes },
      // equal logits everywhere: the first token that is not the mask token (0) wins every position
      {
        arg: 'predict',
        call: run({}, { ...model, predict: (b) => new Float32Array(b.length * VOCAB).fill(bad as number) }),
        check: (o) => expect(Array.from((o as { tokens: Int32Array }).tokens)).toEqual([0, 0, 0, 0]),
      },
    ];
  };
  it('one corrupted option or model field: a named error or the tokens the model predicts', async () => {
    const n = cases(0).length;
    await fc.assert(
      fc.asyncProperty(fc.nat(n - 1), fc.constantFrom(...BAD), async (which, bad) => expectOutcome(cases(bad)[which]!)),
      { seed: 42, numRuns: 80 },
    );
  });
});
