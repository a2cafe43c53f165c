import { createRng } from '@blockwise/tensor';
import { describe, expect, it } from 'vitest';
import { benchData, digitsSplit } from './data.js';
import { median, timeBest } from './measure.js';
import { metricDirection, shrinkSize, type SuiteContext } from './suite.js';

describe('median', () => {
  it('is the middle value, or the mean of the two middle values', () => {
    expect(median([3, 1, 2])).toBe(2);
    // sorted 1 2 3 10: (2 + 3) / 2
    expect(median([10, 2, 3, 1])).toBe(2.5);
    expect(median([7])).toBe(7);
  });
  it('does not reorder its argument and rejects empty or non-numeric input', () => {
    const xs = [3, 1, 2];
    median(xs);
    expect(xs).toEqual([3, 1, 2]);
    expect(() => median([])).toThrow(/median: xs must be a non-empty array/);
    expect(() => median([1, Number.NaN])).toThrow(/xs\[1\] must be a number, got NaN/);
  });
});

describe('timeBest', () => {
  it('makes warmup + repeats runs without a budget and reports best and median of the timed ones', async () => {
    let calls = 0;
    const t = await timeBest(() => void calls++, { repeats: 4, warmup: 2 });
    expect(calls).toBe(6);
    expect(t.samples).toHaveLength(4);
    expect(t.bestMs).toBe(Math.min(...t.samples));
    expect(t.medianMs).toBe(median(t.samples));
  });

  it('keeps running while the budget allows, up to maxRepeats', async () => {
    const sleep = () => new Promise<void>((r) => setTimeout(r, 5));
    // Each run takes >= 5 ms: a 1 s budget allows all 7; a budget of 0 only the 2 required.
    expect((await timeBest(sleep, { repeats: 2, maxRepeats: 7, budgetMs: 1000 })).samples).toHaveLength(7);
    expect((await timeBest(sleep, { repeats: 2, maxRepeats: 7, budgetMs: 0 })).samples).toHaveLength(2);
    for (const s of (await timeBest(sleep, { repeats: 2 })).samples) expect(s).toBeGreaterThanOrEqual(4);
  });

  it('reads back and disposes returned tensors inside the timing', async () => {
    let read = 0;
    let disposed = 0;
    const fake = () => ({
      data: () => new Promise((r) => setTimeout(() => r(read++), 5)),
      dispose: () => void disposed++,
    });
    const t = await timeBest(() => [fake(), fake()], { repeats: 3 });
    expect([read, disposed]).toEqual([6, 6]);
    expect(t.bestMs).toBeGreaterThanOrEqual(4);
  });

  it('names bad arguments', async () => {
    await expect(timeBest(42 as unknown as () => void)).rejects.toThrow(/fn must be a function, got 42/);
    await expect(timeBest(() => 0, { repeat: 3 } as never)).rejects.toThrow(
      /unknown option "repeat"; did you mean "repeats"/,
    );
    await expect(timeBest(() => 0, { repeats: 0 })).rejects.toThrow(/repeats must be an integer >= 1/);
    await expect(timeBest(() => 0, { budgetMs: Number.NaN })).rejects.toThrow(
      /budgetMs must be a finite number >= 0, got NaN/,
    );
    await expect(timeBest(() => 0, { repeats: 5, maxRepeats: 2 })).rejects.toThrow(
      /maxRepeats must be an integer >= 5/,
    );
  });
});

