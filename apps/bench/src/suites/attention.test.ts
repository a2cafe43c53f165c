import { describe, expect, it } from 'vitest';
import type { Result } from '../suite.js';
import { attentionSuite } from './attention.js';

const ctx = {} as Parameters<NonNullable<typeof attentionSuite.validate>>[1];
const HEAD_DIM = 64;
/** A result row; GFLOP/s from the same accounting as the suite (4 / 14 x area x dim). */
const row = (impl: string, seqLen: number, target: number, sparsity: number, fwd: number, fb: number): Result => {
  const area = (1 - sparsity / 100) * seqLen * seqLen;
  return {
    name: impl,
    kind: impl === 'dense' ? 'dense' : 'blockSparse',
    params: { impl, path: 'kernel', seqLen, heads: 1, targetSparsity: target, sparsity },
    metrics: {
      forwardMs: { value: fwd, unit: 'ms' },
      forwardBackwardMs: { value: fb, unit: 'ms' },
      forwardGflops: { value: (4 * area * HEAD_DIM) / fwd / 1e6, unit: 'GFLOP/s' },
      forwardBackwardGflops: { value: (14 * area * HEAD_DIM) / fb / 1e6, unit: 'GFLOP/s' },
    },
  };
};
const extra: Result[] = [
  { name: 'matmul', kind: 'matmul', params: {}, metrics: { gflops: { value: 20, unit: 'GFLOP/s' } } },
  {
    name: 'accuracy',
    kind: 'accuracy',
    params: {},
    metrics: { maxAbsDiff: { value: 3e-6, unit: '' }, emptyRowsOk: { value: 1, unit: '' } },
  },
];

describe('attention suite validate()', () => {
  // seq 2048 at 0%: 4 * 2048^2 * 64 / 80 ms = 13.4 GFLOP/s = 67% of 20; forward+backward 14 * ... / 250 ms = 15 GFLOP/s = 75%
  const good = [
    row('dense', 2048, 0, 0, 100, 3000),
    row('blockSparse', 2048, 0, 0, 80, 250),
    row('blockSparse', 2048, 50, 50, 41, 126),
    row('blockSparse', 2048, 90, 90, 4.5, 14),
    row('blockSparse', 2048, 97, 97, 2, 6),
    ...extra,
  ];

  it('states every target and passes when they hold', () => {
    const checks = attentionSuite.validate!(good, ctx);
    const names = checks.map((c) => c.name);
    for (const pass of ['forward', 'forward+backward']) {
      expect(names).toContain(
        `${pass}: kernel GFLOP/s on computed blocks >= 50% of tfjs matMul 512 GFLOP/s (same run)`,
      );
      expect(names).toContain(`${pass}: 0% sparsity <= 1.0x tfjs dense without the dense fallback (seq 2048)`);
      expect(names).toContain(`${pass}: 90% block sparsity >= 20x faster than tfjs dense (seq 2048)`);
      expect(names).toContain(`${pass}: time proportional to (1 - sparsity), R^2 >= 0.98 (seq 2048)`);
    }
    expect(names).toContain('outputs, LSE and gradients equal dense attention within 1e-5 (this backend)');
    expect(names).toContain('fully masked rows: output 0, LSE -Infinity, finite gradients');
    expect(checks.filter((c) => !c.pass)).toEqual([]);
  });

  it('names the failures when targets do not hold', () => {
    const bad = good.map((r) => ({ ...r, params: { ...r.params }, metrics: { ...r.metrics } }));
    bad[3]!.metrics.forwardMs = { value: 25, unit: 'ms' }; // 90%: only 4x faster
    bad[1]!.metrics.forwardMs = { value: 200, unit: 'ms' }; // 0%: 2x dense
    bad[1]!.metrics.forwardGflops = { value: 6, unit: 'GFLOP/s' }; // 30% of matMul
    bad[1]!.params.path = 'dense'; // the fallback does not count
    bad[6]!.metrics.maxAbsDiff = { value: 2e-4, unit: '' };
    const failed = attentionSuite.validate!(bad, ctx)
      .filter((c) => !c.pass)
      .map((c) => c.name);
    expect(failed).toContain('forward: 90% block sparsity >= 20x faster than tfjs dense (seq 2048)');
    expect(failed).toContain('forward: 0% sparsity <= 1.0x tfjs dense without the dense fallback (seq 2048)');
    expect(failed).toContain('forward+backward: 0% sparsity <= 1.0x tfjs dense without the dense fallback (seq 2048)');
    expect(failed).toContain('outputs, LSE and gradients equal dense attention within 1e-5 (this backend)');
    // times that do not fall with sparsity fail the proportionality check
    const flat = good.map((r) =>
      r.kind === 'blockSparse'
        ? {
            ...r,
            metrics: { ...r.metrics, forwardMs: { value: 100 + Math.sin(Number(r.params.sparsity)) * 20, unit: 'ms' } },
          }
        : r,
    );
    const flatFailed = attentionSuite.validate!(flat, ctx)
      .filter((c) => !c.pass)
      .map((c) => c.name);
    expect(flatFailed).toContain('forward: time proportional to (1 - sparsity), R^2 >= 0.98 (seq 2048)');
    expect(flatFailed).not.toContain('forward+backward: time proportional to (1 - sparsity), R^2 >= 0.98 (seq 2048)');
  });

  it('the GFLOP/s share uses the seq 2048, 0% run', () => {
    const share = attentionSuite.validate!(good, ctx).find((c) => c.name.startsWith('forward: kernel GFLOP/s'))!;
    expect(share.detail).toMatch(/^67%: 13\.4 GFLOP\/s at seq 2048, 1 head\(s\), 0% sparsity/);
    // a matMul rate measured beside the run takes precedence: 13.4 / 40 = 34%, a failure
    const paired = good.map((r, i) =>
      i === 1 ? { ...r, metrics: { ...r.metrics, matmulGflops: { value: 40, unit: 'GFLOP/s' } } } : r,
    );
    const c = attentionSuite.validate!(paired, ctx).find((x) => x.name.startsWith('forward: kernel GFLOP/s'))!;
    expect(c.pass).toBe(false);
    expect(c.detail).toMatch(/^34%: .* vs matMul 40\.0 GFLOP\/s beside it/);
  });
});