describe('digitsSplit', () => {
  const d = benchData.digits();

  it('reproduces the split the suites wrote by hand (seeded permutation, test first, 30%)', () => {
    for (const seed of [1, 3]) {
      // The optimizers, schedules and pruning suites' code before the shared helper:
      const perm = createRng(seed).permutation(d.n);
      const nTest = Math.round(d.n * 0.3);
      const s = digitsSplit(d, { seed });
      expect(s.test.n).toBe(nTest);
      expect(s.train.n).toBe(d.n - nTest);
      expect(Array.from(s.test.idx)).toEqual(Array.from(perm.subarray(0, nTest)));
      expect(Array.from(s.train.idx)).toEqual(Array.from(perm.subarray(nTest)));
      const k = s.train.idx[5]!;
      expect(Array.from(s.train.x.subarray(5 * 64, 6 * 64))).toEqual(Array.from(d.x.subarray(k * 64, k * 64 + 64)));
      expect(s.train.y[5]).toBe(d.y[k]);
    }
  });

  it('partitions the rows: every row exactly once, 1,797 = 539 test + 1,258 train', () => {
    const s = digitsSplit(d, { seed: 7, testFraction: 0.3 });
    expect([s.test.n, s.train.n]).toEqual([539, 1258]);
    const all = [...s.test.idx, ...s.train.idx].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: d.n }, (_, i) => i));
  });

  it('names bad arguments', () => {
    expect(() => digitsSplit(d, undefined as never)).toThrow(/options must be an object with a seed/);
    expect(() => digitsSplit(d, { seed: 1, testfraction: 0.2 } as never)).toThrow(/did you mean "testFraction"/);
    expect(() => digitsSplit(d, { seed: 1, testFraction: 1 })).toThrow(
      /testFraction must be a finite number > 0 < 1, got 1/,
    );
    expect(() => digitsSplit(d, { seed: Number.NaN })).toThrow(/seed must be a finite number, got NaN/);
    expect(() => digitsSplit({ x: new Float32Array(64), y: new Int32Array(1), n: 2 }, { seed: 1 })).toThrow(
      /digits.x must hold n \* 64 = 128/,
    );
  });
});

describe('metricDirection', () => {
  it('honours an explicit direction', () => {
    expect(metricDirection('ms', { value: 1, unit: 'ms', better: 'higher' })).toBe('higher');
  });
  it.each([
    ['stepMs', 'ms', 'lower'],
    ['suiteSeconds', 's', 'lower'],
    ['stateBytes', 'bytes', 'lower'],
    ['testLoss', 'nats', 'lower'],
    ['relError', '', 'lower'],
    ['valPerplexity', '', 'lower'],
    ['fd', '', 'lower'],
    ['sw2', '', 'lower'],
    ['gflops', 'GFLOP/s', 'higher'],
    ['gbps', 'GB/s', 'higher'],
    ['tokensPerSecond', 'tokens/s', 'higher'],
    ['testAccuracy', '%', 'higher'],
    ['speedup', 'x', 'higher'],
    ['stepRatioVsTfjsAdam', '', 'lower'],
    ['stateRatioVsTfjsAdam', '', 'lower'],
    ['measuredDensity', '', undefined],
    ['blockSparsity', '%', undefined],
  ] as const)('%s (%s) -> %s', (name, unit, dir) => {
    expect(metricDirection(name, { value: 1, unit })).toBe(dir);
  });
});

describe('shrinkSize', () => {
  const ctx = (softwareAdapter: boolean, full = false) => {
    const notes: string[] = [];
    return {
      notes,
      ctx: {
        backend: 'webgpu',
        softwareAdapter,
        full,
        quick: !full,
        note: (m: string) => void notes.push(m),
      } as unknown as SuiteContext,
    };
  };
  it('shrinks only in quick mode on a software adapter, and says so', () => {
    const a = ctx(true);
    // 1024 * 0.25 = 256, a multiple of 64
    expect(shrinkSize(a.ctx, 1024, { what: 'sequence length', multipleOf: 64 })).toBe(256);
    expect(a.notes).toEqual(['sequence length shrunk from 1024 to 256 on the software WebGPU adapter (quick mode)']);
    // 100 * 0.25 = 25 -> floor to a multiple of 16 = 16, below min 32 -> 32
    expect(shrinkSize(a.ctx, 100, { what: 'x', multipleOf: 16, min: 32 })).toBe(32);
    // min above the size: never grows
    expect(shrinkSize(a.ctx, 8, { what: 'y', min: 64 })).toBe(8);
    for (const b of [ctx(false), ctx(true, true)]) {
      expect(shrinkSize(b.ctx, 1024, { what: 'sequence length' })).toBe(1024);
      expect(b.notes).toEqual([]);
    }
  });
  it('names bad arguments', () => {
    expect(() => shrinkSize(ctx(true).ctx, 0, { what: 'n' })).toThrow(/size must be a finite number >= 1, got 0/);
    expect(() => shrinkSize(ctx(true).ctx, 10, { what: 'n', factor: 2 })).toThrow(/factor must be in \(0, 1\], got 2/);
  });
});
